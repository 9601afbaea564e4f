/**
 * The typed OpenCode client: every session route of the server as an Effect, and its event
 * stream as a `Stream`, over the ambient `@effect/platform` HttpClient.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as ConfigError from "effect/ConfigError"
import type * as Stream from "effect/Stream"
import { ascendingMessageId, type MessageId, parseSessionId } from "./Identifier.js"
import { eventStream } from "./internal/events.js"
import { makePipeline } from "./internal/request.js"
import * as OpenCodeConnection from "./OpenCodeConnection.js"
import type { OpenCodeError } from "./OpenCodeError.js"
import { type OpenCodeEvent, Session, type SessionStatus, SessionStatusMap } from "./OpenCodeSchema.js"

/**
 * Filters for `list`.
 *
 * @since 0.1.0
 */
export interface ListOptions {
  /** Only sessions without a parent. */
  readonly roots?: boolean | undefined
  /** Only sessions whose title contains this text (case-insensitive, server-side). */
  readonly search?: string | undefined
  /** Only sessions updated at or after this time (ms since the epoch). */
  readonly start?: number | undefined
}

/**
 * The OpenCode client.
 *
 * @since 0.1.0
 */
export interface Service {
  /** `GET /global/health`. */
  readonly health: Effect.Effect<{ readonly healthy: boolean; readonly version: string }, OpenCodeError>
  /** Every session (never cut at the server's default page of 100), newest update first. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Session>, OpenCodeError>
  /** One session. */
  readonly get: (sessionId: string) => Effect.Effect<Session, OpenCodeError>
  /** Creates a session, optionally as the child of `parentID`. */
  readonly create: (
    options?: { readonly parentID?: string | undefined; readonly title?: string | undefined }
  ) => Effect.Effect<Session, OpenCodeError>
  /**
   * `POST /api/session` with a session id chosen by the client: creates the session, or answers
   * the existing one when the id is taken, so sending it twice makes one session. (A deleted id
   * is created again: the caller must know it did not delete it.)
   */
  readonly createWithId: (sessionId: string) => Effect.Effect<void, OpenCodeError>
  /**
   * Whether the server has the create-by-id route: sends it a body it must refuse (nothing is
   * created); a 400 means the route is there, a 404 that it is not.
   */
  readonly probeCreateWithId: Effect.Effect<boolean, OpenCodeError>
  /** Changes a session's title (or archives it). */
  readonly update: (
    sessionId: string,
    patch: { readonly title?: string | undefined; readonly archived?: number | undefined }
  ) => Effect.Effect<Session, OpenCodeError>
  /** Deletes a session and, first, all its descendants. */
  readonly delete: (sessionId: string) => Effect.Effect<boolean, OpenCodeError>
  /** The direct children of a session. */
  readonly children: (sessionId: string) => Effect.Effect<ReadonlyArray<Session>, OpenCodeError>
  /** Stops whatever the session is running (succeeds when idle too). */
  readonly abort: (sessionId: string) => Effect.Effect<boolean, OpenCodeError>
  /**
   * Runs OpenCode's "create AGENTS.md" turn on a model; answers when the run ends. The
   * `messageID` is generated here unless given.
   */
  readonly init: (
    sessionId: string,
    options: { readonly providerID: string; readonly modelID: string; readonly messageID?: MessageId | undefined }
  ) => Effect.Effect<boolean, OpenCodeError>
  /** Shares a session; the result carries `share.url`. */
  readonly share: (sessionId: string) => Effect.Effect<Session, OpenCodeError>
  /** Stops sharing a session. */
  readonly unshare: (sessionId: string) => Effect.Effect<Session, OpenCodeError>
  /** The sessions that are busy or retrying (idle ones are absent). */
  readonly status: Effect.Effect<Readonly<Record<string, SessionStatus>>, OpenCodeError>
  /** Starts a prompt in the background (`prompt_async`); events report its progress. */
  readonly promptAsync: (
    sessionId: string,
    options: {
      readonly text: string
      readonly model?: { readonly providerID: string; readonly modelID: string } | undefined
      readonly messageID?: MessageId | undefined
    }
  ) => Effect.Effect<void, OpenCodeError>
  /**
   * The server's `/event` stream, decoded. Unknown event types arrive as `{ type: "unknown" }`;
   * a stream silent past the heartbeat deadline fails with `Unreachable` (reason `heartbeat`);
   * the stream ends (without failure) when the server disposes its instance.
   */
  readonly events: Stream.Stream<OpenCodeEvent, OpenCodeError>
}

/**
 * The OpenCode client service.
 *
 * @since 0.1.0
 */
export class OpenCodeClient extends Context.Tag("@plue/core/OpenCodeClient")<OpenCodeClient, Service>() {}

const Health = Schema.Struct({ healthy: Schema.Boolean, version: Schema.String })
const Sessions = Schema.Array(Session)
const CreatedWithId = Schema.Struct({ data: Schema.Struct({ id: Schema.String }) })
const FIRST_PAGE = 1000

/**
 * Builds a client for the current connection over the ambient `HttpClient`.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Service, never, HttpClient.HttpClient | OpenCodeConnection.OpenCodeConnection> = Effect
  .gen(function*() {
    const settings = yield* OpenCodeConnection.OpenCodeConnection
    const pipeline = makePipeline(settings, yield* HttpClient.HttpClient)
    const run = pipeline.run
    // A message id on Effect's clock (TestClock moves it in tests).
    const messageId = (given: MessageId | undefined) => given !== undefined ? Effect.succeed(given) : Effect.map(Clock.currentTimeMillis, ascendingMessageId)
    // The largest list seen, so the next full listing asks for enough at once.
    const largestList = yield* Ref.make(0)

    const withId = <A>(sessionId: string, f: (id: string) => Effect.Effect<A, OpenCodeError>) => Effect.flatMap(parseSessionId(sessionId), f)

    const list = (options: ListOptions = {}) =>
      Effect.gen(function*() {
        const params: Record<string, string> = {}
        if (options.roots) params.roots = "true"
        if (options.search !== undefined) params.search = options.search
        if (options.start !== undefined) params.start = String(options.start)
        let limit = Math.max(FIRST_PAGE, (yield* Ref.get(largestList)) * 2)
        // The server has no cursor: ask for more than there can be, and ask again, larger,
        // whenever the answer fills the page.
        for (;;) {
          const page = yield* run({
            method: "GET",
            path: "/session",
            urlParams: { ...params, limit: String(limit) },
            idempotent: true,
            decode: Sessions
          })
          if (page.length < limit) {
            yield* Ref.update(largestList, (n) => Math.max(n, page.length))
            return page
          }
          limit *= 4
        }
      })

    const get = (sessionId: string) =>
      withId(sessionId, (id) => run({ method: "GET", path: `/session/${id}`, sessionId: id, idempotent: true, decode: Session }))

    const service: Service = {
      health: run({ method: "GET", path: "/global/health", idempotent: true, decode: Health }),
      list,
      get,
      create: (options = {}) => {
        const send = (parentID: string | undefined) =>
          run({
            method: "POST",
            path: "/session",
            body: { ...(parentID !== undefined ? { parentID } : {}), ...(options.title !== undefined ? { title: options.title } : {}) },
            ...(parentID !== undefined ? { sessionId: parentID } : {}),
            idempotent: false,
            decode: Session
          })
        // OpenCode takes any parentID and makes an orphan no listing of roots shows: the parent
        // is looked up first, so a missing one is SessionNotFound and nothing is created.
        return options.parentID === undefined
          ? send(undefined)
          : withId(options.parentID, (parentID) => Effect.zipRight(get(parentID), send(parentID)))
      },
      createWithId: (sessionId) =>
        withId(sessionId, (id) =>
          run({
            method: "POST",
            path: "/api/session",
            body: { id, ...Option.match(settings.directory, { onNone: () => ({}), onSome: (directory) => ({ location: { directory } }) }) },
            // The route answers a repeated id with the session it made the first time.
            idempotent: true,
            decode: CreatedWithId
          }).pipe(Effect.asVoid)),
      probeCreateWithId: run({
        method: "POST",
        path: "/api/session",
        body: { id: "not-a-session-id" },
        idempotent: true,
        decode: undefined
      }).pipe(
        // A 2xx would mean the server took an id it should refuse; the route is there either way.
        Effect.as(true),
        Effect.catchTag("BadRequest", () => Effect.succeed(true)),
        Effect.catchIf((error) => error._tag === "ServerError" && error.status === 404, () => Effect.succeed(false))
      ),
      update: (sessionId, patch) =>
        withId(sessionId, (id) =>
          run({
            method: "PATCH",
            path: `/session/${id}`,
            sessionId: id,
            body: {
              ...(patch.title !== undefined ? { title: patch.title } : {}),
              ...(patch.archived !== undefined ? { time: { archived: patch.archived } } : {})
            },
            idempotent: true,
            decode: Session
          })),
      delete: (sessionId) =>
        withId(sessionId, (id) =>
          // Retried on OpenCode's storage error only; a 404 on a retry means it is gone.
          run({
            method: "DELETE",
            path: `/session/${id}`,
            sessionId: id,
            idempotent: false,
            goneOnRetry: { value: true },
            decode: Schema.Boolean
          })),
      children: (sessionId) =>
        withId(sessionId, (id) => run({ method: "GET", path: `/session/${id}/children`, sessionId: id, idempotent: true, decode: Sessions })),
      abort: (sessionId) =>
        withId(sessionId, (id) => run({ method: "POST", path: `/session/${id}/abort`, sessionId: id, idempotent: true, decode: Schema.Boolean })),
      init: (sessionId, options) =>
        withId(sessionId, (id) =>
          Effect.flatMap(messageId(options.messageID), (messageID) =>
            run({
              method: "POST",
              path: `/session/${id}/init`,
              sessionId: id,
              body: {
                providerID: options.providerID,
                modelID: options.modelID,
                messageID
              },
              timeout: settings.initTimeout,
              idempotent: false,
              decode: Schema.Boolean
            }))),
      share: (sessionId) => withId(sessionId, (id) => run({ method: "POST", path: `/session/${id}/share`, sessionId: id, idempotent: false, decode: Session })),
      unshare: (sessionId) =>
        withId(sessionId, (id) => run({ method: "DELETE", path: `/session/${id}/share`, sessionId: id, idempotent: true, decode: Session })),
      status: run({ method: "GET", path: "/session/status", idempotent: true, decode: SessionStatusMap }),
      promptAsync: (sessionId, options) =>
        withId(sessionId, (id) =>
          Effect.flatMap(messageId(options.messageID), (messageID) =>
            run({
              method: "POST",
              path: `/session/${id}/prompt_async`,
              sessionId: id,
              body: {
                messageID,
                ...(options.model ? { model: options.model } : {}),
                parts: [{ type: "text", text: options.text }]
              },
              idempotent: false,
              decode: undefined
            }))),
      events: eventStream(pipeline, settings)
    }
    return service
  })

/**
 * The client Layer; needs an `HttpClient` and an `OpenCodeConnection`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { OpenCodeClient, OpenCodeConnection } from "@plue/core"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* OpenCodeClient.OpenCodeClient
 *   const sessions = yield* client.list()
 *   yield* Effect.log(`${sessions.length} sessions`)
 * })
 *
 * program.pipe(
 *   Effect.provide(OpenCodeClient.layer.pipe(
 *     Layer.provide(OpenCodeConnection.layer({ url: "http://127.0.0.1:4096" })),
 *     Layer.provide(NodeHttpClient.layerUndici)
 *   ))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<OpenCodeClient, never, HttpClient.HttpClient | OpenCodeConnection.OpenCodeConnection> = Layer.effect(OpenCodeClient, make)

/**
 * The client for the server named by `OPENCODE_URL` / `OPENCODE_SERVER_PASSWORD`.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<OpenCodeClient, ConfigError.ConfigError, HttpClient.HttpClient> = layer.pipe(
  Layer.provide(OpenCodeConnection.layerConfig)
)
