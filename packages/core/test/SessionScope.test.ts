import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Command, FileSystem } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted, Stream } from "effect"
import { createServer } from "node:http"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import * as SessionCache from "../src/SessionCache.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import * as SessionEventsModule from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import * as SessionSync from "../src/SessionSync.js"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"

// A real server whose model is the stub (fast: 2 chunks, 20 ms apart); a prompt that says
// REFUSE is answered 400, so OpenCode reports a `session.error`.
const REFUSE = "plue-stub-refuse"
const Stub = StubLlm.layer({ refuse: REFUSE }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Plue.layer({ events: { capacity: 4096 } }).pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) =>
    TestServer.layer({
      config: stub.opencodeConfig,
      // A disposed instance is set up again on the next request, which can take a while on a
      // loaded machine: the ceiling is generous, the test waits for the answer.
      connection: { requestTimeout: "60 seconds" }
    })))),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))
)

const eventually = (what: string, done: () => boolean | Effect.Effect<boolean, any, any>, seconds = 60) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 20; i++) {
      const result = done()
      if (typeof result === "boolean" ? result : yield* result) return
      yield* Effect.sleep("50 millis")
    }
    assert.fail(`timed out after ${seconds} s waiting for ${what}`)
  })

/** A plain HTTP call to the test server, as another client would make it. */
const raw = (method: string, path: string, body?: unknown) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const auth = Buffer.from(`opencode:${Redacted.value(server.password)}`).toString("base64")
    return yield* Effect.promise(async () => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Basic ${auth}`, "content-type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {})
      })
      return { status: response.status, body: (await response.text()) as string }
    })
  })

/** Every delivery from now on, into an array, for the scope's life. */
const record = Effect.gen(function*() {
  const events = yield* SessionEvents
  const seen: Array<Delivery> = []
  yield* Stream.runForEach(yield* events.subscribe, (d) => Effect.sync(() => void seen.push(d))).pipe(Effect.forkScoped)
  return seen
})

const about = (id: string) => (e: Delivery) => e._tag !== "Progress" && (("session" in e && e.session?.id === id) || ("sessionId" in e && e.sessionId === id))

/** Ends the server's event stream (`POST /instance/dispose`) and waits for a fresh reconcile. */
const disposeAndReconnect = Effect.gen(function*() {
  const sync = yield* SessionSync.SessionSync
  const before = yield* sync.state
  const disposed = yield* raw("POST", "/instance/dispose")
  assert.strictEqual(disposed.status, 200, disposed.body)
  yield* sync.changes.pipe(
    Stream.filter((s) => s.status === "connected" && s.reconnects > before.reconnects),
    Stream.take(1),
    Stream.runDrain,
    Effect.timeout("60 seconds")
  )
})

/** The server's own listing, through a client of its own. */
const serverList = Effect.flatMap(OpenCodeClient.OpenCodeClient, (client) => client.list())

/** Waits until nothing is running on the server. */
const idle = Effect.gen(function*() {
  const client = yield* OpenCodeClient.OpenCodeClient
  yield* eventually("every session to be idle", () => Effect.map(client.status, (status) => Object.keys(status).length === 0))
})

layer(Live, { timeout: 240_000, excludeTestServices: true })("sessions, scope, order and the snapshot (real server)", (it) => {
  it.scoped("a session of another project directory is not reported deleted by a reconcile; a 404 on its id is", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const sync = yield* SessionSync.SessionSync
      const sessions = yield* SessionManager
      const connection = yield* OpenCodeConnection.OpenCodeConnection
      yield* sync.awaitConnected

      // OTHER: a git repository with a commit of its own, so OpenCode takes it for another project.
      const otherDir = yield* fs.makeTempDirectoryScoped({ prefix: "plue-other-project-" })
      yield* fs.writeFileString(`${otherDir}/OTHER.md`, `another project ${Math.random()}\n`)
      const git = (...args: Array<string>) =>
        Command.make("git", ...args).pipe(
          Command.workingDirectory(otherDir),
          Command.env({ GIT_AUTHOR_NAME: "other", GIT_AUTHOR_EMAIL: "other@localhost", GIT_COMMITTER_NAME: "other", GIT_COMMITTER_EMAIL: "other@localhost" }),
          Command.exitCode
        )
      for (const args of [["init", "-q"], ["add", "."], ["commit", "-q", "-m", "other"]]) assert.strictEqual(yield* git(...args), 0)
      const elsewhere = yield* OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, { ...connection, directory: Option.some(otherDir) })
      )
      const foreign = yield* elsewhere.create({ title: "from another project" })
      const here = yield* sessions.info(yield* sessions.create({ title: "here" }))
      assert.notStrictEqual(foreign.projectID, here.projectID, "another project")
      assert.isFalse((yield* serverList).some((s) => s.id === foreign.id), "our listing does not show it: another project")

      const seen = yield* record
      const handle = yield* sessions.open(foreign.id)
      yield* disposeAndReconnect
      assert.deepStrictEqual(seen.filter(about(foreign.id)).filter((e) => e._tag === "Deleted"), [], "no false Deleted")
      assert.strictEqual((yield* sessions.info(handle)).title, "from another project")

      // Renamed in its own directory (our stream does not carry that): read again by id.
      yield* elsewhere.update(foreign.id, { title: "renamed over there" })
      yield* eventually("the rename to be read by id", () => Effect.map(sessions.info(handle), (s) => s.title === "renamed over there"))

      // Deleted over there: the next reconcile asks for it by id, gets 404, and says Deleted.
      yield* elsewhere.delete(foreign.id)
      yield* sync.reconcile
      assert.deepStrictEqual(seen.filter(about(foreign.id)).map((e) => e._tag).filter((t) => t === "Deleted"), ["Deleted"])
      assert.strictEqual((yield* Effect.flip(sessions.info(handle)))._tag, "SessionDeleted")
    }), { timeout: 180_000 })

  it.scoped("SessionManager.list is in the server's order (newest update first), not the cache's insertion order", () =>
    Effect.gen(function*() {
      const sync = yield* SessionSync.SessionSync
      const sessions = yield* SessionManager
      const cache = yield* SessionCache.SessionCache
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      yield* sync.awaitConnected
      const made: Array<string> = []
      for (let i = 0; i < 4; i++) made.push(yield* sessions.sessionId(yield* sessions.create({ title: `order ${i}` })))
      // Touch them in another order than they were made: a prompt moves `time.updated`.
      for (const i of [1, 3, 0]) {
        yield* client.promptAsync(made[i]!, { text: "touch", model: { providerID: stub.providerID, modelID: stub.modelID } })
        yield* idle
      }
      const ids = (list: ReadonlyArray<{ readonly id: string }>) => list.map((s) => s.id)
      const truth = yield* serverList
      assert.notDeepEqual(ids(truth).filter((id) => made.includes(id)), made, "the server's order is not the order they were made in")
      assert.notDeepEqual(ids(truth).filter((id) => made.includes(id)), [...made].reverse(), "nor its reverse")
      // Once the cache has taken in every touch (through the stream), the manager's list (served
      // from the cache, no HTTP) is the server's listing, in its order.
      let last: ReadonlyArray<string> = []
      yield* eventually("SessionManager.list to equal the server's listing", () =>
        Effect.gen(function*() {
          assert.isTrue(yield* cache.coherent)
          const [mine, theirs] = [ids(yield* sessions.list), ids(yield* serverList)]
          last = mine
          return JSON.stringify(mine) === JSON.stringify(theirs)
        }), 30)
      assert.isTrue(last.length >= made.length)
    }), { timeout: 180_000 })

  it.scoped("initialize through SessionManager runs a whole turn on the (stub) model and ends idle", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager
      const stub = yield* StubLlm.StubLlm
      const seen = yield* record
      const handle = yield* sessions.create({ title: "to initialize" })
      const id = yield* sessions.sessionId(handle)
      const before = yield* stub.stats
      yield* sessions.initialize(handle, { providerID: stub.providerID, modelID: stub.modelID })
      assert.isAbove((yield* stub.stats).completed, before.completed, "the model answered to the end")
      yield* eventually("busy then idle", () => {
        const statuses = seen.filter(about(id)).flatMap((e) => (e._tag === "Status" ? [e.status.type] : []))
        return statuses.includes("busy") && statuses[statuses.length - 1] === "idle"
      })
      assert.strictEqual((yield* sessions.info(handle)).id, id)
    }), { timeout: 180_000 })

  it.scoped("Aborted and Error reach a subscriber", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const seen = yield* record
      const handle = yield* sessions.create({ title: "abort and fail" })
      const id = yield* sessions.sessionId(handle)
      yield* sessions.abort(handle)
      yield* eventually("Aborted", () => seen.some((e) => e._tag === "Aborted" && e.sessionId === id && e.origin === "local"))

      const refusedBefore = (yield* stub.stats).refused
      yield* client.promptAsync(id, { text: REFUSE, model: { providerID: stub.providerID, modelID: stub.modelID } })
      yield* eventually("Error", () => seen.some((e) => e._tag === "Error" && e.sessionId === id))
      const error = seen.find((e) => e._tag === "Error" && e.sessionId === id)
      assert.strictEqual((error as { error: { name?: string } }).error.name, "APIError")
      assert.isAbove((yield* stub.stats).refused, refusedBefore)
    }), { timeout: 180_000 })

  it.scoped("on connect nothing that existed is announced; watch starts with one Snapshot, then only real changes", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager
      const connection = yield* OpenCodeConnection.OpenCodeConnection
      yield* (yield* SessionSync.SessionSync).awaitConnected
      yield* sessions.create({ title: "existed before the second bridge" })
      const existing = yield* serverList
      assert.isAbove(existing.length, 1)

      // A second bridge, connecting now to a server that already has sessions; its PubSub is
      // subscribed to before it connects, so nothing it publishes on connect is missed here.
      const events = yield* SessionEventsModule.make()
      const early: Array<Delivery> = []
      yield* Stream.runForEach(yield* events.subscribe, (d) => Effect.sync(() => void early.push(d))).pipe(Effect.forkScoped)
      const second = yield* Layer.build(
        SessionSync.layer().pipe(
          Layer.provideMerge(SessionCache.layer()),
          Layer.provideMerge(Layer.merge(OpenCodeClient.layer, Layer.succeed(SessionEvents, events))),
          Layer.provide(Layer.succeed(OpenCodeConnection.OpenCodeConnection, connection)),
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )
      const sync = Context.get(second, SessionSync.SessionSync)
      yield* sync.awaitConnected
      const known = new Set<string>(existing.map((s) => s.id))
      assert.deepStrictEqual(early.filter((e) => e._tag === "Created" && known.has(e.session.id)), [], "no Created for sessions that already existed")

      const watched: Array<unknown> = []
      yield* Stream.runForEach(sync.watch, (item) => Effect.sync(() => void watched.push(item))).pipe(Effect.forkScoped)
      yield* eventually("the snapshot", () => watched.length >= 1)
      const snapshot = watched[0] as { _tag: string; sessions: ReadonlyArray<{ id: string }> }
      assert.strictEqual(snapshot._tag, "Snapshot")
      assert.deepStrictEqual(snapshot.sessions.map((s) => s.id), existing.map((s) => s.id), "every session, in the server's order")

      // A reconcile of an unchanged server publishes nothing, also after a reconnect.
      yield* sync.reconcile
      yield* disposeAndReconnect.pipe(Effect.provideService(SessionSync.SessionSync, sync))
      const tag = (e: unknown) => (e as { _tag: string })._tag
      const id = (e: unknown) => (e as { session?: { id: string }; sessionId?: string }).session?.id ?? (e as { sessionId?: string }).sessionId
      assert.deepStrictEqual(
        watched.slice(1).filter((e) => (tag(e) === "Created" || tag(e) === "Deleted") && known.has(id(e)!)),
        [],
        "the reconnect's reconcile announced no existing session as created or deleted"
      )

      // Real changes come after the snapshot, once each.
      const born = yield* OpenCodeClient.OpenCodeClient.pipe(Effect.flatMap((c) => c.create({ title: "born after" })))
      yield* eventually("Created after the snapshot", () =>
        watched.some((e) => (e as Delivery)._tag === "Created" && (e as { session: { id: string } }).session.id === born.id))
      assert.strictEqual(
        watched.filter((e) =>
          (e as Delivery)._tag === "Created"
        ).length,
        1
      )
      assert.strictEqual(watched.filter((e) => (e as { _tag: string })._tag === "Snapshot").length, 1)
    }), { timeout: 180_000 })
})
