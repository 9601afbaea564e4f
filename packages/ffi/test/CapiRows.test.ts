// Rows of docs/c-api.md that needed a harness of their own (docs/coverage-of-docs.md maps every
// row to its test), each a C program built here with the machine's `cc` against the real OpenCode
// server: PLUE_ERR_OUT_OF_MEMORY with an LD_PRELOAD allocator that fails on demand
// (c/oom_shim.c, program c/oom.c), through plue_init and the sidecar and under `plue host`; then
// (c/capi_rows.c, through the sidecar) plue_init and plue_shutdown from several threads at once,
// plue_event_unsubscribe while its callback runs on the dispatcher, and the sidecar's stdout.
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { OpenCodeServer } from "@plue/core"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Code } from "../src/Api.js"
import { cliBin, compileLibrary, compileProgram, cSource, plueCommand } from "./support.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)))

const command = plueCommand()

/** The allocator shim, built as a user would build an LD_PRELOAD library. */
const shim = (() => {
  const out = join(mkdtempSync(join(tmpdir(), "plue-oom-")), "liboom.so")
  execFileSync("cc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", out, cSource("oom_shim.c"), "-ldl"], { stdio: "pipe" })
  return out
})()
const oomProgram = compileProgram(cSource("oom.c"), ["-ldl"])
const oomLibrary = compileLibrary(cSource("oom.c"), { extra: ["-ldl"] })
const rows = compileProgram(cSource("capi_rows.c"))

/**
 * A sidecar command that prints on its stdout: a wrapper script (as a user's `PLUE_COMMAND` may
 * be) that says so before it starts plue, and plue's own Node printing with console.log when it
 * loads and when it exits (a module it is told to load with NODE_OPTIONS=--require).
 */
const talkingSidecar = (() => {
  const dir = mkdtempSync(join(tmpdir(), "plue-talking-"))
  const preload = join(dir, "talk.cjs")
  writeFileSync(
    preload,
    `console.log("sidecar-node: console.log as plue starts, pid " + process.pid)\n` +
      `process.on("exit", () => console.log("sidecar-node: console.log as plue exits"))\n`
  )
  const path = join(dir, "plue")
  writeFileSync(path, `#!/bin/sh\necho "sidecar-wrapper: the sidecar command's stdout, pid $$"\nexec "${process.execPath}" "${cliBin}" "$@"\n`)
  chmodSync(path, 0o755)
  return { command: path, nodeOptions: `--require ${preload}` }
})()

/** Runs `path argv` against the test server, ended with the test's scope; exit 0 and no failure. */
const runC = (path: string, argv: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const child = yield* Spawn.spawn(path, argv, {
      env: { PLUE_COMMAND: command, OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password), ...env }
    })
    const ran = yield* child.result
    assert.strictEqual(ran.code, 0, `exit ${ran.code}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`)
    assert.include(ran.stdout, "done: 0 failure(s)")
    return ran
  })

const line = (stdout: string, name: string) => stdout.split("\n").find((l) => l.startsWith(`${name} `)) ?? `(no ${name} line)`

layer(Live, { timeout: 300_000, excludeTestServices: true })("docs/c-api.md: rows that need a harness of their own", (it) => {
  it.scoped(
    "PLUE_ERR_OUT_OF_MEMORY, sidecar: the calling thread's allocations fail: get_info and subscribe return it, a rename needs none and works, all work again after",
    () =>
      Effect.gen(function*() {
        const ran = yield* runC(oomProgram, ["calling"], { LD_PRELOAD: shim })
        assert.match(line(ran.stdout, "get_info"), new RegExp(`^get_info ${Code.PLUE_ERR_OUT_OF_MEMORY} .*out of memory`))
        assert.match(line(ran.stdout, "subscribe"), new RegExp(`^subscribe ${Code.PLUE_ERR_OUT_OF_MEMORY} `))
        assert.match(line(ran.stdout, "title"), /^title 0 $/)
      }),
    { timeout: 300_000 }
  )

  it.scoped(
    "PLUE_ERR_OUT_OF_MEMORY, plue host: the C thread's allocations fail: get_info and subscribe return it, a rename needs none and works, all work again after",
    () =>
      Effect.gen(function*() {
        const ran = yield* runC(process.execPath, [cliBin, "host", oomLibrary, "calling"], { LD_PRELOAD: shim })
        assert.match(line(ran.stdout, "get_info"), new RegExp(`^get_info ${Code.PLUE_ERR_OUT_OF_MEMORY} .*out of memory`))
        assert.match(line(ran.stdout, "subscribe"), new RegExp(`^subscribe ${Code.PLUE_ERR_OUT_OF_MEMORY} `))
        assert.match(line(ran.stdout, "title"), /^title 0 $/)
      }),
    { timeout: 300_000 }
  )

  it.scoped(
    "PLUE_ERR_OUT_OF_MEMORY, sidecar: the reader thread cannot keep a result: the call fails with it, the sidecar stays bound, no stale session is served, lost events are told by one Lagged",
    () =>
      Effect.gen(function*() {
        const ran = yield* runC(oomProgram, ["others"], { LD_PRELOAD: shim })
        assert.match(line(ran.stdout, "list"), new RegExp(`^list ${Code.PLUE_ERR_OUT_OF_MEMORY} An allocation failed\\.$`))
        assert.match(line(ran.stdout, "lagged"), /^lagged 1 \{"_tag":"Lagged","missed":\d+\} after \d+$/)
      }),
    { timeout: 300_000 }
  )

  it.scoped(
    "PLUE_ERR_OUT_OF_MEMORY, sidecar: plue_init with its 1st, 2nd, ... allocation failing returns it each time and leaves no child, then succeeds",
    () =>
      Effect.gen(function*() {
        const ran = yield* runC(oomProgram, ["init"], { LD_PRELOAD: shim })
        assert.match(line(ran.stdout, "init"), new RegExp(`^init ${Code.PLUE_ERR_OUT_OF_MEMORY} plue_init: `))
        assert.match(line(ran.stdout, "init failed"), /^init failed \d+ time\(s\), then succeeded: 0$/)
      }),
    { timeout: 300_000 }
  )

  it.scoped(
    "plue_init is thread-safe: 8 threads call plue_init at once (5 rounds): one sidecar, each thread's calls work, 8 plue_shutdowns at once release it (a 9th is refused), nothing left; threads taking and releasing it while one holds it keep the same sidecar; no data race under ThreadSanitizer",
    () =>
      Effect.gen(function*() {
        const ran = yield* runC(rows, ["init-threads", "5"])
        assert.include(ran.stdout, "init-threads: 5 round(s) of 8 threads")
        assert.match(ran.stdout, /^churn: one sidecar, pid \d+$/m)
        // And under ThreadSanitizer: no data race between the threads' plue_init and plue_shutdown.
        const tsan = yield* runC(compileProgram(cSource("capi_rows.c"), ["-fsanitize=thread"]), ["init-threads", "2"])
        assert.notInclude(tsan.stderr, "ThreadSanitizer", tsan.stderr)
        assert.include(tsan.stdout, "init-threads: 2 round(s) of 8 threads")
      }),
    { timeout: 300_000 }
  )

  it.scoped(
    "plue_event_unsubscribe while its callback runs on the dispatcher: it blocks until the callback returned, and the callback is never called again",
    () =>
      Effect.gen(function*() {
        const ran = yield* runC(rows, ["unsubscribe"])
        assert.include(ran.stdout, "unsubscribe: blocked while the callback ran: 1; the callback had returned when it returned: 1")
        assert.include(ran.stdout, "calls after unsubscribe: 0")
      }),
    { timeout: 300_000 }
  )

  it.scoped(
    "the sidecar's stdout goes to the program's stderr: what the sidecar's command and plue's Node print is on stderr, the program's stdout has only its own lines",
    () =>
      Effect.gen(function*() {
        const ran = yield* runC(rows, ["stdout"], { PLUE_COMMAND: talkingSidecar.command, NODE_OPTIONS: talkingSidecar.nodeOptions })
        assert.deepStrictEqual(ran.stdout.trimEnd().split("\n"), [
          "program: start",
          "program: bound",
          "program: created a session",
          "program: after plue_shutdown",
          "done: 0 failure(s)"
        ])
        assert.match(ran.stderr, /^sidecar-wrapper: the sidecar command's stdout, pid \d+$/m)
        assert.match(ran.stderr, /^sidecar-node: console\.log as plue starts, pid \d+$/m)
        assert.match(ran.stderr, /^sidecar-node: console\.log as plue exits$/m)
      }),
    { timeout: 300_000 }
  )
})
