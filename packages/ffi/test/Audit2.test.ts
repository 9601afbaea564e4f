// Misuse of plue_bulk and plue_conflict_resolve from a compiled C program with its own main(), as
// docs/c-api.md describes them, against the real server through the sidecar.
import { OpenCodeServer } from "@plue/core"
import { childEnv } from "@plue/testing/ChildEnv"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { compileProgram, cSource, plueCommand, runProgram } from "./support.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))
const program = compileProgram(cSource("audit2.c"))
const outboxProgram = compileProgram(cSource("audit2_outbox.c"))
const command = plueCommand()

layer(Live, { timeout: 240_000, excludeTestServices: true })("plue_bulk and plue_conflict_resolve misused from C", (it) => {
  it.effect(
    "NULL, unbound, too deep, misspelt and bad choices: each its code and a message naming the fault; failed items carry no JavaScript stack",
    () =>
      Effect.gen(function*() {
        const server = yield* OpenCodeServer.OpenCodeServer
        const ran = yield* Effect.acquireUseRelease(
          Effect.sync(() =>
            runProgram(
              program,
              [],
              childEnv({ PLUE_COMMAND: command, OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) })
            )
          ),
          (running) => Effect.promise(() => running),
          (running) => Effect.sync(() => running.kill())
        )
        const explain = `exit ${ran.code} ${ran.signal ?? ""}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`
        assert.notMatch(ran.stdout, /^FAIL /m, explain)
        assert.match(ran.stdout, /^done: 0 failure\(s\)$/m, explain)
        assert.strictEqual(ran.code, 0, explain)
        assert.strictEqual(ran.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, 21, explain)
      }),
    { timeout: 180_000 }
  )

  it.scoped(
    "PLUE_OUTBOX=1 through the sidecar: an untitled session created offline gets a handle, its offline rename returns 0, both are confirmed, no Conflict",
    () =>
      Effect.gen(function*() {
        const server = yield* OpenCodeServer.OpenCodeServer
        const proxy = yield* Proxy.start(server.url)
        const dir = mkdtempSync(join(tmpdir(), "plue-audit2-"))
        const running = runProgram(
          outboxProgram,
          [dir],
          childEnv({
            PLUE_COMMAND: command,
            OPENCODE_URL: proxy.url,
            OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
            OPENCODE_HEARTBEAT_TIMEOUT: "2 seconds",
            PLUE_OUTBOX: "1",
            XDG_STATE_HOME: join(dir, "state")
          })
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => running.kill()))
        let ended = false
        void running.then(() => void (ended = true))
        yield* Wait.until("the C program to be ready", () => ended || existsSync(join(dir, "ready")), { timeout: "120 seconds" })
        proxy.setMode("drop")
        writeFileSync(join(dir, "offline"), "1")
        yield* Wait.until("the offline create and rename to return", () => ended || existsSync(join(dir, "queued")), { timeout: "120 seconds" })
        const id = existsSync(join(dir, "queued")) ? readFileSync(join(dir, "queued"), "utf8") : ""
        proxy.setMode("pass")
        writeFileSync(join(dir, "online"), "1")
        const ran = yield* Effect.promise(() => running)
        const explain = `exit ${ran.code} ${ran.signal ?? ""}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`
        assert.strictEqual(ran.code, 0, explain)
        assert.match(id, /^ses_[0-9a-f]{12}[0-9A-Za-z]{14}$/, explain)
        assert.strictEqual((yield* OtherClient.request<{ title: string }>("GET", `/session/${id}`)).title, "named offline from C")
      }),
    { timeout: 240_000 }
  )
})
