/**
 * What a delete in a batch does on the wire and in the bridge: one DELETE per deleted session,
 * children or not (the cache, coherent, knows the descendants), every descendant announced
 * `Deleted` once and evicted, no handle issued or left behind.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Stream } from "effect"
import { Agent, createServer, request, type Server } from "node:http"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import { SessionCache } from "../src/SessionCache.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as Platform from "@plue/testing/Platform"
import { makeSandbox } from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

/** The requests (method and path) a loopback HTTP proxy forwarded, the event streams left out. */
class Requests extends Context.Tag("test/Requests")<Requests, Array<string>>() {}
class Direct extends Context.Tag("test/Direct")<Direct, OpenCodeClient.Service>() {}

const loggingProxy = (target: URL) =>
  Effect.acquireRelease(
    Effect.async<{ url: string; log: Array<string>; server: Server; agent: Agent }>((resume) => {
      const log: Array<string> = []
      const agent = new Agent({ keepAlive: true })
      const server = createServer((req, res) => {
        const path = req.url ?? "/"
        if (!path.startsWith("/event") && !path.startsWith("/global/event")) log.push(`${req.method} ${path.split("?")[0]}`)
        const upstream = request({ host: target.hostname, port: Number(target.port), method: req.method, path, headers: req.headers, agent }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        upstream.on("error", () => res.destroy())
        res.on("close", () => upstream.destroy())
        req.pipe(upstream)
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, log, server, agent }))
      })
    }),
    ({ agent, server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        agent.destroy()
        server.close(() => resume(Effect.void))
      })
  )

const Live = Layer.unwrapScoped(Effect.gen(function*() {
  const box = yield* makeSandbox
  const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
  const proxy = yield* loggingProxy(new URL(server.url))
  const direct = yield* OpenCodeClient.make.pipe(
    Effect.provideService(
      OpenCodeConnection.OpenCodeConnection,
      OpenCodeConnection.make({ url: server.url, password: server.password, requestTimeout: "60 seconds" })
    )
  )
  return Plue.layer({ sync: { reconcileInterval: "1 hour" } }).pipe(
    Layer.provide(OpenCodeConnection.layer({ url: proxy.url, password: server.password, requestTimeout: "60 seconds" })),
    Layer.merge(Layer.succeed(Requests, proxy.log)),
    Layer.merge(Layer.succeed(Direct, direct))
  )
})).pipe(Layer.provide(Platform.layer))

layer(Live, { timeout: 240_000, excludeTestServices: true })("a delete in a batch", (it) => {
  it.scoped("sends one DELETE with or without children; each descendant is Deleted once and evicted; no handle stays", () =>
    Effect.gen(function*() {
      yield* SessionSync.pipe(Effect.flatMap((sync) => sync.awaitConnected))
      const direct = yield* Direct
      const cache = yield* SessionCache
      const sessions = yield* SessionManager
      const log = yield* Requests
      const lone = yield* direct.create({ title: "bulk delete lone" })
      const parent = yield* direct.create({ title: "bulk delete parent" })
      const first = yield* direct.create({ title: "bulk delete child 1", parentID: parent.id })
      const second = yield* direct.create({ title: "bulk delete child 2", parentID: parent.id })
      const grandchild = yield* direct.create({ title: "bulk delete grandchild", parentID: first.id })
      const tree = [parent.id, first.id, second.id, grandchild.id]
      yield* Wait.until(
        "the bridge to follow the five sessions",
        Effect.sync(() => Option.isSome(cache.peek(lone.id as never)) && cache.descendants(parent.id as never).length === 3)
      )
      assert.isTrue(yield* cache.coherent)

      const seen: Array<Delivery> = []
      const stream = yield* (yield* SessionEvents).subscribe
      yield* Effect.forkScoped(Stream.runForEach(stream, (event) => Effect.sync(() => void seen.push(event))))
      log.length = 0

      const results = yield* sessions.bulk([{ op: "delete", session: lone.id }, { op: "delete", session: parent.id }])
      assert.deepStrictEqual(results.map((r) => r.status), ["ok", "ok"])
      assert.deepStrictEqual(results.map((r) => (r.status === "ok" ? [r.session.id, r.deleted] : undefined)), [[lone.id, 1], [parent.id, 4]])
      // On the wire: the two DELETEs and nothing else (no listing of children, no read).
      assert.deepStrictEqual([...log].sort(), [`DELETE /session/${lone.id}`, `DELETE /session/${parent.id}`].sort())
      assert.deepStrictEqual(yield* sessions.handles, [])

      // Every session of the tree and the lone one is evicted and gone on the server.
      for (const id of [lone.id, ...tree]) {
        assert.isTrue(cache.isDeleted(id), id)
        assert.isTrue(Option.isNone(cache.peek(id as never)), id)
        const probe = yield* Effect.flip(direct.get(id))
        assert.strictEqual(probe._tag, "SessionNotFound", id)
      }

      // The server's stream is ordered: once a session created after the deletes is announced,
      // its echoes of the deletions have all been taken in. Each session went exactly once.
      const marker = yield* direct.create({ title: "bulk delete marker" })
      yield* Wait.until(
        "the marker's Created event",
        Effect.sync(() => seen.some((e) => e._tag === "Created" && e.session.id === marker.id))
      )
      const deleted = seen.flatMap((e) => (e._tag === "Deleted" ? [e.sessionId as string] : []))
      assert.deepStrictEqual([...deleted].sort(), [lone.id, ...tree].sort())
      // Descendants before their parent.
      assert.isBelow(deleted.indexOf(grandchild.id), deleted.indexOf(first.id))
      assert.isBelow(deleted.indexOf(first.id), deleted.indexOf(parent.id))
      assert.isBelow(deleted.indexOf(second.id), deleted.indexOf(parent.id))
      // Each delete's progress, from queued to done.
      for (const id of [lone.id, parent.id]) {
        const phases = seen.flatMap((e) => (e._tag === "Progress" && e.kind === "delete" && e.sessionId === id ? [e.phase] : []))
        assert.deepStrictEqual(phases, ["queued", "sending", "done"], id)
      }
      assert.isFalse(seen.some((e) => e._tag === "Lagged"))
    }))

  it.scoped("a session deleted behind the bridge's back fails with SessionDeleted, sends one DELETE, leaves no handle", () =>
    Effect.gen(function*() {
      yield* SessionSync.pipe(Effect.flatMap((sync) => sync.awaitConnected))
      const direct = yield* Direct
      const cache = yield* SessionCache
      const sessions = yield* SessionManager
      const log = yield* Requests
      const gone = yield* direct.create({ title: "bulk delete gone" })
      yield* Wait.until("the bridge to follow it", Effect.sync(() => Option.isSome(cache.peek(gone.id as never))))
      // Deleted on the server; the bridge may still have it (its event may not have arrived yet).
      log.length = 0
      yield* direct.delete(gone.id)
      const [result] = yield* sessions.bulk([{ op: "delete", session: gone.id }])
      assert.strictEqual(result!.status, "failed")
      if (result!.status === "failed") assert.strictEqual(result!.error._tag, "SessionDeleted")
      // Either the bridge's own DELETE met the 404, or the server's event came first and no
      // request was needed: never more than that one DELETE.
      assert.isTrue(log.length <= 1 && log.every((line) => line === `DELETE /session/${gone.id}`), log.join(", "))
      assert.isTrue(cache.isDeleted(gone.id))
      assert.deepStrictEqual(yield* sessions.handles, [])
    }))
})
