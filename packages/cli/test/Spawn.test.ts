import { assert, describe, it } from "@effect/vitest"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as Wait from "@plue/testing/Wait"
import { Effect, Exit, TestClock } from "effect"

// The test harness itself: every process a test starts ends with the test's scope, also when the
// test fails or runs out of time; waits are for conditions, on the live clock.

/** Pids of the children the tests below started, to look for them after those tests ended. */
const started: Array<number> = []

/** A shell that ignores SIGTERM and has a child of its own (the `sleep`), in one process group. */
const stubborn = (marker: string) =>
  Effect.gen(function*() {
    const child = yield* Spawn.spawn("sh", ["-c", `trap '' TERM; echo ready ${marker}; sleep 600 & wait`], { grace: "500 millis" })
    yield* child.waitFor("stdout", /ready/)
    started.push(child.pid)
    return child
  })

describe("scoped children", () => {
  it.live("a failure inside a child's scope ends the child and what it started, SIGTERM ignored or not", () =>
    Effect.gen(function*() {
      let pid = 0
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        pid = (yield* stubborn("failure")).pid
        assert.isTrue(Spawn.alive(pid))
        return yield* Effect.fail("on purpose")
      })))
      assert.isTrue(Exit.isFailure(exit), "the scope failed on purpose")
      assert.isFalse(Spawn.alive(pid), "the child was gone by the time its scope had closed")
      assert.deepStrictEqual(Spawn.processesMentioning(`ready failure`), [], "its own child went with it")
    }).pipe(Effect.provide(Platform.layer)))

  it.live.fails("a test that fails on purpose with a child running (expected to fail)", () =>
    Effect.gen(function*() {
      yield* stubborn("assert")
      assert.fail("on purpose")
    }).pipe(Effect.scoped, Effect.provide(Platform.layer)))

  it.live.fails("a test that runs out of time with a child running (expected to time out)", () =>
    Effect.gen(function*() {
      yield* stubborn("timeout")
      return yield* Effect.never
    }).pipe(Effect.scoped, Effect.provide(Platform.layer)), 3_000)

  it.live("the children of the three tests above are gone", () =>
    Effect.gen(function*() {
      assert.strictEqual(started.length, 3, "all three children had started")
      for (const pid of started) yield* Spawn.gone(pid, { timeout: "10 seconds" })
      assert.deepStrictEqual(Spawn.processesMentioning("ready "), [])
    }))

  it.live("run returns the exit code and the output", () =>
    Effect.gen(function*() {
      const result = yield* Spawn.run("sh", ["-c", "echo out; echo err >&2; exit 3"])
      assert.deepStrictEqual(result, { code: 3, stdout: "out\n", stderr: "err\n" })
    }).pipe(Effect.provide(Platform.layer)))

  it.live("waiting for output of a child that ends without it fails at once, quoting what it printed", () =>
    Effect.gen(function*() {
      const child = yield* Spawn.spawn("sh", ["-c", "echo nothing to see"])
      const error = yield* Effect.flip(child.waitFor("stdout", /never printed/))
      assert.strictEqual(error._tag, "ChildEnded")
      assert.include(error.message, "nothing to see")
    }).pipe(Effect.scoped, Effect.provide(Platform.layer)))
})

describe("Wait.until", () => {
  it.effect("polls on the live clock, also under the TestClock, and names what it waited for", () =>
    Effect.gen(function*() {
      const until = Date.now() + 100
      yield* Wait.until("100 ms to pass", () => Date.now() >= until)
      const error = yield* Effect.flip(Wait.until("something that never happens", () => false, { timeout: "200 millis" }))
      assert.strictEqual(error._tag, "WaitTimeout")
      assert.include(error.message, "something that never happens")
      // The condition itself sees the test's clock.
      yield* TestClock.adjust("1 hour")
      yield* Wait.until("the TestClock to read one hour", Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (t) => t >= 3_600_000))
    }))
})
