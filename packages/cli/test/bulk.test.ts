import { OpenCodeClient, OpenCodeError, OpenCodeServer } from "@plue/core"
import type { OpenCodeSchema, SessionBulk } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { fileURLToPath } from "node:url"
import { exitCode, parseDuration, selectSessions, summary } from "../src/commands/bulk.js"

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

/** Runs the built CLI against the test server. */
const plue = (...args: Array<string>) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const env = { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
    return yield* Spawn.run(process.execPath, [BIN, ...args], { env })
  })

/**
 * The time one CLI run may take on a saturated machine (several seconds each); a test's timeout
 * is its number of runs times this.
 */
const perRun = 30_000

const missing = (i: number) => `ses_0000000000000missing${String(i).padStart(4, "0")}`

const makeSessions = (n: number, title: string) =>
  Effect.flatMap(
    OpenCodeClient.OpenCodeClient,
    (client) => Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.create({ title: `${title} ${i}` }), { concurrency: 4 })
  )

const exists = (id: string) => Effect.flatMap(OpenCodeClient.OpenCodeClient, (client) => Effect.map(Effect.either(client.get(id)), Either.isRight))

layer(Live, { timeout: 240_000, excludeTestServices: true })("plue session with several sessions, against a real server", (it) => {
  it.effect("delete ID...: every 7th id does not exist; a line each, the summary, exit 3; the rest are gone", () =>
    Effect.gen(function*() {
      const made = yield* makeSessions(12, "cli bulk")
      let next = 0
      const ids = Array.from({ length: 14 }, (_, i) => (i % 7 === 6 ? missing(i) : made[next++]!.id))
      const ran = yield* plue("session", "delete", ...ids)
      assert.strictEqual(ran.code, 3, ran.stderr)
      const lines = ran.stdout.trimEnd().split("\n")
      assert.strictEqual(lines.length, 15, ran.stdout)
      ids.forEach((id, i) => {
        if (i % 7 === 6) assert.match(lines[i]!, new RegExp(`^failed ${id}: Session ${id} not found`))
        else assert.strictEqual(lines[i], `deleted ${id}`)
      })
      assert.strictEqual(lines[14], `deleted 12 of 14; 2 failed: ${missing(6)} (not found), ${missing(13)} (not found)`)
      for (const s of made) assert.isFalse(yield* exists(s.id), `${s.id} is gone`)
    }), { timeout: 2 * perRun })

  it.effect("title ID... TEXT --json: the results array; a missing id fails its item only", () =>
    Effect.gen(function*() {
      const [a, b] = yield* makeSessions(2, "cli retitle")
      const ran = yield* plue("session", "title", a!.id, missing(1), b!.id, "renamed together", "--json")
      assert.strictEqual(ran.code, 3, ran.stderr)
      const results = JSON.parse(ran.stdout) as Array<{ status: string; index: number; session?: { title: string }; error?: { _tag: string } }>
      assert.deepStrictEqual(results.map((r) => r.status), ["ok", "failed", "ok"])
      assert.strictEqual(results[0]!.session!.title, "renamed together")
      assert.strictEqual(results[1]!.error!._tag, "SessionNotFound")
      const client = yield* OpenCodeClient.OpenCodeClient
      assert.strictEqual((yield* client.get(b!.id)).title, "renamed together")
    }), { timeout: 2 * perRun })

  it.effect("abort and unshare with several ids: exit 0 and the summary; a repeated id is skipped", () =>
    Effect.gen(function*() {
      const [a, b] = yield* makeSessions(2, "cli abort")
      const aborted = yield* plue("session", "abort", a!.id, b!.id)
      assert.strictEqual(aborted.code, 0, aborted.stderr)
      assert.strictEqual(aborted.stdout, `aborted ${a!.id}\naborted ${b!.id}\naborted 2 of 2\n`)
      const unshared = yield* plue("session", "unshare", a!.id, b!.id, a!.id)
      assert.strictEqual(unshared.code, 0, unshared.stderr)
      // The repeated id repeats the previous operation on its session: skipped, not sent again.
      assert.strictEqual(unshared.stdout, `unshared ${a!.id}\nunshared ${b!.id}\nskipped ${a!.id}: the same as item 1\nunshared 2 of 3; 1 skipped\n`)
    }), { timeout: 3 * perRun })

  it.effect("delete --title-matching: --dry-run deletes nothing; then exactly the matching sessions go, a child with its parent", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const scratch = yield* makeSessions(3, "Scratch Pad")
      const child = yield* client.create({ parentID: scratch[0]!.id, title: "scratch pad child" })
      const keep = yield* client.create({ title: "keep me" })
      const dry = yield* plue("session", "delete", "--title-matching", "scratch pad", "--dry-run")
      assert.strictEqual(dry.code, 0, dry.stderr)
      const lines = dry.stdout.trimEnd().split("\n")
      assert.strictEqual(lines.at(-1), "would delete 3 sessions (dry run: nothing was deleted)")
      for (const s of scratch) assert.include(dry.stdout, `would delete ${s.id}  ${s.title}`)
      assert.notInclude(dry.stdout, child.id, "the child goes with its parent: not listed on its own")
      for (const s of [...scratch, child]) assert.isTrue(yield* exists(s.id))
      const dryJson = yield* plue("session", "delete", "--title-matching", "scratch pad", "--dry-run", "-j")
      assert.deepStrictEqual((JSON.parse(dryJson.stdout) as Array<{ id: string }>).map((s) => s.id).sort(), scratch.map((s) => s.id).sort())

      const ran = yield* plue("session", "delete", "--title-matching", "scratch pad", "--json")
      assert.strictEqual(ran.code, 0, ran.stderr)
      const results = JSON.parse(ran.stdout) as Array<{ status: string; deleted?: number; session: { id: string } }>
      assert.deepStrictEqual(results.map((r) => r.status), ["ok", "ok", "ok"])
      assert.strictEqual(results.find((r) => r.session.id === scratch[0]!.id)!.deleted, 2)
      for (const s of [...scratch, child]) assert.isFalse(yield* exists(s.id), `${s.id} is gone`)
      assert.isTrue(yield* exists(keep.id))

      // Nothing here is an hour old: the selection is empty, and nothing goes.
      const old = yield* plue("session", "delete", "--older-than", "1h")
      assert.strictEqual(old.code, 0, old.stderr)
      assert.strictEqual(old.stdout, "deleted 0 of 0\n")
      assert.isTrue(yield* exists(keep.id))
    }), { timeout: 5 * perRun })

  it.effect("usage: no ids nor selection, ids and a selection, a bad duration, an empty title text, a bad id among several", () =>
    Effect.gen(function*() {
      const none = yield* plue("session", "delete")
      assert.strictEqual(none.code, 2)
      assert.match(none.stderr, /^plue: missing ID/)
      const both = yield* plue("session", "delete", missing(1), "--title-matching", "x")
      assert.strictEqual(both.code, 2)
      assert.match(both.stderr, /not both/)
      const duration = yield* plue("session", "delete", "--older-than", "soon")
      assert.strictEqual(duration.code, 2)
      assert.match(duration.stderr, /is not a duration/)
      // Empty text would select every session (an unset variable in a script): refused, nothing sent.
      for (const text of ["", "  "]) {
        const empty = yield* plue("session", "delete", "--title-matching", text)
        assert.strictEqual(empty.code, 2, empty.stderr)
        assert.match(empty.stderr, /^plue: --title-matching: the text is empty, which would select every session/)
      }
      const badId = yield* plue("session", "title", missing(1), "../config", "x")
      assert.strictEqual(badId.code, 2)
      assert.match(badId.stderr, /Invalid session id/)
    }), { timeout: 5 * perRun })
})

describe("the pieces of the batch commands", () => {
  const session = (id: string, title: string, updated: number, parentID?: string) =>
    ({ id, title, time: { created: updated, updated }, ...(parentID ? { parentID } : {}) }) as unknown as OpenCodeSchema.Session
  const op = { op: "delete", session: "ses_a" } as const
  const request = { method: "DELETE", url: "/session/ses_a" }

  it("the exit code is the worst failure's; none failed is 0", () => {
    const notFound: SessionBulk.Result = {
      status: "failed",
      index: 0,
      op,
      error: new OpenCodeError.SessionNotFound({ sessionId: "ses_a", request }),
      message: ""
    }
    const unreachable: SessionBulk.Result = {
      status: "failed",
      index: 1,
      op,
      error: new OpenCodeError.Unreachable({ request, reason: "refused", detail: "" }),
      message: ""
    }
    const skipped: SessionBulk.Result = { status: "skipped", index: 2, op, reason: "duplicate", duplicateOf: 0 }
    assert.strictEqual(exitCode([notFound, skipped]), 3)
    assert.strictEqual(exitCode([notFound, unreachable]), 5)
    assert.strictEqual(exitCode([skipped]), 0)
    assert.strictEqual(summary("delete", [notFound, unreachable, skipped]), "deleted 0 of 3; 2 failed: ses_a (not found), ses_a (unreachable); 1 skipped")
  })

  it("durations: 30s, 15m, 12h, 7d, 2w and Effect's own; anything else is none", () => {
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(parseDuration("7d"))), 7 * 86_400_000)
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(parseDuration("2w"))), 14 * 86_400_000)
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(parseDuration("90s"))), 90_000)
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(parseDuration("2 hours"))), 7_200_000)
    assert.isTrue(Option.isNone(parseDuration("soon")))
    assert.isTrue(Option.isNone(parseDuration("7x")))
  })

  it("--older-than selects by last update; both filters must match; a selected parent takes its children", () => {
    const now = 10 * 86_400_000
    const all = [
      session("ses_old", "old scratch", now - 8 * 86_400_000),
      session("ses_oldchild", "old scratch child", now - 9 * 86_400_000, "ses_old"),
      session("ses_new", "new scratch", now - 1000),
      session("ses_oldkeep", "keep", now - 30 * 86_400_000)
    ]
    const pick = (olderThan: string | undefined, title: string | undefined) =>
      selectSessions(all, {
        olderThan: olderThan === undefined ? Option.none() : parseDuration(olderThan),
        titleMatching: Option.fromNullable(title),
        now
      }).map((s) => s.id)
    assert.deepStrictEqual(pick("7d", undefined), ["ses_old", "ses_oldkeep"])
    assert.deepStrictEqual(pick("7d", "SCRATCH"), ["ses_old"])
    assert.deepStrictEqual(pick(undefined, "scratch"), ["ses_old", "ses_new"])
    assert.deepStrictEqual(pick("60d", undefined), [])
  })
})
