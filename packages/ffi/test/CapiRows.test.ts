// Rows of docs/c-api.md that needed a harness of their own (docs/coverage-of-docs.md maps every
// row to its test), each a C program built here with the machine's `cc` against the real OpenCode
// server: PLUE_ERR_OUT_OF_MEMORY with an LD_PRELOAD allocator that fails on demand
// (c/oom_shim.c, program c/oom.c), through plue_init and the sidecar and under `plue host`.
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { OpenCodeServer } from "@plue/core"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
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
})
