/**
 * The operation table both transports run: a call (operation number, handle, two strings) becomes
 * a session manager call whose outcome is handed to a port (koffi's `plue__complete` under
 * `plue host`, a COMPLETE frame for the sidecar). The port also receives the warm-read mirror's
 * updates and every session event, in the order they happen.
 */
import type { SessionCache, SessionEvents, SessionManager } from "@plue/core"
import { SessionCache as Cache, SessionEvents as Events, SessionManager as Manager } from "@plue/core"
import type { PlueError } from "@plue/core"
import type { Session } from "@plue/core/OpenCodeSchema"
import * as SessionBulk from "@plue/core/SessionBulk"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Code, type ErrorName, type FunctionName, Functions } from "../Api.js"

/** Where outcomes, mirror updates and events go. `R` identifies one call (a C record, a call id). */
export interface Port<R> {
  readonly complete: (record: R, code: number, message: string | null, json: string | null, value: number) => void
  readonly push: (json: string) => void
  readonly mirrorPut: (handle: number, json: string) => void
  readonly mirrorRemove: (handle: number) => void
  readonly mirrorClear: () => void
}

/** What an operation gives back: a JSON string, a number (a new handle), or nothing. */
export interface Outcome {
  readonly json?: string
  readonly value?: number
}

/** The result code of every failure a session operation can have: exhaustive over the union. */
export type ErrorCodeMap<E extends { readonly _tag: string }> = { readonly [K in E["_tag"]]: ErrorName }

/**
 * An argument of a C call that plue refuses before asking anyone (OpenCode was never asked, so it
 * is not a `BadRequest`): which function, and what the argument must be instead.
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("@plue/ffi/InvalidArgument")(
  "InvalidArgument",
  { function: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `Invalid argument to ${this.function}: ${this.detail}.`
  }
}

/** Every failure a bridged operation can have: a session failure, a batch that is not one, a refused argument. */
export type CallError = PlueError.SessionError | SessionBulk.InvalidBatch | InvalidArgument

/** The C result code of each session failure. A new error does not compile until it is added here. */
export const errorCodes: ErrorCodeMap<CallError> = {
  InvalidBatch: "PLUE_ERR_INVALID_ARGUMENT",
  InvalidArgument: "PLUE_ERR_INVALID_ARGUMENT",
  InvalidSessionId: "PLUE_ERR_INVALID_ARGUMENT",
  BadRequest: "PLUE_ERR_INVALID_ARGUMENT",
  InvalidHandle: "PLUE_ERR_INVALID_HANDLE",
  SessionNotFound: "PLUE_ERR_NOT_FOUND",
  SessionDeleted: "PLUE_ERR_DELETED",
  Unauthorized: "PLUE_ERR_UNAUTHORIZED",
  Unreachable: "PLUE_ERR_UNREACHABLE",
  Aborted: "PLUE_ERR_ABORTED",
  ServerError: "PLUE_ERR_SERVER",
  ProtocolError: "PLUE_ERR_PROTOCOL",
  ShareUnavailable: "PLUE_ERR_SHARE_UNAVAILABLE",
  // The outbox's files could not be written (disk full, no permission): nothing was queued.
  OutboxError: "PLUE_ERR_INTERNAL",
  OperationNotFound: "PLUE_ERR_NOT_FOUND"
}

/** The plue_error code of a session failure. */
export const errorCode = (error: CallError): number => Code[errorCodes[error._tag]]

type Operation = (handle: number, a: string | null, b: string | null) => Effect.Effect<Outcome, CallError>

/** A batch's results as C receives them: each failure also carries its plue_error `code`. */
const bulkJson = (results: ReadonlyArray<SessionBulk.Result>): string =>
  JSON.stringify(
    SessionBulk.encode(results).map((encoded, i) => {
      const result = results[i]!
      return result.status === "failed" ? { ...(encoded as object), code: errorCode(result.error) } : encoded
    })
  )

/** A running dispatcher. */
export interface Dispatcher<R> {
  /** Starts a call; completes it through the port now (a warm answer) or when it ends. Never throws. */
  readonly call: (op: number, handle: number, a: string | null, b: string | null, record: R) => void
  /** Refuses new calls (they complete with PLUE_ERR_NOT_BOUND) and interrupts the ones in flight. */
  readonly close: Effect.Effect<void>
}

export const make = <R>(
  port: Port<R>
): Effect.Effect<Dispatcher<R>, never, SessionManager.SessionManager | SessionEvents.SessionEvents | SessionCache.SessionCache | Scope.Scope> =>
  Effect.gen(function*() {
    const sessions = yield* Manager.SessionManager
    const events = yield* Events.SessionEvents
    const cache = yield* Cache.SessionCache
    const runtime = yield* Effect.runtime<never>()
    // Done when the dispatcher closes: a batch then starts nothing more and returns its results.
    const closing = yield* Deferred.make<void>()

    // The warm-read mirror in C: while the cache is coherent, every open handle's session JSON,
    // rewritten in the same step as each cache change (listeners run synchronously), so a C
    // read answered from it is exactly as current as one that hopped here.
    const handlesOf = new Map<string, Set<number>>()
    let coherent = yield* cache.coherent
    // The JSON `plue_session_get_info` answers: the visible value and, while outbox operations
    // wait for it, `pending` (as `SessionManager.info` has it; the cache announces every change).
    const infoJson = (session: Session) => {
      const pending = sessions.outbox.pending(session.id)
      return JSON.stringify(pending.length === 0 ? session : { ...session, pending })
    }
    const mirror = (handle: number, sessionId: string) => {
      if (!coherent) return
      const session = cache.peek(sessionId as never)
      if (session._tag === "Some") port.mirrorPut(handle, infoJson(session.value))
    }
    yield* cache.onChange((change) => {
      switch (change._tag) {
        case "Coherent":
          coherent = change.coherent
          if (!coherent) port.mirrorClear()
          else for (const [sessionId, handles] of handlesOf) for (const h of handles) mirror(h, sessionId)
          return
        case "Upsert": {
          const handles = handlesOf.get(change.session.id)
          if (handles === undefined || !coherent) return
          const json = infoJson(change.session)
          for (const h of handles) port.mirrorPut(h, json)
          return
        }
        case "Remove":
          for (const h of handlesOf.get(change.sessionId) ?? []) port.mirrorRemove(h)
          return
      }
    })
    const opened = (handle: number) =>
      Effect.map(sessions.sessionId(handle), (sessionId): Outcome => {
        const set = handlesOf.get(sessionId) ?? new Set<number>()
        set.add(handle)
        handlesOf.set(sessionId, set)
        mirror(handle, sessionId)
        return { value: handle }
      })
    const closed = (handle: number) => {
      port.mirrorRemove(handle)
      for (const [sessionId, handles] of handlesOf) {
        if (handles.delete(handle) && handles.size === 0) handlesOf.delete(sessionId)
      }
    }
    const json = (value: unknown): Outcome => ({ json: JSON.stringify(value) })
    const none: Outcome = {}

    // One entry per bridged function of the API description; the operation numbers live there.
    const operations: { readonly [K in FunctionName]: Operation } = {
      plue_session_create: (_, a) => Effect.flatMap(sessions.create(a === null ? {} : { parentID: a }), opened),
      plue_session_open: (_, a) => Effect.flatMap(sessions.open(a ?? ""), opened),
      plue_session_get_info: (h) => Effect.map(sessions.info(h), json),
      plue_session_list: () => Effect.map(sessions.list, json),
      plue_session_update_title: (h, a) => Effect.as(sessions.updateTitle(h, a ?? ""), none),
      plue_session_initialize: (h, a, b) => Effect.as(sessions.initialize(h, { providerID: a ?? "", modelID: b ?? "" }), none),
      plue_session_delete: (h) => Effect.as(sessions.delete(h), none),
      plue_session_abort: (h) => Effect.as(sessions.abort(h), none),
      plue_session_create_share: (h) => Effect.map(sessions.share(h), json),
      plue_session_unshare: (h) => Effect.as(sessions.unshare(h), none),
      plue_conflict_resolve: (_, a, b) =>
        Effect.suspend((): Effect.Effect<Outcome, CallError> => {
          const choice = b === "local" || b === "remote" ? b : b?.startsWith("text:") ? { text: b.slice(5) } : undefined
          if (choice === undefined) {
            return Effect.fail(
              new InvalidArgument({
                function: "plue_conflict_resolve",
                detail: "choice must be \"local\", \"remote\" or \"text:\" followed by a title"
              })
            )
          }
          return Effect.as(sessions.outbox.resolve(a ?? "", choice), none)
        }),
      plue_session_destroy: (h) =>
        Effect.suspend(() => {
          // Out of the mirror first: from this step on, reads of it hop here and fail.
          closed(h)
          return Effect.as(sessions.destroy(h), none)
        }),
      plue_bulk: (_, a) =>
        Effect.suspend(() => {
          const batch = SessionBulk.parseBatch(a ?? "")
          if (Either.isLeft(batch)) return Effect.fail(batch.left)
          return Effect.map(
            sessions.bulk(batch.right.operations, { ...batch.right.options, cancel: closing }),
            (results): Outcome => ({ json: bulkJson(results) })
          )
        })
    }
    /** Operations that closing lets finish (they stop by themselves once `closing` is done). */
    const draining = new Set<number>(Functions.filter((f) => f.name === "plue_bulk").map((f) => f.op))
    const byOp = new Map<number, Operation>(Functions.map((f) => [f.op, operations[f.name]]))

    const finish = (record: R, exit: Exit.Exit<Outcome, CallError>) => {
      if (Exit.isSuccess(exit)) {
        port.complete(record, Code.PLUE_OK, null, exit.value.json ?? null, exit.value.value ?? 0)
        return
      }
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "Some") {
        port.complete(record, errorCode(failure.value), failure.value.message, null, 0)
      } else if (Cause.isInterruptedOnly(exit.cause)) {
        port.complete(record, Code.PLUE_ERR_NOT_BOUND, "the plue bridge shut down during the call", null, 0)
      } else {
        port.complete(record, Code.PLUE_ERR_INTERNAL, Cause.pretty(exit.cause).split("\n")[0] ?? "internal error", null, 0)
      }
    }

    const pending = new Set<Fiber.RuntimeFiber<Outcome, CallError>>()
    const finishing = new Set<Fiber.RuntimeFiber<Outcome, CallError>>()
    let open = true
    const runFork = Runtime.runFork(runtime)

    const call = (op: number, handle: number, a: string | null, b: string | null, record: R): void => {
      if (!open) {
        port.complete(record, Code.PLUE_ERR_NOT_BOUND, "the plue bridge has shut down", null, 0)
        return
      }
      const operation = byOp.get(op)
      if (operation === undefined) {
        port.complete(record, Code.PLUE_ERR_INTERNAL, `unknown operation ${op}: the header and the bridge differ`, null, 0)
        return
      }
      const fiber = runFork(operation(handle, a, b))
      const done = fiber.unsafePoll()
      if (done !== null) {
        finish(record, done)
        return
      }
      const set = draining.has(op) ? finishing : pending
      set.add(fiber)
      fiber.addObserver((exit) => {
        set.delete(fiber)
        finish(record, exit)
      })
    }

    yield* events.stream.pipe(
      Stream.runForEach((event) => Effect.sync(() => port.push(JSON.stringify(event)))),
      Effect.forkScoped
    )

    return {
      call,
      close: Effect.suspend(() => {
        open = false
        return Effect.zipRight(
          Deferred.succeed(closing, undefined),
          Effect.zipRight(
            Effect.forEach([...pending], Fiber.interrupt, { discard: true }),
            Effect.forEach([...finishing], Fiber.await, { discard: true })
          )
        )
      })
    }
  })
