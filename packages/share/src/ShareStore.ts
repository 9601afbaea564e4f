/**
 * Where the share service keeps shares: the store contract, and the stores for one machine (files,
 * the default; memory, for tests). The PostgreSQL store, for several replicas, is in
 * `@plue/share/ShareStorePg`.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as FileStore from "./internal/fileStore.js"
import { type Item, itemClock, itemKey, supersedes } from "./internal/items.js"

export type { Item } from "./internal/items.js"

/**
 * A share as stored (its items apart).
 *
 * @since 0.1.0
 */
export interface ShareRecord {
  readonly id: string
  readonly sessionID: string
  /** SHA-256 of the owner secret, hex. */
  readonly secretHash: string
  readonly createdAt: number
  /** Epoch milliseconds, or `null`: never. */
  readonly expiresAt: number | null
}

/**
 * The store failed (a file could not be written, the database is unreachable...).
 *
 * @since 0.1.0
 */
export class ShareStoreError extends Schema.TaggedError<ShareStoreError>("@plue/share/ShareStoreError")(
  "ShareStoreError",
  { operation: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `share store: ${this.operation} failed: ${this.detail}`
  }
}

/**
 * The store contract. Every store passes the same contract tests.
 *
 * @since 0.1.0
 */
export interface Service {
  /** Adds a new share (no items). */
  readonly create: (share: ShareRecord) => Effect.Effect<void, ShareStoreError>
  /** The share, expired or not (the service decides what expiry means). */
  readonly find: (id: string) => Effect.Effect<Option.Option<ShareRecord>, ShareStoreError>
  /** The share's items, the latest of each key; none when there is no such share. */
  readonly items: (id: string) => Effect.Effect<Option.Option<ReadonlyArray<Item>>, ShareStoreError>
  /**
   * Applies a sync: each item replaces the stored item of its key unless the stored one is newer
   * by the item's own clock. Idempotent (the same sync twice leaves the same state), applied one
   * at a time per share, and durable once it succeeds. `false` when there is no such share.
   */
  readonly sync: (id: string, items: ReadonlyArray<Item>) => Effect.Effect<boolean, ShareStoreError>
  /** Removes the share and its items; `false` when there was none. */
  readonly remove: (id: string) => Effect.Effect<boolean, ShareStoreError>
  /**
   * Removes every share expired at `now` and returns how many; none when another process is
   * sweeping the same store right now.
   */
  readonly sweep: (now: number) => Effect.Effect<Option.Option<number>, ShareStoreError>
  /** Succeeds when the store answers (readiness). */
  readonly check: Effect.Effect<void, ShareStoreError>
}

/**
 * The share store.
 *
 * @since 0.1.0
 */
export class ShareStore extends Context.Tag("@plue/share/ShareStore")<ShareStore, Service>() {}

const StoredShare = Schema.Struct({
  id: Schema.String,
  sessionID: Schema.String,
  secretHash: Schema.String,
  createdAt: Schema.Number,
  expiresAt: Schema.NullOr(Schema.Number),
  /** The latest synced item of each kind, by key (`session`, `message/<id>`, `part/<id>`...). */
  items: Schema.Record({ key: Schema.String, value: Schema.Struct({ type: Schema.String, data: Schema.Unknown }) })
})
type StoredShare = typeof StoredShare.Type

/**
 * A store over text documents, one JSON document per share. Writes are serialised in this
 * process, so such a store is for one process only.
 */
const makeDocuments = (documents: FileStore.Documents): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const lock = yield* Effect.makeSemaphore(1)
    const prefix = "share-"
    const decode = Schema.decode(Schema.parseJson(StoredShare))
    const encode = Schema.encode(Schema.parseJson(StoredShare))
    const fail = (operation: string) => (error: { readonly message: string }) => new ShareStoreError({ operation, detail: error.message })
    const get = (id: string) =>
      documents.get(prefix + id).pipe(
        Effect.mapError(fail("read")),
        Effect.flatMap(Option.match({
          onNone: () => Effect.succeedNone,
          onSome: (text) => Effect.map(Effect.mapError(decode(text), fail("read")), Option.some)
        }))
      )
    const put = (share: StoredShare) =>
      Effect.flatMap(Effect.mapError(encode(share), fail("write")), (text) => Effect.mapError(documents.set(prefix + share.id, text), fail("write")))
    const remove = (id: string) => Effect.mapError(documents.remove(prefix + id), fail("remove"))
    const exclusive = lock.withPermits(1)
    return {
      create: (share) => exclusive(put({ ...share, items: {} })),
      find: (id) => Effect.map(get(id), Option.map(({ items: _items, ...record }): ShareRecord => record)),
      items: (id) => Effect.map(get(id), Option.map((share) => Object.values(share.items))),
      sync: (id, incoming) =>
        exclusive(Effect.gen(function*() {
          const share = yield* get(id)
          if (Option.isNone(share)) return false
          const items = { ...share.value.items }
          for (const item of incoming) {
            const k = itemKey(item)
            const previous = items[k]
            if (previous === undefined || supersedes(itemClock(item), itemClock(previous))) items[k] = item
          }
          yield* put({ ...share.value, items })
          return true
        })),
      remove: (id) => exclusive(remove(id)),
      sweep: (now) =>
        exclusive(Effect.gen(function*() {
          const keys = yield* Effect.mapError(documents.keys, fail("list"))
          let removed = 0
          for (const key of keys) {
            if (!key.startsWith(prefix)) continue
            const share = yield* Effect.orElseSucceed(get(key.slice(prefix.length)), () => Option.none<StoredShare>())
            if (Option.isSome(share) && share.value.expiresAt !== null && share.value.expiresAt <= now) {
              if (yield* remove(share.value.id)) removed++
            }
          }
          return Option.some(removed)
        })),
      check: Effect.asVoid(Effect.mapError(documents.keys, fail("check")))
    } satisfies Service
  })

/**
 * Shares in files, one per share in `directory`, each written to a temporary file and renamed
 * over the old one (a crash mid-write leaves the previous version whole). For one process: the
 * default store.
 *
 * @since 0.1.0
 */
export const layerFile = (directory: string): Layer.Layer<ShareStore, PlatformError, FileSystem.FileSystem> =>
  Layer.effect(ShareStore, Effect.flatMap(FileStore.files(directory), makeDocuments))

/**
 * Shares in memory (for tests).
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<ShareStore> = Layer.effect(ShareStore, Effect.suspend(() => makeDocuments(FileStore.memory())))
