/**
 * A self-hostable OpenCode share service: the four routes OpenCode calls at its `enterprise.url`
 * (create, sync, remove, data) and a viewer page at each share URL. Share ids carry 128 random
 * bits, owner secrets 256; secrets are stored only as SHA-256 hashes and compared in constant
 * time; shares expire (24 hours by default); removal is real: the URL answers 404 at once.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { SessionIdPattern } from "./Identifier.js"
import * as AtomicStore from "./internal/atomicStore.js"

/**
 * A stored share.
 *
 * @since 0.1.0
 */
export const StoredShare = Schema.Struct({
  id: Schema.String,
  sessionID: Schema.String,
  secretHash: Schema.String,
  createdAt: Schema.Number,
  expiresAt: Schema.NullOr(Schema.Number),
  /** The latest synced item of each kind, by key (`session`, `message/<id>`, `part/<id>`...). */
  items: Schema.Record({ key: Schema.String, value: Schema.Struct({ type: Schema.String, data: Schema.Unknown }) })
})

/**
 * @since 0.1.0
 */
export type StoredShare = typeof StoredShare.Type

/**
 * What the owner of a share holds: its URL, and the secret that lets it revoke the share.
 *
 * @since 0.1.0
 */
export interface OwnerGrant {
  readonly shareId: string
  readonly url: string
  readonly secret: string
  readonly expiresAt: number | null
}

/**
 * Options of the service.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Base of share URLs, e.g. `https://share.example.com`. Default: from the request's Host. */
  readonly publicUrl?: string | undefined
  /** How long a share lives; `"never"` for no expiry. Default 24 hours. */
  readonly ttl?: Duration.DurationInput | "never" | undefined
  /** Largest request body accepted. Default 8 MiB. */
  readonly maxBodyBytes?: number | undefined
  /** Most items in one sync. Default 5000. */
  readonly maxItems?: number | undefined
}

/**
 * The share service.
 *
 * @since 0.1.0
 */
export interface Service {
  /** The HTTP routes, to serve with `HttpServer.serve`. */
  readonly app: HttpRouter.HttpRouter<never, never>
  /** Whether `secret` is the owner secret of a live share. */
  readonly validateShare: (shareId: string, secret: string) => Effect.Effect<boolean>
  /**
   * The owner's grant for the share last created for a session by this process, handed over
   * once (the service keeps only the secret's hash).
   */
  readonly takeGrant: (sessionId: string) => Option.Option<OwnerGrant>
  /** A live share, if any. */
  readonly find: (shareId: string) => Effect.Effect<Option.Option<StoredShare>>
}

/**
 * The share service tag.
 *
 * @since 0.1.0
 */
export class ShareService extends Context.Tag("@plue/core/ShareService")<ShareService, Service>() {}

const encoder = new TextEncoder()

const randomToken = (bytes: number): string => {
  const buffer = new Uint8Array(bytes)
  globalThis.crypto.getRandomValues(buffer)
  return Buffer.from(buffer).toString("base64url")
}

const sha256 = (text: string): Effect.Effect<string> =>
  Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", encoder.encode(text))).pipe(
    Effect.map((digest) => Buffer.from(digest).toString("hex"))
  )

/** Equal-length hex digests compared without an early exit. */
const sameDigest = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return difference === 0
}

const ShareIdPattern = /^[A-Za-z0-9_-]{22,64}$/

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

class HttpFailure {
  readonly _tag = "HttpFailure"
  constructor(readonly status: number, readonly message: string) {}
}

const failure = (status: number, message: string) => Effect.fail(new HttpFailure(status, message))

const CreateBody = Schema.Struct({ sessionID: Schema.String.pipe(Schema.pattern(SessionIdPattern)) })
const SecretBody = Schema.Struct({ secret: Schema.String })
const SyncBody = Schema.Struct({
  secret: Schema.String,
  data: Schema.Array(Schema.Struct({ type: Schema.String, data: Schema.Unknown }))
})

/** The key an item is kept under: one per session, message, part; the latest diff and model. */
const itemKey = (item: { readonly type: string; readonly data: unknown }): string => {
  const id = (item.data as { id?: unknown } | null)?.id
  return (item.type === "message" || item.type === "part") && typeof id === "string" ? `${item.type}/${id}` : item.type
}

/** The viewer: the shared session, readable, every string escaped. */
const renderViewer = (share: StoredShare): string => {
  const items = Object.values(share.items)
  const session = items.find((i) => i.type === "session")?.data as { title?: string } | undefined
  const messages = items.filter((i) => i.type === "message").map((i) => i.data as { id: string; role?: string; time?: { created?: number } })
  const parts = items.filter((i) => i.type === "part").map((i) =>
    i.data as { id: string; messageID?: string; type?: string; text?: string; tool?: string; state?: { status?: string } }
  )
  messages.sort((a, b) => (a.time?.created ?? 0) - (b.time?.created ?? 0) || a.id.localeCompare(b.id))
  const title = escapeHtml(session?.title ?? "Shared session")
  const body = messages.map((message) => {
    const own = parts.filter((p) => p.messageID === message.id).sort((a, b) => a.id.localeCompare(b.id))
    const content = own.map((part) => {
      if (part.type === "text" && typeof part.text === "string") return `<p class="text">${escapeHtml(part.text)}</p>`
      if (part.type === "tool") {
        return `<p class="tool">tool <code>${escapeHtml(String(part.tool ?? "?"))}</code> (${escapeHtml(String(part.state?.status ?? "?"))})</p>`
      }
      return ""
    }).join("\n")
    return `<section class="message ${escapeHtml(String(message.role ?? ""))}"><h2>${escapeHtml(String(message.role ?? "message"))}</h2>\n${content}</section>`
  }).join("\n")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}
.message{border-top:1px solid #ddd;padding:.5rem 0}.message h2{font-size:.9rem;color:#666;text-transform:uppercase}
.text{white-space:pre-wrap}.tool{color:#555}</style></head>
<body><h1>${title}</h1>
${body || "<p>No messages yet.</p>"}
</body></html>`
}

/**
 * Makes the service over the ambient `KeyValueStore`.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, KeyValueStore.KeyValueStore> =>
  Effect.gen(function*() {
    const store = (yield* KeyValueStore.KeyValueStore).forSchema(Schema.parseJson(StoredShare))
    const ttl = options.ttl === "never" ? null : Duration.toMillis(Duration.decode(options.ttl ?? Duration.hours(24)))
    const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024
    const maxItems = options.maxItems ?? 5000
    const grants = new Map<string, OwnerGrant>()
    const key = (id: string) => `share-${id}`

    /** A live share, or none (and an expired one is removed on the way). */
    const find = (id: string): Effect.Effect<Option.Option<StoredShare>> =>
      Effect.gen(function*() {
        if (!ShareIdPattern.test(id)) return Option.none()
        const stored = yield* Effect.orElseSucceed(store.get(key(id)), () => Option.none<StoredShare>())
        if (Option.isNone(stored)) return stored
        const now = yield* Clock.currentTimeMillis
        if (stored.value.expiresAt !== null && now >= stored.value.expiresAt) {
          yield* Effect.ignore(store.remove(key(id)))
          return Option.none()
        }
        return stored
      })

    const owned = (id: string, secret: string) =>
      Effect.gen(function*() {
        const share = yield* find(id)
        if (Option.isNone(share)) return yield* failure(404, "no such share (it may have expired or been removed)")
        if (!sameDigest(yield* sha256(secret), share.value.secretHash)) return yield* failure(403, "wrong secret")
        return share.value
      })

    /** The request body as JSON of `schema`: 413 past the limit, 400 when malformed. */
    const body = <A, I>(schema: Schema.Schema<A, I>) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const length = Number(request.headers["content-length"] ?? "0")
        if (length > maxBody) return yield* failure(413, `body larger than ${maxBody} bytes`)
        const text = yield* request.text.pipe(
          HttpServerRequest.withMaxBodySize(Option.some(maxBody)),
          Effect.catchAll(() => failure(413, `body larger than ${maxBody} bytes, or unreadable`))
        )
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          return yield* failure(400, "the body is not JSON")
        }
        return yield* Schema.decodeUnknown(schema)(json).pipe(
          Effect.catchAll((error) => failure(400, `unexpected body: ${error.message.split("\n")[0]}`))
        )
      })

    const id = Effect.map(HttpRouter.params, (p) => p.id ?? "")
    const ok = HttpServerResponse.unsafeJson({ ok: true })

    const base = (request: HttpServerRequest.HttpServerRequest) =>
      (options.publicUrl ?? `http://${request.headers.host ?? "localhost"}`).replace(/\/+$/, "")

    const respond = <R>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, R>) =>
      effect.pipe(
        Effect.catchTag("HttpFailure", (e) => Effect.succeed(HttpServerResponse.unsafeJson({ error: e.message }, { status: e.status }))),
        Effect.catchAllDefect(() => Effect.succeed(HttpServerResponse.unsafeJson({ error: "internal error" }, { status: 500 })))
      )

    const save = (share: StoredShare) =>
      store.set(key(share.id), share).pipe(Effect.catchAll(() => failure(500, "the share could not be stored")))

    const app = HttpRouter.empty.pipe(
      HttpRouter.post("/api/share", respond(Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const { sessionID } = yield* body(CreateBody)
        const now = yield* Clock.currentTimeMillis
        const shareId = randomToken(16)
        const secret = randomToken(32)
        const share: StoredShare = {
          id: shareId,
          sessionID,
          secretHash: yield* sha256(secret),
          createdAt: now,
          expiresAt: ttl === null ? null : now + ttl,
          items: {}
        }
        yield* save(share)
        const url = `${base(request)}/share/${shareId}`
        grants.set(sessionID, { shareId, url, secret, expiresAt: share.expiresAt })
        return HttpServerResponse.unsafeJson({ id: shareId, url, secret })
      }))),
      HttpRouter.post("/api/share/:id/sync", respond(Effect.gen(function*() {
        const sync = yield* body(SyncBody)
        if (sync.data.length > maxItems) return yield* failure(413, `more than ${maxItems} items in one sync`)
        const share = yield* owned(yield* id, sync.secret)
        const items = { ...share.items }
        for (const item of sync.data) items[itemKey(item)] = item
        yield* save({ ...share, items })
        return ok
      }))),
      HttpRouter.del("/api/share/:id", respond(Effect.gen(function*() {
        const { secret } = yield* body(SecretBody)
        const share = yield* owned(yield* id, secret)
        yield* store.remove(key(share.id)).pipe(Effect.catchAll(() => failure(500, "the share could not be removed")))
        return ok
      }))),
      HttpRouter.get("/api/share/:id/data", respond(Effect.gen(function*() {
        const share = yield* find(yield* id)
        if (Option.isNone(share)) return yield* failure(404, "no such share")
        return HttpServerResponse.unsafeJson(Object.values(share.value.items))
      }))),
      HttpRouter.get("/share/:id", Effect.gen(function*() {
        const share = yield* find(yield* id)
        return Option.match(share, {
          onNone: () =>
            HttpServerResponse.text("<!doctype html><title>Not found</title><h1>This share does not exist (any more).</h1>", {
              status: 404,
              contentType: "text/html; charset=utf-8"
            }),
          onSome: (s) => HttpServerResponse.text(renderViewer(s), { contentType: "text/html; charset=utf-8" })
        })
      }))
    )

    return {
      app,
      validateShare: (shareId, secret) =>
        Effect.map(Effect.either(owned(shareId, secret)), (result) => result._tag === "Right"),
      takeGrant: (sessionId) => {
        const grant = grants.get(sessionId)
        grants.delete(sessionId)
        return Option.fromNullable(grant)
      },
      find
    } satisfies Service
  })

/**
 * The service as a Layer, over the ambient `KeyValueStore`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<ShareService, never, KeyValueStore.KeyValueStore> =>
  Layer.effect(ShareService, make(options))

/**
 * The service with its shares on disk in `directory` (atomic writes; shares survive a restart).
 *
 * @since 0.1.0
 */
export const layerDisk = (
  directory: string,
  options: Options = {}
): Layer.Layer<ShareService, PlatformError, FileSystem.FileSystem> => layer(options).pipe(Layer.provide(AtomicStore.layer(directory)))

/**
 * The service with its shares in memory (for tests).
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options = {}): Layer.Layer<ShareService> =>
  layer(options).pipe(Layer.provide(KeyValueStore.layerMemory))

/**
 * Serves the service on the ambient `HttpServer` for the scope's life and returns its base URL.
 *
 * @since 0.1.0
 */
export const serve: Effect.Effect<string, never, ShareService | HttpServer.HttpServer | Scope.Scope> = Effect.gen(function*() {
  const service = yield* ShareService
  yield* HttpServer.serveEffect(service.app)
  return yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
})
