/**
 * The sidecar: what `plue serve` runs for a C program that called `plue_init`. The program
 * starts it with one end of a socketpair as fd 3; frames on it (see `Api.WireKinds`) carry the
 * same operations `plue host` runs through koffi, answered by the same dispatcher, and the events
 * and warm-read mirror updates the header's reader thread applies.
 *
 * @since 0.1.0
 */
import type { SessionCache, SessionEvents, SessionManager } from "@plue/core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Socket } from "node:net"
import { API_VERSION, Code, VERSION, Wire } from "./Api.js"
import * as Dispatch from "./internal/dispatch.js"
import { BrokenStream, Decoder, encode, type Frame } from "./internal/wire.js"

/**
 * The socket to the C program could not be used.
 *
 * @since 0.1.0
 */
export class SidecarError extends Schema.TaggedError<SidecarError>("@plue/ffi/SidecarError")("SidecarError", {
  detail: Schema.String
}) {
  override get message(): string {
    return `plue serve: ${this.detail}. It is started by plue_init (plue.h) with a socket as fd 3; it is not meant to be run by hand.`
  }
}

/**
 * What the C program asked for in its HELLO frame (the fields of `plue_options` it set).
 *
 * @since 0.1.0
 */
export type Hello = typeof HelloSchema.Type

const HelloSchema = Schema.Struct({
  url: Schema.optionalWith(Schema.String, { exact: true }),
  password: Schema.optionalWith(Schema.String, { exact: true }),
  directory: Schema.optionalWith(Schema.String, { exact: true })
})

/**
 * An open connection to the C program.
 *
 * @since 0.1.0
 */
export interface Channel {
  readonly hello: Hello
  /** Sends one frame (dropped once the socket is gone). */
  readonly send: (kind: number, id: number, value: number, code: number, a: string | null, b: string | null) => void
  /** Hands every frame after HELLO to `onFrame` (frames that came early first); succeeds when the input ends. */
  readonly run: (onFrame: (frame: Frame) => void) => Effect.Effect<void>
  /** Succeeds when the C program's input ends (plue_shutdown, or the program died). */
  readonly ended: Effect.Effect<void>
  /** Tells the C program that starting failed (plue_init returns this code and message). */
  readonly fail: (code: number, message: string) => Effect.Effect<void>
}

/**
 * Opens the socket on `fd` and reads the C program's HELLO frame. The socket is closed with the
 * scope, once everything sent has been flushed.
 *
 * @since 0.1.0
 */
export const connect = (fd = 3): Effect.Effect<Channel, SidecarError, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = yield* Effect.acquireRelease(
      Effect.try({
        try: () => new Socket({ fd, readable: true, writable: true, allowHalfOpen: true }),
        catch: (e) => new SidecarError({ detail: `fd ${fd} is not a socket (${String((e as Error)?.message ?? e)})` })
      }),
      (socket) =>
        Effect.async<void>((resume) => {
          if (socket.destroyed) return resume(Effect.void)
          socket.end(() => {
            socket.destroy()
            resume(Effect.void)
          })
          // A peer that is gone never acknowledges the end: do not wait for it.
          socket.once("close", () => resume(Effect.void))
        })
    )
    const decoder = new Decoder()
    const early: Array<Frame> = []
    let onFrame: ((frame: Frame) => void) | undefined
    let ended = false
    let onEnd: (() => void) | undefined
    let onHello: ((frame: Frame | Error) => void) | undefined
    // Assigned by the executor, which runs before the constructor returns.
    let resolveEnded!: () => void
    const endedPromise = new Promise<void>((resolve) => (resolveEnded = resolve))
    const end = () => {
      if (ended) return
      ended = true
      resolveEnded()
      onHello?.(new Error("the socket closed before HELLO"))
      onEnd?.()
    }
    socket.on("data", (chunk: Buffer) => {
      let frames: Array<Frame>
      try {
        frames = decoder.push(chunk)
      } catch (e) {
        socket.destroy(e instanceof BrokenStream ? e : new BrokenStream(String(e)))
        return
      }
      for (const frame of frames) {
        if (onHello !== undefined) {
          const first = onHello
          onHello = undefined
          first(frame)
        } else if (onFrame !== undefined) onFrame(frame)
        else early.push(frame)
      }
    })
    socket.on("end", end)
    socket.on("close", end)
    socket.on("error", end)

    const first = yield* Effect.async<Frame, SidecarError>((resume) => {
      onHello = (frame) => resume(frame instanceof Error ? Effect.fail(new SidecarError({ detail: frame.message })) : Effect.succeed(frame))
      if (ended) onHello(new Error("the socket closed before HELLO"))
    })
    if (first.kind !== Wire.HELLO) return yield* new SidecarError({ detail: `the first frame is of kind ${first.kind}, not HELLO` })
    if (first.value !== API_VERSION) {
      const detail = `the C program's plue.h speaks bridge protocol ${first.value}, this plue ${API_VERSION}`
      // plue_init reports FAILED's code and text (the frame's layout is the same in every protocol).
      if (!socket.destroyed) {
        socket.write(
          encode(
            Wire.FAILED,
            0,
            0,
            Code.PLUE_ERR_INTERNAL,
            `plue serve: ${detail}: build the program with this plue's plue.h, or run the plue of its header (PLUE_COMMAND)`,
            null
          )
        )
      }
      return yield* new SidecarError({ detail })
    }
    const hello = yield* Schema.decodeUnknown(Schema.parseJson(HelloSchema))(first.a ?? "{}").pipe(
      Effect.mapError((e) => new SidecarError({ detail: `its HELLO options are not valid: ${e.message.replace(/\s+/g, " ")}` }))
    )

    const send = (kind: number, id: number, value: number, code: number, a: string | null, b: string | null) => {
      if (!socket.destroyed && socket.writable) socket.write(encode(kind, id, value, code, a, b))
    }
    return {
      hello,
      send,
      run: (handler) =>
        Effect.async<void>((resume) => {
          onFrame = handler
          for (const frame of early.splice(0)) handler(frame)
          if (ended) return resume(Effect.void)
          onEnd = () => resume(Effect.void)
        }),
      ended: Effect.promise(() => endedPromise),
      fail: (code, message) => Effect.sync(() => send(Wire.FAILED, 0, 0, code, message, null))
    } satisfies Channel
  })

/**
 * Serves the C program on `channel` until its input ends (plue_shutdown, or the program died):
 * says READY, runs every CALL through the same dispatcher as `plue host`, and sends completions,
 * events and mirror updates. When the input ends the calls in flight are interrupted (they
 * complete with PLUE_ERR_NOT_BOUND) before it returns.
 *
 * @since 0.1.0
 */
export const serve = (
  channel: Channel
): Effect.Effect<void, never, SessionManager.SessionManager | SessionEvents.SessionEvents | SessionCache.SessionCache | Scope.Scope> =>
  Effect.gen(function*() {
    const { send } = channel
    const dispatcher = yield* Dispatch.make<number>({
      complete: (id, code, message, json, value) => send(Wire.COMPLETE, id, value, code, message, json),
      push: (json) => send(Wire.EVENT, 0, 0, 0, json, null),
      mirrorPut: (handle, json) => send(Wire.MIRROR_PUT, 0, handle, 0, json, null),
      mirrorRemove: (handle) => send(Wire.MIRROR_REMOVE, 0, handle, 0, null, null),
      mirrorClear: () => send(Wire.MIRROR_CLEAR, 0, 0, 0, null, null)
    })
    send(Wire.READY, 0, API_VERSION, 0, VERSION, null)
    yield* channel.run((frame) => {
      if (frame.kind === Wire.CALL) dispatcher.call(frame.code, frame.value, frame.a, frame.b, frame.id)
      else send(Wire.COMPLETE, frame.id, 0, Code.PLUE_ERR_INTERNAL, `unexpected frame kind ${frame.kind}`, null)
    })
    yield* dispatcher.close
  })
