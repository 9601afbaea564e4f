/**
 * The koffi bridge: binds a C library built with `plue.h` (PLUE_IMPLEMENTATION) to the session
 * manager, so its C threads can call the plue C API, and pushes session events to its
 * subscribers. Everything it registers is released with its scope.
 *
 * @since 0.1.0
 */
import type { SessionCache, SessionEvents, SessionManager } from "@plue/core"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import koffi from "koffi"
import type * as Koffi from "koffi"
import { API_TABLE, API_VERSION, BridgeEntries, CALL_PROTOTYPE } from "./Api.js"
import * as Dispatch from "./internal/dispatch.js"

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

// koffi type names are process-wide: declare them once, from the API description.
const types = (() => {
  let made: { call: Koffi.TypeObject; api: Koffi.TypeObject } | undefined
  return () => {
    made ??= (() => {
      const call = koffi.proto(CALL_PROTOTYPE)
      const api = koffi.struct(
        API_TABLE.name,
        Object.fromEntries(API_TABLE.fields.map(([name, type]) => [name, type === "plue__call_fn *" ? koffi.pointer(call) : type]))
      )
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

/**
 * The C result code (by name) of each session failure: a record over the whole error union, so a
 * new error does not compile until it is mapped.
 *
 * @since 0.1.0
 */
export const errorCodes: Dispatch.ErrorCodeMap<Dispatch.CallError> = Dispatch.errorCodes

/**
 * The exhaustive mapping type {@link errorCodes} satisfies.
 *
 * @since 0.1.0
 */
export type ErrorCodeMap<E extends { readonly _tag: string }> = Dispatch.ErrorCodeMap<E>

/**
 * The plue_error code (number) for a session failure.
 *
 * @since 0.1.0
 */
export const errorCode = (error: Dispatch.CallError): number => Dispatch.errorCode(error)

type Entry = (typeof BridgeEntries)[number]["key"]

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
    const fail = (detail: string) => new BindError({ library: name, detail })

    const lib = typeof library === "string"
      ? yield* Effect.try({ try: () => koffi.load(library), catch: (e) => fail(String((e as Error)?.message ?? e)) })
      : library
    const { call } = types()
    const fns = yield* Effect.try({
      try: () =>
        Object.fromEntries(BridgeEntries.map((e) => [e.key, lib.func(e.prototype)])) as {
          readonly [K in Entry]: Koffi.KoffiFunc<(...args: Array<any>) => any>
        },
      catch: (e) => fail(`it does not export the plue bridge functions of protocol ${API_VERSION} (${String((e as Error)?.message ?? e)})`)
    })

    const dispatcher = yield* Dispatch.make<Pointer>({
      complete: (record, code, message, json, value) => fns.complete(record, code, message, json, value),
      push: (json) => fns.push(json),
      mirrorPut: (handle, json) => fns.mirrorPut(handle, json),
      mirrorRemove: (handle) => fns.mirrorRemove(handle),
      mirrorClear: () => fns.mirrorClear()
    })

    // Runs on the JS main thread (koffi queues calls from C threads there). It must return at
    // once: the dispatcher starts the operation and completes the C record now if the answer is
    // at hand (a warm cache read), else when the operation ends.
    const onCall = (op: number, handle: number | bigint, a: string | null, b: string | null, record: Pointer): number => {
      try {
        dispatcher.call(op, Number(handle), a, b, record)
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

    // Unbind first (new calls fail at once in C), then end the calls in flight. Calls a C thread
    // made just before the unbind may still be queued for this (main) thread: C counts every call
    // between its check and its return, so wait, yielding to the event loop that runs the queued
    // ones (they fail with PLUE_ERR_NOT_BOUND), until none is left; only then is the callback
    // unregistered.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        fns.unbind()
        yield* dispatcher.close
        yield* Effect.sync(() => fns.inFlight() as number).pipe(
          Effect.repeat({ schedule: Schedule.spaced("1 millis"), until: (n) => n === 0 }),
          Effect.timeout("30 seconds"),
          Effect.ignore
        )
      })
    )

    return {
      library: lib,
      liveStrings: () => Number(fns.live())
    } satisfies Bound
  })
