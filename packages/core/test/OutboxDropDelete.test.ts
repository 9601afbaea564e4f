import { FileSystem } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"

// Dropping a queued delete (`plue outbox drop`, `outbox.drop`) rolls it back: the session is
// listed again and the server never deletes it.
const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

layer(Live, { timeout: 240_000, excludeTestServices: true })("a queued delete dropped from the outbox", (it) => {
  it.scoped(
    "is rolled back: RolledBack, nothing left queued, and the session, never deleted on the server, is listed and opens again",
    () =>
      Effect.gen(function*() {
        const server = yield* OpenCodeServer.OpenCodeServer
        const fs = yield* FileSystem.FileSystem
        const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-drop-" })
        const proxy = yield* Proxy.start(server.url)
        const context = yield* Layer.build(
          Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
            Layer.provide(Outbox.layer({ stateHome })),
            Layer.provideMerge(OpenCodeConnection.layer({
              url: proxy.url,
              password: server.password,
              requestTimeout: "10 seconds",
              heartbeatTimeout: "2 seconds",
              retries: 2
            }))
          )
        )
        const sessions = Context.get(context, SessionManager)
        const seen: Array<Delivery> = []
        yield* Effect.forkScoped(Stream.runForEach(yield* Context.get(context, SessionEvents).subscribe, (e) => Effect.sync(() => void seen.push(e))))
        yield* Context.get(context, SessionSync).awaitConnected

        const handle = yield* sessions.create({ title: "kept after all" })
        const id = yield* sessions.sessionId(handle)
        const childId = yield* sessions.sessionId(yield* sessions.create({ parentID: id, title: "its child" }))
        yield* Wait.until("the create to be confirmed", Effect.map(sessions.outbox.list, (items) => items.length === 0))

        proxy.setMode("drop")
        yield* sessions.delete(handle)
        assert.isFalse((yield* sessions.list).some((s) => s.id === id || s.id === childId), "deleted here at once, with its child")
        const [queued, ...more] = yield* sessions.outbox.list
        assert.deepStrictEqual(more, [])
        assert.deepStrictEqual([queued!.kind, queued!.sessionId, queued!.state], ["delete", id, "pending"])

        const before = seen.length
        yield* sessions.outbox.drop(queued!.opId)
        assert.deepStrictEqual(yield* sessions.outbox.list, [])
        yield* Wait.until("the roll-back", () => seen.some((e) => e._tag === "RolledBack" && e.opId === queued!.opId))
        const rolled = seen.find((e) => e._tag === "RolledBack" && e.opId === queued!.opId)
        if (rolled?._tag === "RolledBack") {
          assert.strictEqual(rolled.kind, "delete")
          assert.strictEqual(rolled.sessionId, id)
          assert.strictEqual(rolled.error, "dropped from the outbox")
          // Still offline: the value last seen before the delete.
          assert.strictEqual(rolled.restored?.title, "kept after all")
        }
        // Still offline, the session and the child it hid are shown again, each announced again.
        const shown = yield* sessions.list
        assert.deepStrictEqual(
          [id, childId].map((sid) => shown.find((s) => s.id === sid)?.title),
          ["kept after all", "its child"]
        )
        const back = seen.slice(before).filter((e) => e._tag === "Created" && e.origin === "local" && (e.session.id === id || e.session.id === childId))
        assert.deepStrictEqual(back.map((e) => e._tag === "Created" ? e.session.id : ""), [id, childId], "the parent first")

        // Back online: the session was never deleted; it is listed and opens again.
        proxy.setMode("pass")
        yield* Wait.until("the session to be listed again", Effect.map(sessions.list, (all) => all.some((s) => s.id === id)))
        yield* Wait.until("the child to be listed again", Effect.map(sessions.list, (all) => all.some((s) => s.id === childId)))
        const again = yield* sessions.open(id)
        assert.strictEqual((yield* sessions.info(again)).title, "kept after all")
        const onServer = yield* OtherClient.request<{ id: string; title: string }>("GET", `/session/${id}`)
        assert.strictEqual(onServer.title, "kept after all")
      }),
    120_000
  )
})
