import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { SessionId } from "../src/Identifier.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import { SessionCache } from "../src/SessionCache.js"
import { SessionSync } from "../src/SessionSync.js"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

// Found by the outbox's model-based test (OutboxModel.test.ts): a write answered just before the
// event stream was lost, whose echo had not come yet, made the cache skip the reconnect's listing
// for that session, so another client's title change made meanwhile stayed unseen (until the next
// event or periodic reconcile).
layer(Live, { timeout: 120_000, excludeTestServices: true })("the cache after a reconnect", (it) => {
  it.scoped("a write whose echo was lost with the stream does not hide the reconnect's listing", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const proxy = yield* Proxy.start(server.url)
      const context = yield* Layer.build(
        Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
          Layer.provideMerge(OpenCodeConnection.layer({ url: proxy.url, password: server.password, heartbeatTimeout: "2 seconds", retries: 2 }))
        )
      )
      const cache = Context.get(context, SessionCache)
      const sync = Context.get(context, SessionSync)
      yield* sync.awaitConnected
      const created = yield* OtherClient.request<{ id: string }>("POST", "/session", { title: "first" })
      yield* Wait.until("the bridge to see the session", () => cache.peek(SessionId.make(created.id))._tag === "Some")
      const session = yield* cache.get(created.id)
      // Our write, as its answer came back; its echo never comes on this stream (it is cut now).
      yield* cache.observeWrite({ ...session, title: "ours" })
      proxy.setMode("drop")
      yield* Wait.until("the stream to be lost", Effect.map(sync.state, (s) => s.status !== "connected"))
      yield* OtherClient.request("PATCH", `/session/${created.id}`, { title: "theirs" })
      proxy.setMode("pass")
      yield* Wait.until("the stream to reconnect", Effect.map(sync.state, (s) => s.status === "connected"))
      // The reconnect's listing is newer than our write: it is taken in.
      assert.strictEqual((yield* cache.get(created.id)).title, "theirs")
    }), 60_000)
})
