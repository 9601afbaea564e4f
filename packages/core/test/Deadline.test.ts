import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, TestClock } from "effect"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import * as Loopback from "@plue/testing/Loopback"
import * as Wait from "@plue/testing/Wait"

// The per-attempt deadline (`requestTimeout`) runs on Effect's Clock: on the default clock as
// that clock's own timer, under any other clock (the TestClock here) as a sleep on it.

const session = { id: "ses_abc", slug: "s", projectID: "p", directory: "/", title: "t", version: "1", time: { created: 1, updated: 1 } }

/** A client over plue's own HttpClient, as the bench and the CLI use it. */
const clientFor = (url: string, options: Partial<OpenCodeConnection.Options>) =>
  Layer.build(Layer.mergeAll(OpenCodeConnection.layer({ url, retries: 0, ...options }), UndiciHttpClient.layer)).pipe(
    Effect.flatMap((context) => Effect.provide(OpenCodeClient.make, context))
  )

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length

describe("request deadline", () => {
  it.live("on the default clock: a silent server is Unreachable (timeout) in time; answered and interrupted calls leave no timer behind", () =>
    Effect.gen(function*() {
      let silent = true
      const { url } = yield* Loopback.serve((_req, res) => {
        if (!silent) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(session))
      })
      const short = yield* clientFor(url, { requestTimeout: "300 millis" })
      const [elapsed, error] = yield* Effect.timed(Effect.flip(short.get("ses_abc")))
      assert.strictEqual(error._tag, "Unreachable")
      if (error._tag === "Unreachable") {
        assert.strictEqual(error.reason, "timeout")
        assert.include(error.detail, "no complete answer within")
      }
      assert.isAtLeast(Duration.toMillis(elapsed), 250)

      // An hour-long deadline: its timer must go with the call, answered or interrupted.
      const long = yield* clientFor(url, { requestTimeout: "1 hour" })
      silent = false
      yield* long.get("ses_abc")
      const before = timers()
      for (let i = 0; i < 20; i++) assert.strictEqual((yield* long.get("ses_abc")).title, "t")
      assert.isAtMost(timers(), before, "no deadline timer outlives its answered call")
      silent = true
      const fiber = yield* Effect.fork(long.get("ses_abc"))
      yield* Wait.until("the call to be in flight", () => timers() > before)
      yield* Fiber.interrupt(fiber)
      yield* Wait.until("the interrupted call's timer to go", () => timers() <= before)
    }).pipe(Effect.scoped))

  it.effect("under the TestClock: the deadline waits for virtual time, then fails the call as a timeout", () =>
    Effect.gen(function*() {
      const { url } = yield* Loopback.serve(() => undefined) // accepts, never answers
      const client = yield* clientFor(url, { requestTimeout: "10 seconds" })
      const fiber = yield* Effect.fork(Effect.flip(client.get("ses_abc")))
      yield* TestClock.adjust("9 seconds")
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None", "not before the deadline on the TestClock")
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "Unreachable")
      if (error._tag === "Unreachable") assert.strictEqual(error.reason, "timeout")
    }).pipe(Effect.scoped))
})
