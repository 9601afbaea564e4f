import { OpenCodeServer } from "@plue/core"
import { childEnv } from "@plue/testing/ChildEnv"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { spawn } from "node:child_process"
import type { Socket } from "node:net"
import { API_VERSION, Code, Functions, VERSION, Wire } from "../src/Api.js"
import { Decoder, encode, type Frame } from "../src/internal/wire.js"
import { cliBin } from "./support.js"

// `plue serve` spoken to directly, frame by frame, over the socket plue_init would hand it (here:
// the socket pair Node gives a child for an extra stdio pipe, as fd 3), against the real OpenCode
// server. The C tests (Sidecar.test.ts) run the header's side of the protocol; these send what a
// correct header never sends: a call of an unknown operation, a frame of the wrong kind, a first
// frame that is not HELLO, a HELLO of another protocol version or with options that do not
// decode, a broken frame, a socket that closes first, no socket at all. (A HELLO naming a server
// that cannot be reached is not here: the sidecar keeps trying, and plue_init's own timeout ends
// it; Sidecar.test.ts covers that from C.)

interface Ended {
  readonly code: number | null
  readonly stderr: string
}

interface Sidecar {
  readonly send: (kind: number, id: number, value: number, code: number, a: string | null, b: string | null) => void
  readonly write: (bytes: Buffer) => void
  /** The next frame of `kind` (and call id `id`), skipping events and mirror updates. */
  readonly next: (kind: number, id?: number) => Effect.Effect<Frame>
  /** Ends the socket: what plue_shutdown does. */
  readonly end: () => void
  readonly ended: Effect.Effect<Ended>
}

/** `plue serve` with a socket on fd 3 (or `fd`; `socket: false`: none); the scope ends it (SIGTERM, then SIGKILL). */
const sidecar = (env: Record<string, string>, options: { socket?: boolean; args?: ReadonlyArray<string>; fd?: number } = {}) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [cliBin, "serve", ...(options.args ?? [])], {
          env: childEnv(env),
          stdio: options.socket === false
            ? ["ignore", "pipe", "pipe"]
            : ["ignore", "pipe", "pipe", ...Array.from({ length: (options.fd ?? 3) - 3 }, () => "ignore" as const), "pipe"]
        })
      ),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
          child.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          child.kill("SIGTERM")
        })
    )
    let stderr = ""
    child.stderr!.on("data", (d) => (stderr += d))
    const exited = new Promise<Ended>((resolve) => child.on("close", (code) => resolve({ code, stderr })))
    const socket = child.stdio[options.fd ?? 3] as Socket | undefined
    const frames: Array<Frame> = []
    let wake: () => void = () => {}
    const decoder = new Decoder()
    socket?.on("data", (chunk: Buffer) => {
      frames.push(...decoder.push(chunk))
      wake()
    })
    socket?.on("error", () => {})
    const next = (kind: number, id?: number): Effect.Effect<Frame> =>
      Effect.async<Frame>((resume) => {
        const look = () => {
          const at = frames.findIndex((f) => f.kind === kind && (id === undefined || f.id === id))
          if (at === -1) return false
          resume(Effect.succeed(frames.splice(at, 1)[0]!))
          return true
        }
        if (!look()) wake = () => void look()
      })
    return {
      send: (kind, id, value, code, a, b) => socket!.write(encode(kind, id, value, code, a, b)),
      write: (bytes) => socket!.write(bytes),
      next,
      end: () => socket!.end(),
      ended: Effect.promise(() => exited)
    } satisfies Sidecar
  })

const op = (name: string) => Functions.find((f) => f.name === name)!.op

/** A HELLO naming the test server (the program's plue_options win over the environment). */
const hello = (server: { url: string; password: Redacted.Redacted<string> }, password = Redacted.value(server.password)) =>
  JSON.stringify({ url: server.url, password })

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

layer(Live, { timeout: 240_000, excludeTestServices: true })("plue serve, spoken to frame by frame", (it) => {
  it.scoped("READY, then calls answered by call id: a list, an unknown operation, a frame of the wrong kind; exits 0 when the socket ends", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const side = yield* sidecar({})
      side.send(Wire.HELLO, 0, API_VERSION, 0, hello(server), null)
      const ready = yield* side.next(Wire.READY)
      assert.strictEqual(ready.value, API_VERSION)
      assert.strictEqual(ready.a, VERSION)

      side.send(Wire.CALL, 7, 0, op("plue_session_list"), null, null)
      const list = yield* side.next(Wire.COMPLETE, 7)
      assert.strictEqual(list.code, Code.PLUE_OK, list.a ?? "")
      assert.isArray(JSON.parse(list.b!))

      side.send(Wire.CALL, 8, 0, 9999, null, null)
      const unknown = yield* side.next(Wire.COMPLETE, 8)
      assert.strictEqual(unknown.code, Code.PLUE_ERR_INTERNAL)
      assert.match(unknown.a!, /unknown operation 9999: the header and the bridge differ/)

      side.send(Wire.MIRROR_CLEAR, 9, 0, 0, null, null)
      const wrongKind = yield* side.next(Wire.COMPLETE, 9)
      assert.strictEqual(wrongKind.code, Code.PLUE_ERR_INTERNAL)
      assert.match(wrongKind.a!, new RegExp(`unexpected frame kind ${Wire.MIRROR_CLEAR}`))

      // A call the server answers with an error: the session's own result code.
      side.send(Wire.CALL, 10, 0, op("plue_session_open"), "ses_doesnotexist000000000000", null)
      const missing = yield* side.next(Wire.COMPLETE, 10)
      assert.strictEqual(missing.code, Code.PLUE_ERR_NOT_FOUND, missing.a ?? "")

      side.end()
      const ended = yield* side.ended
      assert.strictEqual(ended.code, 0, ended.stderr)
    }))

  it.scoped("a first frame that is not HELLO, another protocol version, options that do not decode: exit 2 saying which", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const cases: Array<[(side: Sidecar) => void, RegExp]> = [
        [(side) => side.send(Wire.CALL, 1, 0, op("plue_session_list"), null, null), /the first frame is of kind 4, not HELLO/],
        [
          (side) => side.send(Wire.HELLO, 0, API_VERSION + 1, 0, hello(server), null),
          new RegExp(`speaks bridge protocol ${API_VERSION + 1}, this plue ${API_VERSION}`)
        ],
        [(side) => side.send(Wire.HELLO, 0, API_VERSION, 0, "{not json", null), /its HELLO options are not valid/],
        [(side) => side.send(Wire.HELLO, 0, API_VERSION, 0, JSON.stringify({ url: 42 }), null), /its HELLO options are not valid/],
        [(side) => side.end(), /the socket closed before HELLO/],
        // A frame whose length is shorter than the header: the stream is broken, the socket dropped.
        [(side) => side.write(Buffer.alloc(36, 0).fill(5, 0, 1)), /the socket closed before HELLO/]
      ]
      for (const [act, reason] of cases) {
        const side = yield* sidecar({})
        act(side)
        const ended = yield* side.ended
        assert.strictEqual(ended.code, 2, `${reason}: ${ended.stderr}`)
        const lines = ended.stderr.split("\n").filter((l) => l !== "")
        assert.strictEqual(lines.length, 1, ended.stderr)
        assert.match(lines[0]!, /^plue: plue serve: /)
        assert.match(lines[0]!, reason)
        // On one line, so the CLI's one `plue: ` line keeps the hint at its end.
        assert.include(lines[0]!, "it is not meant to be run by hand")
      }
    }))

  it.scoped("serve --fd 5: the socket on fd 5 (nothing on 3) is served the same way", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const side = yield* sidecar({}, { fd: 5, args: ["--fd", "5"] })
      side.send(Wire.HELLO, 0, API_VERSION, 0, hello(server), null)
      // A call right behind HELLO, before READY: kept, and answered once serving.
      side.send(Wire.CALL, 9, 0, op("plue_session_list"), null, null)
      const ready = yield* side.next(Wire.READY)
      assert.strictEqual(ready.value, API_VERSION)
      assert.strictEqual((yield* side.next(Wire.COMPLETE, 9)).code, Code.PLUE_OK)
      side.send(Wire.CALL, 1, 0, op("plue_session_create"), null, null)
      const created = yield* side.next(Wire.COMPLETE, 1)
      assert.strictEqual(created.code, Code.PLUE_OK, created.a ?? "")
      assert.isAbove(created.value, 0, "a new handle")
      side.send(Wire.CALL, 2, created.value, op("plue_session_get_info"), null, null)
      const info = yield* side.next(Wire.COMPLETE, 2)
      assert.strictEqual(info.code, Code.PLUE_OK, info.a ?? "")
      assert.match(JSON.parse(info.b!).id, /^ses_/)
      side.send(Wire.CALL, 3, created.value, op("plue_session_delete"), null, null)
      assert.strictEqual((yield* side.next(Wire.COMPLETE, 3)).code, Code.PLUE_OK)
      side.end()
      const ended = yield* side.ended
      assert.strictEqual(ended.code, 0, ended.stderr)
    }))

  it.scoped("a malformed frame after READY: the sidecar drops the socket and exits on its own", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const side = yield* sidecar({})
      side.send(Wire.HELLO, 0, API_VERSION, 0, hello(server), null)
      yield* side.next(Wire.READY)
      // A frame whose strings do not add up to its length.
      const broken = encode(Wire.CALL, 1, 0, op("plue_session_list"), "abc", null)
      broken.writeInt32LE(1, 28)
      side.write(broken)
      const ended = yield* side.ended
      assert.isNotNull(ended.code, `it exits on its own, not by a signal: ${ended.stderr}`)
    }))

  it.scoped("run by hand, without the socket: exit 2 naming the fd", () =>
    Effect.gen(function*() {
      for (const args of [[], ["--fd", "9"]]) {
        const side = yield* sidecar({}, { socket: false, args })
        const ended = yield* side.ended
        assert.strictEqual(ended.code, 2, ended.stderr)
        assert.match(ended.stderr, new RegExp(`^plue: plue serve: fd ${args.length === 0 ? 3 : 9} is not a socket`))
      }
    }))

  it.scoped("no URL and no OpenCode binary for a local server: FAILED with PLUE_ERR_UNREACHABLE and the reason, then exit 5", () =>
    Effect.gen(function*() {
      const side = yield* sidecar({ PLUE_OPENCODE_BIN: "/nonexistent/opencode" })
      side.send(Wire.HELLO, 0, API_VERSION, 0, "{}", null)
      const failed = yield* side.next(Wire.FAILED)
      assert.strictEqual(failed.code, Code.PLUE_ERR_UNREACHABLE, failed.a ?? "")
      assert.match(failed.a!, /The managed OpenCode server \(\/nonexistent\/opencode\) did not start: no executable file/)
      const ended = yield* side.ended
      assert.strictEqual(ended.code, 5, ended.stderr)
    }))

  it.scoped("the program gives up while the sidecar is still starting: it stops and exits", () =>
    Effect.gen(function*() {
      // A HELLO naming a server that accepts and never answers keeps the sidecar starting.
      const { createServer } = yield* Effect.promise(() => import("node:net"))
      const silent = yield* Effect.acquireRelease(
        Effect.async<import("node:net").Server>((resume) => {
          const s = createServer(() => {})
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.sync(() => s.close())
      )
      const port = (silent.address() as { port: number }).port
      const side = yield* sidecar({})
      side.send(Wire.HELLO, 0, API_VERSION, 0, JSON.stringify({ url: `http://127.0.0.1:${port}` }), null)
      side.end()
      const ended = yield* side.ended
      assert.isNotNull(ended.code, "it exits on its own, not by a signal")
    }))
})
