import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Duration, Effect, Either, ExecutionStrategy, Exit, Fiber, Layer, Option, Redacted, Schedule, Scope, Stream } from "effect"
import { createServer, type Server, Socket } from "node:net"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import { SessionCache } from "../src/SessionCache.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import { makeSandbox } from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Platform = PlatformLayer.layer

type Mode = "pass" | "stall" | "cut" | "drop"

/**
 * A loopback TCP proxy in front of the real server, whose behaviour the test switches: pass
 * bytes, stall (keep sockets open, forward nothing), cut connections after a few bytes of the
 * answer, or drop new connections at once.
 */
const faultyProxy = (target: URL) =>
  Effect.acquireRelease(
    Effect.async<{ url: string; server: Server; setMode: (mode: Mode) => void; sockets: Set<Socket> }>((resume) => {
      let mode: Mode = "pass"
      const sockets = new Set<Socket>()
      const server = createServer((client) => {
        sockets.add(client)
        client.on("close", () => sockets.delete(client))
        client.on("error", () => undefined)
        if (mode === "drop") return client.destroy()
        const upstream = new Socket()
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
        upstream.connect(Number(target.port), target.hostname)
        sockets.add(upstream)
        upstream.on("close", () => {
          sockets.delete(upstream)
          client.destroy()
        })
        client.on("close", () => upstream.destroy())
        client.on("data", (chunk) => upstream.write(chunk))
        let sent = 0
        upstream.on("data", (chunk: Buffer) => {
          if (mode === "stall") return
          if (mode === "cut" && sent + chunk.length > 200) {
            client.write(chunk.subarray(0, Math.max(0, 200 - sent)))
            client.destroy()
            upstream.destroy()
            return
          }
          sent += chunk.length
          client.write(chunk)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, server, setMode: (m: Mode) => void (mode = m), sockets }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  )

const cutAll = (proxy: { sockets: Set<Socket> }) => Effect.sync(() => proxy.sockets.forEach((s) => s.destroy()))

describe("faults between the bridge and the server", () => {
  it.live("a proxy that stalls, cuts and drops: timeouts fire, a dead stream is noticed, nothing is lost", () =>
    Effect.gen(function*() {
      const box = yield* makeSandbox
      const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
      const proxy = yield* faultyProxy(new URL(server.url))
      const context = yield* Layer.build(
        Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
          Layer.provide(OpenCodeConnection.layer({
            url: proxy.url,
            password: server.password,
            requestTimeout: "2 seconds",
            heartbeatTimeout: "1500 millis",
            retries: 2
          }))
        )
      )
      const sessions = Context.get(context, SessionManager)
      const sync = Context.get(context, SessionSync)
      const cache = Context.get(context, SessionCache)
      const events = Context.get(context, SessionEvents)
      // The truth, straight to the server, bypassing the proxy.
      const direct = yield* OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: server.url, password: server.password }))
      )
      yield* sync.awaitConnected
      const seen: Array<Delivery> = []
      yield* Effect.forkScoped(Stream.runForEach(yield* events.subscribe, (e) => Effect.sync(() => seen.push(e))))
      const handle = yield* sessions.create({ title: "before faults" })
      const id = yield* sessions.sessionId(handle)

      // Stall: requests time out (not hang), the event stream is noticed dead by its silence.
      proxy.setMode("stall")
      const [took, stalled] = yield* Effect.timed(Effect.flip(sessions.updateTitle(handle, "during stall")))
      assert.strictEqual(stalled._tag, "Unreachable")
      // Two retries of 2 s each and their backoff: a stalled request fails, it does not hang.
      assert.isBelow(Duration.toMillis(took), 15_000, "a stalled request fails within its timeout")
      yield* sync.changes.pipe(Stream.filter((s) => s.status === "reconnecting"), Stream.take(1), Stream.runDrain, Effect.timeout(Wait.defaultCeiling))
      assert.isFalse(yield* cache.coherent, "a dead stream makes the cache stop trusting itself")
      // Meanwhile, another client changes things.
      yield* direct.update(id, { title: "changed while the stream was dead" })
      const born = yield* direct.create({ title: "born while the stream was dead" })

      // Cut mid-response: idempotent reads are retried and then fail as Unreachable, no hang.
      proxy.setMode("cut")
      yield* cutAll(proxy)
      const cut = yield* Effect.either(sessions.list)
      assert.isTrue(Either.isLeft(cut) && cut.left._tag === "Unreachable", "a cut answer is Unreachable")

      // Drop new connections.
      proxy.setMode("drop")
      const dropped = yield* Effect.flip(sessions.updateTitle(handle, "during drop"))
      assert.strictEqual(dropped._tag, "Unreachable")

      // Heal: the sync fiber reconnects and reconciles; what changed meanwhile is published.
      proxy.setMode("pass")
      yield* sync.changes.pipe(
        Stream.filter((s) => s.status === "connected" && s.reconnects >= 1),
        Stream.take(1),
        Stream.runDrain,
        Effect.timeout(Wait.defaultCeiling)
      )
      yield* Effect.ignore(Wait.until("what changed meanwhile to be published", () =>
        seen.some((e) =>
          e._tag === "Updated" && e.session.id === id && e.session.title === "changed while the stream was dead"
        ) &&
        seen.some((e) => e._tag === "Created" && e.session.id === born.id)))
      assert.isTrue(seen.some((e) =>
        e._tag === "Updated" && e.session.id === id && e.session.title === "changed while the stream was dead"
      ))
      assert.isTrue(seen.some((e) => e._tag === "Created" && e.session.id === born.id))
      const truth = yield* direct.list()
      const mirror = yield* cache.list
      assert.deepStrictEqual(mirror.map((s) => `${s.id}:${s.title}`).sort(), truth.map((s) => `${s.id}:${s.title}`).sort())
      assert.strictEqual((yield* sessions.info(handle)).title, "changed while the stream was dead")
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 180_000 })

  it.live("the server SIGKILLed mid-operations and started again on the same port: nothing hangs, the cache equals the server", () =>
    Effect.gen(function*() {
      const box = yield* makeSandbox
      const password = Redacted.make("crash-test")
      const start = (port: number) =>
        Effect.gen(function*() {
          // Closed by the test, and by the test's scope if the test fails first.
          const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
          const info = yield* OpenCodeServer.start({ cwd: box.project, env: box.env, password, port }).pipe(Scope.extend(scope))
          return { info, scope }
        })
      const first = yield* start(0)
      const port = Number(new URL(first.info.url).port)
      const context = yield* Layer.build(
        Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
          Layer.provide(OpenCodeConnection.layer({ url: first.info.url, password, requestTimeout: "10 seconds" }))
        )
      )
      const sessions = Context.get(context, SessionManager)
      const sync = Context.get(context, SessionSync)
      const cache = Context.get(context, SessionCache)
      yield* sync.awaitConnected
      const handles = yield* Effect.forEach([0, 1, 2, 3], (i) => sessions.create({ title: `crash ${i}` }))

      // Forty operations in flight, then the kill (once some have begun, and others have not).
      let begun = 0
      const work = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => {
        const h = handles[i % handles.length]!
        const op: Effect.Effect<unknown, unknown> = i % 3 === 0
          ? sessions.updateTitle(h, `op ${i}`)
          : i % 3 === 1
          ? sessions.list
          : sessions.create({ title: `new ${i}` })
        return Effect.fork(Effect.exit(Effect.delay(Effect.zipRight(Effect.sync(() => begun++), op), Duration.millis(i * 10))))
      })
      yield* Wait.until("some operations to be in flight", () => begun >= 15)
      process.kill(first.info.pid, "SIGKILL")
      const outcomes = yield* Effect.forEach(work, Fiber.join).pipe(Effect.timeout(Wait.defaultCeiling))
      for (const exit of outcomes) {
        if (Exit.isFailure(exit)) {
          const error = Option.getOrUndefined(Cause.failureOption(exit.cause)) as { _tag?: string } | undefined
          assert.strictEqual(error?._tag, "Unreachable", `a pending operation failed with ${String(error?._tag)}`)
        }
      }
      yield* Scope.close(first.scope, Exit.void)

      // What the killed server started may hold the port for a moment after the group is killed.
      const again = yield* start(port).pipe(Effect.retry({ times: 20, schedule: Schedule.spaced("250 millis") }))
      yield* sync.changes.pipe(
        Stream.filter((s) => s.status === "connected" && s.reconnects >= 1),
        Stream.take(1),
        Stream.runDrain,
        Effect.timeout(Wait.defaultCeiling)
      )
      const truth = yield* OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: again.info.url, password })),
        Effect.flatMap((c) => c.list())
      )
      const mirror = yield* cache.list
      assert.deepStrictEqual(mirror.map((s) => `${s.id}:${s.title}`).sort(), truth.map((s) => `${s.id}:${s.title}`).sort())
      for (const h of handles) assert.strictEqual((yield* sessions.info(h)).id, yield* sessions.sessionId(h), "handles stay valid")
      yield* Scope.close(again.scope, Exit.void)
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 180_000 })
})

describe("shutting down with operations in flight", () => {
  it.live("closing the bridge mid-flight ends every operation, stops the server, closes its port", () =>
    Effect.gen(function*() {
      const box = yield* makeSandbox
      const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
      const context = yield* Layer.buildWithScope(Plue.layerManaged({ server: { cwd: box.project, env: box.env } }), scope)
      const sessions = Context.get(context, SessionManager)
      const server = Context.get(context, OpenCodeServer.OpenCodeServer)
      yield* Context.get(context, SessionSync).awaitConnected
      const handles = yield* Effect.forEach([0, 1, 2], (i) => sessions.create({ title: `busy ${i}` }))
      // Thirty workers, each looping on operations until the bridge goes away under them.
      let completed = 0
      const workers = yield* Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) =>
        Effect.fork(Effect.exit(Effect.forever(
          (i % 3 === 0
            ? sessions.updateTitle(handles[i % 3]!, `w${i}`)
            : i % 3 === 1
            ? sessions.list
            : sessions.info(handles[i % 3]!) as Effect.Effect<unknown, unknown>).pipe(
              Effect.zipLeft(Effect.sync(() => completed++)),
              Effect.zipLeft(Effect.sleep("1 millis"))
            )
        ))))
      yield* Wait.until("the workers to be busy", () => completed >= 60)
      const [took] = yield* Effect.timed(Scope.close(scope, Exit.void))
      assert.isBelow(Duration.toMillis(took), 10_000, "shutdown does not wait on the operations")
      const exits = yield* Effect.forEach(workers, Fiber.join).pipe(Effect.timeout(Wait.defaultCeiling))
      assert.strictEqual(exits.length, 30, "every worker ended")
      for (const exit of exits) assert.isTrue(Exit.isFailure(exit), "a worker ends by failure or interruption, never by hanging")
      // The server and everything it started are gone, and its port no longer answers.
      yield* Effect.ignore(Spawn.gone(server.pid))
      assert.isFalse(Spawn.alive(server.pid), "the server process is gone")
      const probe = yield* Effect.either(Effect.tryPromise(() => fetch(`${server.url}/global/health`, { signal: AbortSignal.timeout(2000) })))
      assert.isTrue(Either.isLeft(probe), "nothing listens on the server's port any more")
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 180_000 })
})
