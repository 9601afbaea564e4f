import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Fiber, Schedule, TestClock } from "effect"
import type { IncomingMessage, Server } from "node:http"
import { makeRetryTokens, storageSchedule, transientSchedule } from "../src/internal/retry.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as Loopback from "@plue/testing/Loopback"

// The retry schedules and the per-connection retry budget on the TestClock; then which calls are
// retried on OpenCode's storage error, against a loopback server that answers it on demand (the
// real server's locked database is in StorageRetry.test.ts).

/** Runs a schedule's driver to its end on the TestClock: each wait, and the time it ended. */
const drive = (schedule: Schedule.Schedule<unknown, unknown>) =>
  Effect.gen(function*() {
    const driver = yield* Schedule.driver(schedule)
    const steps: Array<{ readonly at: number; readonly wait: number }> = []
    const fiber = yield* Effect.fork(Effect.gen(function*() {
      for (;;) {
        const before = yield* TestClock.currentTimeMillis
        const done = yield* Effect.either(driver.next(undefined))
        if (Either.isLeft(done)) return
        const at = yield* TestClock.currentTimeMillis
        steps.push({ at, wait: at - before })
      }
    }))
    yield* TestClock.adjust("10 minutes")
    yield* Fiber.join(fiber)
    return steps
  })

describe("retry schedules and budget (TestClock)", () => {
  it.effect("storage retries: waits start at the delay, double, are capped and jittered; none ends past the deadline", () =>
    Effect.gen(function*() {
      const steps = yield* drive(storageSchedule(
        { storageRetryDelay: Duration.millis(500), storageRetryMaxDelay: Duration.seconds(4) },
        15_000
      ))
      assert.isAtLeast(steps.length, 4)
      steps.forEach(({ wait }, n) => {
        const nominal = Math.min(500 * 2 ** n, 4000)
        assert.isAtLeast(wait, Math.floor(nominal * 0.8), `wait ${n}`)
        assert.isAtMost(wait, Math.ceil(nominal * 1.2), `wait ${n}`)
      })
      for (const { at } of steps) assert.isAtMost(at, 15_000, "no wait ends past the deadline")
      // The schedule ended because the next wait would cross the deadline: that wait is jittered
      // (0.8x to 1.2x), so only its longest possible value is sure to cross.
      assert.isAbove(steps[steps.length - 1]!.at + 1.2 * Math.min(500 * 2 ** steps.length, 4000), 15_000)
    }))

  it.effect("a deadline already past allows no retry", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(20_000)
      const steps = yield* drive(storageSchedule({ storageRetryDelay: Duration.millis(500), storageRetryMaxDelay: Duration.seconds(4) }, 15_000))
      assert.strictEqual(steps.length, 0)
    }))

  it.effect("connection retries: `retries` of them, from 40 ms, doubling, at most about 1 s apart", () =>
    Effect.gen(function*() {
      const steps = yield* drive(transientSchedule(6))
      assert.strictEqual(steps.length, 6)
      steps.forEach(({ wait }, n) => {
        const nominal = Math.min(40 * 2 ** n, 1000)
        assert.isAtLeast(wait, Math.floor(nominal * 0.8), `wait ${n}`)
        assert.isAtMost(wait, Math.ceil(nominal * 1.2), `wait ${n}`)
      })
      assert.strictEqual((yield* drive(transientSchedule(0))).length, 0)
    }))

  it.effect("the retry budget: a full bucket empties, then gives one token back per refill period, up to its capacity", () =>
    Effect.gen(function*() {
      const tokens = makeRetryTokens(3, Duration.seconds(1))
      const takes = [yield* tokens.take, yield* tokens.take, yield* tokens.take, yield* tokens.take]
      assert.deepStrictEqual(takes, [true, true, true, false])
      yield* TestClock.adjust("500 millis")
      assert.isFalse(yield* tokens.take, "half a token is no token")
      yield* TestClock.adjust("500 millis")
      assert.isTrue(yield* tokens.take)
      assert.isFalse(yield* tokens.take)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* tokens.available, 3, "never more than the capacity")
      yield* tokens.take
      yield* tokens.giveBack
      assert.strictEqual(yield* tokens.available, 3)
      const none = makeRetryTokens(0, Duration.seconds(1))
      assert.isFalse(yield* none.take)
    }))
})

describe("retry settings", () => {
  it.effect("defaults, options and configuration", () =>
    Effect.gen(function*() {
      const plain = OpenCodeConnection.make({ url: "http://127.0.0.1:1" })
      assert.strictEqual(Duration.toMillis(plain.storageRetryBudget), 15_000)
      assert.strictEqual(Duration.toMillis(plain.storageRetryDelay), 500)
      assert.strictEqual(Duration.toMillis(plain.storageRetryMaxDelay), 4_000)
      assert.strictEqual(plain.retryTokens, 20)
      assert.strictEqual(Duration.toMillis(plain.retryTokenRefill), 1_000)
      const given = OpenCodeConnection.make({ url: "http://127.0.0.1:1", storageRetryBudget: "8 seconds", retryTokens: 5 })
      assert.strictEqual(Duration.toMillis(given.storageRetryBudget), 8_000)
      assert.strictEqual(given.retryTokens, 5)

      const env = new Map(Object.entries({
        OPENCODE_URL: "http://127.0.0.1:4096",
        OPENCODE_RETRIES: "1",
        OPENCODE_STORAGE_RETRY_BUDGET: "30 seconds",
        OPENCODE_STORAGE_RETRY_DELAY: "250 millis",
        OPENCODE_STORAGE_RETRY_MAX_DELAY: "2 seconds",
        OPENCODE_RETRY_TOKENS: "7",
        OPENCODE_RETRY_TOKEN_REFILL: "2 seconds"
      }))
      const settings = yield* Effect.provide(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.layerConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(env))
      )
      assert.strictEqual(settings.retries, 1)
      assert.strictEqual(Duration.toMillis(settings.storageRetryBudget), 30_000)
      assert.strictEqual(Duration.toMillis(settings.storageRetryDelay), 250)
      assert.strictEqual(Duration.toMillis(settings.storageRetryMaxDelay), 2_000)
      assert.strictEqual(settings.retryTokens, 7)
      assert.strictEqual(Duration.toMillis(settings.retryTokenRefill), 2_000)

      const bad = yield* Effect.either(
        Effect.provide(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.layerConfig).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENCODE_URL", "http://x:1"], ["OPENCODE_RETRY_TOKENS", "-1"]])))
        )
      )
      assert.isTrue(Either.isLeft(bad))
      if (Either.isLeft(bad)) assert.include(String(bad.left), "OPENCODE_RETRY_TOKENS")
    }))
})

// --- against a loopback server answering OpenCode's storage error ---

interface Stub {
  readonly url: string
  /** `METHOD /path` of every request received. */
  readonly seen: Array<string>
}

const storageError = { name: "UnknownError", data: { message: "Unexpected server error. Check server logs for details.", ref: "err_1" } }
const session = { id: "ses_abc", slug: "s", projectID: "p", directory: "/", title: "t", version: "1", time: { created: 1, updated: 2 } }

/** A loopback server: `answer(request, how many times this METHOD /path was seen before)`. */
const stub = (answer: (req: IncomingMessage, before: number) => readonly [number, unknown]) => {
  const seen: Array<string> = []
  return Effect.map(
    Loopback.serve((req, res) => {
      const key = `${req.method} ${new URL(req.url ?? "/", "http://x").pathname}`
      const before = seen.filter((s) => s === key).length
      seen.push(key)
      req.resume()
      req.on("end", () => {
        const [status, body] = answer(req, before)
        res.writeHead(status, { "content-type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body))
      })
    }),
    ({ server, url }): Stub & { readonly server: Server } => ({ url, seen, server })
  )
}

const clientFor = Loopback.client

/** Short waits, so that the loopback tests run in moments. */
const fast = { storageRetryDelay: "10 millis", storageRetryMaxDelay: "40 millis", storageRetryBudget: "3 seconds" } as const

const count = (seen: ReadonlyArray<string>, key: string) => seen.filter((s) => s === key).length

describe("which calls are retried on OpenCode's storage error", () => {
  it.live("idempotent calls are retried until the answer changes; a plain create, init, share and prompt are sent once", () =>
    Effect.gen(function*() {
      // Every route answers the storage error twice, then succeeds.
      const server = yield* stub((req, before) => {
        if (before < 2) return [500, storageError]
        const path = new URL(req.url ?? "/", "http://x").pathname
        if (req.method === "GET" && path === "/session") return [200, [session]]
        if (path === "/session/status") return [200, {}]
        if (path.endsWith("/abort") || path.endsWith("/init")) return [200, true]
        if (path.endsWith("/children")) return [200, []]
        if (path.endsWith("/prompt_async")) return [204, undefined]
        return [200, session]
      })
      const client = yield* clientFor(server.url, fast)
      yield* client.get("ses_abc")
      yield* client.list()
      yield* client.update("ses_abc", { title: "x" })
      yield* client.abort("ses_abc")
      yield* client.unshare("ses_abc")
      yield* client.children("ses_abc")
      yield* client.status
      for (
        const key of [
          "GET /session/ses_abc",
          "GET /session",
          "PATCH /session/ses_abc",
          "POST /session/ses_abc/abort",
          "DELETE /session/ses_abc/share",
          "GET /session/ses_abc/children",
          "GET /session/status"
        ]
      ) {
        assert.strictEqual(count(server.seen, key), 3, `${key}: two storage errors, then success`)
      }

      const create = yield* Effect.flip(client.create({ title: "once" }))
      assert.strictEqual(create._tag, "ServerError")
      if (create._tag === "ServerError") {
        assert.strictEqual(create.status, 500)
        assert.isUndefined(create.attempts, "sent once")
      }
      yield* Effect.flip(client.init("ses_abc", { providerID: "p", modelID: "m" }))
      yield* Effect.flip(client.share("ses_abc"))
      yield* Effect.flip(client.promptAsync("ses_abc", { text: "hi" }))
      for (const key of ["POST /session", "POST /session/ses_abc/init", "POST /session/ses_abc/share", "POST /session/ses_abc/prompt_async"]) {
        assert.strictEqual(count(server.seen, key), 1, `${key} is never repeated`)
      }
    }).pipe(Effect.scoped))

  it.live("a delete is retried on the storage error only; a 404 on a retry means it is done, a 404 at once is SessionNotFound", () =>
    Effect.gen(function*() {
      const server = yield* stub((req, before) => {
        const path = new URL(req.url ?? "/", "http://x").pathname
        if (path === "/session/ses_gone") return [404, { name: "NotFoundError" }]
        if (path === "/session/ses_busy") return before === 0 ? [503, "upstream"] : [200, true]
        return before === 0 ? [500, storageError] : [404, { name: "NotFoundError", data: { message: "Session not found" } }]
      })
      const client = yield* clientFor(server.url, fast)
      assert.isTrue(yield* client.delete("ses_abc"), "an earlier attempt deleted it")
      assert.strictEqual(count(server.seen, "DELETE /session/ses_abc"), 2)
      const gone = yield* Effect.flip(client.delete("ses_gone"))
      assert.strictEqual(gone._tag, "SessionNotFound")
      const busy = yield* Effect.flip(client.delete("ses_busy"))
      assert.strictEqual(busy._tag, "ServerError")
      assert.strictEqual(count(server.seen, "DELETE /session/ses_busy"), 1, "a 503 on a delete is not retried")
    }).pipe(Effect.scoped))

  it.live("a storage error that lasts fails at the budget, saying how often it was sent; a 500 of another kind is not retried", () =>
    Effect.gen(function*() {
      const server = yield* stub((req) => req.url?.startsWith("/session/ses_other") ? [500, { name: "SomethingElse" }] : [500, storageError])
      const client = yield* clientFor(server.url, { ...fast, storageRetryBudget: "500 millis" })
      const started = Date.now()
      const error = yield* Effect.flip(client.update("ses_abc", { title: "x" }))
      const elapsed = Date.now() - started
      assert.strictEqual(error._tag, "ServerError")
      const sent = count(server.seen, "PATCH /session/ses_abc")
      assert.isAtLeast(sent, 3)
      if (error._tag === "ServerError") {
        assert.strictEqual(error.attempts, sent)
        assert.include(error.message, `sent ${sent} times`)
        assert.include(error.message, "database is locked")
      }
      assert.isAtLeast(elapsed, 400, "retried for about the budget")
      yield* Effect.flip(client.get("ses_other"))
      assert.strictEqual(count(server.seen, "GET /session/ses_other"), 1)
      const none = yield* clientFor(server.url, { ...fast, storageRetryBudget: 0 })
      yield* Effect.flip(none.get("ses_zero"))
      assert.strictEqual(count(server.seen, "GET /session/ses_zero"), 1, "a zero budget turns storage retries off")
    }).pipe(Effect.scoped))

  it.live("the connection's retry budget: once its tokens are spent, a server that keeps failing gets one request per call", () =>
    Effect.gen(function*() {
      const server = yield* stub(() => [500, storageError])
      const client = yield* clientFor(server.url, { ...fast, retryTokens: 4, retryTokenRefill: "1 hour" })
      yield* Effect.flip(client.get("ses_a"))
      assert.strictEqual(count(server.seen, "GET /session/ses_a"), 5, "one try and the 4 tokens")
      for (const id of ["ses_b", "ses_c", "ses_d"]) {
        const error = yield* Effect.flip(client.get(id))
        assert.strictEqual(error._tag, "ServerError")
        assert.strictEqual(count(server.seen, `GET /session/${id}`), 1, `${id}: no token left, no retry`)
      }
      const other = yield* clientFor(server.url, { ...fast, retryTokens: 0 })
      yield* Effect.flip(other.get("ses_e"))
      assert.strictEqual(count(server.seen, "GET /session/ses_e"), 1, "no tokens: no retries")
    }).pipe(Effect.scoped))

  it.effect("the whole retry loop runs on Effect's Clock: under the TestClock, a lasting storage error ends within the 15 s budget of virtual time", () =>
    Effect.gen(function*() {
      const server = yield* stub(() => [500, storageError])
      const client = yield* clientFor(server.url)
      const fiber = yield* Effect.fork(Effect.flip(client.get("ses_a")))
      // Virtual time moves in 100 ms steps; between steps the loopback answers in real time.
      const realPause = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      for (let step = 0; step < 1000 && fiber.unsafePoll() === null; step++) {
        yield* TestClock.adjust("100 millis")
        yield* realPause
      }
      const error = yield* Fiber.join(fiber)
      const virtual = yield* TestClock.currentTimeMillis
      const sent = count(server.seen, "GET /session/ses_a")
      assert.strictEqual(error._tag, "ServerError")
      if (error._tag === "ServerError") assert.strictEqual(error.attempts, sent)
      // Waits of about 0.5, 1, 2, 4, 4 s: the sixth attempt starts near 11.5 s, a seventh would not end its wait by 15 s.
      assert.isAtLeast(sent, 5)
      assert.isAtMost(sent, 7)
      assert.isAtMost(virtual, 15_000 + 200, "no attempt after the budget (to within a step)")
    }).pipe(Effect.scoped))

  it.live("retries after a 503 draw on the same bucket", () =>
    Effect.gen(function*() {
      const server = yield* stub(() => [503, "upstream"])
      const client = yield* clientFor(server.url, { retries: 3, retryTokens: 2, retryTokenRefill: "1 hour" })
      yield* Effect.flip(client.get("ses_a"))
      assert.strictEqual(count(server.seen, "GET /session/ses_a"), 3, "one try and the 2 tokens (not the 3 retries)")
      yield* Effect.flip(client.get("ses_b"))
      assert.strictEqual(count(server.seen, "GET /session/ses_b"), 1)
    }).pipe(Effect.scoped))
})
