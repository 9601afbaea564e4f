import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { createServer, request as httpRequest } from "node:http"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as Plue from "../src/Plue.js"
import * as Progress from "../src/Progress.js"
import * as SessionCache from "../src/SessionCache.js"
import * as SessionEventsModule from "../src/SessionEvents.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import * as SessionManager from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as Net from "@plue/testing/Net"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

type ProgressEvent = Extract<Delivery, { _tag: "Progress" }>

// A real OpenCode server whose model is the stub: 20 chunks 100 ms apart, so a turn lasts ~2 s.
const Stub = StubLlm.layer({ pace: "100 millis", chunks: 20 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Plue.layer().pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig })))),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

/** Every Progress event `events` publishes from now on, as they come. */
const recordProgress = (events: SessionEventsModule.Service) =>
  Effect.gen(function*() {
    const seen: Array<ProgressEvent> = []
    const stream = yield* events.subscribe
    yield* Effect.forkScoped(Stream.runForEach(stream, (e) => Effect.sync(() => void (e._tag === "Progress" && seen.push(e)))))
    return seen
  })

const phasesOf = (seen: ReadonlyArray<ProgressEvent>, kind: string) => {
  const ops = [...new Set(seen.filter((e) => e.kind === kind).map((e) => e.opId))]
  return ops.map((opId) => seen.filter((e) => e.opId === opId))
}

const ended = (seen: ReadonlyArray<ProgressEvent>, kind: string) => () =>
  phasesOf(seen, kind).some((op) => op.some((e) => e.phase === "done" || e.phase === "failed"))

layer(Live, { timeout: 180_000, excludeTestServices: true })("Progress events against a real server", (it) => {
  it.scoped("create, title, delete: queued, sending, done, each once, in order, after the change they made", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const events = yield* SessionEvents
      yield* (yield* SessionSync).awaitConnected
      const all: Array<Delivery> = []
      const stream = yield* events.subscribe
      yield* Effect.forkScoped(Stream.runForEach(stream, (e) => Effect.sync(() => void all.push(e))))
      const handle = yield* manager.create({ title: "progress" })
      const id = yield* manager.sessionId(handle)
      yield* manager.updateTitle(handle, "progress, renamed")
      yield* manager.delete(handle)
      yield* Wait.until("the delete's progress to end", () => all.some((e) => e._tag === "Progress" && e.kind === "delete" && e.phase === "done"))
      const progress = all.filter((e): e is ProgressEvent => e._tag === "Progress")
      for (const kind of ["create", "title", "delete"]) {
        const ops = phasesOf(progress, kind)
        assert.strictEqual(ops.length, 1, `one ${kind} operation`)
        assert.deepStrictEqual(ops[0]!.map((e) => e.phase), ["queued", "sending", "done"], kind)
      }
      const [create] = phasesOf(progress, "create")
      assert.isUndefined(create![0]!.sessionId, "a create has no session while it is queued")
      assert.strictEqual(create![2]!.sessionId, id, "its done names the new session")
      const [title] = phasesOf(progress, "title")
      assert.isTrue(title!.every((e) => e.sessionId === id))
      // A phase's `done` follows the change it made, in the one stream.
      const at = (p: (e: Delivery) => boolean) => all.findIndex(p)
      assert.isBelow(at((e) => e._tag === "Updated" && e.session.id === id), at((e) => e === title![2]))
      assert.isBelow(at((e) => e._tag === "Deleted" && e.sessionId === id), at((e) => e._tag === "Progress" && e.kind === "delete" && e.phase === "done"))
      const opIds = new Set(progress.map((e) => e.opId))
      assert.strictEqual(opIds.size, 3, "one opId per operation")
    }))

  it.scoped("a title on a session deleted behind our back: failed, with the reason", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const seen = yield* recordProgress(yield* SessionEvents)
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "doomed" })
      const handle = yield* manager.open(session.id)
      yield* OtherClient.request("DELETE", `/session/${session.id}`)
      // Whether the cache heard of the deletion first (refused before it starts: no progress) or
      // the server answers 404 (failed), the title fails; when it ran, its progress says why.
      const error = yield* Effect.flip(manager.updateTitle(handle, "too late"))
      assert.strictEqual(error._tag, "SessionDeleted")
      if (seen.some((e) => e.kind === "title")) yield* Wait.until("the title's progress to end", ended(seen, "title"))
      const ops = phasesOf(seen, "title")
      for (const op of ops) {
        const last = op[op.length - 1]!
        assert.strictEqual(last.phase, "failed")
        assert.match(last.reason ?? "", /deleted|not found/i)
      }
    }))

  it.scoped("initialize (sync fiber following the stream): queued, sending, waiting for the model, done", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const stub = yield* StubLlm.StubLlm
      yield* (yield* SessionSync).awaitConnected
      const seen = yield* recordProgress(yield* SessionEvents)
      const handle = yield* manager.create({ title: "init with progress" })
      const id = yield* manager.sessionId(handle)
      yield* manager.initialize(handle, { providerID: stub.providerID, modelID: stub.modelID })
      yield* Wait.until("initialize's progress to end", ended(seen, "initialize"))
      const [init] = phasesOf(seen, "initialize")
      assert.deepStrictEqual(init!.map((e) => e.phase), ["queued", "sending", "waiting", "done"], JSON.stringify(init))
      assert.isTrue(init!.every((e) => e.sessionId === id))
    }))

  it.scoped("initialize with no sync fiber relays the server's status from a stream of its own", () =>
    Effect.gen(function*() {
      const stub = yield* StubLlm.StubLlm
      // A bridge without the sync fiber (as a one-shot CLI command builds it): its cache is not
      // coherent, so nothing else follows the server's stream.
      const client = yield* OpenCodeClient.OpenCodeClient
      const events = yield* SessionEventsModule.make()
      const cache = yield* SessionCache.make().pipe(Effect.provideService(SessionEvents, events))
      const manager = yield* SessionManager.make.pipe(
        Effect.provideService(SessionEvents, events),
        Effect.provideService(SessionCache.SessionCache, cache),
        Effect.provideService(OpenCodeClient.OpenCodeClient, client)
      )
      assert.isFalse(yield* cache.coherent)
      const seen = yield* recordProgress(events)
      const handle = yield* manager.create({ title: "init, no sync" })
      yield* manager.initialize(handle, { providerID: stub.providerID, modelID: stub.modelID })
      yield* Wait.until("initialize's progress to end", ended(seen, "initialize"))
      const [init] = phasesOf(seen, "initialize")
      assert.deepStrictEqual(init!.map((e) => e.phase), ["queued", "sending", "waiting", "done"], JSON.stringify(init))
    }))

  it.scoped("an initialize on a model the server does not know fails, with the server's reason", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const seen = yield* recordProgress(yield* SessionEvents)
      const handle = yield* manager.create({ title: "init, bad model" })
      const exit = yield* Effect.exit(manager.initialize(handle, { providerID: "nope", modelID: "nothing" }))
      assert.isTrue(exit._tag === "Failure")
      yield* Wait.until("initialize's progress to end", ended(seen, "initialize"))
      const [init] = phasesOf(seen, "initialize")
      const last = init![init!.length - 1]!
      assert.strictEqual(last.phase, "failed")
      assert.isAbove((last.reason ?? "").length, 0)
    }))

  it.scoped("a retried title reports retrying (attempt, reason) between sending and done", () =>
    Effect.gen(function*() {
      const settings = yield* OpenCodeConnection.OpenCodeConnection
      // A loopback proxy in front of the real server that answers the first PATCH with a 503.
      const target = new URL(settings.url)
      let refusedPatches = 0
      const proxy = createServer((req, res) => {
        if (req.method === "PATCH" && refusedPatches === 0) {
          refusedPatches++
          req.resume()
          res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ name: "Unavailable" }))
          return
        }
        const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        upstream.on("error", () => res.destroy())
        req.pipe(upstream)
      })
      const port = yield* Net.freePort
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void proxy.listen(port, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void proxy.close(() => resume(Effect.void)))
      )
      const proxied = OpenCodeConnection.make({ ...settingsOptions(settings), url: `http://127.0.0.1:${port}` })
      const client = yield* OpenCodeClient.make.pipe(Effect.provideService(OpenCodeConnection.OpenCodeConnection, proxied))
      const events = yield* SessionEventsModule.make()
      const cache = yield* SessionCache.make().pipe(Effect.provideService(SessionEvents, events))
      const manager = yield* SessionManager.make.pipe(
        Effect.provideService(SessionEvents, events),
        Effect.provideService(SessionCache.SessionCache, cache),
        Effect.provideService(OpenCodeClient.OpenCodeClient, client)
      )
      const seen = yield* recordProgress(events)
      const handle = yield* manager.create({ title: "retried" })
      const session = yield* manager.updateTitle(handle, "retried, renamed")
      assert.strictEqual(session.title, "retried, renamed")
      assert.strictEqual(refusedPatches, 1)
      yield* Wait.until("the title's progress to end", ended(seen, "title"))
      const [title] = phasesOf(seen, "title")
      assert.deepStrictEqual(title!.map((e) => e.phase), ["queued", "sending", "retrying", "done"])
      assert.strictEqual(title![2]!.attempt, 1)
      assert.match(title![2]!.reason ?? "", /503/)
    }))
})

const settingsOptions = (settings: OpenCodeConnection.ConnectionSettings): OpenCodeConnection.Options => ({
  url: settings.url,
  password: settings.password._tag === "Some" ? settings.password.value : undefined,
  requestTimeout: settings.requestTimeout
})

describe("Progress (the hook)", () => {
  it.effect("a report outside an operation is a no-op; inside, it reaches the reporter, also from forked fibers", () =>
    Effect.gen(function*() {
      yield* Progress.retrying(1, "nobody listens")
      const seen: Array<Progress.Update> = []
      yield* Effect.gen(function*() {
        yield* Progress.report({ phase: "sending" })
        const child = yield* Effect.fork(Progress.retrying(2, "from a child fiber"))
        yield* Fiber.join(child)
      }).pipe(Progress.withReporter({ report: (u) => void seen.push(u) }))
      assert.deepStrictEqual(seen, [{ phase: "sending" }, { phase: "retrying", attempt: 2, reason: "from a child fiber" }])
    }))

  it.live("the request pipeline reports each connection-failure retry, numbered from 1", () =>
    Effect.gen(function*() {
      const port = yield* Net.freePort // nothing listens there: refused
      const client = yield* OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: `http://127.0.0.1:${port}`, retries: 3 }))
      )
      const seen: Array<Progress.Update> = []
      const error = yield* Effect.flip(client.get("ses_abc").pipe(Progress.withReporter({ report: (u) => void seen.push(u) })))
      assert.strictEqual(error._tag, "Unreachable")
      assert.deepStrictEqual(seen.map((u) => [u.phase, u.attempt]), [["retrying", 1], ["retrying", 2], ["retrying", 3]])
      assert.isTrue(seen.every((u) => /refused|ECONNREFUSED/i.test(u.reason ?? "")), JSON.stringify(seen))
      // A create is never retried, so it reports nothing.
      const before = seen.length
      yield* Effect.flip(client.create({}).pipe(Progress.withReporter({ report: (u) => void seen.push(u) })))
      assert.strictEqual(seen.length, before)
    }).pipe(Effect.provide(Platform.layer)))
})

// A model that answers the first two requests 429 (retry after 200 ms): OpenCode retries it and
// says so with `session.status` retry, which initialize relays as `retrying`.
const BusyStub = StubLlm.layer({ pace: "50 millis", chunks: 5, busyFirst: 2 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const BusyLive = Plue.layer().pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig })))),
  Layer.provideMerge(BusyStub),
  Layer.provideMerge(Platform.layer)
)

layer(BusyLive, { timeout: 180_000, excludeTestServices: true })("Progress when OpenCode retries the model", (it) => {
  it.scoped("initialize relays session.status retry as retrying, with OpenCode's attempt and message", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const stub = yield* StubLlm.StubLlm
      yield* (yield* SessionSync).awaitConnected
      const seen = yield* recordProgress(yield* SessionEvents)
      const handle = yield* manager.create({ title: "init, busy model" })
      yield* manager.initialize(handle, { providerID: stub.providerID, modelID: stub.modelID })
      yield* Wait.until("initialize's progress to end", ended(seen, "initialize"))
      assert.isAtLeast((yield* stub.stats).refused, 1, "the model refused at least once")
      const [init] = phasesOf(seen, "initialize")
      const phases = init!.map((e) => e.phase)
      assert.deepStrictEqual(phases.slice(0, 2), ["queued", "sending"], JSON.stringify(init))
      assert.strictEqual(phases[phases.length - 1], "done")
      const retries = init!.filter((e) => e.phase === "retrying")
      assert.isAtLeast(retries.length, 1, JSON.stringify(init))
      assert.strictEqual(retries[0]!.attempt, 1)
      assert.isAbove((retries[0]!.reason ?? "").length, 0)
      assert.deepStrictEqual(retries.map((e) => e.attempt), retries.map((_, i) => i + 1), "attempts count up from 1")
    }))
})
