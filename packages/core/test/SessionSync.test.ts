import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect, ExecutionStrategy, Exit, Layer, Option, Redacted, Schedule, Scope, Stream, TestClock, TestContext } from "effect"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import * as SessionCache from "../src/SessionCache.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import * as SessionEventsModule from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import * as SessionSync from "../src/SessionSync.js"
import * as PlatformLayer from "@plue/testing/Platform"
import { makeSandbox } from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Platform = PlatformLayer.layer

describe("SessionSync", () => {
  it.live("the server restarted under it: it reconnects, reconciles, and publishes what changed while it was away", () =>
    Effect.gen(function*() {
      const box = yield* makeSandbox
      const password = Redacted.make("restart-password")
      const serverAt = (port: number) =>
        Effect.gen(function*() {
          // Closed by the test, and by the test's scope if the test fails first.
          const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
          const info = yield* OpenCodeServer.start({ cwd: box.project, env: box.env, password, port }).pipe(Scope.extend(scope))
          return { info, stop: Scope.close(scope, Exit.void) }
        })
      const first = yield* serverAt(0)
      const url = first.info.url
      const port = Number(new URL(url).port)

      const context = yield* Layer.build(
        Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "400 millis" } }).pipe(
          Layer.provide(OpenCodeConnection.layer({ url, password, requestTimeout: "10 seconds" }))
        )
      )
      const sessions = Context.get(context, SessionManager)
      const sync = Context.get(context, SessionSync.SessionSync)
      const cache = Context.get(context, SessionCache.SessionCache)
      const events = Context.get(context, SessionEvents)
      yield* sync.awaitConnected

      const kept = yield* sessions.create({ title: "kept" })
      const renamed = yield* sessions.create({ title: "to rename" })
      const doomed = yield* sessions.create({ title: "to delete" })
      const [renamedId, doomedId] = [yield* sessions.sessionId(renamed), yield* sessions.sessionId(doomed)]

      const seen: Array<Delivery> = []
      const stream = yield* events.subscribe
      yield* Effect.fork(Stream.runForEach(stream, (e) => Effect.sync(() => seen.push(e))))

      yield* first.stop
      yield* sync.changes.pipe(Stream.filter((s) => s.status === "reconnecting"), Stream.take(1), Stream.runDrain)
      // While the server is down an operation fails fast; it does not hang.
      const down = yield* Effect.flip(sessions.updateTitle(kept, "while down"))
      assert.strictEqual(down._tag, "Unreachable")

      // Another OpenCode on the same data makes changes while our server is away.
      const elsewhere = yield* serverAt(0)
      const other = yield* OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: elsewhere.info.url, password }))
      )
      yield* other.update(renamedId, { title: "renamed while away" })
      yield* other.delete(doomedId)
      const born = yield* other.create({ title: "born while away" })
      yield* elsewhere.stop

      const again = yield* serverAt(port).pipe(Effect.retry({ times: 20, schedule: Schedule.spaced("250 millis") }))
      yield* sync.changes.pipe(
        Stream.filter((s) => s.status === "connected" && s.reconnects >= 1),
        Stream.take(1),
        Stream.runDrain,
        Effect.timeout(Wait.defaultCeiling)
      )

      const tags = (id: string) =>
        seen.filter((e) => e._tag !== "Progress" && (("session" in e && e.session?.id === id) || ("sessionId" in e && e.sessionId === id))).map((e) => e._tag)
      yield* Effect.ignore(
        Wait.until("what changed while away to be published", () => tags(renamedId).length > 0 && tags(doomedId).length > 0 && tags(born.id).length > 0)
      )
      assert.deepStrictEqual(tags(renamedId), ["Updated"])
      assert.deepStrictEqual(tags(doomedId), ["Deleted"])
      assert.deepStrictEqual(tags(born.id), ["Created"])
      assert.strictEqual((yield* sessions.info(renamed)).title, "renamed while away")
      assert.strictEqual((yield* Effect.flip(sessions.info(doomed)))._tag, "SessionDeleted")

      const truth = yield* OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: again.info.url, password })),
        Effect.flatMap((c) => c.list())
      )
      const mirror = yield* cache.list
      assert.deepStrictEqual(mirror.map((s) => `${s.id}:${s.title}`).sort(), truth.map((s) => `${s.id}:${s.title}`).sort())
      const state = yield* sync.state
      assert.isAtLeast(state.reconnects, 1)
      yield* again.stop
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 180_000 })
})

/** A real server (started on the live clock) and a client for it, for tests that then run on the TestClock. */
const withServer = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  connection: Partial<OpenCodeConnection.Options> = {}
) =>
  Effect.gen(function*() {
    const box = yield* makeSandbox
    const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
    const client = OpenCodeClient.layer.pipe(
      Layer.provideMerge(OpenCodeConnection.layer({ url: server.url, password: server.password, ...connection })),
      Layer.provide(NodeHttpClient.layerUndici)
    )
    return yield* body.pipe(Effect.provide(client), Effect.provide(TestContext.TestContext))
  }).pipe(Effect.scoped, Effect.provide(Platform))

describe("SessionCache and SessionSync under the TestClock", () => {
  it.live("without a live stream an entry is served for at most the TTL, then fetched again", () =>
    withServer(
      Effect.gen(function*() {
        const client = yield* OpenCodeClient.OpenCodeClient
        const events = yield* SessionEventsModule.make()
        const cache = yield* SessionCache.make({ ttl: "5 seconds" }).pipe(Effect.provideService(SessionEvents, events))
        const seen = yield* events.subscribe
        const session = yield* client.create({ title: "v1" })
        assert.strictEqual((yield* cache.get(session.id)).title, "v1")
        yield* client.update(session.id, { title: "v2" }) // behind the cache's back: no sync fiber here
        yield* TestClock.adjust("4999 millis")
        assert.strictEqual((yield* cache.get(session.id)).title, "v1", "within the TTL: the cached entry, no HTTP")
        yield* TestClock.adjust("2 millis")
        assert.strictEqual((yield* cache.get(session.id)).title, "v2", "past the TTL: fetched again")
        const delivered = yield* seen.pipe(Stream.take(2), Stream.runCollect)
        assert.deepStrictEqual([...delivered].map((e) => e._tag), ["Created", "Updated"])
      }).pipe(Effect.scoped)
    ), { timeout: 180_000 })

  it.live("concurrent misses for one session cost one request", () =>
    withServer(
      Effect.gen(function*() {
        const client = yield* OpenCodeClient.OpenCodeClient
        const events = yield* SessionEventsModule.make()
        let requests = 0
        const counting = OpenCodeClient.OpenCodeClient.of({ ...client, get: (id) => Effect.zipRight(Effect.sync(() => requests++), client.get(id)) })
        const cache = yield* SessionCache.make().pipe(
          Effect.provideService(SessionEvents, events),
          Effect.provideService(OpenCodeClient.OpenCodeClient, counting)
        )
        const session = yield* client.create({ title: "popular" })
        const reads = yield* Effect.forEach(Array.from({ length: 50 }, () => cache.get(session.id)), (read) => read, { concurrency: 50 })
        assert.isTrue(reads.every((s) => s.title === "popular"))
        assert.strictEqual(requests, 1)
      }).pipe(Effect.scoped)
    ), { timeout: 180_000 })

  it.live("the safety-net reconcile runs every interval, and not before", () =>
    withServer(
      Effect.gen(function*() {
        const events = yield* SessionEventsModule.make()
        const layers = Layer.succeed(SessionEvents, events)
        const cache = yield* SessionCache.make().pipe(Effect.provide(layers))
        const sync = yield* SessionSync.make({ reconcileInterval: "30 seconds" }).pipe(
          Effect.provideService(SessionCache.SessionCache, cache),
          Effect.provide(layers)
        )
        yield* sync.awaitConnected
        const first = Option.getOrThrow((yield* sync.state).lastReconcile)
        yield* TestClock.adjust("29 seconds")
        // Not a synchronisation: a quiet window (live clock) in which a wrong early reconcile would run.
        yield* Effect.sleep("200 millis").pipe(Effect.withClock(Clock.make()))
        assert.strictEqual(Option.getOrThrow((yield* sync.state).lastReconcile), first)
        yield* TestClock.adjust("1 second")
        yield* sync.changes.pipe(
          Stream.filter((s) => Option.getOrThrow(s.lastReconcile) > first),
          Stream.take(1),
          Stream.runDrain
        )
        assert.strictEqual(Option.getOrThrow((yield* sync.state).lastReconcile), first + 30_000)
      }).pipe(Effect.scoped),
      { heartbeatTimeout: "1 hour" }
    ), { timeout: 180_000 })
})
