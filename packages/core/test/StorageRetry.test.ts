import { assert, layer } from "@effect/vitest"
import { Context, Duration, Effect, Either, Fiber, Layer, Stream } from "effect"
import { createServer, request as httpRequest, type Server as HttpServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as DbLock from "@plue/testing/DbLock"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

// The real server with its SQLite database write-locked by another process (DbLock): its writes
// answer a generic 500 after its 5 s busy wait and apply nothing, its reads go on. The bridge
// talks to it through a loopback proxy that records every request, so "sent once" is counted on
// the wire.

interface Sent {
  readonly method: string
  readonly path: string
  readonly at: number
  status?: number | undefined
  answeredAt?: number | undefined
}

class Proxy extends Context.Tag("test/Proxy")<Proxy, { readonly sent: Array<Sent> }>() {}

/** A loopback HTTP proxy to `target` that records each request and its status. */
const startProxy = (target: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly sent: Array<Sent>; readonly server: HttpServer }>((resume) => {
      const sent: Array<Sent> = []
      const upstream = new URL(target)
      const server = createServer((req, res) => {
        const record: Sent = { method: req.method ?? "", path: new URL(req.url ?? "/", "http://x").pathname, at: Date.now() }
        sent.push(record)
        const forward = httpRequest({
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers
        }, (answer) => {
          record.status = answer.statusCode
          answer.on("end", () => {
            record.answeredAt = Date.now()
          })
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        forward.on("error", () => res.destroy())
        res.on("close", () => forward.destroy())
        req.pipe(forward)
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, sent, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** The test server's connection, through the proxy. */
const Proxied = Layer.scopedContext(Effect.gen(function*() {
  const settings = yield* OpenCodeConnection.OpenCodeConnection
  const proxy = yield* startProxy(settings.url)
  return Context.make(Proxy, { sent: proxy.sent }).pipe(
    Context.add(OpenCodeConnection.OpenCodeConnection, { ...settings, url: proxy.url })
  )
}))

// TestServer.layer() without its client: `OpenCodeClient.layer` is one value, so a build would
// share that direct client with the bridge instead of making the bridge's over the proxy.
const Server = Layer.unwrapEffect(Effect.map(TestServer.TestSandbox, (box) =>
  OpenCodeServer.layer({
    cwd: box.project,
    env: box.env,
    config: { autoupdate: false, share: "manual" },
    connection: { requestTimeout: "60 seconds" }
  }))).pipe(Layer.provideMerge(Layer.scoped(TestServer.TestSandbox, TestServer.makeSandbox)))

const Live = Plue.layer().pipe(
  Layer.provideMerge(Proxied),
  Layer.provideMerge(Server),
  Layer.provideMerge(PlatformLayer.layer)
)

const lockFor = (duration: Duration.DurationInput) => Effect.flatMap(TestServer.TestSandbox, (sandbox) => DbLock.hold(DbLock.databaseOf(sandbox), duration))

const sentTo = (sent: ReadonlyArray<Sent>, method: string, path: string, since: number) =>
  sent.filter((s) => s.method === method && s.path === path && s.at >= since)

layer(Live, { timeout: 180_000, excludeTestServices: true })("retries while OpenCode's database is locked", (it) => {
  it.scoped("a title change sent at the start of a 10 s lock succeeds after it, with one or two retries, published once; a plain create sent during the lock is sent once", () =>
    Effect.gen(function*() {
      const { sent } = yield* Proxy
      const sessions = yield* SessionManager
      const client = yield* OpenCodeClient.OpenCodeClient
      yield* (yield* SessionSync).awaitConnected
      const handle = yield* sessions.create({ title: "before the lock" })
      const id = yield* sessions.sessionId(handle)
      const marker = yield* client.create({ title: "marker" })
      assert.isAbove(sent.length, 0, "the bridge talks through the proxy")

      const events = yield* SessionEvents
      const seen: Array<Delivery> = []
      yield* Effect.forkScoped(Stream.runForEach(yield* events.subscribe, (e) => Effect.sync(() => seen.push(e))))

      const lock = yield* lockFor("10 seconds")
      const rename = yield* Effect.fork(Effect.timed(sessions.updateTitle(handle, "renamed under the lock")))
      // OpenCode runs one write at a time: the create, sent once the rename is, waits behind it.
      yield* Wait.until("the rename to be sent", () => sentTo(sent, "PATCH", `/session/${id}`, lock.since).length > 0)
      const create = yield* Effect.fork(Effect.either(client.create({ title: "created under the lock" })))

      const [took, renamed] = yield* Fiber.join(rename)
      assert.strictEqual(renamed.title, "renamed under the lock")
      const created = yield* Fiber.join(create)
      yield* lock.released

      const patches = sentTo(sent, "PATCH", `/session/${id}`, lock.since)
      assert.include([2, 3], patches.length, "one or two retries")
      assert.strictEqual(patches[0]!.status, 500, "the first attempt met the lock")
      assert.strictEqual(patches[patches.length - 1]!.status, 200)
      assert.isAtLeast(patches[patches.length - 1]!.answeredAt! - lock.since, 9_000, "it succeeded once the lock was gone")

      // The create was sent while the lock was held: whatever it met, it was sent exactly once.
      const creates = sentTo(sent, "POST", "/session", lock.since)
      assert.strictEqual(creates.length, 1, "a plain create is never repeated")
      assert.isBelow(creates[0]!.at - lock.since, 9_000, "sent during the lock")
      if (Either.isLeft(created)) {
        assert.strictEqual(created.left._tag, "ServerError")
        assert.strictEqual(creates[0]!.status, 500)
      }
      const titles = (yield* OtherClient.request<Array<{ title: string }>>("GET", "/session")).map((s) => s.title)
      assert.strictEqual(titles.filter((t) => t === "created under the lock").length, Either.isRight(created) ? 1 : 0)
      assert.strictEqual((yield* client.get(id)).title, "renamed under the lock")

      // A change made after the lock by another client is a barrier: the server's echo of our
      // rename, sent before it, has been taken in by the time its event is published.
      yield* OtherClient.request("PATCH", `/session/${marker.id}`, { title: "marker moved" })
      yield* Wait.until("the marker's event", () => seen.some((e) => e._tag === "Updated" && e.session.id === marker.id && e.session.title === "marker moved"))
      const ours = seen.filter((e) => e._tag === "Updated" && e.session.id === id)
      assert.strictEqual(ours.length, 1, "the retried write is published once")
      yield* Effect.log(
        `rename under a 10 s lock: ${Duration.format(took)}, ${patches.length} attempts; create: ${Either.isRight(created) ? "succeeded" : "failed"}`
      )
    }))

  it.scoped("a delete sent during a 7 s lock is retried and done, published once", () =>
    Effect.gen(function*() {
      const { sent } = yield* Proxy
      const client = yield* OpenCodeClient.OpenCodeClient
      const doomed = yield* client.create({ title: "to delete under the lock" })
      const marker = yield* client.create({ title: "marker 2" })
      const events = yield* SessionEvents
      const seen: Array<Delivery> = []
      yield* Effect.forkScoped(Stream.runForEach(yield* events.subscribe, (e) => Effect.sync(() => seen.push(e))))

      const lock = yield* lockFor("7 seconds")
      assert.isTrue(yield* client.delete(doomed.id))
      const deletes = sentTo(sent, "DELETE", `/session/${doomed.id}`, lock.since)
      assert.include([2, 3], deletes.length)
      assert.strictEqual(deletes[0]!.status, 500)
      assert.strictEqual(deletes[deletes.length - 1]!.status, 200)
      const gone = yield* Effect.flip(client.get(doomed.id))
      assert.strictEqual(gone._tag, "SessionNotFound")

      yield* lock.released
      yield* OtherClient.request("PATCH", `/session/${marker.id}`, { title: "marker 2 moved" })
      yield* Wait.until(
        "the marker's event",
        () => seen.some((e) => e._tag === "Updated" && e.session.id === marker.id && e.session.title === "marker 2 moved")
      )
      assert.strictEqual(seen.filter((e) => e._tag === "Deleted" && e.sessionId === doomed.id).length, 1)
    }))

  it.scoped("a title change during a 60 s lock fails with a server error at about the retry budget (15 s)", () =>
    Effect.gen(function*() {
      const { sent } = yield* Proxy
      const client = yield* OpenCodeClient.OpenCodeClient
      const settings = yield* OpenCodeConnection.OpenCodeConnection
      const budget = Duration.toMillis(settings.storageRetryBudget)
      const session = yield* client.create({ title: "locked for good" })
      const lock = yield* lockFor("60 seconds")
      const started = Date.now()
      const error = yield* Effect.flip(client.update(session.id, { title: "never" }))
      const elapsed = Date.now() - started
      assert.isTrue(lock.held(), "the lock was still held")
      assert.strictEqual(error._tag, "ServerError")
      const patches = sentTo(sent, "PATCH", `/session/${session.id}`, started)
      assert.isAtLeast(patches.length, 2)
      assert.isTrue(patches.every((p) => p.status === 500))
      if (error._tag === "ServerError") {
        assert.strictEqual(error.status, 500)
        assert.strictEqual(error.attempts, patches.length)
      }
      // No attempt starts after the budget; the last one takes OpenCode's busy wait (about 5 s).
      for (const p of patches) assert.isAtMost(p.at - started, budget + 1_000)
      assert.isAtLeast(elapsed, budget - 5_000, "retried for about the budget")
      assert.isAtMost(elapsed, budget + 30_000, "and not much longer (generous: a loaded machine)")
      yield* Effect.log(`rename under a 60 s lock failed after ${elapsed} ms, ${patches.length} attempts`)
    }))
})
