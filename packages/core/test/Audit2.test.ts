// What a new user met trying docs/bridge.md ("Batches") and docs/offline.md against the real
// server: each test here failed before the fix it names.
import { FileSystem } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { Context, Effect, Either, Layer, Stream } from "effect"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import { SessionNotFound } from "../src/OpenCodeError.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import * as SessionBulk from "../src/SessionBulk.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"

describe("SessionBulk.parseBatch and encode, as C and the CLI use them", () => {
  it("a batch nested thousands of levels deep is an InvalidBatch, never a thrown stack overflow", () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000)
    const parsed = SessionBulk.parseBatch(deep)
    assert.isTrue(Either.isLeft(parsed))
    if (Either.isLeft(parsed)) {
      assert.strictEqual(parsed.left._tag, "InvalidBatch")
      assert.match(parsed.left.message, /nested too deeply/)
    }
  })

  it("an InvalidBatch names where the batch is wrong, in a few words", () => {
    const detail = (json: string) => {
      const parsed = SessionBulk.parseBatch(json)
      assert.isTrue(Either.isLeft(parsed), json)
      return Either.isLeft(parsed) ? parsed.left.detail : ""
    }
    assert.match(detail(`{"operations":[],"concurrency":0}`), /^concurrency: .*1, actual 0$/)
    assert.match(detail(`{"operations":[{"op":"create","titl":"x"}]}`), /^operations\[0\]\.titl: is unexpected/)
    assert.match(detail(`[{"op":"delete","session":"ses_a","extra":1}]`), /^\[0\]\.extra: is unexpected/)
    assert.match(detail(`[{"op":"title","session":"ses_a"}]`), /^\[0\]\.title: is missing$/)
    assert.match(detail(`[{"op":"title","session":"ses_a","title":3}]`), /^\[0\]\.title: Expected string, actual 3$/)
    assert.match(detail(`[{"op":"rename","session":"ses_a"}]`), /^\[0\]\.op: unknown op, actual "rename"$/)
    assert.match(detail(`{"operations":[],"stopOnError":"yes"}`), /^stopOnError: Expected boolean/)
    assert.match(detail(`"x"`), /^the batch: not an array of operations/)
    assert.match(detail(`not json`), /^not JSON/)
    for (const json of [`{}`, `[null]`, `{"operations":[],"foo":1}`]) assert.isBelow(detail(json).length, 120, json)
  })

  it("a failed result's error is its tag and fields: no JavaScript stack", () => {
    const error = new SessionNotFound({ sessionId: "ses_x", request: { method: "GET", url: "http://h/session/ses_x" } })
    const [encoded] = SessionBulk.encode([{ status: "failed", index: 0, op: { op: "delete", session: "ses_x" }, error, message: error.message }])
    const shown = JSON.parse(JSON.stringify(encoded)) as { error: Record<string, unknown> }
    assert.deepStrictEqual(shown.error, { _tag: "SessionNotFound", sessionId: "ses_x", request: { method: "GET", url: "http://h/session/ses_x" } })
  })
})

const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

/** A bridge with the outbox on, through a proxy the test can cut; its events recorded. */
const offlineCapable = Effect.gen(function*() {
  const server = yield* OpenCodeServer.OpenCodeServer
  const fs = yield* FileSystem.FileSystem
  const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-audit2-" })
  const proxy = yield* Proxy.start(server.url)
  const context = yield* Layer.build(
    Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
      Layer.provide(Outbox.layer({ stateHome })),
      Layer.provideMerge(OpenCodeConnection.layer({
        url: proxy.url,
        password: server.password,
        requestTimeout: "10 seconds",
        heartbeatTimeout: "2 seconds",
        retries: 2
      }))
    )
  )
  const sessions = Context.get(context, SessionManager)
  const seen: Array<Delivery> = []
  yield* Effect.forkScoped(Stream.runForEach(yield* Context.get(context, SessionEvents).subscribe, (e) => Effect.sync(() => void seen.push(e))))
  yield* Context.get(context, SessionSync).awaitConnected
  return { sessions, proxy, seen }
})

const serverTitle = (id: string) => Effect.map(OtherClient.request<{ title: string }>("GET", `/session/${id}`), (s) => s.title)

layer(Live, { timeout: 240_000, excludeTestServices: true })("the outbox as a new user meets it", (it) => {
  it.scoped("a session created offline without a title, then renamed offline: the rename is applied, no Conflict", () =>
    Effect.gen(function*() {
      const { proxy, seen, sessions } = yield* offlineCapable
      proxy.setMode("drop")
      const born = yield* sessions.create({})
      const bornId = yield* sessions.sessionId(born)
      yield* sessions.updateTitle(born, "named offline")
      assert.strictEqual((yield* sessions.info(born)).title, "named offline")
      proxy.setMode("pass")
      yield* Wait.until("the outbox to be empty", Effect.map(sessions.outbox.list, (items) => items.length === 0))
      // Before the fix the rename's base was the placeholder's made-up title, which the server
      // never had: a Conflict with nobody else writing, and the rename waited for the host.
      assert.isFalse(seen.some((e) => e._tag === "Conflict"), JSON.stringify(seen.filter((e) => e._tag === "Conflict")))
      assert.isTrue(seen.some((e) => e._tag === "Confirmed" && e.sessionId === bornId && e.kind === "title"))
      assert.strictEqual(yield* serverTitle(bornId), "named offline")
    }), 120_000)

  it.scoped("an offline call's Progress reports its own retries, not those of other sessions' replays", () =>
    Effect.gen(function*() {
      const { proxy, seen, sessions } = yield* offlineCapable
      const kept = yield* sessions.create({ title: "kept" })
      const keptId = yield* sessions.sessionId(kept)
      proxy.setMode("drop")
      const born = yield* sessions.create({ title: "born offline" })
      const bornId = yield* sessions.sessionId(born)
      // Queued behind nothing of its own session, this rename wakes the replay of `born` too.
      yield* sessions.updateTitle(kept, "kept, renamed offline")
      const progress = seen.flatMap((e) => (e._tag === "Progress" && e.kind === "title" && e.sessionId === keptId ? [e] : []))
      const retries = progress.filter((e) => e.phase === "retrying")
      assert.isAbove(retries.length, 0, JSON.stringify(progress))
      for (const retry of retries) {
        assert.include(retry.reason ?? "", keptId, `a retry of the rename of ${keptId} is about it: ${retry.reason}`)
        assert.notInclude(retry.reason ?? "", "/api/session", `the replay of ${bornId}'s create is not the rename's`)
      }
      assert.deepStrictEqual(retries.map((e) => e.attempt), retries.map((_, i) => i + 1))
      proxy.setMode("pass")
      yield* Wait.until("the outbox to be empty", Effect.map(sessions.outbox.list, (items) => items.length === 0))
      assert.strictEqual(yield* serverTitle(keptId), "kept, renamed offline")
    }), 120_000)
})
