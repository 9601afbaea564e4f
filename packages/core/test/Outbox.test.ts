import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import { fileURLToPath } from "node:url"
import * as Spawn from "@plue/testing/Spawn"
import { FileSystem } from "@effect/platform"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import { type Delivery, SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

/** A bridge with the outbox on, through a proxy the test can cut; its events recorded. */
const offlineCapable = (options: { readonly policy?: Outbox.Policy } = {}) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const fs = yield* FileSystem.FileSystem
    const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-" })
    const proxy = yield* Proxy.start(server.url)
    const context = yield* Layer.build(
      Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
        Layer.provide(Outbox.layer({ stateHome, ...options })),
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
    return { sessions, proxy, seen, stateHome, sync: Context.get(context, SessionSync) }
  })

const other = <A = any>(method: string, path: string, body?: unknown) => OtherClient.request<A>(method, path, body)
const serverTitle = (id: string) => Effect.map(other<{ title: string }>("GET", `/session/${id}`), (s) => s.title)
const serverIds = Effect.map(other<Array<{ id: string }>>("GET", "/session?limit=10000"), (all) => all.map((s) => s.id))

const offline = (proxy: Proxy.Proxy) => Effect.sync(() => proxy.setMode("drop"))
const online = (proxy: Proxy.Proxy) => Effect.sync(() => proxy.setMode("pass"))

const CHILD = fileURLToPath(new URL("./fixtures/outbox-child.mjs", import.meta.url))

/** What a plue child process needs to use the outbox through `proxy`. */
const childEnv = (proxy: Proxy.Proxy, stateHome: string) =>
  Effect.map(OpenCodeServer.OpenCodeServer, (server) => ({
    OPENCODE_URL: proxy.url,
    OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
    OPENCODE_HEARTBEAT_TIMEOUT: "2 seconds",
    OPENCODE_REQUEST_TIMEOUT: "60 seconds",
    PLUE_OUTBOX: "1",
    XDG_STATE_HOME: stateHome
  }))

const replayIn = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const child = yield* Spawn.spawn(process.execPath, [CHILD, "replay"], { env })
    const result = yield* child.result
    assert.strictEqual(result.code, 0, result.stderr)
    return result.stdout
  })

const drained = (sessions: SessionManager["Type"]) => Wait.until("the outbox to be empty", Effect.map(sessions.outbox.list, (items) => items.length === 0))

layer(Live, { timeout: 240_000, excludeTestServices: true })("the outbox against a real server", (it) => {
  it.scoped("offline writes are visible at once, durable, and applied exactly once, in order, when the server is back", () =>
    Effect.gen(function*() {
      const { proxy, seen, sessions, stateHome } = yield* offlineCapable()
      const kept = yield* sessions.create({ title: "kept" })
      const keptId = yield* sessions.sessionId(kept)
      const doomed = yield* sessions.create({ title: "doomed" })
      const doomedId = yield* sessions.sessionId(doomed)
      const before = (yield* serverIds).length

      yield* offline(proxy)
      const born = yield* sessions.create({ title: "born offline" })
      const bornId = yield* sessions.sessionId(born)
      assert.match(bornId, /^ses_[0-9a-f]{12}[0-9A-Za-z]{14}$/)
      yield* sessions.updateTitle(born, "born offline, renamed")
      yield* sessions.updateTitle(kept, "kept 1")
      yield* sessions.updateTitle(kept, "kept 2")
      yield* sessions.delete(doomed)

      // Visible here at once, with what waits.
      const info = yield* sessions.info(born)
      assert.strictEqual(info.title, "born offline, renamed")
      assert.deepStrictEqual(info.pending?.map((p) => p.kind), ["create", "title"])
      assert.strictEqual((yield* sessions.info(kept)).title, "kept 2")
      assert.isFalse((yield* sessions.list).some((s) => s.id === doomedId))
      assert.isTrue((yield* sessions.list).some((s) => s.id === bornId))
      // Two renames of one session are one operation, over the first one's base.
      const items = yield* sessions.outbox.list
      const renames = items.filter((i) => i.sessionId === keptId)
      assert.deepStrictEqual(renames.map((i) => [i.kind, i.title, i.base]), [["title", "kept 2", "kept"]])
      assert.isTrue(seen.some((e) => e._tag === "Queued" && e.sessionId === keptId && e.replaces !== undefined))
      // On disk: one file per operation.
      const fs = yield* FileSystem.FileSystem
      const [folder] = yield* fs.readDirectory(`${stateHome}/plue/outbox`)
      assert.strictEqual((yield* fs.readDirectory(`${stateHome}/plue/outbox/${folder}/ops`)).length, items.length)
      // Nothing reached the server.
      assert.strictEqual(yield* serverTitle(keptId), "kept")
      assert.isFalse((yield* serverIds).includes(bornId))

      yield* online(proxy)
      yield* drained(sessions)
      const ids = yield* serverIds
      assert.strictEqual(ids.filter((id) => id === bornId).length, 1)
      assert.isFalse(ids.includes(doomedId))
      assert.strictEqual(ids.length, before) // one born, one deleted
      assert.strictEqual(yield* serverTitle(bornId), "born offline, renamed")
      assert.strictEqual(yield* serverTitle(keptId), "kept 2")
      for (const kind of ["create", "title", "delete"]) {
        assert.isTrue(seen.some((e) => e._tag === "Confirmed" && e.kind === kind), `a ${kind} was confirmed`)
      }
      assert.isUndefined((yield* sessions.info(born)).pending)
    }), 120_000)

  it.scoped("online, a rename is queued, sent and confirmed: one Updated, no second one for the server's echo", () =>
    Effect.gen(function*() {
      const { seen, sessions } = yield* offlineCapable()
      const handle = yield* sessions.create({ title: "echo" })
      const id = yield* sessions.sessionId(handle)
      const from = seen.length
      const result = yield* sessions.updateTitle(handle, "echo, renamed")
      assert.strictEqual(result.title, "echo, renamed")
      assert.strictEqual(yield* serverTitle(id), "echo, renamed")
      yield* Wait.until("the confirmation", () => seen.slice(from).some((e) => e._tag === "Confirmed"))
      // A quiet moment in which a second Updated (the server's echo) would show.
      yield* Effect.sleep("1 second")
      // Progress events (queued, sending, done of the rename) say what the operation does, not
      // what changed: left out here.
      const mine = seen.slice(from).filter((e) =>
        e._tag !== "Progress" && (("sessionId" in e && e.sessionId === id) || ("session" in e && e.session?.id === id))
      )
      assert.deepStrictEqual(mine.map((e) => e._tag), ["Queued", "Updated", "Confirmed"])
    }), 120_000)

  it.scoped("a delete of a session whose create is still queued sends nothing", () =>
    Effect.gen(function*() {
      const { proxy, seen, sessions } = yield* offlineCapable()
      yield* offline(proxy)
      const handle = yield* sessions.create({ title: "never sent" })
      const id = yield* sessions.sessionId(handle)
      yield* sessions.updateTitle(handle, "never sent either")
      yield* sessions.delete(handle)
      assert.deepStrictEqual(yield* sessions.outbox.list, [])
      assert.strictEqual(seen.filter((e) => e._tag === "Cancelled" && e.sessionId === id).length, 2)
      yield* online(proxy)
      yield* sessions.outbox.flush
      assert.isFalse((yield* serverIds).includes(id))
      assert.strictEqual(proxy.count(/^POST \/api\/session/), 0)
    }), 120_000)

  it.scoped("an answer lost after the server applied a create makes no second session", () =>
    Effect.gen(function*() {
      const { proxy, sessions } = yield* offlineCapable()
      const before = (yield* serverIds).length
      proxy.dropNextAnswer(/^POST \/api\/session/)
      const handle = yield* sessions.create({ title: "once" })
      const id = yield* sessions.sessionId(handle)
      yield* drained(sessions)
      assert.isAtLeast(proxy.count(/^POST \/api\/session\b/), 2, "the create was sent again after its answer was lost")
      const ids = yield* serverIds
      assert.strictEqual(ids.length, before + 1)
      assert.strictEqual(ids.filter((x) => x === id).length, 1)
      assert.strictEqual(yield* serverTitle(id), "once")
    }), 120_000)

  it.scoped("a title edited on both sides: a clean word merge is sent; a real conflict waits for the host", () =>
    Effect.gen(function*() {
      const { proxy, seen, sessions } = yield* offlineCapable()
      const a = yield* sessions.create({ title: "fix the login bug" })
      const aId = yield* sessions.sessionId(a)
      const b = yield* sessions.create({ title: "alpha beta gamma" })
      const bId = yield* sessions.sessionId(b)

      yield* offline(proxy)
      yield* sessions.updateTitle(a, "repair the login bug")
      yield* sessions.updateTitle(b, "alpha BETA gamma")
      // Another client, still online, edits the same titles.
      yield* other("PATCH", `/session/${aId}`, { title: "fix the login crash" })
      yield* other("PATCH", `/session/${bId}`, { title: "alpha bETa gamma" })
      yield* online(proxy)
      yield* Wait.until("the merge and the conflict", () =>
        seen.some((e) => e._tag === "Conflict" && e.sessionId === bId) &&
        seen.some((e) => e._tag === "Confirmed" && e.sessionId === aId && e.kind === "title"))
      assert.strictEqual(yield* serverTitle(aId), "repair the login crash")
      const conflict = seen.find((e) => e._tag === "Conflict" && e.sessionId === bId)!
      assert.deepInclude(conflict, { base: "alpha beta gamma", local: "alpha BETA gamma", remote: "alpha bETa gamma" })
      // The server's title stays visible; the operation waits as a conflict.
      yield* Wait.until("the server's title to be visible", Effect.map(sessions.info(b), (s) => s.title === "alpha bETa gamma"))
      assert.deepStrictEqual((yield* sessions.info(b)).pending?.map((p) => p.state), ["conflict"])
      assert.strictEqual(yield* serverTitle(bId), "alpha bETa gamma")

      if (conflict._tag !== "Conflict") return
      yield* sessions.outbox.resolve(conflict.opId, "local")
      yield* drained(sessions)
      assert.strictEqual(yield* serverTitle(bId), "alpha BETA gamma")
      assert.strictEqual((yield* sessions.info(b)).title, "alpha BETA gamma")
    }), 120_000)

  it.scoped("policy server keeps the server's title; a rename of a session deleted meanwhile is a dead letter", () =>
    Effect.gen(function*() {
      const { proxy, seen, sessions } = yield* offlineCapable({ policy: "server" })
      const a = yield* sessions.create({ title: "one two three" })
      const aId = yield* sessions.sessionId(a)
      const gone = yield* sessions.create({ title: "gone soon" })
      const goneId = yield* sessions.sessionId(gone)
      yield* offline(proxy)
      yield* sessions.updateTitle(a, "one TWO three")
      yield* sessions.updateTitle(gone, "renamed in vain")
      yield* other("PATCH", `/session/${aId}`, { title: "one two THREE" })
      yield* other("DELETE", `/session/${goneId}`)
      yield* online(proxy)
      yield* Wait.until("both to be settled", () =>
        seen.some((e) => e._tag === "RolledBack" && e.sessionId === aId) &&
        seen.some((e) => e._tag === "DeadLettered" && e.sessionId === goneId))
      assert.strictEqual(yield* serverTitle(aId), "one two THREE")
      const items = yield* sessions.outbox.list
      assert.deepStrictEqual(items.map((i) => [i.sessionId, i.state]), [[goneId, "dead"]])
      yield* sessions.outbox.drop(items[0]!.opId)
      assert.deepStrictEqual(yield* sessions.outbox.list, [])
    }), 120_000)

  it.scoped("operations queued by a process killed with -9 are applied exactly once by the next process", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const fs = yield* FileSystem.FileSystem
      const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-" })
      const proxy = yield* Proxy.start(server.url)
      const env = yield* childEnv(proxy, stateHome)
      const target = yield* other<{ id: string }>("POST", "/session", { title: "target" })
      const before = (yield* serverIds).length

      const child = yield* Spawn.spawn(process.execPath, [CHILD, "queue", target.id], { env })
      yield* child.waitFor("stdout", /opened/)
      proxy.setMode("drop")
      const bornId = (yield* child.waitFor("stdout", /queued ses_[0-9A-Za-z]+/)).split(" ")[1]!
      yield* child.signal("SIGKILL")
      assert.isNull((yield* child.result).code)
      assert.isFalse((yield* serverIds).includes(bornId))
      assert.strictEqual(yield* serverTitle(target.id), "target")

      proxy.setMode("pass")
      assert.match(yield* replayIn(env), /remaining 0/)
      const ids = yield* serverIds
      assert.strictEqual(ids.length, before + 1)
      assert.strictEqual(ids.filter((id) => id === bornId).length, 1)
      assert.strictEqual(yield* serverTitle(bornId), "born in a child")
      assert.strictEqual(yield* serverTitle(target.id), "renamed by a child")
      // A further process finds nothing to send.
      const creates = proxy.count(/^POST \/api\/session/)
      assert.match(yield* replayIn(env), /remaining 0/)
      assert.strictEqual((yield* serverIds).length, before + 1)
      assert.isAtMost(proxy.count(/^POST \/api\/session/) - creates, 1, "at most the probe at connect")
    }), 180_000)

  it.scoped("kill -9 after the server applied a create but before its answer came back: the restart makes no second session", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const fs = yield* FileSystem.FileSystem
      const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-" })
      const proxy = yield* Proxy.start(server.url)
      const env = yield* childEnv(proxy, stateHome)
      const before = (yield* serverIds).length
      const go = `${stateHome}/go`

      const child = yield* Spawn.spawn(process.execPath, [CHILD, "create", go], { env })
      yield* child.waitFor("stdout", /connected/)
      // The probe at connect got its answer; from now on the server hears, the child does not.
      yield* Wait.until("the create-by-id probe", () => proxy.answered(/^POST \/api\/session/) >= 1)
      proxy.setMode("swallow")
      yield* fs.writeFileString(go, "")
      const [folder] = yield* Wait.until("the outbox folder", fs.exists(`${stateHome}/plue/outbox`)).pipe(
        Effect.zipRight(fs.readDirectory(`${stateHome}/plue/outbox`))
      )
      const ops = `${stateHome}/plue/outbox/${folder}/ops`
      const written = Effect.map(fs.readDirectory(ops), (names) => names.filter((n) => n.endsWith(".json") && !n.includes(".tmp-")))
      yield* Wait.until("the queued create", Effect.map(written, (names) => names.length === 1))
      const [name] = yield* written
      const op = JSON.parse(yield* fs.readFileString(`${ops}/${name}`)) as { sessionId: string }
      yield* Wait.until("the server to have the session", Effect.map(serverIds, (ids) => ids.includes(op.sessionId)))
      yield* child.signal("SIGKILL")
      yield* child.result
      assert.notInclude(child.stdout(), "created")

      proxy.setMode("pass")
      assert.match(yield* replayIn(env), /remaining 0/)
      const ids = yield* serverIds
      assert.strictEqual(ids.length, before + 1)
      assert.strictEqual(ids.filter((id) => id === op.sessionId).length, 1)
      assert.strictEqual(yield* serverTitle(op.sessionId), "created once")
    }), 180_000)
})
