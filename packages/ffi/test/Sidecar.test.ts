import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { OpenCodeServer, Plue, SessionSync } from "@plue/core"
import { childEnv } from "@plue/testing/ChildEnv"
import * as Net from "@plue/testing/Net"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cliBin, compileLibrary, compileProgram, cSource, plueCommand, type Ran, runProgram } from "./support.js"

// C programs with their own main(): plue_init starts the sidecar (`plue serve`, through
// PLUE_COMMAND), which talks to the test's real OpenCode server.
const Stub = StubLlm.layer({ pace: "100 millis", chunks: 40 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Plue.layer().pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig })))),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))
)

const ownMain = compileProgram(cSource("own_main.c"))
const suite = compileProgram(cSource("sidecar_suite.c"))
const command = plueCommand()

/** Runs a program against `server`; the process is killed if the test stops waiting. */
const run = (program: string, args: ReadonlyArray<string>, server: { url: string; password: Redacted.Redacted<string> }, extra: Record<string, string> = {}) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      runProgram(
        program,
        args,
        childEnv({
          PLUE_COMMAND: command,
          OPENCODE_URL: server.url,
          OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
          ...extra
        })
      )
    ),
    (ran) => Effect.promise(() => ran),
    (ran) => Effect.sync(() => ran.kill())
  )

const explain = (ran: Ran) => `exit ${ran.code} ${ran.signal ?? ""}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`

/** Runs one mode of the C suite (suite.c) over the sidecar; returns its report. */
const runSuite = (mode: string, extra: Array<string> = []) =>
  Effect.gen(function*() {
    yield* (yield* SessionSync.SessionSync).awaitConnected
    const server = yield* OpenCodeServer.OpenCodeServer
    const reportFile = join(mkdtempSync(join(tmpdir(), "plue-report-")), "report.txt")
    const ran = yield* run(suite, [mode, reportFile, "stub", "slow-model", ...extra], server)
    const report = existsSync(reportFile) ? readFileSync(reportFile, "utf8") : "(no report)"
    return { ran, report: `${report}\n${explain(ran)}` }
  })

layer(Live, { timeout: 240_000, excludeTestServices: true })("a C program with its own main(), through plue_init and the sidecar", (it) => {
  it.effect("the seed's C example runs in main() and exits 0", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const ran = yield* run(ownMain, ["seed"], server)
      assert.strictEqual(ran.code, 0, explain(ran))
      assert.match(ran.stdout, /^Session info: \{"id":"ses_/m)
      assert.match(ran.stdout, /^After: .*"title":"My Coding Session"/m)
      assert.notInclude(ran.stderr, "line ", explain(ran))
    }), { timeout: 180_000 })

  it.effect("a program started with stdin, stderr or both closed (`./app 2>&-`) works the same", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      // The shell closes the descriptors, then becomes the program; the sidecar's output has
      // nowhere to go, and the program's stdout still carries only what it prints.
      for (const closing of ["2>&-", "<&- 2>&-", "<&-"]) {
        const ran = yield* run("/bin/sh", ["-c", `exec "$0" seed ${closing}`, ownMain], server)
        assert.strictEqual(ran.code, 0, `${closing}: ${explain(ran)}`)
        assert.match(ran.stdout, /^Session info: \{"id":"ses_/m, closing)
        assert.match(ran.stdout, /^After: .*"title":"My Coding Session"/m, closing)
      }
    }), { timeout: 240_000 })

  it.effect("8 threads call at once; every answer is right; nothing leaks", () =>
    Effect.gen(function*() {
      const ran = yield* run(ownMain, ["threads"], yield* OpenCodeServer.OpenCodeServer)
      assert.strictEqual(ran.code, 0, explain(ran))
      assert.include(ran.stdout, "done: 0 failure(s)")
    }), { timeout: 180_000 })

  it.effect("8 threads at once and the sidecar killed mid-call, under ThreadSanitizer: no data race in the header", () =>
    Effect.gen(function*() {
      const tsan = compileProgram(cSource("own_main.c"), ["-fsanitize=thread"])
      for (const mode of ["threads", "killed"]) {
        const ran = yield* run(tsan, [mode, "stub", "slow-model"], yield* OpenCodeServer.OpenCodeServer)
        assert.strictEqual(ran.code, 0, explain(ran))
        assert.notInclude(ran.stderr, "ThreadSanitizer", explain(ran))
        assert.include(ran.stdout, "done: 0 failure(s)")
      }
    }), { timeout: 300_000 })

  it.effect(
    "threads, shutdown and init again, the sidecar killed mid-call, under AddressSanitizer and UBSan: no invalid access, no leak",
    () =>
      Effect.gen(function*() {
        const asan = compileProgram(cSource("own_main.c"), ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
        for (const mode of ["threads", "lifecycle", "killed"]) {
          const ran = yield* run(asan, [mode, "stub", "slow-model"], yield* OpenCodeServer.OpenCodeServer)
          assert.strictEqual(ran.code, 0, explain(ran))
          assert.notInclude(ran.stderr, "Sanitizer", explain(ran))
          assert.include(ran.stdout, "done: 0 failure(s)")
        }
      }),
    { timeout: 300_000 }
  )

  it.effect("init counts, shutdown reaps, init again works, old handles are refused, the program's SIGCHLD handler stays", () =>
    Effect.gen(function*() {
      const ran = yield* run(ownMain, ["lifecycle"], yield* OpenCodeServer.OpenCodeServer)
      assert.strictEqual(ran.code, 0, explain(ran))
      assert.include(ran.stdout, "done: 0 failure(s)")
    }), { timeout: 240_000 })

  it.effect("a forked child's calls fail with PLUE_ERR_NOT_BOUND until it calls plue_init itself; the parent goes on", () =>
    Effect.gen(function*() {
      const ran = yield* run(ownMain, ["fork"], yield* OpenCodeServer.OpenCodeServer)
      assert.strictEqual(ran.code, 0, explain(ran))
      assert.include(ran.stdout, "done: 0 failure(s)")
    }), { timeout: 180_000 })

  it.effect("the sidecar killed mid-call: the call returns PLUE_ERR_NOT_BOUND, later calls too, shutdown and init again work", () =>
    Effect.gen(function*() {
      const ran = yield* run(ownMain, ["killed", "stub", "slow-model"], yield* OpenCodeServer.OpenCodeServer)
      assert.strictEqual(ran.code, 0, explain(ran))
      assert.include(ran.stdout, "done: 0 failure(s)")
      assert.isNull(ran.signal, "no SIGPIPE (or any signal) in the program")
    }), { timeout: 180_000 })

  for (const mode of ["misuse", "threads", "events"]) {
    it.effect(`the C suite over the sidecar: ${mode}`, () =>
      Effect.gen(function*() {
        const { ran, report } = yield* runSuite(mode)
        assert.strictEqual(ran.code, 0, report)
        assert.include(report, "done: 0 failure(s)")
        assert.include(ran.stdout, "live strings: 0", report)
      }), { timeout: 180_000 })
  }

  it.scoped("the C suite over the sidecar: abort from one thread while another blocks in initialize", () =>
    Effect.gen(function*() {
      const stub = yield* StubLlm.StubLlm
      const before = yield* stub.stats
      const go = join(mkdtempSync(join(tmpdir(), "plue-go-")), "go")
      yield* Effect.forkScoped(Effect.gen(function*() {
        while ((yield* stub.stats).streaming === before.streaming) yield* Effect.sleep("25 millis")
        writeFileSync(go, "")
      }))
      const { ran, report } = yield* runSuite("abort", [go])
      assert.strictEqual(ran.code, 0, report)
    }), { timeout: 180_000 })

  const otherClient = Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const auth = Buffer.from(`opencode:${Redacted.value(server.password)}`).toString("base64")
    return (method: string, path: string, body?: unknown) =>
      Effect.promise(() =>
        fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Basic ${auth}`, "content-type": "application/json" },
          ...(body ? { body: JSON.stringify(body) } : {})
        }).then((r) => r.arrayBuffer())
      )
  })
  const waitForId = (file: string) =>
    Effect.gen(function*() {
      while (!existsSync(file) || readFileSync(file, "utf8").length < 30) yield* Effect.sleep("20 millis")
      return readFileSync(file, "utf8")
    })

  it.scoped("the C suite over the sidecar: warm reads stay coherent with another client's rename and delete", () =>
    Effect.gen(function*() {
      const other = yield* otherClient
      const idFile = join(mkdtempSync(join(tmpdir(), "plue-id-")), "id")
      yield* Effect.forkScoped(Effect.gen(function*() {
        const id = yield* waitForId(idFile)
        yield* other("PATCH", `/session/${id}`, { title: "changed elsewhere" })
        // The C side polls until it sees the rename before the delete can be told apart.
        yield* Effect.sleep("500 millis")
        yield* other("DELETE", `/session/${id}`)
      }))
      const { ran, report } = yield* runSuite("coherence", [idFile])
      assert.strictEqual(ran.code, 0, report)
    }), { timeout: 180_000 })

  it.scoped("the C suite over the sidecar: another client's renames and delete reach a C subscriber in order", () =>
    Effect.gen(function*() {
      const other = yield* otherClient
      const idFile = join(mkdtempSync(join(tmpdir(), "plue-remote-")), "id")
      yield* Effect.forkScoped(Effect.gen(function*() {
        const id = yield* waitForId(idFile)
        for (let i = 0; i < 20; i++) yield* other("PATCH", `/session/${id}`, { title: `remote ${i}` })
        yield* other("DELETE", `/session/${id}`)
      }))
      const { ran, report } = yield* runSuite("remote-events", [idFile])
      assert.strictEqual(ran.code, 0, report)
    }), { timeout: 180_000 })

  it.effect("the C suite over the sidecar: plue_shutdown while threads are in calls; every call returns, nothing leaks", () =>
    Effect.gen(function*() {
      const done = join(mkdtempSync(join(tmpdir(), "plue-shutdown-")), "done")
      const { ran, report } = yield* runSuite("shutdown", [done])
      assert.strictEqual(ran.code, 0, report)
      const [calls, strings] = readFileSync(done, "utf8").match(/\d+/g)!.map(Number)
      assert.isAbove(calls!, 10, "the threads were busy when plue shut down")
      assert.strictEqual(strings, 0, "every string plue handed over was freed")
    }), { timeout: 180_000 })

  it.effect("the same program built as a library runs under `plue host`: plue_init only counts", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const library = compileLibrary(cSource("own_main.c"))
      for (const mode of ["hosted", "seed"]) {
        const ran = yield* run(process.execPath, [cliBin, "host", "--debug", library, mode], server)
        assert.strictEqual(ran.code, 0, explain(ran))
        assert.include(ran.stderr, "0 string(s) never freed", explain(ran))
        if (mode === "seed") assert.match(ran.stdout, /^After: .*"title":"My Coding Session"/m)
        else assert.include(ran.stdout, "done: 0 failure(s)")
      }
    }), { timeout: 300_000 })

  it.scoped("the program killed with SIGKILL: its sidecar sees the socket close and exits (no orphan)", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(ownMain, ["orphan"], {
            env: childEnv({ PLUE_COMMAND: command, OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }),
            stdio: ["ignore", "pipe", "inherit"]
          })
        ),
        (child) => Effect.sync(() => child.kill("SIGKILL"))
      )
      const sidecar = yield* Effect.async<number>((resume) => {
        let out = ""
        child.stdout.on("data", (d) => {
          out += d
          const found = out.match(/sidecar (\d+)/)
          if (found) resume(Effect.succeed(Number(found[1])))
        })
      })
      // Alive = a process that is not a zombie (one the reparenting init has not reaped yet).
      const alive = () => {
        try {
          return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${sidecar}/stat`, "utf8"))
        } catch {
          return false
        }
      }
      assert.isTrue(alive(), "the sidecar runs while the program lives")
      child.kill("SIGKILL")
      for (let i = 0; i < 600 && alive(); i++) yield* Effect.sleep("50 millis")
      assert.isFalse(alive(), `the sidecar ${sidecar} exited after its program died`)
    }), { timeout: 180_000 })

  it.effect("plue_init fails clearly: a missing command, a sidecar that exits, a server that is not there", () =>
    Effect.gen(function*() {
      const ran = yield* run(ownMain, ["init-failures"], yield* OpenCodeServer.OpenCodeServer)
      assert.strictEqual(ran.code, 0, explain(ran))
      assert.include(ran.stdout, "done: 0 failure(s)")
    }), { timeout: 180_000 })
})

describe("the sidecar when the OpenCode server dies", () => {
  it.live("every C call answers PLUE_ERR_UNREACHABLE, none hangs or crashes", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.makeSandbox
      const context = yield* Layer.build(OpenCodeServer.layer({ cwd: box.project, env: box.env, restart: false, port: yield* Net.freePort }))
      const server = Context.get(context, OpenCodeServer.OpenCodeServer)
      const dir = mkdtempSync(join(tmpdir(), "plue-dead-"))
      const flag = join(dir, "flag")
      yield* Effect.forkScoped(Effect.gen(function*() {
        while (!existsSync(flag) || readFileSync(flag, "utf8") !== "ready") yield* Effect.sleep("20 millis")
        process.kill(server.pid, "SIGKILL")
        while (
          yield* Effect.sync(() => {
            try {
              process.kill(server.pid, 0)
              return true
            } catch {
              return false
            }
          })
        ) yield* Effect.sleep("20 millis")
        writeFileSync(flag, "killed")
      }))
      const reportFile = join(dir, "report.txt")
      const ran = yield* run(suite, ["dead-server", reportFile, "stub", "slow-model", flag], server)
      const report = `${existsSync(reportFile) ? readFileSync(reportFile, "utf8") : ""}\n${explain(ran)}`
      assert.strictEqual(ran.code, 0, report)
      assert.include(report, "done: 0 failure(s)")
      assert.include(ran.stdout, "live strings: 0")
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))), { timeout: 180_000 })
})
