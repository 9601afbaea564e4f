import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream } from "effect"
import type { SessionId } from "../src/Identifier.js"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import type { Session } from "../src/OpenCodeSchema.js"
import * as SessionCache from "../src/SessionCache.js"
import * as SessionEvents from "../src/SessionEvents.js"

// The cache and PubSub on their own: the events come from `observe`, as the sync fiber feeds
// them; no request is made (a client that is never called stands in for the server).
const NoClient = Layer.succeed(
  OpenCodeClient.OpenCodeClient,
  new Proxy({}, {
    get: () => () => Effect.dieMessage("no HTTP in this test")
  }) as OpenCodeClient.Service
)

const session = (n: number, title: string): Session => ({
  id: `ses_burst${String(n).padStart(6, "0")}` as SessionId,
  slug: "s",
  projectID: "p",
  directory: "/",
  title,
  version: "1",
  time: { created: 1, updated: 1 }
})

describe("SessionEvents under a burst", () => {
  it.live("1,000+ events a second reach a subscriber in order; a slow one keeps only the newest (bounded) and is told what it missed", () =>
    Effect.gen(function*() {
      const events = yield* SessionEvents.make({ capacity: 256 })
      const cache = yield* SessionCache.make().pipe(
        Effect.provideService(SessionEvents.SessionEvents, events),
        Effect.provide(NoClient)
      )
      const fast = yield* events.subscribe
      const slow = yield* events.subscribe
      const total = 20_000
      const seen = yield* fast.pipe(Stream.take(total), Stream.runCollect, Effect.fork)

      const started = Date.now()
      // 20 sessions, 1,000 title changes each, interleaved, in bursts of 100 with a yield between.
      for (let i = 0; i < total; i++) {
        yield* cache.observe(session(i % 20, `title ${Math.floor(i / 20)}`), "remote")
        if (i % 100 === 99) yield* Effect.yieldNow()
      }
      const delivered = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout("20 seconds")))
      const rate = total / Math.max(0.001, (Date.now() - started) / 1000)
      assert.isAbove(rate, 1000, `${rate.toFixed(0)} events/s`)

      // In order, per session and overall: Created then Updated 1..999 for each.
      assert.strictEqual(delivered.length, total)
      const last = new Map<string, number>()
      for (const event of delivered) {
        assert.notStrictEqual(event._tag, "Lagged", "a subscriber that keeps up is never told it lagged")
        if (event._tag !== "Created" && event._tag !== "Updated") continue
        const n = Number(event.session.title.split(" ")[1])
        assert.strictEqual(n, (last.get(event.session.id) ?? -1) + 1, `order for ${event.session.id}`)
        last.set(event.session.id, n)
      }

      // The slow subscriber never read: the sliding buffer kept only the newest 256 events for it
      // (memory bounded by the capacity, whatever the burst), and it learns exactly what it missed.
      const got = Chunk.toReadonlyArray(yield* slow.pipe(Stream.take(257), Stream.runCollect))
      assert.strictEqual(got[0]!._tag, "Lagged")
      if (got[0]!._tag === "Lagged") assert.strictEqual(got[0]!.missed, total - 256)
      assert.strictEqual(got.length, 257, "then the 256 newest events")
      const lastEvent = got[got.length - 1]!
      assert.isTrue(lastEvent._tag === "Updated" && lastEvent.session.title === "title 999")
    }).pipe(Effect.scoped))
})
