import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Either, Layer } from "effect"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as DbLock from "@plue/testing/DbLock"
import * as PlatformLayer from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"

// Several writes sent together while the real server's database is write-locked (DbLock):
// OpenCode runs one write at a time, each waiting out its 5 s busy timeout, so the third and later
// of them get no answer within the library's 10 s request timeout. Such a timeout is not a server
// that is gone: the error says the database is locked and that OpenCode may still apply the write,
// instead of asking whether the server runs at that address.
const Live = TestServer.layer({ connection: { requestTimeout: "10 seconds" } }).pipe(Layer.provideMerge(PlatformLayer.layer))

layer(Live, { timeout: 240_000, excludeTestServices: true })("writes sent together during a lock", (it) => {
  it.effect("a write timed out behind the locked database says so, not that the server may be gone", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const sessions = yield* Effect.forEach([0, 1, 2, 3], (i) => client.create({ title: `locked ${i}` }))
      const box = yield* TestServer.TestSandbox
      yield* Effect.scoped(Effect.gen(function*() {
        yield* DbLock.hold(DbLock.databaseOf(box), "40 seconds")
        const results = yield* Effect.forEach(
          sessions,
          (s) => Effect.either(client.update(s.id, { title: "renamed during the lock" })),
          { concurrency: "unbounded" }
        )
        const timedOut = results.flatMap((r) => Either.isLeft(r) && r.left._tag === "Unreachable" ? [r.left] : [])
        // Four writes queued one at a time behind a 5 s wait each: at least the third and fourth
        // are still waiting at 10 s.
        assert.isAtLeast(timedOut.length, 2, JSON.stringify(results.map((r) => Either.isLeft(r) ? r.left.message : "ok")))
        for (const error of timedOut) {
          assert.strictEqual(error.reason, "timeout")
          assert.strictEqual(error.databaseLocked, true)
          assert.match(error.message, /database is locked/)
          assert.match(error.message, /may still apply/)
          assert.notMatch(error.message, /Is the server running/)
        }
      }))
    }).pipe(Effect.timeout(Duration.minutes(3))))
})
