import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, ExecutionStrategy, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as Net from "@plue/testing/Net"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import { makeSandbox } from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Platform = PlatformLayer.layer

const alive = Spawn.alive

/** Waits until `pid` is gone (the kernel reaps it shortly after the kill); whether it went. */
const gone = (pid: number) => Effect.map(Effect.ignore(Spawn.gone(pid)), () => !alive(pid))

/** Every process whose environment mentions `needle`. */
const processesMentioning = Spawn.processesMentioning

const script = (body: string): string => {
  const dir = mkdtempSync(join(tmpdir(), "plue-fake-bin-"))
  const path = join(dir, "opencode")
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

describe("OpenCodeServer (managed)", () => {
  it.live("starts a healthy server, serves the client, and leaves no process after the scope closes", () =>
    Effect.gen(function*() {
      // A scope of its own, closed by the test; the test's scope closes it too if the test fails first.
      const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
      const box = yield* Scope.extend(makeSandbox, scope)
      const context = yield* Layer.buildWithScope(
        OpenCodeClient.layer.pipe(Layer.provideMerge(OpenCodeServer.layer({ cwd: box.project, env: box.env })), Layer.provide(Platform)),
        scope
      )
      const server = Context.get(context, OpenCodeServer.OpenCodeServer)
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.isTrue(alive(server.pid))
      const client = Context.get(context, OpenCodeClient.OpenCodeClient)
      const session = yield* client.create({ title: "managed" })
      assert.strictEqual((yield* client.get(session.id)).title, "managed")
      const children = processesMentioning(box.home)
      assert.isAbove(children.length, 0, "the server (and what it started) can be found by its sandbox")

      yield* Scope.close(scope, Exit.void)
      assert.isTrue(yield* gone(server.pid), "the server process is gone")
      for (const pid of children) assert.isTrue(yield* gone(pid), `process ${pid} of the server is gone`)
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 120_000 })

  it.live("interrupting the program that owns the server ends it", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<{ pid: number; home: string }>()
      const fiber = yield* Effect.fork(
        Effect.scoped(Effect.gen(function*() {
          const box = yield* makeSandbox
          const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
          yield* Deferred.succeed(started, { pid: server.pid, home: box.home })
          return yield* Effect.never
        })).pipe(Effect.provide(Platform))
      )
      const { pid, home } = yield* Deferred.await(started)
      assert.isTrue(alive(pid))
      yield* Fiber.interrupt(fiber)
      assert.isTrue(yield* gone(pid))
      assert.deepStrictEqual(processesMentioning(home), [])
    }), { timeout: 120_000 })

  it.live("a missing binary fails with BinaryNotFound", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(OpenCodeServer.start({ binary: "/nonexistent/opencode" })))
      assert.strictEqual(error.reason, "BinaryNotFound")
      assert.include(error.message, "/nonexistent/opencode")
      // opencode-ai is optional: the error says how to install it.
      assert.include(error.message, "npm install opencode-ai@1.18.33")
    }).pipe(Effect.provide(Platform)))

  it.live("an early exit fails with ExitedEarly and quotes what the server printed", () =>
    Effect.gen(function*() {
      const binary = script(`echo "config error: bad provider" >&2\necho "some stdout"\nexit 3`)
      const error = yield* Effect.flip(Effect.scoped(OpenCodeServer.start({ binary })))
      assert.strictEqual(error.reason, "ExitedEarly")
      assert.include(error.message, "code 3")
      assert.include(error.message, "config error: bad provider")
      assert.include(error.message, "some stdout")
    }).pipe(Effect.provide(Platform)))

  it.live("a server that never says it listens fails with StartTimeout and is stopped", () =>
    Effect.gen(function*() {
      const pidFile = join(mkdtempSync(join(tmpdir(), "plue-pid-")), "pid")
      const binary = script(`echo $$ > ${pidFile}\necho "starting..."\nexec sleep 30`)
      const error = yield* Effect.flip(Effect.scoped(OpenCodeServer.start({ binary, startTimeout: "700 millis" })))
      assert.strictEqual(error.reason, "StartTimeout")
      assert.include(error.message, "starting...")
      const pid = Number(readFileSync(pidFile, "utf8"))
      assert.isTrue(yield* gone(pid), "the stuck process was killed")
    }).pipe(Effect.provide(Platform)))
})

describe("OpenCodeServer.layer supervision", () => {
  it.live("a server that dies on its own is restarted on the same URL, at most `limit` times; handles stay valid", () =>
    Effect.gen(function*() {
      const box = yield* makeSandbox
      // A port of its own: given port 0, OpenCode takes 4096 when it is free, and once this server
      // is gone another test file's server may take 4096 (then "no server" would meet that one).
      const port = yield* Net.freePort
      const context = yield* Layer.build(
        Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
          Layer.provideMerge(OpenCodeServer.layer({ cwd: box.project, env: box.env, port, restart: { limit: 1, backoff: "100 millis" } }))
        )
      )
      const server = Context.get(context, OpenCodeServer.OpenCodeServer)
      const sessions = Context.get(context, SessionManager)
      const sync = Context.get(context, SessionSync)
      yield* sync.awaitConnected
      const handle = yield* sessions.create({ title: "survives a crash" })
      const firstPid = server.pid

      process.kill(firstPid, "SIGKILL")
      yield* Wait.until("the server to be restarted", Effect.map(server.restarts, (n) => n > 0))
      assert.strictEqual(yield* server.restarts, 1)
      yield* sync.changes.pipe(
        Stream.filter((s) => s.status === "connected" && s.reconnects >= 1),
        Stream.take(1),
        Stream.runDrain,
        Effect.timeout(Wait.defaultCeiling)
      )
      assert.notStrictEqual(server.pid, firstPid)
      assert.isTrue(alive(server.pid))
      assert.strictEqual((yield* sessions.updateTitle(handle, "after the crash")).title, "after the crash", "the same handle works")

      // The limit: a second crash is not restarted.
      const secondPid = server.pid
      process.kill(secondPid, "SIGKILL")
      assert.isTrue(yield* gone(secondPid))
      // Not a synchronisation: a restart that must not happen cannot be waited for, so the
      // supervisor gets a quiet window of many times its backoff (100 ms) to do it wrongly.
      yield* Effect.sleep("1500 millis")
      assert.strictEqual(yield* server.restarts, 1)
      const down = yield* Effect.flip(sessions.updateTitle(handle, "no server"))
      assert.strictEqual(down._tag, "Unreachable")
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 180_000 })
})
