import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as DbLock from "@plue/testing/DbLock"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as Plue from "./plue.js"

// A batch of deletes (8 at once) while the real server's database is write-locked: OpenCode runs
// one write at a time, so most of them time out behind the lock. Their lines and the summary say
// the database is locked (OpenCode may still apply them), not that the server may be gone.
const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

layer(Live, { timeout: 240_000, excludeTestServices: true })("a batch during a database lock", (it) => {
  it.scoped("delete of 6 sessions during a 40 s lock: timed out ones say the database is locked, exit 5", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const server = yield* OpenCodeServer.OpenCodeServer
      const sessions = yield* Effect.forEach([1, 2, 3, 4, 5, 6], (i) => client.create({ title: `locked batch ${i}` }))
      const box = yield* TestServer.TestSandbox
      yield* DbLock.hold(DbLock.databaseOf(box), "40 seconds")
      const ran = yield* Plue.run(["session", "delete", ...sessions.map((s) => s.id)], {
        OPENCODE_URL: server.url,
        OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
      }, "120 seconds")
      assert.strictEqual(ran.code, 5, ran.stdout + ran.stderr)
      const lines = ran.stdout.trimEnd().split("\n")
      const failed = lines.filter((l) => l.startsWith("failed "))
      assert.isAtLeast(failed.length, 2, ran.stdout)
      for (const l of failed) {
        assert.include(l, "database is locked", l)
        assert.include(l, "may still apply", l)
        assert.notInclude(l, "check --url", l)
      }
      assert.include(lines.at(-1)!, "(timed out, database locked)", ran.stdout)
    }))
})
