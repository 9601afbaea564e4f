import { assert, layer } from "@effect/vitest"
import { OpenCodeConnection, OpenCodeServer, Outbox, Plue, SessionEvents, SessionManager, SessionSync } from "@plue/core"
import * as DbLock from "@plue/testing/DbLock"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Plue_ from "./plue.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

interface Item {
  readonly opId: string
  readonly sessionId: string
  readonly kind: string
  readonly state: string
  readonly title?: string
  readonly base?: string
  readonly remote?: string
}

/** The CLI through a proxy the test can cut, with an outbox of its own. */
const setup = Effect.gen(function*() {
  const server = yield* OpenCodeServer.OpenCodeServer
  const other = yield* OtherClient.make
  const proxy = yield* Proxy.start(server.url)
  const stateHome = mkdtempSync(join(tmpdir(), "plue-cli-queue-"))
  const env = { OPENCODE_SERVER_PASSWORD: Redacted.value(server.password), XDG_STATE_HOME: stateHome }
  const plue = (...args: Array<string>) => Plue_.run([...args, "--url", proxy.url], env)
  const listed = Effect.map(plue("outbox", "list", "--json"), (r) => JSON.parse(r.stdout) as Array<Item>)
  const title = (id: string) => Effect.map(other<{ title: string }>("GET", `/session/${id}`), (s) => s.title)
  return { server, other, proxy, stateHome, plue, listed, title }
})

const OP = "(op_[0-9a-f]{12}[0-9A-Za-z]{14})"

layer(Live, { timeout: 300_000, excludeTestServices: true })("plue --queue and plue outbox against a real server", (it) => {
  it.scoped(
    "title --queue and delete --queue with the server unreachable print the op id and exit 0; session get shows pending; the next plue process that connects applies them once",
    () =>
      Effect.gen(function*() {
        const { other, plue, proxy, listed, title } = yield* setup
        const a = yield* other<{ id: string }>("POST", "/session", { title: "cli a" })
        const b = yield* other<{ id: string }>("POST", "/session", { title: "cli b" })
        proxy.setMode("drop")

        const first = yield* plue("session", "title", "--queue", a.id, "renamed offline", "--json")
        assert.strictEqual(first.code, 0, first.stderr)
        const queued = JSON.parse(first.stdout) as { id: string; title: string; opId: string; pending: Array<unknown> }
        assert.match(queued.opId, new RegExp(`^${OP}$`))
        assert.deepStrictEqual(queued, {
          id: a.id,
          title: "renamed offline",
          opId: queued.opId,
          pending: [{ opId: queued.opId, kind: "title", field: "title", state: "pending" }]
        })
        const second = yield* plue("session", "title", "--queue", a.id, "renamed offline twice")
        assert.strictEqual(second.code, 0, second.stderr)
        const renamed = new RegExp(`^queued ${OP}  titled ${a.id}  renamed offline twice\\n$`).exec(second.stdout)
        assert.isNotNull(renamed, second.stdout)
        const deleting = yield* plue("session", "delete", "--queue", b.id)
        assert.strictEqual(deleting.code, 0, deleting.stderr)
        const deleted = new RegExp(`^queued ${OP}  deleted ${b.id}\\n$`).exec(deleting.stdout)
        assert.isNotNull(deleted, deleting.stdout)
        const made = yield* plue("session", "create", "--queue", "--title", "made offline", "--json")
        assert.strictEqual(made.code, 0, made.stderr)
        const c = JSON.parse(made.stdout) as { id: string; opId: string }

        // session get: the visible value and what waits for it, as a line and as JSON.
        const got = yield* plue("session", "get", c.id)
        assert.strictEqual(got.code, 0, got.stderr)
        assert.match(got.stdout, new RegExp(`\\npending +${c.opId} create\\n?`))
        const gotJson = yield* plue("session", "get", c.id, "--json")
        assert.strictEqual(gotJson.code, 0, gotJson.stderr)
        assert.deepInclude(JSON.parse(gotJson.stdout), {
          id: c.id,
          title: "made offline",
          pending: [{ opId: c.opId, kind: "create", field: "session", state: "pending" }]
        })
        // A session never seen here cannot be shown while the server is unreachable.
        assert.strictEqual((yield* plue("session", "get", a.id)).code, 5)

        // The second rename replaced the first: one operation, without a base (never seen).
        const items = yield* listed
        assert.deepStrictEqual(items.map((i) => [i.opId, i.sessionId, i.kind, i.state, i.title, i.base]), [
          [renamed![1], a.id, "title", "pending", "renamed offline twice", undefined],
          [deleted![1], b.id, "delete", "pending", undefined, undefined],
          [c.opId, c.id, "create", "pending", "made offline", undefined]
        ])
        const offline = yield* plue("outbox", "flush", "--json")
        assert.strictEqual(offline.code, 1)
        assert.deepStrictEqual((JSON.parse(offline.stdout) as Array<Item>).map((i) => i.opId), items.map((i) => i.opId))
        assert.strictEqual(yield* title(a.id), "cli a", "nothing reached the server")

        proxy.setMode("pass")
        // The next plue process that connects (here: session get) replays the outbox first.
        const next = yield* plue("session", "get", a.id, "--json")
        assert.strictEqual(next.code, 0, next.stderr)
        const shown = JSON.parse(next.stdout) as { title: string; pending?: unknown }
        assert.strictEqual(shown.title, "renamed offline twice")
        assert.isUndefined(shown.pending)
        assert.strictEqual(yield* title(a.id), "renamed offline twice")
        assert.strictEqual(yield* title(c.id), "made offline")
        const gone = yield* Effect.either(other("GET", `/session/${b.id}`))
        assert.isTrue(gone._tag === "Left", "b was deleted")
        assert.strictEqual(proxy.count(new RegExp(`^PATCH /session/${a.id}\\b`)), 1, "one rename sent")
        assert.strictEqual(proxy.count(new RegExp(`^DELETE /session/${b.id}\\b`)), 1, "one delete sent")
        const all = yield* other<Array<{ id: string }>>("GET", "/session?limit=10000")
        assert.strictEqual(all.filter((s) => s.id === c.id).length, 1)

        const flushed = yield* plue("outbox", "flush", "--json")
        assert.strictEqual(flushed.code, 0, flushed.stderr)
        assert.deepStrictEqual(JSON.parse(flushed.stdout), [])
        const empty = yield* plue("outbox", "list")
        assert.strictEqual(empty.stdout, "the outbox is empty\n")

        // Online, --queue applies at once and prints what the command prints without it.
        const online = yield* plue("session", "title", "--queue", a.id, "renamed online")
        assert.strictEqual(online.stdout, `titled ${a.id}  renamed online\n`)
        const removed = yield* plue("session", "delete", "--queue", c.id, "--json")
        assert.deepStrictEqual(JSON.parse(removed.stdout), { deleted: c.id, children: 0 })
        assert.isTrue((yield* Effect.either(other("GET", `/session/${c.id}`)))._tag === "Left")

        // Offline, deleting a session whose create is still queued sends nothing.
        proxy.setMode("drop")
        const local = JSON.parse((yield* plue("session", "create", "--queue", "--json")).stdout) as { id: string }
        const cancelled = yield* plue("session", "delete", "--queue", local.id)
        assert.strictEqual(cancelled.code, 0, cancelled.stderr)
        assert.strictEqual(cancelled.stdout, `deleted ${local.id} (its create was still queued: nothing was sent)\n`)
        assert.deepStrictEqual(yield* listed, [])
        // --queue takes one id.
        assert.strictEqual((yield* plue("session", "title", "--queue", a.id, c.id, "two")).code, 2)
        assert.strictEqual((yield* plue("session", "delete", "--queue", "--older-than", "1d")).code, 2)
      }),
    300_000
  )

  it.scoped("outbox resolve --remote, --text and --local, drop of a queued operation and of a dead letter, and their failures", () =>
    Effect.gen(function*() {
      const { other, plue, proxy, server, stateHome, listed, title } = yield* setup
      // Conflicts made by a bridge of this process over the same outbox (same URL, same state folder),
      // closed before the CLI runs.
      const sessions = ["one two three", "red green blue", "north south"]
      const ids = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(
          Plue.layer().pipe(
            Layer.provide(Outbox.layer({ stateHome })),
            Layer.provideMerge(OpenCodeConnection.layer({ url: proxy.url, password: server.password, heartbeatTimeout: "2 seconds", retries: 1 }))
          )
        )
        const manager = Context.get(context, SessionManager.SessionManager)
        const events = yield* Context.get(context, SessionEvents.SessionEvents).subscribe
        yield* Context.get(context, SessionSync.SessionSync).awaitConnected
        const handles = yield* Effect.forEach(sessions, (t) => manager.create({ title: t }))
        const ids = yield* Effect.forEach(handles, manager.sessionId)
        proxy.setMode("drop")
        yield* manager.updateTitle(handles[0]!, "one TWO three")
        yield* manager.updateTitle(handles[1]!, "red GREEN blue")
        yield* manager.updateTitle(handles[2]!, "NORTH south")
        yield* other("PATCH", `/session/${ids[0]}`, { title: "one tWo three" })
        yield* other("PATCH", `/session/${ids[1]}`, { title: "red gReEn blue" })
        yield* other("PATCH", `/session/${ids[2]}`, { title: "North south" })
        proxy.setMode("pass")
        yield* Stream.runDrain(Stream.take(Stream.filter(events, (e) => e._tag === "Conflict"), 3))
        return ids
      }))
      const items = yield* listed
      assert.deepStrictEqual(items.map((i) => [i.sessionId, i.kind, i.state]), ids.map((id) => [id, "title", "conflict"]))
      const [one, red, north] = items as [Item, Item, Item]
      assert.deepInclude(one, { base: "one two three", title: "one TWO three", remote: "one tWo three" })
      const text = yield* plue("outbox", "list")
      assert.include(text.stdout, `base "one two three", local "one TWO three", remote "one tWo three"`)
      const stuck = yield* plue("outbox", "flush")
      assert.strictEqual(stuck.code, 1)
      for (const item of items) assert.include(stuck.stderr, `plue: ${item.opId} (title of ${item.sessionId}) conflict: `)

      // Usage: exactly one choice.
      assert.strictEqual((yield* plue("outbox", "resolve", one.opId)).code, 2)
      assert.strictEqual((yield* plue("outbox", "resolve", one.opId, "--local", "--remote")).code, 2)
      // What is no conflict: exit 3.
      const unknown = yield* plue("outbox", "resolve", "op_nothing", "--local")
      assert.strictEqual(unknown.code, 3)
      assert.include(unknown.stderr, "op_nothing")

      const remote = yield* plue("outbox", "resolve", one.opId, "--remote")
      assert.strictEqual(remote.code, 0, remote.stderr)
      assert.strictEqual(remote.stdout, `resolved ${one.opId}\n`)
      assert.strictEqual(yield* title(one.sessionId), "one tWo three")
      const texted = yield* plue("outbox", "resolve", red.opId, "--text", "red, green and blue")
      assert.strictEqual(texted.stdout, `resolved ${red.opId}\n`)
      assert.strictEqual(yield* title(red.sessionId), "red, green and blue")
      assert.strictEqual((yield* plue("outbox", "resolve", red.opId, "--local")).code, 3, "resolved already")
      // The server moved on after the conflict: our title meets another one again.
      yield* other("PATCH", `/session/${north.sessionId}`, { title: "north SOUTH" })
      const again = yield* plue("outbox", "resolve", north.opId, "--local")
      assert.strictEqual(again.code, 0, again.stderr)
      assert.strictEqual(again.stdout, `resolved ${north.opId}; it is conflict again: base "North south", local "NORTH south", remote "north SOUTH"\n`)
      const local = yield* plue("outbox", "resolve", north.opId, "--local")
      assert.strictEqual(local.stdout, `resolved ${north.opId}\n`)
      assert.strictEqual(yield* title(north.sessionId), "NORTH south")

      // drop: a queued operation is removed and never sent.
      proxy.setMode("drop")
      const queued = yield* plue("session", "title", "--queue", red.sessionId, "never sent", "--json")
      const opId = (JSON.parse(queued.stdout) as { opId: string }).opId
      const dropped = yield* plue("outbox", "drop", opId)
      assert.strictEqual(dropped.code, 0, dropped.stderr)
      assert.strictEqual(dropped.stdout, `dropped ${opId}\n`)
      assert.deepStrictEqual(yield* listed, [])
      assert.strictEqual((yield* plue("outbox", "drop", opId)).code, 3, "dropped already")
      // A rename of a session another client deleted meanwhile is a dead letter; drop acknowledges it.
      const doomed = yield* plue("session", "title", "--queue", one.sessionId, "renamed in vain", "--json")
      const doomedOp = (JSON.parse(doomed.stdout) as { opId: string }).opId
      yield* other("DELETE", `/session/${one.sessionId}`)
      proxy.setMode("pass")
      const dead = yield* plue("outbox", "flush")
      assert.strictEqual(dead.code, 1)
      assert.match(dead.stderr, new RegExp(`plue: ${doomedOp} \\(title of ${one.sessionId}\\) dead: `))
      assert.deepStrictEqual((yield* listed).map((i) => [i.opId, i.state]), [[doomedOp, "dead"]])
      const acknowledged = yield* plue("outbox", "drop", doomedOp)
      assert.strictEqual(acknowledged.stdout, `dropped ${doomedOp}\n`)
      const clean = yield* plue("outbox", "flush")
      assert.strictEqual(clean.code, 0, clean.stderr)
      assert.strictEqual(clean.stdout, "everything applied\n")
      yield* Wait.until("nothing left", Effect.map(listed, (l) => l.length === 0))
    }), 300_000)

  it.scoped("a managed server's outbox is keyed by its directory: what one run without --url queued, the next run replays", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const other = yield* OtherClient.make
      // The managed servers share the test server's sandbox, hence its database.
      const env = { ...box.env, OPENCODE_STORAGE_RETRY_BUDGET: "0 seconds" }
      const folder = join(box.env.XDG_STATE_HOME!, "plue", "outbox", Outbox.key(`managed:${box.project}`, undefined))
      // While another process holds the database's write lock, the create answers a 500: queued.
      const made = yield* Effect.scoped(Effect.gen(function*() {
        yield* DbLock.hold(DbLock.databaseOf(box), "5 minutes")
        return yield* Plue_.run(["session", "create", "--queue", "--title", "queued against a managed server", "--json"], env, "300 seconds", box.project)
      }))
      assert.strictEqual(made.code, 0, made.stderr)
      const queued = JSON.parse(made.stdout) as { id: string; opId?: string }
      assert.match(queued.opId ?? "", new RegExp(`^${OP}$`), made.stdout)
      assert.deepStrictEqual(readdirSync(join(folder, "ops")), [`${queued.opId}.json`])

      // The next run, on a new server (a new port), finds it and applies it.
      const next = yield* Plue_.run(["outbox", "flush", "--json"], env, "300 seconds", box.project)
      assert.strictEqual(next.code, 0, next.stderr)
      assert.deepStrictEqual(JSON.parse(next.stdout), [])
      assert.deepStrictEqual(readdirSync(join(folder, "ops")), [])
      const all = yield* other<Array<{ id: string; title: string }>>("GET", "/session?limit=10000")
      assert.deepStrictEqual(all.filter((s) => s.id === queued.id).map((s) => s.title), ["queued against a managed server"])
      assert.isTrue(existsSync(folder))
    }), 600_000)
})
