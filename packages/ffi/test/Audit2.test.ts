// Misuse of plue_bulk and plue_conflict_resolve from a compiled C program with its own main(), as
// docs/c-api.md describes them, against the real server through the sidecar.
import { OpenCodeServer } from "@plue/core"
import { childEnv } from "@plue/testing/ChildEnv"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { compileProgram, cSource, plueCommand, runProgram } from "./support.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))
const program = compileProgram(cSource("audit2.c"))
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
        assert.strictEqual(ran.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, 20, explain)
      }),
    { timeout: 180_000 }
  )
})
