/**
 * The koffi bridge: binds a C library built with `plue.h` (PLUE_IMPLEMENTATION) to the session
 * manager, so its C threads can call the plue C API, and pushes session events to its
 * subscribers. Everything it registers is released with its scope.
 *
 * @since 0.1.0
 */
import { SessionCache, SessionEvents, SessionManager } from "@plue/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import koffi from "koffi"
import type * as Koffi from "koffi"
import { API_VERSION, Code, DESTROY_OP } from "./Api.js"

/**
 * The library could not be bound.
 *
 * @since 0.1.0
 */
export class BindError extends Schema.TaggedError<BindError>("@plue/ffi/BindError")("BindError", {
  library: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `Cannot bind ${this.library}: ${this.detail}. Build it with plue.h and define PLUE_IMPLEMENTATION in one of its .c files.`
  }
}

/** A pointer as koffi hands it over. Never leaves this module. */
type Pointer = bigint & { readonly __brand: "plue/ffi/Pointer" }

// koffi type names are process-wide: declare them once.
const types = (() => {
  let made: { call: Koffi.TypeObject; api: Koffi.TypeObject } | undefined
  return () => {
    made ??= (() => {
      const call = koffi.proto("int plue__call_fn(int op, int64_t handle, const char *a, const char *b, void *record)")
      const api = koffi.struct("plue__api_t", { api_version: "int", call: koffi.pointer(call) })
      return { call, api }
    })()
    return made
  }
})()

/**
 * A bound library.
 *
 * @since 0.1.0
 */
export interface Bound {
  readonly library: Koffi.LibraryHandle
  /** Strings handed to C and not yet freed with plue_free_json. */
  readonly liveStrings: () => number
}

interface Outcome {
  readonly json?: string | undefined
  readonly value?: number | undefined
}

/** The plue_error_t for a failure. */
export const errorCode = (error: unknown): number => {
  switch ((error as { _tag?: string })?._tag) {
    case "InvalidSessionId":
    case "BadRequest":
      return Code.PLUE_ERR_INVALID_ARGUMENT
    case "InvalidHandle":
      return Code.PLUE_ERR_INVALID_HANDLE
    case "SessionNotFound":
      return Code.PLUE_ERR_NOT_FOUND
    case "SessionDeleted":
      return Code.PLUE_ERR_DELETED
    case "Unauthorized":
      return Code.PLUE_ERR_UNAUTHORIZED
    case "Unreachable":
      return Code.PLUE_ERR_UNREACHABLE
    case "Aborted":
      return Code.PLUE_ERR_ABORTED
    case "ServerError":
      return Code.PLUE_ERR_SERVER
    case "ProtocolError":
      return Code.PLUE_ERR_PROTOCOL
    case "ShareUnavailable":
      return Code.PLUE_ERR_SHARE_UNAVAILABLE
    default:
      return Code.PLUE_ERR_INTERNAL
  }
}

/**
 * Binds `library` (a path, or a library koffi already loaded) for the scope's lifetime.
 *
 * @since 0.1.0
 */
export const bind = (
  library: string | Koffi.LibraryHandle
): Effect.Effect<
  Bound,
  BindError,
  SessionManager.SessionManager | SessionEvents.SessionEvents | SessionCache.SessionCache | Scope.Scope
> =>
  Effect.gen(function*() {
    const name = typeof library === "string" ? library : "the library"
    const sessions = yield* SessionManager.SessionManager
    const events = yield* SessionEvents.SessionEvents
    const runtime = yield* Effect.runtime<never>()
    const fail = (detail: string) => new BindError({ library: name, detail })

    const lib = typeof library === "string"
      ? yield* Effect.try({ try: () => koffi.load(library), catch: (e) => fail(String((e as Error)?.message ?? e)) })
      : library
    const { call } = types()
    const fns = yield* Effect.try({
      try: () => ({
        bind: lib.func("int plue__bind(const plue__api_t *api)"),
        unbind: lib.func("int plue__unbind(void)"),
        complete: lib.func("void plue__complete(void *record, int code, const char *message, const char *json, int64_t value)"),
        push: lib.func("void plue__event_push(const char *json)"),
        live: lib.func("int64_t plue__live_strings(void)"),
        mirrorPut: lib.func("void plue__mirror_put(int64_t handle, const char *json)"),
        mirrorRemove: lib.func("void plue__mirror_remove(int64_t handle)"),
        mirrorClear: lib.func("void plue__mirror_clear(void)")
      }),
      catch: (e) => fail(`it does not export the plue bridge functions (${String((e as Error)?.message ?? e)})`)
    })

    // The warm-read mirror in C: while the cache is coherent, every open handle's session JSON,
    // rewritten in the same step as each cache change (listeners run synchronously), so a C
    // read answered from it is exactly as current as one that hopped here.
    const cache = yield* SessionCache.SessionCache
    const handlesOf = new Map<string, Set<number>>()
    let coherent = yield* cache.coherent
    const mirror = (handle: number, sessionId: string) => {
      if (!coherent) return
      const session = cache.peek(sessionId as never)
      if (session._tag === "Some") fns.mirrorPut(handle, JSON.stringify(session.value))
    }
    yield* cache.onChange((change) => {
      switch (change._tag) {
        case "Coherent":
          coherent = change.coherent
          if (!coherent) fns.mirrorClear()
          else for (const [sessionId, handles] of handlesOf) for (const h of handles) mirror(h, sessionId)
          return
        case "Upsert": {
          const handles = handlesOf.get(change.session.id)
          if (handles === undefined || !coherent) return
          const json = JSON.stringify(change.session)
          for (const h of handles) fns.mirrorPut(h, json)
          return
        }
        case "Remove":
          for (const h of handlesOf.get(change.sessionId) ?? []) fns.mirrorRemove(h)
          return
      }
    })
    const opened = (handle: number) =>
      Effect.map(sessions.sessionId(handle), (sessionId) => {
        const set = handlesOf.get(sessionId) ?? new Set<number>()
        set.add(handle)
        handlesOf.set(sessionId, set)
        mirror(handle, sessionId)
        return { value: handle }
      })
    const closed = (handle: number) => {
      fns.mirrorRemove(handle)
      for (const [sessionId, handles] of handlesOf) {
        if (handles.delete(handle) && handles.size === 0) handlesOf.delete(sessionId)
      }
    }

    const operation = (op: number, handle: number, a: string | null, b: string | null): Effect.Effect<Outcome, unknown> => {
      switch (op) {
        case 1:
          return Effect.flatMap(sessions.create({ parentID: a ?? undefined }), opened)
        case 2:
          return Effect.flatMap(sessions.open(a ?? ""), opened)
        case 3:
          return Effect.map(sessions.info(handle), (session) => ({ json: JSON.stringify(session) }))
        case 4:
          return Effect.map(sessions.list, (list) => ({ json: JSON.stringify(list) }))
        case 5:
          return Effect.as(sessions.updateTitle(handle, a ?? ""), {})
        case 6:
          return Effect.as(sessions.initialize(handle, { providerID: a ?? "", modelID: b ?? "" }), {})
        case 7:
          return Effect.as(sessions.delete(handle), {})
        case 8:
          return Effect.as(sessions.abort(handle), {})
        case 9:
          return Effect.map(sessions.share(handle), (result) => ({ json: JSON.stringify(result) }))
        case 10:
          return Effect.as(sessions.unshare(handle), {})
        case DESTROY_OP:
          // Out of the mirror first: from this step on, reads of it hop here and fail.
          closed(handle)
          return Effect.as(sessions.destroy(handle), {})
        default:
          return Effect.dieMessage(`unknown operation ${op}`)
      }
    }

    const pending = new Map<Pointer, Fiber.RuntimeFiber<Outcome, unknown>>()
    let open = true

    const finish = (record: Pointer, exit: Exit.Exit<Outcome, unknown>) => {
      if (Exit.isSuccess(exit)) {
        fns.complete(record, Code.PLUE_OK, null, exit.value.json ?? null, exit.value.value ?? 0)
        return
      }
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "Some") {
        const error = failure.value as { message?: string }
        fns.complete(record, errorCode(failure.value), error?.message ?? String(failure.value), null, 0)
      } else if (Cause.isInterruptedOnly(exit.cause)) {
        fns.complete(record, Code.PLUE_ERR_NOT_BOUND, "the plue bridge shut down during the call", null, 0)
      } else {
        fns.complete(record, Code.PLUE_ERR_INTERNAL, Cause.pretty(exit.cause).split("\n")[0] ?? "internal error", null, 0)
      }
    }

    const runFork = Runtime.runFork(runtime)
    // Runs on the JS main thread (koffi queues calls from C threads there). It must return at
    // once: it starts the operation and completes the C record now if the answer is at hand
    // (a warm cache read), else when the operation ends.
    const onCall = (op: number, handle: number | bigint, a: string | null, b: string | null, record: Pointer): number => {
      try {
        if (!open) {
          fns.complete(record, Code.PLUE_ERR_NOT_BOUND, "the plue bridge has shut down", null, 0)
          return 1
        }
        const fiber = runFork(operation(op, Number(handle), a, b))
        const done = fiber.unsafePoll()
        if (done !== null) {
          finish(record, done)
          return 1
        }
        pending.set(record, fiber)
        fiber.addObserver((exit) => {
          pending.delete(record)
          finish(record, exit)
        })
        return 1
      } catch {
        return 0
      }
    }

    const registered = yield* Effect.acquireRelease(
      Effect.try({ try: () => koffi.register(onCall, koffi.pointer(call)), catch: (e) => fail(String(e)) }),
      (pointer) => Effect.sync(() => koffi.unregister(pointer))
    )
    const status = yield* Effect.try({
      try: () => fns.bind({ api_version: API_VERSION, call: registered }) as number,
      catch: (e) => fail(String(e))
    })
    if (status !== 0) return yield* fail(`its plue.h speaks bridge protocol other than ${API_VERSION}; rebuild it with this plue's header`)

    // Unbind first (new calls fail at once), then end the calls still in flight.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        open = false
        fns.unbind()
        yield* Effect.forEach([...pending.values()], Fiber.interrupt, { discard: true })
        // Calls a C thread made just before the unbind may still be queued for the main thread:
        // let them run (they fail with PLUE_ERR_NOT_BOUND) before the callback is unregistered.
        yield* Effect.sleep("20 millis")
      })
    )

    yield* events.stream.pipe(
      Stream.runForEach((event) => Effect.sync(() => fns.push(JSON.stringify(event)))),
      Effect.forkScoped
    )

    return {
      library: lib,
      liveStrings: () => Number(fns.live())
    } satisfies Bound
  })
