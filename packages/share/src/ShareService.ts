/**
 * A self-hostable OpenCode share service: the four routes OpenCode calls at its `enterprise.url`
 * (create, sync, remove, data), a viewer page at each share URL, and `/healthz` / `/readyz` for a
 * load balancer. Share ids carry 128 random bits, owner secrets 256; secrets are stored only as
 * SHA-256 hashes and compared in constant time; shares expire (24 hours by default); removal is
 * real: the URL answers 404 at once.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SessionIdPattern } from "@plue/core/Identifier"
import * as ShareGrants from "@plue/core/ShareGrants"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Item } from "./internal/items.js"
import { notFoundPage, renderViewer } from "./internal/viewer.js"
import * as ShareStore from "./ShareStore.js"

/**
 * What the owner of a share holds (the same type as `@plue/core`'s `ShareGrants.OwnerGrant`).
 *
 * @since 0.1.0
 */
export type OwnerGrant = ShareGrants.OwnerGrant

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
  /** How often expired shares are swept from the store. Default 1 minute. */
  readonly sweepInterval?: Duration.DurationInput | undefined
  /** How long `/readyz` waits for the store before answering 503. Default 2 seconds. */
  readonly readyTimeout?: Duration.DurationInput | undefined
  /** Most owner grants kept waiting to be taken; the oldest go first. Default 1000. */
  readonly maxGrants?: number | undefined
}

/**
 * A live share and what was synced to it.
 *
 * @since 0.1.0
 */
export interface Share {
  readonly record: ShareStore.ShareRecord
  readonly items: ReadonlyArray<Item>
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
   * The owner's grant for the share last created for a session through this process, handed over
   * once (the service keeps only the secret's hash). Grants nobody takes are dropped when their
   * share is removed or expires, and past `maxGrants`.
   */
  readonly takeGrant: (sessionId: string) => Effect.Effect<Option.Option<OwnerGrant>>
  /** How many grants wait to be taken. */
  readonly grantsHeld: Effect.Effect<number>
  /** A live share, if any. */
  readonly find: (shareId: string) => Effect.Effect<Option.Option<Share>, ShareStore.ShareStoreError>
  /** Removes the expired shares now; how many (none when another replica is sweeping). */
  readonly sweep: Effect.Effect<Option.Option<number>, ShareStore.ShareStoreError>
}

/**
 * The share service tag.
 *
 * @since 0.1.0
 */
export class ShareService extends Context.Tag("@plue/share/ShareService")<ShareService, Service>() {}

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

/** A store failure becomes 503: the store (the database) is down, try again. */
const unavailable = (error: ShareStore.ShareStoreError) => new HttpFailure(503, `storage unavailable: ${error.detail}`)

/**
 * Makes the service over the ambient `ShareStore`; a fiber sweeps expired shares for the scope's
 * life.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, ShareStore.ShareStore | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* ShareStore.ShareStore
    const ttl = options.ttl === "never" ? null : Duration.toMillis(Duration.decode(options.ttl ?? Duration.hours(24)))
    const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024
    const maxItems = options.maxItems ?? 5000
    const maxGrants = options.maxGrants ?? 1000
    const readyTimeout = Duration.decode(options.readyTimeout ?? Duration.seconds(2))
    const grants = new Map<string, OwnerGrant>()

    const dropGrantOf = (shareId: string) => {
      for (const [sessionId, grant] of grants) if (grant.shareId === shareId) grants.delete(sessionId)
    }

    /** The share's record when it is live; an expired one is removed on the way. */
    const live = (id: string): Effect.Effect<Option.Option<ShareStore.ShareRecord>, ShareStore.ShareStoreError> =>
      Effect.gen(function*() {
        if (!ShareIdPattern.test(id)) return Option.none()
        const record = yield* store.find(id)
        if (Option.isNone(record)) return record
        const now = yield* Clock.currentTimeMillis
        if (record.value.expiresAt !== null && now >= record.value.expiresAt) {
          yield* Effect.ignore(store.remove(id))
          dropGrantOf(id)
          return Option.none()
        }
        return record
      })

    const find = (id: string): Effect.Effect<Option.Option<Share>, ShareStore.ShareStoreError> =>
      Effect.gen(function*() {
        const record = yield* live(id)
        if (Option.isNone(record)) return Option.none()
        const items = yield* store.items(id)
        return Option.map(items, (items) => ({ record: record.value, items }))
      })

    const owned = (id: string, secret: string) =>
      Effect.gen(function*() {
        const share = yield* Effect.mapError(live(id), unavailable)
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

    const base = (request: HttpServerRequest.HttpServerRequest) => (options.publicUrl ?? `http://${request.headers.host ?? "localhost"}`).replace(/\/+$/, "")

    const respond = <R>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, R>) =>
      effect.pipe(
        Effect.catchTag("HttpFailure", (e) => Effect.succeed(HttpServerResponse.unsafeJson({ error: e.message }, { status: e.status }))),
        Effect.catchAllDefect(() => Effect.succeed(HttpServerResponse.unsafeJson({ error: "internal error" }, { status: 500 })))
      )

    const ready = store.check.pipe(
      Effect.timeoutFail({ duration: readyTimeout, onTimeout: () => new ShareStore.ShareStoreError({ operation: "check", detail: "timed out" }) })
    )

    const app = HttpRouter.empty.pipe(
      HttpRouter.get("/healthz", Effect.succeed(HttpServerResponse.unsafeJson({ ok: true }))),
      HttpRouter.get("/readyz", respond(Effect.as(Effect.mapError(ready, unavailable), ok))),
      HttpRouter.post(
        "/api/share",
        respond(Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const { sessionID } = yield* body(CreateBody)
          const now = yield* Clock.currentTimeMillis
          const shareId = randomToken(16)
          const secret = randomToken(32)
          const record: ShareStore.ShareRecord = {
            id: shareId,
            sessionID,
            secretHash: yield* sha256(secret),
            createdAt: now,
            expiresAt: ttl === null ? null : now + ttl
          }
          yield* Effect.mapError(store.create(record), unavailable)
          const url = `${base(request)}/share/${shareId}`
          grants.delete(sessionID)
          grants.set(sessionID, { shareId, url, secret, expiresAt: record.expiresAt })
          if (grants.size > maxGrants) grants.delete(grants.keys().next().value!)
          return HttpServerResponse.unsafeJson({ id: shareId, url, secret })
        }))
      ),
      HttpRouter.post(
        "/api/share/:id/sync",
        respond(Effect.gen(function*() {
          const sync = yield* body(SyncBody)
          if (sync.data.length > maxItems) return yield* failure(413, `more than ${maxItems} items in one sync`)
          const share = yield* owned(yield* id, sync.secret)
          const applied = yield* Effect.mapError(store.sync(share.id, sync.data), unavailable)
          if (!applied) return yield* failure(404, "no such share (it may have expired or been removed)")
          return ok
        }))
      ),
      HttpRouter.del(
        "/api/share/:id",
        respond(Effect.gen(function*() {
          const { secret } = yield* body(SecretBody)
          const share = yield* owned(yield* id, secret)
          yield* Effect.mapError(store.remove(share.id), unavailable)
          dropGrantOf(share.id)
          return ok
        }))
      ),
      HttpRouter.get(
        "/api/share/:id/data",
        respond(Effect.gen(function*() {
          const share = yield* Effect.mapError(find(yield* id), unavailable)
          if (Option.isNone(share)) return yield* failure(404, "no such share")
          return HttpServerResponse.unsafeJson(share.value.items)
        }))
      ),
      HttpRouter.get(
        "/share/:id",
        Effect.gen(function*() {
          const share = yield* Effect.either(find(yield* id))
          if (share._tag === "Left") {
            return HttpServerResponse.text("<!doctype html><title>Unavailable</title><h1>The share service cannot reach its storage; try again.</h1>", {
              status: 503,
              contentType: "text/html; charset=utf-8"
            })
          }
          return Option.match(share.right, {
            onNone: () => HttpServerResponse.text(notFoundPage, { status: 404, contentType: "text/html; charset=utf-8" }),
            onSome: (s) => HttpServerResponse.text(renderViewer(s.items), { contentType: "text/html; charset=utf-8" })
          })
        })
      )
    )

    const sweep = Effect.flatMap(Clock.currentTimeMillis, (now) => store.sweep(now))
    yield* Effect.forkScoped(
      Effect.repeat(Effect.ignore(sweep), Schedule.spaced(Duration.decode(options.sweepInterval ?? Duration.minutes(1))))
    )

    return {
      app,
      validateShare: (shareId, secret) => Effect.map(Effect.either(owned(shareId, secret)), (result) => result._tag === "Right"),
      takeGrant: (sessionId) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const grant = grants.get(sessionId)
          grants.delete(sessionId)
          return Option.filter(Option.fromNullable(grant), (g) => g.expiresAt === null || g.expiresAt > now)
        }),
      grantsHeld: Effect.sync(() => grants.size),
      find,
      sweep
    } satisfies Service
  })

/**
 * The service as a Layer, over the ambient `ShareStore`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<ShareService, never, ShareStore.ShareStore> => Layer.scoped(ShareService, make(options))

/**
 * The service with its shares in files in `directory` (the default store; one process).
 *
 * @since 0.1.0
 */
export const layerFile = (
  directory: string,
  options: Options = {}
): Layer.Layer<ShareService, PlatformError, FileSystem.FileSystem> => layer(options).pipe(Layer.provide(ShareStore.layerFile(directory)))

/**
 * The service with its shares in memory (for tests).
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options = {}): Layer.Layer<ShareService> => layer(options).pipe(Layer.provide(ShareStore.layerMemory))

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

/**
 * The grants of `service`, as `@plue/core` reads them, for a service listening at `url`.
 *
 * @since 0.1.0
 */
export const grantsOf = (service: Service, url: string): ShareGrants.Service => ({ url, take: service.takeGrant })

/**
 * The service served on the ambient `HttpServer`, and `ShareGrants` naming it: provide this to
 * the bridge's layers (`Plue.layerManaged(...).pipe(Layer.provide(ShareService.layerEmbedded()))`) and
 * the managed OpenCode server shares through it, and `SessionManager.share` returns each share's
 * owner secret and expiry.
 *
 * @since 0.1.0
 */
export const layerEmbedded = (
  options: Options = {}
): Layer.Layer<ShareService | ShareGrants.ShareGrants, never, ShareStore.ShareStore | HttpServer.HttpServer> =>
  Layer.scopedContext(Effect.gen(function*() {
    const service = yield* make(options)
    yield* HttpServer.serveEffect(service.app)
    const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
    return Context.make(ShareService, service).pipe(Context.add(ShareGrants.ShareGrants, grantsOf(service, url)))
  }))
