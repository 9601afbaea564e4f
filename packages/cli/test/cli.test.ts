import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

/**
 * The time one CLI run may take: a cold start of node and the CLI costs well under a second on a
 * quiet machine and several seconds on a saturated one. A test's timeout is its number of runs
 * times this.
 */
const perRun = 30_000

/** Starts the built CLI; the test's scope ends it if it is still running then. */
const start = (args: ReadonlyArray<string>, env: Record<string, string>, cwd?: string) =>
  Spawn.spawn(process.execPath, [BIN, ...args], { env, cwd: cwd ?? process.cwd() })

/** Runs the built CLI to its end with `env`. */
const finish = (args: ReadonlyArray<string>, env: Record<string, string>) => Spawn.run(process.execPath, [BIN, ...args], { env })

/** Runs the built CLI against the test server. */
const plue = (...args: Array<string>) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const env = { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
    return yield* finish(args, env)
  })

const processesMentioning = Spawn.processesMentioning

/** The processes mentioning `needle`, other than `keep`, once they had up to 30 s to go. */
const leftBehind = (needle: string, keep: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const others = () => processesMentioning(needle).filter((pid) => !keep.includes(pid))
    yield* Effect.ignore(Wait.until(`the processes mentioning ${needle} to end`, () => others().length === 0, { timeout: "30 seconds" }))
    return others()
  })

layer(Live, { timeout: 180_000, excludeTestServices: true })("the plue CLI against a real server", (it) => {
  it.effect("create, title and get, for people and as JSON", () =>
    Effect.gen(function*() {
      const created = yield* plue("session", "create", "--title", "cli parent", "--json")
      assert.strictEqual(created.code, 0, created.stderr)
      const parent = JSON.parse(created.stdout) as { id: string; title: string }
      assert.strictEqual(parent.title, "cli parent")

      const child = yield* plue("session", "create", "--parent", parent.id, "--title", "cli child")
      assert.strictEqual(child.code, 0, child.stderr)
      assert.match(child.stdout, /^created ses_\w+ {2}cli child\n$/)

      const titled = yield* plue("session", "title", parent.id, "Grüße 日本 🚀")
      assert.strictEqual(titled.code, 0)
      assert.include(titled.stdout, "Grüße 日本 🚀")

      const got = yield* plue("session", "get", parent.id)
      assert.match(got.stdout, /title +Grüße 日本 🚀/)
      const gotJson = JSON.parse((yield* plue("session", "get", parent.id, "--json")).stdout)
      assert.strictEqual(gotJson.id, parent.id)
    }), { timeout: 5 * perRun })

  it.effect("list for people (aligned, also with wide characters) and --roots as JSON", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const parent = yield* client.create({ title: "Grüße 日本 🚀" })
      yield* client.create({ parentID: parent.id, title: "a child" })
      const listed = yield* plue("session", "list")
      assert.strictEqual(listed.code, 0)
      const lines = listed.stdout.trim().split("\n")
      assert.match(lines[0]!, /^ID +TITLE +UPDATED +PARENT +SHARED$/)
      assert.isTrue(lines.some((l) => l.startsWith(parent.id) && l.includes("Grüße 日本 🚀")))
      // Columns stay aligned with wide characters: UPDATED starts at the same column on every row.
      const column = (line: string) => line.search(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/)
      const rows = lines.slice(1, -1)
      const widths = new Set(rows.map((l) => {
        const at = column(l)
        return [...l.slice(0, at)].reduce((w, ch) => w + (/[\u3000-\u9fff\u{1F300}-\u{1FAFF}]/u.test(ch) ? 2 : 1), 0)
      }))
      assert.strictEqual(widths.size, 1, listed.stdout)
      const roots = JSON.parse((yield* plue("session", "list", "--roots", "--json")).stdout) as Array<{ id: string; parentID?: string }>
      assert.isTrue(roots.some((s) => s.id === parent.id))
      assert.isTrue(roots.every((s) => s.parentID === undefined))
    }), { timeout: 2 * perRun })

  it.effect("abort, share, unshare and delete", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const parent = yield* client.create({ title: "cli parent" })
      yield* client.create({ parentID: parent.id, title: "cli child" })
      const aborted = yield* plue("session", "abort", parent.id, "--json")
      assert.deepStrictEqual(JSON.parse(aborted.stdout), { aborted: parent.id })

      // No share service here: the server fails, and the CLI says so with exit 1.
      const shared = yield* plue("session", "share", parent.id)
      assert.strictEqual(shared.code, 1)
      assert.match(shared.stderr, /^plue: .*share.*500/m)
      const unshared = yield* plue("session", "unshare", parent.id)
      assert.strictEqual(unshared.code, 0)
      assert.strictEqual(unshared.stdout, `unshared ${parent.id}\n`)

      const deleted = yield* plue("session", "delete", parent.id)
      assert.strictEqual(deleted.code, 0, deleted.stderr)
      assert.strictEqual(deleted.stdout, `deleted ${parent.id} and 1 child session\n`)
      const after = yield* plue("session", "get", parent.id)
      assert.strictEqual(after.code, 3)
    }), { timeout: 5 * perRun })

  it.effect("list shows every one of 300 sessions", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      yield* Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (i) => client.create({ title: `bulk ${i}` }), { concurrency: 16 })
      const all = yield* client.list()
      const listed = yield* plue("session", "list", "--json")
      assert.strictEqual((JSON.parse(listed.stdout) as Array<unknown>).length, all.length)
      const text = yield* plue("session", "list")
      assert.include(text.stdout, `${all.length} sessions\n`)
    }), { timeout: 60_000 + 2 * perRun })

  it.effect("--directory lists the sessions another client made while working in that directory", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const elsewhere = mkdtempSync(join(box.root, "elsewhere-"))
      const made = yield* plue("session", "create", "--directory", elsewhere, "--title", "over there", "--json")
      assert.strictEqual(made.code, 0, made.stderr)
      const id = (JSON.parse(made.stdout) as { id: string; directory: string }).id
      const there = yield* plue("session", "list", "--directory", elsewhere, "--json")
      assert.deepStrictEqual((JSON.parse(there.stdout) as Array<{ id: string }>).map((s) => s.id), [id])
      const here = yield* plue("session", "list", "--json")
      assert.isFalse((JSON.parse(here.stdout) as Array<{ id: string }>).some((s) => s.id === id))
      const got = yield* plue("session", "get", id)
      assert.strictEqual(got.code, 0, "a session is read by id whatever its directory")
    }), { timeout: 4 * perRun })

  it.effect("control characters in titles never reach the terminal raw", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "evil\u001b[2J\u0007title\nnext\u202e" })
      const got = yield* plue("session", "get", session.id)
      assert.notInclude(got.stdout, "\u001b")
      assert.notInclude(got.stdout, "\u0007")
      assert.notInclude(got.stdout, "\u202e")
      assert.include(got.stdout, "evil\\u001b[2J\\u0007title\\u000anext\\u202e")
      const json = yield* plue("session", "get", session.id, "--json")
      assert.strictEqual(JSON.parse(json.stdout).title, "evil\u001b[2J\u0007title\nnext\u202e", "JSON keeps the real title, escaped")
    }), { timeout: 2 * perRun })

  it.effect("errors: one line, documented exit codes, bad ids never reach the server", () =>
    Effect.gen(function*() {
      const bad = yield* plue("session", "get", "../config")
      assert.strictEqual(bad.code, 2)
      assert.strictEqual(bad.stderr.trim().split("\n").length, 1)
      assert.match(bad.stderr, /Invalid session id/)
      const badParent = yield* plue("session", "create", "--parent", "ses_x/../../auth")
      assert.strictEqual(badParent.code, 2)

      const missing = yield* plue("session", "get", "ses_doesnotexist0000000000")
      assert.strictEqual(missing.code, 3)
      assert.match(missing.stderr, /^plue: Session ses_doesnotexist0000000000 not found/)

      const usage = yield* plue("session", "frobnicate")
      assert.strictEqual(usage.code, 2)
    }), { timeout: 4 * perRun })

  it.effect("errors: a refused password, an unreachable server; --version and --help", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const unauthorized = yield* finish(["session", "list"], { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: "wrong" })
      assert.strictEqual(unauthorized.code, 4)
      assert.match(unauthorized.stderr, /password/)

      const unreachable = yield* finish(["session", "list", "--url", "http://127.0.0.1:9"], {})
      assert.strictEqual(unreachable.code, 5)
      assert.strictEqual(unreachable.stderr.trim().split("\n").length, 1)

      const version = yield* plue("--version")
      assert.match(version.stdout, /0\.1\.0/)
      const help = yield* plue("session", "list", "--help")
      assert.include(help.stdout, "plue session list --roots --json")
    }), { timeout: 4 * perRun })

  it.scoped("watch --json sees a change made by another client; Ctrl-C ends it", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "watched" })
      const child = yield* start(["watch", "--json"], {
        OPENCODE_URL: server.url,
        OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
      })
      // After the snapshot (taken at connect), the change can only arrive as an event. The
      // snapshot is one long line (hundreds of sessions by now): the patterns are anchored to a
      // line start, since an unanchored `.*X` costs time quadratic in the line's length at every
      // check (minutes on a loaded machine, and a check is not interruptible by its ceiling).
      yield* child.waitFor("stdout", /^\{"_tag":"Snapshot".*\n/m, { timeout: "3 minutes" })
      yield* OtherClient.request("PATCH", `/session/${session.id}`, { title: "watched elsewhere" })
      const event = JSON.parse(yield* child.waitFor("stdout", /^.*"watched elsewhere".*$/m, { timeout: "3 minutes" }))
      assert.strictEqual(event._tag, "Updated")
      assert.strictEqual(event.session.id, session.id)
      assert.strictEqual(event.origin, "remote")
      yield* child.signal("SIGINT")
      const result = yield* child.result
      assert.strictEqual(result.code, 130)
    }), { timeout: 2 * perRun + 6 * 60_000 })

  it.scoped("Ctrl-C while the managed server starts, and during watch on it, leaves no process behind", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const env = { ...box.env, HOME: `${box.home}` }
      // The test's own server is the only one that may mention the sandbox.
      const own = yield* Effect.map(OpenCodeServer.OpenCodeServer, (server) => [server.pid])
      // During start-up: once the CLI has started its server process (it mentions the sandbox too).
      const before = processesMentioning(box.home)
      const early = yield* start(["session", "list"], env, box.project)
      yield* Wait.until("the CLI's own OpenCode process", () => processesMentioning(box.home).some((pid) => pid !== early.pid && !before.includes(pid)))
      yield* early.signal("SIGINT")
      const earlyResult = yield* early.result
      assert.strictEqual(earlyResult.code, 130, earlyResult.stderr)
      assert.deepStrictEqual(yield* leftBehind(box.home, own), [], "no opencode left after Ctrl-C during start-up")
      const watcher = yield* start(["watch"], env, box.project)
      // It starts a server of its own first: on a saturated machine that may take minutes.
      yield* watcher.waitFor("stderr", /connected/, { timeout: "3 minutes" })
      assert.isAbove(processesMentioning(box.home).length, own.length, "the watch started its own server")
      yield* watcher.signal("SIGINT")
      const result = yield* watcher.result
      assert.strictEqual(result.code, 130)
      assert.deepStrictEqual(yield* leftBehind(box.home, own), [], "no opencode left behind")
    }), { timeout: 2 * perRun + 5 * 60_000 })
})
