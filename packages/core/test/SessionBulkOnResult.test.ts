import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Layer } from "effect"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as Plue from "../src/Plue.js"
import type * as SessionBulk from "../src/SessionBulk.js"
import { SessionManager } from "../src/SessionManager.js"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"

// `SessionManager.bulk(ops, { onResult })`: each result handed over as soon as it is known.
const Live = Plue.layer({ sync: { reconcileInterval: "1 hour" } }).pipe(
  Layer.provideMerge(TestServer.layer()),
  Layer.provideMerge(Platform.layer)
)

const missing = "ses_0000000000000missing0001"

layer(Live, { timeout: 120_000, excludeTestServices: true })("SessionManager.bulk onResult, against the real server", (it) => {
  it.effect("called once per operation with the very result the array holds; a duplicate's at the start", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const [a, b] = yield* Effect.all([client.create({ title: "onResult a" }), client.create({ title: "onResult b" })])
      const manager = yield* SessionManager
      const seen: Array<SessionBulk.Result> = []
      const results = yield* manager.bulk([
        { op: "title", session: a.id, title: "renamed" },
        { op: "title", session: a.id, title: "renamed" },
        { op: "delete", session: missing },
        { op: "title", session: b.id, title: "renamed too" }
      ], { concurrency: 1, onResult: (result) => seen.push(result) })
      assert.deepStrictEqual(results.map((r) => r.status), ["ok", "skipped", "failed", "ok"])
      assert.strictEqual(seen.length, 4)
      assert.strictEqual(seen[0]!.index, 1, "the duplicate is known before anything runs")
      assert.deepStrictEqual([...seen.map((r) => r.index)].sort(), [0, 1, 2, 3])
      for (const result of seen) assert.strictEqual(result, results[result.index], "the same object")
    }))

  it.effect("a cancelled batch reports every operation as cancelled through onResult too", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const a = yield* client.create({ title: "onResult cancelled" })
      const manager = yield* SessionManager
      const cancel = yield* Deferred.make<void>()
      yield* Deferred.succeed(cancel, undefined)
      const seen: Array<string> = []
      const results = yield* manager.bulk([{ op: "delete", session: a.id }, { op: "abort", session: a.id }], {
        cancel,
        onResult: (result) => seen.push(`${result.index}:${result.status}`)
      })
      assert.deepStrictEqual(results.map((r) => r.status), ["cancelled", "cancelled"])
      assert.deepStrictEqual(seen, ["0:cancelled", "1:cancelled"])
      assert.strictEqual((yield* client.get(a.id)).id, a.id, "nothing was sent")
    }))
})
