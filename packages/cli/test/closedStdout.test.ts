import { OpenCodeServer } from "@plue/core"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Plue from "./plue.js"

// `plue watch | head -1`: the reader of stdout goes away while the command still runs. The next
// line plue writes meets EPIPE; that must end the command as Ctrl-C does (exit 130, quietly),
// never crash it with Node's unhandled 'error' stack.
const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

layer(Live, { timeout: 180_000, excludeTestServices: true })("stdout closed by its reader", (it) => {
  it.scoped("watch piped into head -1 ends with exit 130 and no stack once the reader is gone", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const other = yield* OtherClient.make
      const errFile = join(tmpdir(), `plue-closed-stdout-${randomUUID()}.err`)
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(errFile, { force: true })))
      const script = `"${process.execPath}" "${Plue.BIN}" watch </dev/null 2>"${errFile}" | head -1 >/dev/null; echo "rc=\${PIPESTATUS[0]}"`
      const child = yield* Spawn.spawn("bash", ["-c", script], {
        env: { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      })
      const stderr = () => {
        try {
          return readFileSync(errFile, "utf8")
        } catch {
          return ""
        }
      }
      yield* Wait.until("watch connected", () => stderr().includes("plue: connected"), { timeout: Duration.seconds(60) })
      // Each new session is a line for watch to write; head has gone after the first line.
      let made = 0
      yield* Wait.until(
        "watch ended after its reader went away",
        Effect.gen(function*() {
          if (!child.running()) return true
          if (made < 20) {
            made++
            yield* Effect.orDie(other("POST", "/session", { title: `closed stdout ${made}` }))
          }
          return !child.running()
        }),
        { timeout: Duration.seconds(90), every: Duration.millis(500) }
      )
      const result = yield* child.result
      assert.include(result.stdout, "rc=130", `stderr: ${stderr()}`)
      assert.notInclude(stderr(), "EPIPE")
      assert.notMatch(stderr(), /\n\s+at /, "no stack trace")
    }))
})
