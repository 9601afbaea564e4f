import { NodeHttpServer } from "@effect/platform-node"
import { OpenCodeServer, Plue, SessionSync } from "@plue/core"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Net from "@plue/testing/Net"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import koffi from "koffi"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Code } from "../src/Api.js"
import * as Bridge from "../src/Bridge.js"
import * as Host from "../src/Host.js"
import { cliBin, compileLibrary, cSource, freeCallbackSlots } from "./support.js"

const Stub = StubLlm.layer({ pace: "100 millis", chunks: 40 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Plue.layer().pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig })))),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

const compiled = compileLibrary(cSource("suite.c"))
const suite = compiled

/**
 * A copy of the compiled suite of its own: loaded from another path, it gets static state of its
 * own, so a run never sees what an earlier run (even one cut off by its timeout) left behind.
 */
const freshSuite = () => {
  const path = join(mkdtempSync(join(tmpdir(), "plue-suite-")), "suite.so")
  copyFileSync(compiled, path)
  return path
}

/** Runs one mode of the C suite in this process and returns its report. */
const runSuite = (mode: string, extra: Array<string> = []) =>
  Effect.gen(function*() {
    yield* (yield* SessionSync.SessionSync).awaitConnected
    const reportFile = join(mkdtempSync(join(tmpdir(), "plue-report-")), "report.txt")
    const { status, leaks } = yield* Effect.scoped(Host.run(freshSuite(), [mode, reportFile, "stub", "slow-model", ...extra]))
    const report = readFileSync(reportFile, "utf8")
    return { status, leaks, report }
  })

layer(Live, { timeout: 180_000, excludeTestServices: true })("the C API against a real server", (it) => {
  it.effect("misuse: NULLs, destroyed and made-up handles, double destroy, bad UTF-8, 1 MB title, bad ids", () =>
    Effect.gen(function*() {
      const { status, report, leaks } = yield* runSuite("misuse")
      assert.strictEqual(status, 0, report)
      assert.include(report, "done: 0 failure(s)")
      assert.strictEqual(leaks.strings, 0, "every string was freed")
      assert.deepStrictEqual(leaks.handles, [])
    }), { timeout: 120_000 })

  it.effect("8 threads x 500 mixed operations on shared and private sessions", () =>
    Effect.gen(function*() {
      const { status, report, leaks } = yield* runSuite("threads")
      assert.strictEqual(status, 0, report)
      assert.strictEqual(leaks.strings, 0)
      assert.deepStrictEqual(leaks.handles, [])
    }), { timeout: 360_000 })

  it.effect("events reach a C callback in order; plue calls from inside the callback work", () =>
    Effect.gen(function*() {
      const { status, report } = yield* runSuite("events")
      assert.strictEqual(status, 0, report)
    }), { timeout: 120_000 })

  it.scoped("abort from one thread while another blocks in initialize on the slow model", () =>
    Effect.gen(function*() {
      const stub = yield* StubLlm.StubLlm
      const before = yield* stub.stats
      // Tell the C side when the model is streaming, so its abort lands on a running turn.
      const go = join(mkdtempSync(join(tmpdir(), "plue-go-")), "go")
      yield* Effect.forkScoped(Effect.gen(function*() {
        yield* Wait.until("the model to stream", Effect.map(stub.stats, (s) => s.streaming > before.streaming))
        writeFileSync(go, "")
      }))
      const { status, report } = yield* runSuite("abort", [go])
      assert.strictEqual(status, 0, report)
      yield* Wait.until("the model's stream to be cut", Effect.map(stub.stats, (s) => s.cut > before.cut))
      assert.isAbove((yield* stub.stats).cut, before.cut, "the model's stream was cut")
    }), { timeout: 240_000 })

  it.scoped("warm reads answered in C stay coherent: another client's rename and delete reach get_info", () =>
    Effect.gen(function*() {
      const idFile = join(mkdtempSync(join(tmpdir(), "plue-id-")), "id")
      const other = yield* OtherClient.make
      yield* Effect.forkScoped(Effect.gen(function*() {
        yield* Wait.until("the C side to write the session id", () => existsSync(idFile) && readFileSync(idFile, "utf8").length >= 30)
        const id = readFileSync(idFile, "utf8")
        yield* other("PATCH", `/session/${id}`, { title: "changed elsewhere" })
        // The C side says when its get_info showed the rename; the delete comes after.
        yield* Wait.until("the C side to see the rename", () => existsSync(`${idFile}.renamed`))
        yield* other("DELETE", `/session/${id}`)
      }))
      const { status, report } = yield* runSuite("coherence", [idFile])
      assert.strictEqual(status, 0, report)
    }), { timeout: 120_000 })

  it.scoped("another client's renames and delete reach a C event subscriber, in order and marked remote", () =>
    Effect.gen(function*() {
      const idFile = join(mkdtempSync(join(tmpdir(), "plue-remote-")), "id")
      const other = yield* OtherClient.make
      yield* Effect.forkScoped(Effect.gen(function*() {
        yield* Wait.until("the C side to write the session id", () => existsSync(idFile) && readFileSync(idFile, "utf8").length >= 30)
        const id = readFileSync(idFile, "utf8")
        for (let i = 0; i < 20; i++) yield* other("PATCH", `/session/${id}`, { title: `remote ${i}` })
        yield* other("DELETE", `/session/${id}`)
      }))
      const { status, report } = yield* runSuite("remote-events", [idFile])
      assert.strictEqual(status, 0, report)
    }), { timeout: 120_000 })

  it.effect("unbinding while host threads are blocked in calls: every call returns PLUE_ERR_NOT_BOUND, nothing leaks", () =>
    Effect.gen(function*() {
      yield* (yield* SessionSync.SessionSync).awaitConnected
      const dir = mkdtempSync(join(tmpdir(), "plue-shutdown-"))
      const done = join(dir, "done")
      const scope = yield* Scope.make()
      const slots = freeCallbackSlots()
      // The host runs in a scope of its own: closing it unbinds the bridge under the C threads.
      yield* Effect.forkDaemon(Host.run(freshSuite(), ["shutdown", join(dir, "report.txt"), "stub", "slow-model", done]).pipe(Scope.extend(scope)))
      // Bound, and the host's threads busy: the C side says so after 50 calls.
      yield* Wait.until("the host's threads to be calling", () => existsSync(`${done}.busy`))
      assert.strictEqual(freeCallbackSlots(), slots - 1, "the bound bridge holds one koffi callback")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(freeCallbackSlots(), slots, "its callback was released with the bridge")
      yield* Effect.ignore(
        Wait.until("the host's threads to return", () => existsSync(done) && readFileSync(join(dir, "report.txt"), "utf8").includes("done:"))
      )
      assert.isTrue(existsSync(done), "the host's threads all returned after the unbind")
      const [calls, strings] = readFileSync(done, "utf8").match(/\d+/g)!.map(Number)
      assert.isAbove(calls!, 10, "the threads were busy when the bridge went away")
      assert.strictEqual(strings, 0, "every string plue handed over was freed")
      const report = readFileSync(join(dir, "report.txt"), "utf8")
      assert.include(report, "done: 0 failure(s)", report)
    }), { timeout: 120_000 })

  it.effect("a blocking call on the JavaScript main thread fails with PLUE_ERR_WRONG_THREAD instead of hanging", () =>
    Effect.scoped(Effect.gen(function*() {
      const bound = yield* Bridge.bind(suite)
      const list = bound.library.func("char *plue_session_list(void)")
      const code = bound.library.func("int plue_get_last_error_code(void)")
      const message = bound.library.func("const char *plue_get_last_error(void)")
      assert.isNull(list())
      assert.strictEqual(code(), Code.PLUE_ERR_WRONG_THREAD)
      assert.match(message(), /main thread/)
      void koffi
    })))

  it.effect("the seed's C example runs under `plue host` and exits 0", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const library = compileLibrary(cSource("seed_example.c"))
      const result = yield* Spawn.run(process.execPath, [cliBin, "host", "--debug", library], {
        env: { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stdout, /^Session info: \{"id":"ses_/m)
      assert.match(result.stdout, /^After: .*"title":"My Coding Session"/m)
      assert.include(result.stderr, "0 string(s) never freed")
      assert.include(result.stderr, "0 handle(s) never destroyed")
    }), { timeout: 120_000 })
})

describe("the C API when the server dies", () => {
  it.live("the OpenCode server killed under the host: every C call answers PLUE_ERR_UNREACHABLE, none hangs or crashes", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.makeSandbox
      // No restart: the server stays dead. A port of its own: given port 0, OpenCode takes 4096 when
      // free, and another test file's server may take 4096 once this one is gone.
      const context = yield* Layer.build(
        Plue.layer().pipe(Layer.provideMerge(OpenCodeServer.layer({ cwd: box.project, env: box.env, restart: false, port: yield* Net.freePort })))
      )
      const server = Context.get(context, OpenCodeServer.OpenCodeServer)
      yield* Context.get(context, SessionSync.SessionSync).awaitConnected
      const dir = mkdtempSync(join(tmpdir(), "plue-dead-"))
      const flag = join(dir, "flag")
      yield* Effect.forkScoped(Effect.gen(function*() {
        yield* Wait.until("the C side to be ready", () => existsSync(flag) && readFileSync(flag, "utf8") === "ready")
        process.kill(server.pid, "SIGKILL")
        yield* Spawn.gone(server.pid)
        writeFileSync(flag, "killed")
      }))
      const { status, leaks } = yield* Host.run(freshSuite(), ["dead-server", join(dir, "report.txt"), "stub", "slow-model", flag]).pipe(
        Effect.provide(context)
      )
      const report = readFileSync(join(dir, "report.txt"), "utf8")
      assert.strictEqual(status, 0, report)
      assert.include(report, "done: 0 failure(s)")
      assert.strictEqual(leaks.strings, 0)
    }).pipe(Effect.scoped, Effect.provide(Platform.layer)), { timeout: 180_000 })
})
