import { assert, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import { FileSystem } from "@effect/platform"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

/** A bridge with the outbox on (under `policy`), through a proxy the test can cut; its events recorded. */
const offlineCapable = (policy: Outbox.Policy = "merge") =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const fs = yield* FileSystem.FileSystem
    const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-policies-" })
    const proxy = yield* Proxy.start(server.url)
    const context = yield* Layer.build(
      Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
        Layer.provide(Outbox.layer({ stateHome, policy })),
        Layer.provideMerge(OpenCodeConnection.layer({
          url: proxy.url,
          password: server.password,
          requestTimeout: "30 seconds",
          heartbeatTimeout: "2 seconds",
          retries: 2
        }))
      )
    )
    const sessions = Context.get(context, SessionManager)
    const seen: Array<Delivery> = []
    yield* Effect.forkScoped(Stream.runForEach(yield* Context.get(context, SessionEvents).subscribe, (e) => Effect.sync(() => void seen.push(e))))
    yield* Context.get(context, SessionSync).awaitConnected
    return { sessions, proxy, seen }
  })

const other = <A = any>(method: string, path: string, body?: unknown) => OtherClient.request<A>(method, path, body)
const serverTitle = (id: string) => Effect.map(other<{ title: string }>("GET", `/session/${id}`), (s) => s.title)
const drained = (sessions: SessionManager["Type"]) => Wait.until("the outbox to be empty", Effect.map(sessions.outbox.list, (items) => items.length === 0))
/** Waits for an event (or anything) that `find` finds, and returns it. */
const found = <A>(what: string, find: () => A | undefined) => Effect.zipRight(Wait.until(what, () => find() !== undefined), Effect.sync(() => find()!))
const tags = (seen: ReadonlyArray<Delivery>, sessionId: string) =>
  seen.filter((e) => e._tag !== "Progress" && "sessionId" in e && e.sessionId === sessionId).map((e) => e._tag)

/** A session made online, renamed offline, and renamed by another client meanwhile. */
const editedOnBothSides = (
  bridge: Effect.Effect.Success<ReturnType<typeof offlineCapable>>,
  titles: { readonly base: string; readonly local: string; readonly remote: string }
) =>
  Effect.gen(function*() {
    const { proxy, sessions } = bridge
    const handle = yield* sessions.create({ title: titles.base })
    const id = yield* sessions.sessionId(handle)
    proxy.setMode("drop")
    yield* sessions.updateTitle(handle, titles.local)
    yield* other("PATCH", `/session/${id}`, { title: titles.remote })
    proxy.setMode("pass")
    return { handle, id }
  })

layer(Live, { timeout: 240_000, excludeTestServices: true })("outbox policies and outcomes against a real server", (it) => {
  it.scoped("Overwritten: another client writes the title between our PATCH and our read after it", () =>
    Effect.gen(function*() {
      const { proxy, seen, sessions } = yield* offlineCapable()
      const handle = yield* sessions.create({ title: "raced" })
      const id = yield* sessions.sessionId(handle)
      // Our read after the PATCH is held at the proxy until the other client has written.
      const held = proxy.hold(new RegExp(`^GET /session/${id}\\b`), { after: new RegExp(`^PATCH /session/${id}\\b`) })
      const renaming = yield* Effect.fork(sessions.updateTitle(handle, "ours"))
      yield* Wait.until("our read after the PATCH to be held", () => held.arrived())
      assert.strictEqual(yield* serverTitle(id), "ours", "our PATCH was applied")
      yield* other("PATCH", `/session/${id}`, { title: "theirs" })
      held.release()
      yield* Fiber.join(renaming)
      const overwritten = yield* found("the Overwritten event", () => seen.find((e) => e._tag === "Overwritten" && e.sessionId === id))
      assert.deepInclude(overwritten, { _tag: "Overwritten", sessionId: id, remote: "theirs" })
      assert.match((overwritten as { opId: string }).opId, /^op_/)
      assert.isFalse(seen.some((e) => e._tag === "Confirmed" && e.sessionId === id && e.kind === "title"), "not claimed as confirmed")
      assert.strictEqual(yield* serverTitle(id), "theirs")
      yield* Wait.until("the server's title to be visible", Effect.map(sessions.info(handle), (s) => s.title === "theirs"))
      assert.isUndefined((yield* sessions.info(handle)).pending)
      assert.deepStrictEqual(yield* sessions.outbox.list, [])
    }), 120_000)

  it.scoped("policy local sends our title over the server's; policy server keeps the server's: neither asks", () =>
    Effect.gen(function*() {
      const local = yield* offlineCapable("local")
      const a = yield* editedOnBothSides(local, { base: "alpha beta gamma", local: "alpha BETA gamma", remote: "alpha bETa gamma" })
      yield* drained(local.sessions)
      assert.strictEqual(yield* serverTitle(a.id), "alpha BETA gamma")
      assert.strictEqual((yield* local.sessions.info(a.handle)).title, "alpha BETA gamma")
      yield* Wait.until("the confirmation", () => local.seen.some((e) => e._tag === "Confirmed" && e.sessionId === a.id && e.kind === "title"))
      assert.notInclude(tags(local.seen, a.id), "Conflict")

      const server = yield* offlineCapable("server")
      const b = yield* editedOnBothSides(server, { base: "one two three", local: "one TWO three", remote: "one tWo three" })
      yield* Wait.until("the roll-back", () => server.seen.some((e) => e._tag === "RolledBack" && e.sessionId === b.id))
      yield* drained(server.sessions)
      assert.strictEqual(yield* serverTitle(b.id), "one tWo three")
      yield* Wait.until("the server's title to be visible", Effect.map(server.sessions.info(b.handle), (s) => s.title === "one tWo three"))
      const rolled = server.seen.find((e) => e._tag === "RolledBack" && e.sessionId === b.id)
      assert.include((rolled as { error: string }).error, "policy server")
      assert.notInclude(tags(server.seen, b.id), "Conflict")
    }), 180_000)

  it.scoped("a conflict resolved with remote keeps the server's title; one resolved with a text sends that text", () =>
    Effect.gen(function*() {
      const bridge = yield* offlineCapable()
      const { seen, sessions } = bridge
      const a = yield* editedOnBothSides(bridge, { base: "red green blue", local: "red GREEN blue", remote: "red gReEn blue" })
      const b = yield* editedOnBothSides(bridge, { base: "north south", local: "North south", remote: "NORTH south" })
      const conflictOf = (id: string) =>
        found(`the conflict of ${id}`, () => seen.find((e): e is Extract<Delivery, { _tag: "Conflict" }> => e._tag === "Conflict" && e.sessionId === id))
      const ca = yield* conflictOf(a.id)
      const cb = yield* conflictOf(b.id)
      assert.deepStrictEqual((yield* sessions.info(a.handle)).pending, [{ opId: ca.opId, kind: "title", field: "title", state: "conflict" }])

      yield* sessions.outbox.resolve(ca.opId, "remote")
      const rolled = yield* found("the roll-back", () => seen.find((e) => e._tag === "RolledBack" && e.opId === ca.opId))
      assert.include((rolled as { error: string }).error, "red gReEn blue")
      assert.strictEqual(yield* serverTitle(a.id), "red gReEn blue")
      assert.strictEqual((yield* sessions.info(a.handle)).title, "red gReEn blue")
      assert.isUndefined((yield* sessions.info(a.handle)).pending)

      yield* sessions.outbox.resolve(cb.opId, { text: "North and south" })
      yield* drained(sessions)
      assert.strictEqual(yield* serverTitle(b.id), "North and south")
      assert.strictEqual((yield* sessions.info(b.handle)).title, "North and south")
      yield* Wait.until("the confirmation", () => seen.some((e) => e._tag === "Confirmed" && e.opId === cb.opId))

      // Resolving again, or resolving what is no conflict, is OperationNotFound.
      const again = yield* Effect.flip(sessions.outbox.resolve(cb.opId, "local"))
      assert.strictEqual(again._tag, "OperationNotFound")
      const unknown = yield* Effect.flip(sessions.outbox.drop("op_unknown"))
      assert.strictEqual(unknown._tag, "OperationNotFound")
    }), 180_000)
})
