// Rows of docs/c-api.md that no other test exercised (docs/coverage-of-docs.md maps every row to
// its test): a C program built with the machine's `cc`, through plue_init and the sidecar, and
// the same source as a `plue host` plugin, against a real OpenCode server with the stub model.
import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Spawn from "@plue/testing/Spawn"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { cliBin, compileLibrary, compileProgram, cSource, plueCommand, type Ran, runProgram } from "./support.js"

const Stub = StubLlm.layer({ pace: "100 millis", chunks: 40 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig }))).pipe(
  Layer.provideMerge(Stub),
  Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))
)

const program = compileProgram(cSource("doc_rows.c"))
const command = plueCommand()

const explain = (ran: Ran) => `exit ${ran.code} ${ran.signal ?? ""}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`

/** Runs `program args` against the test server; killed if the test stops waiting. */
const run = (path: string, args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
  Effect.flatMap(OpenCodeServer.OpenCodeServer, (server) =>
    Effect.acquireUseRelease(
      Effect.sync(() =>
        runProgram(path, args, {
          PATH: process.env.PATH ?? "",
          PLUE_COMMAND: command,
          OPENCODE_URL: server.url,
          OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
          ...extra
        })
      ),
      (ran) => Effect.promise(() => ran),
      (ran) => Effect.sync(() => ran.kill())
    ))

layer(Live, { timeout: 300_000, excludeTestServices: true })("docs/c-api.md, row by row (C, real server)", (it) => {
  it.effect(
    "create with a parent, delete takes the children, destroy keeps the session, destroy in flight, per-thread errors, PLUE_ERR_SERVER, Created and unsubscribe inside a callback, initialize that succeeds, list in the server's order past its page size",
    () =>
      Effect.gen(function*() {
        const client = yield* OpenCodeClient.OpenCodeClient
        const stub = yield* StubLlm.StubLlm
        // More sessions than the server's page (100): plue_session_list is never cut.
        yield* Effect.forEach(Array.from({ length: 120 }, (_, i) => i), (i) => client.create({ title: `page ${i}` }), { concurrency: 8 })
        const before = yield* stub.stats
        const listFile = join(mkdtempSync(join(tmpdir(), "plue-rows-")), "list.json")
        const ran = yield* run(program, ["sessions", listFile, stub.providerID, stub.modelID])
        assert.strictEqual(ran.code, 0, explain(ran))
        assert.include(ran.stdout, "done: 0 failure(s)")
        assert.isAbove((yield* stub.stats).completed, before.completed, "the init turn ran on the model to its end")
        // Newest update first, exactly the server's own order (ties included), every session.
        const listed = (JSON.parse(readFileSync(listFile, "utf8")) as Array<{ id: string }>).map((s) => s.id)
        const server = (yield* client.list()).map((s) => s.id)
        assert.isAbove(listed.length, 100)
        assert.deepStrictEqual(listed, server)
      }),
    { timeout: 300_000 }
  )

  it.effect(
    "plue_options: command, directory (and OPENCODE_DIRECTORY), password, size, timeout_ms; shutdown ends the subscriptions",
    () =>
      Effect.gen(function*() {
        const box = yield* TestServer.TestSandbox
        const dirOption = mkdtempSync(join(box.root, "option-dir-"))
        const dirEnv = mkdtempSync(join(box.root, "env-dir-"))
        const scratch = mkdtempSync(join(tmpdir(), "plue-never-"))
        const pidFile = join(scratch, "pid")
        const neverReady = join(scratch, "never-ready")
        writeFileSync(neverReady, `#!/bin/sh\necho $$ > "${pidFile}"\nexec sleep 600\n`)
        chmodSync(neverReady, 0o755)
        const ran = yield* run(program, ["options", command, dirOption, dirEnv, neverReady], {
          PLUE_COMMAND: "/nonexistent/plue",
          OPENCODE_DIRECTORY: dirEnv
        })
        assert.strictEqual(ran.code, 0, explain(ran))
        assert.include(ran.stdout, "done: 0 failure(s)")
        // The sidecar that was never ready was ended and reaped by plue_init.
        assert.isTrue(existsSync(pidFile), "the never-ready sidecar ran")
        const pid = Number(readFileSync(pidFile, "utf8"))
        yield* Wait.until("the never-ready sidecar to be gone", () => !Spawn.alive(pid))
      }),
    { timeout: 300_000 }
  )

  it.effect(
    "plue_init(NULL) with no URL: the sidecar's own local server, sharing through plue's share service (secret and expiresAt reach C), gone after plue_shutdown",
    () =>
      Effect.gen(function*() {
        const box = yield* TestServer.TestSandbox
        const own = yield* Effect.map(OpenCodeServer.OpenCodeServer, (server) => server.pid)
        const others = () => Spawn.processesMentioning(box.home).filter((pid) => pid !== own)
        const ran = yield* Spawn.run(program, ["local"], { env: { ...box.env, HOME: box.home, PLUE_COMMAND: command }, cwd: box.project })
        assert.strictEqual(ran.code, 0, `${ran.stdout}\n${ran.stderr}`)
        assert.include(ran.stdout, "done: 0 failure(s)")
        yield* Wait.until("the sidecar's OpenCode server to be gone", () => others().length === 0)
      }),
    { timeout: 300_000 }
  )

  it("plue_errstr of every code is the reference's table", () => {
    const reference = readFileSync(fileURLToPath(new URL("../../../docs/c-api.md", import.meta.url)), "utf8")
    const rows = [...reference.matchAll(/^\| `(PLUE_[A-Z_]+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [Number(m[2]), m[3]!] as const)
    assert.strictEqual(rows.length, 15)
    const printed = new Map(
      execFileSync(program, ["errstr"], { encoding: "utf8" }).split("\n").filter((l) => l !== "").map((l) => {
        const [code, text] = l.split("\t")
        return [Number(code), text!] as const
      })
    )
    for (const [code, meaning] of rows) assert.strictEqual(printed.get(code), meaning, `code ${code}`)
  })

  it.effect("plue host --debug counts a string never freed and a handle never destroyed; exits with the host's status", () =>
    Effect.gen(function*() {
      const library = compileLibrary(cSource("doc_rows.c"))
      const ran = yield* run(process.execPath, [cliBin, "host", "--debug", library])
      assert.strictEqual(ran.code, 7, explain(ran))
      assert.include(ran.stdout, "leaked a string")
      assert.include(ran.stderr, "plue host: 1 string(s) never freed with plue_free_json")
      assert.match(ran.stderr, /plue host: 1 handle\(s\) never destroyed\n {2}handle \d+ \(ses_\w+\)/)
    }), { timeout: 180_000 })
})
