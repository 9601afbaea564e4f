import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Option, Redacted, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { join } from "node:path"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

/** A second client for the same server, with other credentials or settings. */
const otherClient = (patch: (settings: OpenCodeConnection.ConnectionSettings) => OpenCodeConnection.ConnectionSettings) =>
  Effect.gen(function*() {
    const settings = yield* OpenCodeConnection.OpenCodeConnection
    return yield* OpenCodeClient.make.pipe(
      Effect.provideService(OpenCodeConnection.OpenCodeConnection, patch(settings))
    )
  })

const raw = (path: string, init: { method?: string; body?: unknown } = {}) => OtherClient.request<unknown>(init.method ?? "GET", path, init.body)

layer(Live, { timeout: 120_000, excludeTestServices: true })("OpenCodeClient against a real server", (it) => {
  it.effect("health answers with the pinned version", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const health = yield* client.health
      assert.isTrue(health.healthy)
      assert.strictEqual(health.version, "1.18.33")
    }))

  it.effect("create, get, update, children and delete a session tree", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const parent = yield* client.create({ title: "parent" })
      assert.match(parent.id, /^ses_/)
      assert.strictEqual(parent.title, "parent")
      const child = yield* client.create({ parentID: parent.id })
      assert.strictEqual(child.parentID, parent.id)
      assert.match(child.title, /^Child session - /)

      const fetched = yield* client.get(parent.id)
      assert.strictEqual(fetched.id, parent.id)
      assert.strictEqual(fetched.directory, parent.directory)

      const renamed = yield* client.update(parent.id, { title: "renamed" })
      assert.strictEqual(renamed.title, "renamed")
      assert.strictEqual((yield* client.get(parent.id)).title, "renamed")

      const children = yield* client.children(parent.id)
      assert.deepStrictEqual(children.map((s) => s.id), [child.id])

      assert.isTrue(yield* client.delete(parent.id))
      const gone = yield* Effect.either(client.get(child.id))
      assert.isTrue(Either.isLeft(gone) && gone.left._tag === "SessionNotFound", "the child went with its parent")
    }))

  it.effect("a child of a session that does not exist (or no longer does) is refused, and nothing is created", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const before = (yield* client.list()).length
      const missing = yield* Effect.flip(client.create({ parentID: "ses_doesnotexist0000000000000", title: "orphan" }))
      assert.strictEqual(missing._tag, "SessionNotFound")
      const parent = yield* client.create({ title: "short-lived parent" })
      yield* client.delete(parent.id)
      const deleted = yield* Effect.flip(client.create({ parentID: parent.id, title: "orphan" }))
      assert.strictEqual(deleted._tag, "SessionNotFound")
      assert.strictEqual((yield* client.list()).length, before, "no orphan was made")
    }))

  it.scoped("a directory names the project worked in: listings and events are scoped to it, reads by id are not", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const elsewhere = mkdtempSync(join(box.root, "elsewhere-"))
      const client = yield* OpenCodeClient.OpenCodeClient
      const there = yield* otherClient((settings) => ({ ...settings, directory: Option.some(elsewhere) }))
      const seen: Array<string> = []
      let connected = false
      yield* there.events.pipe(
        Stream.tap((event) => Effect.sync(() => void (connected ||= event.type === "server.connected"))),
        Stream.runForEach((event) => Effect.sync(() => event.type === "session.created" && seen.push(event.properties.info.id))),
        Effect.forkScoped
      )
      yield* Wait.until("the event stream to connect", () => connected)
      // Another client working in that directory makes a session.
      const made = (yield* raw(`/session?directory=${encodeURIComponent(elsewhere)}`, {
        method: "POST",
        body: { title: "made elsewhere" }
      })) as { id: string; directory: string }
      assert.strictEqual(made.directory, elsewhere)
      assert.deepStrictEqual((yield* there.list()).map((s) => s.id), [made.id])
      assert.isFalse((yield* client.list()).some((s) => s.id === made.id), "not listed in the server's own directory")
      assert.strictEqual((yield* client.get(made.id)).title, "made elsewhere", "read by id from anywhere")
      const mine = yield* there.create({ title: "made here, there" })
      assert.strictEqual(mine.directory, elsewhere)
      yield* Effect.ignore(Wait.until("the event of the session made there", () => seen.includes(mine.id)))
      assert.includeMembers(seen, [made.id, mine.id], "the directory's event stream carries both")
    }))

  it.effect("a 404 is SessionNotFound, with the id", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const error = yield* Effect.flip(client.get("ses_doesnotexist0000000000000"))
      assert.strictEqual(error._tag, "SessionNotFound")
      if (error._tag === "SessionNotFound") assert.strictEqual(error.sessionId, "ses_doesnotexist0000000000000")
      assert.include(error.message, "ses_doesnotexist0000000000000")
      assert.strictEqual((yield* Effect.flip(client.delete("ses_doesnotexist0000000000000")))._tag, "SessionNotFound")
      assert.strictEqual((yield* Effect.flip(client.update("ses_doesnotexist0000000000000", { title: "x" })))._tag, "SessionNotFound")
    }))

  it.effect("abort, status, share failure and unshare", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "ops" })
      assert.isTrue(yield* client.abort(session.id))
      const status = yield* client.status
      assert.isUndefined(status[session.id], "an idle session is absent from the status map")
      // No share service is reachable from this sandbox: the server answers 500.
      const share = yield* Effect.flip(client.share(session.id))
      assert.strictEqual(share._tag, "ServerError")
      const unshared = yield* client.unshare(session.id)
      assert.strictEqual(unshared.id, session.id)
      assert.isUndefined(unshared.share)
    }))

  it.effect("unicode and 1 MB titles round-trip", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const unicode = "Übersicht 日本語 🚀 \u202e mixed ‮ بالعربية"
      const session = yield* client.create({ title: unicode })
      assert.strictEqual(session.title, unicode)
      assert.strictEqual((yield* client.get(session.id)).title, unicode)
      const big = "é".repeat(512 * 1024)
      const updated = yield* client.update(session.id, { title: big })
      assert.strictEqual(updated.title.length, big.length)
      assert.strictEqual((yield* client.get(session.id)).title, big)
    }))

  it.effect("list returns all of 250+ sessions, past the server's default page of 100", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const created = yield* Effect.forEach(
        Array.from({ length: 250 }, (_, i) => i),
        (i) => client.create({ title: `bulk ${i}` }),
        { concurrency: 16 }
      )
      const raw100 = (yield* raw("/session")) as Array<unknown>
      assert.strictEqual(raw100.length, 100, "the server alone cuts at 100")
      const all = yield* client.list()
      const ids = new Set(all.map((s) => s.id))
      for (const session of created) assert.isTrue(ids.has(session.id), `missing ${session.id}`)
      assert.strictEqual(ids.size, all.length, "no duplicates")
      const roots = yield* client.list({ roots: true })
      assert.isTrue(roots.every((s) => s.parentID === undefined))
      const found = yield* client.list({ search: "bulk 249" })
      assert.deepStrictEqual(found.map((s) => s.title), ["bulk 249"])
    }), { timeout: 120_000 })

  it.effect("unknown fields from a newer server are kept", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({})
      // `slug`, `cost` and `tokens` are real fields; check the wire object survives whole.
      const wire = (yield* raw(`/session/${session.id}`)) as Record<string, unknown>
      const decoded = (yield* client.get(session.id)) as unknown as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(decoded).sort(), Object.keys(wire).sort())
    }))

  it.effect("a wrong password is Unauthorized", () =>
    Effect.gen(function*() {
      const bad = yield* otherClient((s) => ({ ...s, password: Option.some(Redacted.make("wrong")) }))
      const error = yield* Effect.flip(bad.list())
      assert.strictEqual(error._tag, "Unauthorized")
      const none = yield* otherClient((s) => ({ ...s, password: Option.none() }))
      const error2 = yield* Effect.flip(none.get("ses_abc"))
      assert.strictEqual(error2._tag, "Unauthorized")
      assert.include(error2.message, "OPENCODE_SERVER_PASSWORD")
      const events = yield* Effect.flip(Stream.runDrain(bad.events))
      assert.strictEqual(events._tag, "Unauthorized")
    }))

  it.effect("the event stream carries session events, decoded", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      let connected = false
      const fiber = yield* client.events.pipe(
        Stream.tap((event) => Effect.sync(() => void (connected ||= event.type === "server.connected"))),
        Stream.filter((event) => event.type === "session.created" || event.type === "server.connected"),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      // The first message is server.connected; create once the stream is open.
      yield* Wait.until("the event stream to connect", () => connected)
      const session = yield* client.create({ title: "evented" })
      const events = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.strictEqual(events[0]!.type, "server.connected")
      const created = events[1]!
      assert.strictEqual(created.type, "session.created")
      if (created.type === "session.created") assert.strictEqual(created.properties.info.id, session.id)
    }))
})
