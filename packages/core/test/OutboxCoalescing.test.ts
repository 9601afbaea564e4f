import { FileSystem } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

// Found by the outbox's model-based test (OutboxModel.test.ts): a write woke every session's
// queue, so offline a rename of one session sent another session's queued rename again, and a
// second rename of that session made meanwhile was queued beside it instead of replacing it.
layer(Live, { timeout: 180_000, excludeTestServices: true })("coalescing offline", (it) => {
  it.scoped("a rename of another session in between does not stop a second rename from replacing the first", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const fs = yield* FileSystem.FileSystem
      const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-" })
      const proxy = yield* Proxy.start(server.url)
      const context = yield* Layer.build(
        Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
          Layer.provide(Outbox.layer({ stateHome })),
          Layer.provideMerge(OpenCodeConnection.layer({ url: proxy.url, password: server.password, heartbeatTimeout: "2 seconds", retries: 2 }))
        )
      )
      const sessions = Context.get(context, SessionManager)
      const sync = Context.get(context, SessionSync)
      yield* sync.awaitConnected
      const a = yield* sessions.create({ title: "a" })
      const b = yield* sessions.create({ title: "b" })
      const bId = yield* sessions.sessionId(b)
      proxy.setMode("drop")
      yield* Wait.until("the stream to be lost", Effect.map(sync.state, (s) => s.status !== "connected"))
      // Several rounds: before the fix, whether b's rename was being sent again was a race.
      for (let round = 1; round <= 8; round++) {
        yield* sessions.updateTitle(b, `b ${round}`)
        yield* sessions.updateTitle(a, `a ${round}`)
        yield* sessions.updateTitle(b, `b ${round} again`)
        const renames = (yield* sessions.outbox.list).filter((i) => i.sessionId === bId)
        assert.deepStrictEqual(renames.map((i) => [i.kind, i.title, i.base]), [["title", `b ${round} again`, "b"]], `round ${round}`)
      }
    }), 120_000)
})
