import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as DbLock from "@plue/testing/DbLock"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import * as Plue from "./plue.js"

// The batch commands' options (--concurrency, --stop-on-error), `session share` with several ids,
// the --json shapes, and Ctrl-C during a batch: the built CLI as a real process against a real
// server (the test's own, or one the CLI starts in the same sandbox).
const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

/** The time one CLI run may take on a saturated machine; a test's timeout is its runs times this. */
const perRun = 30_000

const serverEnv = Effect.map(OpenCodeServer.OpenCodeServer, (server) => ({
  OPENCODE_URL: server.url,
  OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
}))

/** Runs the built CLI against the test server. */
const plue = (...args: Array<string>) => Effect.flatMap(serverEnv, (env) => Plue.run(args, env))

const missing = (i: number) => `ses_0000000000000missing${String(i).padStart(4, "0")}`

const makeSessions = (n: number, title: string) =>
  Effect.flatMap(
    OpenCodeClient.OpenCodeClient,
    (client) => Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.create({ title: `${title} ${i}` }), { concurrency: 4 })
  )

const exists = (id: string) => Effect.flatMap(OpenCodeClient.OpenCodeClient, (client) => Effect.map(Effect.either(client.get(id)), Either.isRight))

/** The processes mentioning `needle`, other than `keep`, once they had up to 30 s to go. */
const leftBehind = (needle: string, keep: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const others = () => Spawn.processesMentioning(needle).filter((pid) => !keep.includes(pid))
    yield* Effect.ignore(Wait.until(`the processes mentioning ${needle} to end`, () => others().length === 0, { timeout: "30 seconds" }))
    return others()
  })

/**
 * Ctrl-C in the middle of a batch, made certain: once `started` holds, the server's database is
 * write-locked (the next delete waits on it, so the batch cannot end by itself), the CLI gets
 * SIGINT, and the lock goes.
 */
const interruptWhen = <E, R>(child: Spawn.Child, started: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    yield* started
    const box = yield* TestServer.TestSandbox
    yield* Effect.scoped(Effect.gen(function*() {
      yield* DbLock.hold(DbLock.databaseOf(box), "60 seconds")
      yield* child.signal("SIGINT")
    }))
    return yield* child.result
  })

/** The lines of an interrupted `delete` of `ids`: those deleted first, then the cancelled ones, then the summary. */
const checkInterrupted = (stdout: string, ids: ReadonlyArray<string>) => {
  const lines = stdout.trimEnd().split("\n")
  assert.strictEqual(lines.length, ids.length + 1, stdout.slice(0, 2000))
  const deleted = lines.filter((l) => l.startsWith("deleted ses_")).length
  const cancelled = ids.length - deleted
  assert.isAbove(deleted, 0)
  assert.isAbove(cancelled, 0, "Ctrl-C came while items were still waiting")
  ids.forEach((id, i) => assert.strictEqual(lines[i], i < deleted ? `deleted ${id}` : `cancelled ${id}`))
  assert.strictEqual(lines[ids.length], `deleted ${deleted} of ${ids.length}; ${cancelled} cancelled`)
  return { deleted: ids.slice(0, deleted), kept: ids.slice(deleted) }
}

layer(Live, { timeout: 600_000, excludeTestServices: true })("batch commands against a real server", (it) => {
  it.effect(
    "--stop-on-error --concurrency 1: after the first failure the rest are skipped (stopped), in lines, summary and JSON",
    () =>
      Effect.gen(function*() {
        const [a, b, c] = yield* makeSessions(3, "cli stop")
        const ids = [a!.id, missing(1), b!.id, c!.id]
        const ran = yield* plue("session", "delete", ...ids, "--stop-on-error", "--concurrency", "1")
        assert.strictEqual(ran.code, 3, ran.stderr)
        const lines = ran.stdout.trimEnd().split("\n")
        assert.strictEqual(lines[0], `deleted ${a!.id}`)
        assert.match(lines[1]!, new RegExp(`^failed ${missing(1)}: Session ${missing(1)} not found`))
        assert.deepStrictEqual(lines.slice(2), [
          `skipped ${b!.id}: stopped`,
          `skipped ${c!.id}: stopped`,
          `deleted 1 of 4; 1 failed: ${missing(1)} (not found); 2 skipped`
        ])
        assert.isFalse(yield* exists(a!.id))
        assert.isTrue(yield* exists(b!.id), "a skipped item was not sent")
        assert.isTrue(yield* exists(c!.id))

        const json = yield* plue("session", "title", missing(2), b!.id, c!.id, "never set", "--stop-on-error", "--concurrency", "1", "--json")
        assert.strictEqual(json.code, 3, json.stderr)
        const results = JSON.parse(json.stdout) as Array<{ status: string; index: number; reason?: string }>
        assert.deepStrictEqual(results.map((r) => [r.index, r.status, r.reason]), [[0, "failed", undefined], [1, "skipped", "stopped"], [
          2,
          "skipped",
          "stopped"
        ]])
        const client = yield* OpenCodeClient.OpenCodeClient
        assert.strictEqual((yield* client.get(b!.id)).title, "cli stop 1")

        // --concurrency 1 alone: every item runs, one at a time.
        const one = yield* plue("session", "abort", b!.id, c!.id, "--concurrency", "1")
        assert.strictEqual(one.code, 0, one.stderr)
        assert.strictEqual(one.stdout, `aborted ${b!.id}\naborted ${c!.id}\naborted 2 of 2\n`)
      }),
    { timeout: 4 * perRun }
  )

  it.effect("--concurrency must be a positive whole number: 0, -1, x are usage errors (exit 2), nothing is sent", () =>
    Effect.gen(function*() {
      const [a] = yield* makeSessions(1, "cli concurrency")
      for (const value of ["0", "-1", "x", "1.5"]) {
        const ran = yield* plue("session", "delete", a!.id, missing(1), "--concurrency", value)
        assert.strictEqual(ran.code, 2, `${value}: ${ran.stderr}`)
        assert.match(ran.stderr, /^plue: --concurrency takes a (positive )?whole number/, value)
      }
      assert.isTrue(yield* exists(a!.id))
      // With one id the flags are accepted and change nothing: the one-id output.
      const single = yield* plue("session", "delete", a!.id, "--concurrency", "1", "--stop-on-error")
      assert.strictEqual(single.code, 0, single.stderr)
      assert.strictEqual(single.stdout, `deleted ${a!.id}\n`)
    }), { timeout: 6 * perRun })

  it.effect("--json: one id prints the object, several ids the results array, for title, abort, unshare and delete", () =>
    Effect.gen(function*() {
      const [a, b, c, d] = yield* makeSessions(4, "cli shapes")
      const object = (ran: Spawn.Result) => {
        assert.strictEqual(ran.code, 0, ran.stderr)
        const value = JSON.parse(ran.stdout) as Record<string, unknown>
        assert.isFalse(Array.isArray(value), ran.stdout)
        return value
      }
      const array = (ran: Spawn.Result) => {
        assert.strictEqual(ran.code, 0, ran.stderr)
        const value = JSON.parse(ran.stdout) as Array<{ status: string; index: number; op: { op: string; session: string } }>
        assert.isTrue(Array.isArray(value), ran.stdout)
        return value
      }
      assert.strictEqual(object(yield* plue("session", "title", a!.id, "one", "--json")).title, "one")
      const titled = array(yield* plue("session", "title", a!.id, b!.id, "two", "--json"))
      assert.deepStrictEqual(titled.map((r) => [r.status, r.index, r.op.op, r.op.session]), [["ok", 0, "title", a!.id], ["ok", 1, "title", b!.id]])
      assert.deepStrictEqual(object(yield* plue("session", "abort", a!.id, "--json")), { aborted: a!.id })
      assert.deepStrictEqual(array(yield* plue("session", "abort", a!.id, b!.id, "--json")).map((r) => r.op.op), ["abort", "abort"])
      assert.strictEqual(object(yield* plue("session", "unshare", a!.id, "--json")).id, a!.id)
      assert.deepStrictEqual(array(yield* plue("session", "unshare", a!.id, b!.id, "--json")).map((r) => r.op.op), ["unshare", "unshare"])
      assert.deepStrictEqual(object(yield* plue("session", "delete", a!.id, "--json")), { deleted: a!.id, children: 0 })
      const deleted = array(yield* plue("session", "delete", b!.id, c!.id, d!.id, "--json"))
      assert.deepStrictEqual(deleted.map((r) => [r.status, r.op.session]), [["ok", b!.id], ["ok", c!.id], ["ok", d!.id]])
    }), { timeout: 8 * perRun })

  it.scoped(
    "session share ID ID... (managed server, plue's share service): a line per item with URL, secret and expiry; --json the array",
    () =>
      Effect.gen(function*() {
        const box = yield* TestServer.TestSandbox
        const env = { ...box.env, HOME: box.home }
        const [a, b] = yield* makeSessions(2, "cli share several")
        const ran = yield* Plue.run(["session", "share", a!.id, missing(1), b!.id], env, "300 seconds", box.project)
        assert.strictEqual(ran.code, 3, ran.stderr)
        const lines = ran.stdout.trimEnd().split("\n")
        assert.strictEqual(lines.length, 4, ran.stdout)
        const shared = new RegExp(
          String.raw`^shared (ses_\w+) {2}(http://127\.0\.0\.1:\d+/share/\S+) {2}secret (\S{43}) {2}expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`
        )
        assert.match(lines[0]!, shared)
        assert.strictEqual(shared.exec(lines[0]!)![1], a!.id)
        assert.match(lines[1]!, new RegExp(`^failed ${missing(1)}: Session ${missing(1)} not found`))
        assert.strictEqual(shared.exec(lines[2]!)?.[1], b!.id, lines[2])
        assert.match(
          lines[3]!,
          new RegExp(`^shared 2 of 3; 1 failed: ${missing(1)} \\(not found\\) {2}\\(served by this command: the link stops working when it exits; `)
        )

        const json = yield* Plue.run(["session", "share", a!.id, b!.id, "--json"], env, "300 seconds", box.project)
        assert.strictEqual(json.code, 0, json.stderr)
        const results = JSON.parse(json.stdout) as Array<
          { status: string; op: { op: string }; session: { id: string }; share: { url: string; secret?: string; expiresAt?: number | null } }
        >
        assert.deepStrictEqual(results.map((r) => [r.status, r.op.op, r.session.id]), [["ok", "share", a!.id], ["ok", "share", b!.id]])
        for (const r of results) {
          assert.match(r.share.url, /^http:\/\/127\.0\.0\.1:\d+\/share\/[A-Za-z0-9_-]{22}$/)
          assert.isString(r.share.secret)
          assert.isNumber(r.share.expiresAt)
        }
        // One id keeps its object.
        const single = yield* Plue.run(["session", "share", a!.id, "--json"], env, "300 seconds", box.project)
        assert.strictEqual(single.code, 0, single.stderr)
        const value = JSON.parse(single.stdout) as { url: string; session: { id: string } }
        assert.isFalse(Array.isArray(value))
        assert.strictEqual(value.session.id, a!.id)
      }),
    { timeout: 4 * perRun + 120_000 }
  )

  it.scoped("Ctrl-C during 200 deletes at --concurrency 1: the lines of what was done, the rest cancelled, exit 130; --json too", () =>
    Effect.gen(function*() {
      const env = yield* serverEnv
      const ids = (yield* makeSessions(200, "cli interrupted")).map((s) => s.id)
      const child = yield* Plue.start(["session", "delete", ...ids, "--concurrency", "1"], env)
      const ran = yield* interruptWhen(child, child.waitFor("stdout", /^deleted ses_/m, { timeout: "3 minutes" }))
      assert.strictEqual(ran.code, 130, ran.stderr)
      const { deleted, kept } = checkInterrupted(ran.stdout, ids)
      for (const id of deleted) assert.isFalse(yield* exists(id), `${id} is gone`)
      for (const id of kept) assert.isTrue(yield* exists(id), `${id} (cancelled) is still there`)

      // --json: no line per item, so it waits for the first of them to be gone from the server.
      const jsonChild = yield* Plue.start(["session", "delete", ...kept, "--concurrency", "1", "--json"], env)
      const jsonRan = yield* interruptWhen(jsonChild, Wait.until("the first delete", Effect.map(exists(kept[0]!), (there) => !there), { timeout: "3 minutes" }))
      assert.strictEqual(jsonRan.code, 130, jsonRan.stderr)
      const results = JSON.parse(jsonRan.stdout) as Array<{ status: string; index: number; op: { session: string } }>
      assert.strictEqual(results.length, kept.length)
      const ok = results.filter((r) => r.status === "ok").length
      assert.isAbove(ok, 0)
      assert.isBelow(ok, kept.length)
      results.forEach((r, i) => {
        assert.strictEqual(r.index, i)
        assert.strictEqual(r.op.session, kept[i])
        assert.strictEqual(r.status, i < ok ? "ok" : "cancelled")
      })
    }), { timeout: 10 * perRun })

  it.scoped("Ctrl-C during a batch on a server the CLI started: everything printed, exit 130, no opencode left behind", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const own = yield* Effect.map(OpenCodeServer.OpenCodeServer, (server) => [server.pid])
      const ids = (yield* makeSessions(60, "cli interrupted managed")).map((s) => s.id)
      const child = yield* Plue.start(["session", "delete", ...ids, "--concurrency", "1"], { ...box.env, HOME: box.home }, box.project)
      // It starts a server of its own first: on a saturated machine that may take minutes.
      const ran = yield* interruptWhen(child, child.waitFor("stdout", /^deleted ses_/m, { timeout: "4 minutes" }))
      assert.strictEqual(ran.code, 130, ran.stderr)
      checkInterrupted(ran.stdout, ids)
      assert.deepStrictEqual(yield* leftBehind(box.home, own), [], "no opencode left behind")
    }), { timeout: 10 * perRun })
})
