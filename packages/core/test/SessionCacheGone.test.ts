import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Stream, TestClock, TestContext } from "effect"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as SessionCache from "../src/SessionCache.js"
import { SessionEvents } from "../src/SessionEvents.js"
import * as SessionEventsModule from "../src/SessionEvents.js"
import * as TestServer from "@plue/testing/TestServer"

// A cache with no sync fiber (nothing tells it of deletions) finds out when its entry expires:
// the session it knew is gone on the server, so it was deleted behind its back. The test's clock
// (TestClock) moves past the TTL.

const Live = TestServer.layer().pipe(Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)))

layer(Live, { timeout: 180_000, excludeTestServices: true })("SessionCache without a sync fiber", (it) => {
  it.scoped(
    "a known session found gone past the TTL is SessionDeleted, published once as Deleted (reconcile), and stays deleted",
    () =>
      Effect.gen(function*() {
        const client = yield* OpenCodeClient.OpenCodeClient
        const events = yield* SessionEventsModule.make()
        const cache = yield* SessionCache.make({ ttl: "5 seconds" }).pipe(Effect.provideService(SessionEvents, events))
        const session = yield* client.create({ title: "deleted behind the cache's back" })
        assert.strictEqual((yield* cache.get(session.id)).id, session.id)
        const seen = yield* events.subscribe
        yield* client.delete(session.id)
        yield* TestClock.adjust("6 seconds")
        const error = yield* Effect.flip(cache.get(session.id))
        assert.strictEqual(error._tag, "SessionDeleted")
        assert.isTrue(cache.isDeleted(session.id))
        const [deleted] = yield* seen.pipe(Stream.take(1), Stream.runCollect)
        assert.deepInclude(deleted as object, { _tag: "Deleted", sessionId: session.id, origin: "reconcile" })
        // Known deleted now: answered without asking the server.
        assert.strictEqual((yield* Effect.flip(cache.get(session.id)))._tag, "SessionDeleted")
        // A session it never knew is just not found.
        const unknown = yield* Effect.flip(cache.get("ses_df557fc75ffe8uAWx0P0wTjSPl"))
        assert.strictEqual(unknown._tag, "SessionNotFound")
      }).pipe(Effect.provide(TestContext.TestContext)),
    { timeout: 180_000 }
  )
})
