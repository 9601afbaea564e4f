import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Stream } from "effect"
import { createServer } from "node:http"
import type { SessionId } from "../src/Identifier.js"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import type { OpenCodeEvent, Session } from "../src/OpenCodeSchema.js"
import * as Plue from "../src/Plue.js"
import * as SessionCache from "../src/SessionCache.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import * as SessionSync from "../src/SessionSync.js"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Wait from "@plue/testing/Wait"

// The stub model answers as fast as it can, each chunk numbered, so the order of what OpenCode
// streams out can be checked: the chunks of one answer must arrive as "0 1 2 ... ".
const CHUNKS = 1500
const Stub = StubLlm.layer({ pace: "0 millis", chunks: CHUNKS, text: (i) => `${i} ` }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
// No safety-net reconcile during these tests: the events queued behind one are applied after it
// and may briefly show an older title (docs/bridge.md), which the burst's order check would
// take for a fault. The tests call `reconcile` themselves where they mean to.
const Live = Plue.layer({ sync: { reconcileInterval: "1 hour" } }).pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig })))),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

/** Another client of the same server: plain fetch, nothing of plue. */
const otherClient = OtherClient.make

/** Every session as `id title updated`, sorted: two views of the sessions are equal when these are. */
const fingerprint = (sessions: ReadonlyArray<Session>) =>
  sessions.map((s) => `${s.id} ${JSON.stringify(s.title)} ${s.time.updated} ${s.parentID ?? "-"}`).sort()

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Waits until `done`, failing with `what` after `seconds` (at least a minute: a loaded machine is slow). */
const eventually = (what: string, done: () => boolean, seconds = 60) => Wait.until(what, done, { timeout: `${Math.max(seconds, 60)} seconds` })

/**
 * How many sessions the big test holds: 2,000 in `npm test` (every property below already needs
 * several listing pages and thousands of stream events), 10,000 in `npm run test:load`
 * (`PLUE_LOAD_SESSIONS`).
 */
const sessionCount = Number(process.env.PLUE_LOAD_SESSIONS ?? 2_000)

layer(Live, { timeout: 120_000, excludeTestServices: true })("load against the real server", (it) => {
  it.scoped("a burst of events through the real server reaches subscribers complete and in order", () =>
    Effect.gen(function*() {
      const sync = yield* SessionSync.SessionSync
      const client = yield* OpenCodeClient.OpenCodeClient
      const events = yield* SessionEvents
      const other = yield* otherClient
      yield* sync.awaitConnected

      const talkers = yield* Effect.forEach(range(4), (i) => client.create({ title: `talker ${i}` }))
      const renamed = yield* Effect.forEach(range(5), (i) => client.create({ title: `renamed ${i}` }))

      // Subscriber 1 reads the server's raw stream (every event type) on a connection of its own;
      // subscriber 2 reads plue's session events, which the sync fiber derives from its own stream.
      const raw: Array<{ readonly event: OpenCodeEvent; readonly at: number }> = []
      yield* client.events.pipe(
        Stream.runForEach((event) => Effect.sync(() => raw.push({ event, at: performance.now() }))),
        Effect.forkScoped
      )
      yield* eventually("the raw stream to connect", () => raw.some((r) => r.event.type === "server.connected"))
      const seen: Array<Delivery> = []
      yield* Stream.runForEach(yield* events.subscribe, (d) => Effect.sync(() => seen.push(d))).pipe(Effect.forkScoped)

      // The burst: four answers streamed at the stub's full speed, while another client renames
      // five other sessions 40 times each (one request at a time per session).
      const started = performance.now()
      yield* Effect.forEach(talkers, (s) => client.promptAsync(s.id, { text: "go", model: { providerID: "stub", modelID: "slow-model" } }), {
        concurrency: "unbounded",
        discard: true
      })
      yield* Effect.forEach(
        renamed,
        (s) => Effect.forEach(range(40), (k) => other("PATCH", `/session/${s.id}`, { title: `renamed ${k}` }), { discard: true }),
        {
          concurrency: "unbounded",
          discard: true
        }
      )

      const deltas = (sessionId: SessionId) =>
        raw.flatMap(({ event }) => {
          if (event.type !== "unknown" || event.eventType !== "message.part.delta") return []
          const p = event.properties as { sessionID?: string; field?: string; delta?: string }
          return p.sessionID === sessionId && p.field === "text" && typeof p.delta === "string" ? [p.delta] : []
        }).join("")
      const expected = range(CHUNKS).map((i) => `${i} `).join("")
      yield* eventually("every answer streamed", () => talkers.every((s) => deltas(s.id).length >= expected.length), 90)
      yield* eventually("every talker idle", () =>
        talkers.every((s) => seen.some((d) => d._tag === "Status" && d.sessionId === s.id && d.status.type === "idle")), 30)
      const burst = raw.filter(({ at }) =>
        at >= started
      )
      const seconds = (burst[burst.length - 1]!.at - started) / 1000
      let peak = 0
      for (let i = 0, j = 0; j < burst.length; j++) {
        while (burst[j]!.at - burst[i]!.at > 1000) i++
        peak = Math.max(peak, j - i + 1)
      }
      console.info(`burst: ${burst.length} events in ${seconds.toFixed(2)} s on the raw stream; busiest second: ${peak} events`)

      // Complete and in order: each answer's chunks arrive exactly once, as numbered.
      for (const s of talkers) assert.strictEqual(deltas(s.id), expected, `the chunks of ${s.id}, in order`)

      // plue's subscriber: never lagged; each renamed session's titles in the order they were set,
      // ending at the last; each talker went busy and then idle.
      assert.isFalse(seen.some((d) => d._tag === "Lagged"), "a subscriber that keeps up never lags")
      yield* eventually(
        "the last rename",
        () => renamed.every((s) => seen.some((d) => d._tag === "Updated" && d.session.id === s.id && d.session.title === "renamed 39"))
      )
      for (const s of renamed) {
        const titles = seen.flatMap((d) => (d._tag === "Updated" && d.session.id === s.id && d.changes.includes("title") ? [d.session.title] : []))
        const order = titles.map((t) => Number(t.split(" ")[1]))
        assert.deepStrictEqual(order, [...order].sort((a, b) => a - b), `titles of ${s.id} in order: ${order.join(",")}`)
        assert.strictEqual(new Set(order).size, order.length, `no title of ${s.id} twice`)
        assert.strictEqual(order[order.length - 1], 39)
      }
      for (const s of talkers) {
        const statuses = seen.flatMap((d) => (d._tag === "Status" && d.sessionId === s.id ? [d.status.type] : []))
        assert.strictEqual(statuses[0], "busy", `${s.id}: ${statuses.join(",")}`)
        assert.strictEqual(statuses[statuses.length - 1], "idle", `${s.id}: ${statuses.join(",")}`)
      }

      // And the cache equals the server.
      const cache = yield* SessionCache.SessionCache
      assert.deepStrictEqual(fingerprint(yield* cache.list), fingerprint(yield* client.list()))
    }), { timeout: 360_000 })

  it.scoped(
    `${sessionCount} sessions: each created by another client reaches the cache once; list, reconcile and the cache agree with the server`,
    () =>
      Effect.gen(function*() {
        const sync = yield* SessionSync.SessionSync
        const client = yield* OpenCodeClient.OpenCodeClient
        const cache = yield* SessionCache.SessionCache
        const events = yield* SessionEvents
        const sessions = yield* SessionManager
        const other = yield* otherClient
        yield* sync.awaitConnected

        const created = new Map<string, number>()
        let lagged = 0
        yield* Stream.runForEach(yield* events.subscribe, (d) =>
          Effect.sync(() => {
            if (d._tag === "Created") created.set(d.session.id, (created.get(d.session.id) ?? 0) + 1)
            if (d._tag === "Lagged") lagged += d.missed
          })).pipe(Effect.forkScoped)

        const before = (yield* client.list()).length
        const total = sessionCount
        let t = performance.now()
        const made = yield* Effect.forEach(range(total - before), (i) => Effect.map(other<Session>("POST", "/session", { title: `load ${i}` }), (s) => s.id), {
          concurrency: 16
        })
        console.info(`created ${made.length} sessions in ${((performance.now() - t) / 1000).toFixed(1)} s`)

        // Every creation reached the subscriber exactly once, through the stream.
        yield* eventually("every creation to reach the subscriber", () => made.every((id) => created.has(id)), 60)
        assert.strictEqual(lagged, 0)
        assert.isTrue(made.every((id) => created.get(id) === 1), "each session was announced once")

        // The server lists all of them; the cache (answered without HTTP) and the manager agree.
        t = performance.now()
        const truth = yield* client.list()
        const listMs = performance.now() - t
        assert.strictEqual(truth.length, total)
        assert.isTrue(yield* cache.coherent)
        assert.deepStrictEqual(fingerprint(yield* cache.list), fingerprint(truth))
        assert.deepStrictEqual(fingerprint(yield* sessions.list), fingerprint(truth))

        // A full reconcile of an unchanged server changes nothing and publishes nothing.
        const published = yield* events.published
        t = performance.now()
        yield* sync.reconcile
        console.info(`list of ${total}: ${listMs.toFixed(0)} ms; full reconcile: ${(performance.now() - t).toFixed(0)} ms`)
        assert.strictEqual(yield* events.published, published, "nothing changed, so nothing was published")

        // A reconcile takes a while with this many sessions (the list is megabytes). Changes another
        // client makes while one is in flight are not undone by its older snapshot.
        const raced = made[made.length - 1]! as SessionId
        for (let n = 0; n < 6; n++) {
          const fiber = yield* Effect.fork(sync.reconcile)
          // Not a synchronisation: the rename lands at a different point of each reconcile.
          yield* Effect.sleep(`${n * 60} millis`)
          yield* other("PATCH", `/session/${raced}`, { title: `raced ${n}` })
          yield* Fiber.join(fiber)
          yield* eventually("the rename's echo", () => Option.exists(cache.peek(raced), (s) => s.title === `raced ${n}`), 3)
          // Not a synchronisation: a quiet window in which a stale snapshot would show, if any.
          yield* Effect.sleep("300 millis")
          assert.strictEqual(Option.getOrThrow(cache.peek(raced)).title, `raced ${n}`, `round ${n}: the cache kept the newest title`)
        }

        // Another client renames 50 and deletes 50 of them: the cache follows, and still equals the
        // server, also after a full reconcile.
        yield* Effect.forEach(made.slice(0, 50), (id) => other("PATCH", `/session/${id}`, { title: `renamed ${id}` }), { concurrency: 8, discard: true })
        yield* Effect.forEach(made.slice(50, 100), (id) => other("DELETE", `/session/${id}`), { concurrency: 8, discard: true })
        yield* eventually("the renames and deletions to reach the cache", () =>
          made.slice(0, 50).every((id) =>
            Option.exists(cache.peek(id as SessionId), (s) => s.title === `renamed ${id}`)
          ) &&
          made.slice(50, 100).every((id) => cache.isDeleted(id)))
        const after = yield* client.list()
        assert.strictEqual(after.length, total - 50)
        assert.deepStrictEqual(fingerprint(yield* cache.list), fingerprint(after))
        yield* sync.reconcile
        assert.deepStrictEqual(fingerprint(yield* cache.list), fingerprint(after))
      }),
    { timeout: 120_000 + sessionCount * 40 }
  )
})
