import { assert, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Either, Layer, Stream } from "effect"
import { Agent, createServer, type IncomingMessage, request, type Server } from "node:http"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import * as SessionBulk from "../src/SessionBulk.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as Platform from "@plue/testing/Platform"
import { makeSandbox } from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

/** What the loopback proxy between the bridge and the server saw. */
interface Seen {
  readonly method: string
  readonly path: string
  readonly body: string
}

interface CountingProxy {
  readonly url: string
  /** Requests in flight now, the most at once, and the most at once on one session's paths. */
  readonly inFlight: () => number
  readonly maxInFlight: () => number
  readonly maxOnOneSession: () => number
  readonly reset: () => void
  readonly log: Array<Seen>
  /** Holds a request until the promise settles (`undefined`: pass at once). */
  hold: (seen: Seen) => Promise<void> | undefined
}

class Proxy extends Context.Tag("test/Proxy")<Proxy, CountingProxy>() {}
class Direct extends Context.Tag("test/Direct")<Direct, OpenCodeClient.Service>() {}

/**
 * An HTTP proxy on loopback that forwards every request to the real server and counts the
 * requests in flight (from their arrival to the end of their answer), except the long-lived
 * event streams.
 */
const countingProxy = (target: URL) =>
  Effect.acquireRelease(
    Effect.async<{ proxy: CountingProxy; server: Server; agent: Agent }>((resume) => {
      let inFlight = 0
      let max = 0
      let maxSession = 0
      const perSession = new Map<string, number>()
      const agent = new Agent({ keepAlive: true })
      const proxy: CountingProxy = {
        url: "",
        inFlight: () => inFlight,
        maxInFlight: () => max,
        maxOnOneSession: () => maxSession,
        reset: () => {
          max = inFlight
          maxSession = 0
          proxy.log.length = 0
        },
        log: [],
        hold: () => undefined
      }
      const server = createServer((req: IncomingMessage, res) => {
        const path = req.url ?? "/"
        const counted = !path.startsWith("/event") && !path.startsWith("/global/event")
        const session = /^\/session\/(ses_[0-9A-Za-z]+)/.exec(path)?.[1]
        if (counted) {
          inFlight++
          max = Math.max(max, inFlight)
          if (session !== undefined) {
            const n = (perSession.get(session) ?? 0) + 1
            perSession.set(session, n)
            maxSession = Math.max(maxSession, n)
          }
          let released = false
          res.on("close", () => {
            if (released) return
            released = true
            inFlight--
            if (session !== undefined) perSession.set(session, perSession.get(session)! - 1)
          })
        }
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const body = Buffer.concat(chunks)
          const seen = { method: req.method ?? "GET", path, body: body.toString("utf8") }
          if (counted) proxy.log.push(seen)
          const forward = () => {
            const upstream = request({
              host: target.hostname,
              port: Number(target.port),
              method: req.method,
              path,
              headers: req.headers,
              agent
            }, (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers)
              answer.pipe(res)
            })
            upstream.on("error", () => res.destroy())
            res.on("close", () => upstream.destroy())
            upstream.end(body)
          }
          const held = counted ? proxy.hold(seen) : undefined
          if (held === undefined) forward()
          else held.then(forward, forward)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port
        resume(Effect.succeed({ proxy: Object.assign(proxy, { url: `http://127.0.0.1:${port}` }), server, agent }))
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
  const { proxy } = yield* countingProxy(new URL(server.url))
  // The truth, straight to the server, bypassing the proxy.
  const direct = yield* OpenCodeClient.make.pipe(
    Effect.provideService(
      OpenCodeConnection.OpenCodeConnection,
      OpenCodeConnection.make({ url: server.url, password: server.password, requestTimeout: "60 seconds" })
    )
  )
  return Plue.layer({ sync: { reconcileInterval: "1 hour" } }).pipe(
    Layer.provide(OpenCodeConnection.layer({ url: proxy.url, password: server.password, requestTimeout: "60 seconds" })),
    Layer.merge(Layer.succeed(Proxy, proxy)),
    Layer.merge(Layer.succeed(Direct, direct))
  )
})).pipe(Layer.provide(Platform.layer))

/** Creates `n` sessions straight on the server and waits until the bridge's cache follows them. */
const makeSessions = (n: number, prefix: string) =>
  Effect.gen(function*() {
    const direct = yield* Direct
    const sessions = yield* SessionManager
    const made = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => direct.create({ title: `${prefix} ${i}` }), {
      concurrency: 4
    })
    yield* Wait.until(
      "the bridge to follow the new sessions",
      Effect.orDie(Effect.map(sessions.list, (all) => made.every((s) => all.some((a) => a.id === s.id))))
    )
    return made
  })

/** A session id of the right shape that no server has. */
const missing = (i: number) => `ses_0000000000000missing${String(i).padStart(4, "0")}`

const outcome = (results: ReadonlyArray<SessionBulk.Result>) => results.map((r) => r.status)

layer(Live, { timeout: 240_000, excludeTestServices: true })("SessionManager.bulk against the real server", (it) => {
  it.effect("every 7th id does not exist: exactly those fail; the rest are gone; never more than 8 in flight", () =>
    Effect.gen(function*() {
      yield* (yield* SessionSync).awaitConnected
      const proxy = yield* Proxy
      const direct = yield* Direct
      const sessions = yield* SessionManager
      const made = yield* makeSessions(60, "bulk delete")
      // 70 ids: index 6, 13, 20, ... is an id no server has.
      let next = 0
      const ids = Array.from({ length: 70 }, (_, i) => (i % 7 === 6 ? missing(i) : made[next++]!.id))
      assert.strictEqual(next, 60)
      proxy.reset()
      const results = yield* sessions.bulk(ids.map((session) => ({ op: "delete", session })))
      assert.strictEqual(results.length, 70)
      results.forEach((result, i) => {
        assert.strictEqual(result.index, i)
        assert.deepStrictEqual(result.op, { op: "delete", session: ids[i] })
        if (i % 7 === 6) {
          assert.strictEqual(result.status, "failed", `item ${i}`)
          if (result.status === "failed") assert.strictEqual(result.error._tag, "SessionNotFound")
        } else {
          assert.strictEqual(result.status, "ok", `item ${i}: ${JSON.stringify(result)}`)
          if (result.status === "ok") {
            assert.strictEqual(result.session.id, ids[i])
            assert.strictEqual(result.deleted, 1)
          }
        }
      })
      assert.isAtMost(proxy.maxInFlight(), 8, "never more than the concurrency in flight")
      assert.isAtLeast(proxy.maxInFlight(), 2, "the batch did run in parallel")
      const left = yield* direct.list()
      for (const s of made) assert.isFalse(left.some((l) => l.id === s.id), `${s.id} is gone from the server`)
      for (const s of made.slice(0, 5)) {
        const gone = yield* Effect.either(direct.get(s.id))
        assert.isTrue(Either.isLeft(gone) && gone.left._tag === "SessionNotFound")
      }
      // The JSON form keeps the error's tag and fields.
      const encoded = SessionBulk.encode(results) as ReadonlyArray<{ status: string; error?: { _tag: string } }>
      assert.strictEqual(encoded[6]!.error!._tag, "SessionNotFound")
      assert.strictEqual(JSON.parse(JSON.stringify(encoded))[0].session.id, ids[0])
    }), { timeout: 240_000 })

  it.effect("a lower concurrency is honoured at the proxy too", () =>
    Effect.gen(function*() {
      const proxy = yield* Proxy
      const sessions = yield* SessionManager
      const made = yield* makeSessions(12, "bulk c3")
      proxy.reset()
      const results = yield* sessions.bulk(made.map((s, i) => ({ op: "title", session: s.id, title: `renamed ${i}` })), { concurrency: 3 })
      assert.deepStrictEqual(outcome(results), made.map(() => "ok"))
      assert.isAtMost(proxy.maxInFlight(), 3)
      results.forEach((r, i) => r.status === "ok" && assert.strictEqual(r.session.title, `renamed ${i}`))
    }), { timeout: 120_000 })

  it.effect("operations on one session run in input order, one at a time; sessions in parallel", () =>
    Effect.gen(function*() {
      const proxy = yield* Proxy
      const direct = yield* Direct
      const sessions = yield* SessionManager
      const [a, b, c] = yield* makeSessions(3, "bulk order")
      proxy.reset()
      const ops: Array<SessionBulk.Operation> = []
      for (let i = 0; i < 6; i++) {
        ops.push({ op: "title", session: a!.id, title: `a${i}` })
        ops.push({ op: "title", session: b!.id, title: `b${i}` })
      }
      ops.push({ op: "abort", session: a!.id }, { op: "unshare", session: c!.id }, { op: "delete", session: b!.id })
      ops.push({ op: "title", session: b!.id, title: "after delete" })
      const results = yield* sessions.bulk(ops)
      assert.deepStrictEqual(outcome(results).slice(0, 15), Array(15).fill("ok"))
      // B was deleted by the operation before: this one fails, it is not reordered before it.
      assert.strictEqual(results[15]!.status, "failed")
      if (results[15]!.status === "failed") assert.include(["SessionDeleted", "SessionNotFound"], results[15]!.error._tag)
      const titles = (id: string) => proxy.log.filter((s) => s.method === "PATCH" && s.path.startsWith(`/session/${id}`)).map((s) => JSON.parse(s.body).title)
      assert.deepStrictEqual(titles(a!.id), ["a0", "a1", "a2", "a3", "a4", "a5"])
      assert.deepStrictEqual(titles(b!.id), ["b0", "b1", "b2", "b3", "b4", "b5"])
      assert.strictEqual(proxy.maxOnOneSession(), 1, "one request at a time on a session")
      assert.strictEqual((yield* direct.get(a!.id)).title, "a5")
    }), { timeout: 120_000 })

  it.effect("an operation that repeats the previous one on its session is skipped as a duplicate", () =>
    Effect.gen(function*() {
      const direct = yield* Direct
      const proxy = yield* Proxy
      const sessions = yield* SessionManager
      const [x, y] = yield* makeSessions(2, "bulk dup")
      proxy.reset()
      const results = yield* sessions.bulk([
        { op: "delete", session: x!.id },
        { op: "title", session: y!.id, title: "one" },
        { op: "delete", session: x!.id },
        { op: "title", session: y!.id, title: "one" },
        { op: "title", session: y!.id, title: "two" },
        { op: "title", session: y!.id, title: "one" },
        { op: "create", title: "twin" },
        { op: "create", title: "twin" }
      ])
      assert.deepStrictEqual(outcome(results), ["ok", "ok", "skipped", "skipped", "ok", "ok", "ok", "ok"])
      const skipped = results[2]!
      assert.isTrue(skipped.status === "skipped" && skipped.reason === "duplicate" && skipped.duplicateOf === 0)
      const again = results[3]!
      assert.isTrue(again.status === "skipped" && again.duplicateOf === 1)
      // Skipped means nothing was sent: one DELETE for x, three PATCHes for y.
      assert.strictEqual(proxy.log.filter((s) => s.method === "DELETE" && s.path.startsWith(`/session/${x!.id}`)).length, 1)
      assert.strictEqual(proxy.log.filter((s) => s.method === "PATCH" && s.path.startsWith(`/session/${y!.id}`)).length, 3)
      assert.strictEqual((yield* direct.get(y!.id)).title, "one")
      // Two creates are two sessions, never duplicates.
      const twins = results.slice(6).map((r) => (r.status === "ok" ? r.session.id : ""))
      assert.notStrictEqual(twins[0], twins[1])
      for (const id of twins) assert.strictEqual((yield* direct.get(id)).title, "twin")
    }), { timeout: 120_000 })

  it.effect("stopOnError: after the first failure nothing starts; the rest are skipped and untouched", () =>
    Effect.gen(function*() {
      const direct = yield* Direct
      const sessions = yield* SessionManager
      const [p, q, r] = yield* makeSessions(3, "bulk stop")
      const results = yield* sessions.bulk([
        { op: "title", session: p!.id, title: "first" },
        { op: "delete", session: missing(1) },
        { op: "title", session: q!.id, title: "never" },
        { op: "delete", session: r!.id }
      ], { concurrency: 1, stopOnError: true })
      assert.deepStrictEqual(outcome(results), ["ok", "failed", "skipped", "skipped"])
      assert.isTrue(results[2]!.status === "skipped" && results[2]!.reason === "stopped")
      assert.strictEqual((yield* direct.get(p!.id)).title, "first")
      assert.strictEqual((yield* direct.get(q!.id)).title, "bulk stop 1")
      assert.strictEqual((yield* direct.get(r!.id)).id, r!.id)
      // Without stopOnError the same batch runs to its end.
      const all = yield* sessions.bulk([
        { op: "delete", session: missing(2) },
        { op: "title", session: q!.id, title: "ran" }
      ], { concurrency: 1 })
      assert.deepStrictEqual(outcome(all), ["failed", "ok"])
    }), { timeout: 120_000 })

  it.effect("cancel: what is in flight finishes, what has not started is cancelled and never sent", () =>
    Effect.gen(function*() {
      const proxy = yield* Proxy
      const direct = yield* Direct
      const sessions = yield* SessionManager
      const [a, b, c] = yield* makeSessions(3, "bulk cancel")
      const cancel = yield* Deferred.make<void>()
      const arrived = yield* Deferred.make<void>()
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => (release = resolve))
      proxy.hold = (seen) => {
        if (seen.method !== "PATCH" || !seen.path.startsWith(`/session/${a!.id}`)) return undefined
        Deferred.unsafeDone(arrived, Effect.void)
        return gate
      }
      const running = yield* Effect.fork(sessions.bulk([
        { op: "title", session: a!.id, title: "in flight" },
        { op: "title", session: b!.id, title: "not started" },
        { op: "delete", session: c!.id }
      ], { concurrency: 1, cancel }))
      yield* Deferred.await(arrived)
      yield* Deferred.succeed(cancel, undefined)
      release()
      const results = yield* running.await.pipe(Effect.flatten)
      proxy.hold = () => undefined
      assert.deepStrictEqual(outcome(results), ["ok", "cancelled", "cancelled"])
      assert.strictEqual((yield* direct.get(a!.id)).title, "in flight")
      assert.strictEqual((yield* direct.get(b!.id)).title, "bulk cancel 1")
      assert.strictEqual((yield* direct.get(c!.id)).id, c!.id)
    }), { timeout: 120_000 })

  it.scoped("BulkProgress: from the start to the total, throttled to one per 100 ms, the last one final", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager
      const events = yield* SessionEvents
      const seen: Array<Delivery> = []
      yield* Effect.forkScoped(Stream.runForEach(yield* events.subscribe, (event) => Effect.sync(() => seen.push(event))))
      const made = yield* makeSessions(16, "bulk progress")
      const ops: Array<SessionBulk.Operation> = made.map((s) => ({ op: "delete", session: s.id }))
      ops.push({ op: "delete", session: missing(3) }, { op: "delete", session: missing(3) })
      const started = Date.now()
      const results = yield* sessions.bulk(ops, { concurrency: 2 })
      assert.deepStrictEqual(outcome(results).slice(16), ["failed", "skipped"])
      const progress = () => seen.flatMap((e) => (e._tag === "BulkProgress" ? [e] : []))
      // A batch of an earlier test may still send its last event (up to 100 ms after its
      // results): this batch is the one whose final event comes last.
      const isFinal = (p: { readonly done: number; readonly total: number }) => p.total === ops.length && p.done === p.total
      yield* Wait.until("the final BulkProgress", () => progress().some(isFinal))
      const elapsed = Date.now() - started
      const batch = progress().filter(isFinal).at(-1)!.batch
      const mine = progress().filter((p) => p.batch === batch)
      assert.isTrue(mine.every((p) => p.batch === batch && p.total === 18))
      assert.strictEqual(mine[0]!.done, 1, "the duplicate is done from the start")
      assert.deepStrictEqual({ done: mine.at(-1)!.done, failed: mine.at(-1)!.failed }, { done: 18, failed: 1 })
      for (let i = 1; i < mine.length; i++) assert.isAtLeast(mine[i]!.done, mine[i - 1]!.done)
      // Throttled: the first one at the start, then at most one per 100 ms. (Arrival times at a
      // subscriber jitter, so the count over the whole batch is checked, not each gap.)
      assert.isAtMost(mine.length, Math.floor(elapsed / 100) + 1, `${mine.length} events in ${elapsed} ms`)
    }), { timeout: 120_000 })

  it.effect("creates, titles, abort, unshare and malformed ids in one batch", () =>
    Effect.gen(function*() {
      const direct = yield* Direct
      const sessions = yield* SessionManager
      const results = yield* sessions.bulk([
        { op: "create", title: "made in a batch" },
        { op: "title", session: "../config", title: "x" },
        { op: "abort", session: missing(4) },
        { op: "unshare", session: missing(5) }
      ])
      assert.deepStrictEqual(outcome(results), ["ok", "failed", "failed", "failed"])
      const made = results[0]!
      assert.isTrue(made.status === "ok")
      if (made.status === "ok") assert.strictEqual((yield* direct.get(made.session.id)).title, "made in a batch")
      if (results[1]!.status === "failed") assert.strictEqual(results[1]!.error._tag, "InvalidSessionId")
      const parent = made.status === "ok" ? made.session.id : ""
      const more = yield* sessions.bulk([
        { op: "create", parent, title: "child" },
        { op: "abort", session: parent },
        { op: "delete", session: parent }
      ])
      assert.deepStrictEqual(outcome(more), ["ok", "ok", "ok"])
      assert.isTrue(more[2]!.status === "ok" && more[2]!.deleted === 2, "the child went with its parent")
      assert.deepStrictEqual(yield* sessions.bulk([]), [])
    }), { timeout: 120_000 })

  it.effect("parseBatch refuses what is not a batch, and accepts one", () =>
    Effect.sync(() => {
      for (
        const bad of [
          "",
          "{",
          "{}",
          "[1]",
          "[{\"op\":\"rename\",\"session\":\"ses_a\"}]",
          "[{\"op\":\"title\",\"session\":\"ses_a\"}]",
          "[{\"op\":\"delete\"}]",
          "[{\"op\":\"delete\",\"session\":\"ses_a\",\"sesion\":1}]",
          "{\"operations\":[],\"concurrency\":0}",
          "{\"operations\":[],\"stop\":true}"
        ]
      ) {
        const parsed = SessionBulk.parseBatch(bad)
        assert.isTrue(Either.isLeft(parsed), bad)
        if (Either.isLeft(parsed)) assert.match(parsed.left.message, /^Invalid batch of operations: /)
      }
      const ok = SessionBulk.parseBatch(
        "[{\"op\":\"create\"},{\"op\":\"title\",\"session\":\"ses_a\",\"title\":\"t\"},{\"op\":\"unshare\",\"session\":\"nope\"}]"
      )
      assert.isTrue(Either.isRight(ok) && ok.right.operations.length === 3)
      const withOptions = SessionBulk.parseBatch("{\"operations\":[{\"op\":\"abort\",\"session\":\"ses_a\"}],\"concurrency\":2,\"stopOnError\":true}")
      assert.isTrue(Either.isRight(withOptions))
      if (Either.isRight(withOptions)) assert.deepStrictEqual(withOptions.right.options, { concurrency: 2, stopOnError: true })
    }))
})
