import { OpenCodeServer } from "@plue/core"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cliBin, compileLibrary, compileProgram, cSource, plueCommand } from "./support.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

interface Info {
  readonly id: string
  readonly title: string
  readonly pending?: ReadonlyArray<{ readonly opId: string; readonly kind: string; readonly field: string; readonly state: string }>
}

const TITLE =
  "PLUE_OUTBOX=1, server unreachable: create returns a local session, delete and title return 0, get_info shows pending; back online each applies once and two conflicts are resolved from C (remote, text)"

/** The C host of `c/outbox_offline.c`, started in `dir` with `env`: under `plue host`, or its own main() over the sidecar. */
type Start = (dir: string, env: Record<string, string>) => Effect.Effect<Spawn.Child, unknown, any>

const underHost: Start = (dir, env) => Spawn.spawn(process.execPath, [cliBin, "host", compileLibrary(cSource("outbox_offline.c")), dir], { env })
const overSidecar: Start = (dir, env) =>
  Spawn.spawn(compileProgram(cSource("outbox_offline.c"), ["-DPLUE_OWN_MAIN"]), [dir], { env: { ...env, PLUE_COMMAND: plueCommand() } })

const scenario = (start: Start) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const other = yield* OtherClient.make
    const proxy = yield* Proxy.start(server.url)
    const dir = mkdtempSync(join(tmpdir(), "plue-outbox-offline-c-"))
    const host = yield* start(dir, {
      OPENCODE_URL: proxy.url,
      OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
      OPENCODE_HEARTBEAT_TIMEOUT: "2 seconds",
      PLUE_OUTBOX: "1",
      XDG_STATE_HOME: join(dir, "state")
    })
    const file = (name: string) => join(dir, name)
    const json = (name: string) => JSON.parse(readFileSync(file(name), "utf8")) as Info
    yield* Wait.until("the C side to write the ids", () => existsSync(file("ids")) || !host.running())
    assert.isTrue(existsSync(file("ids")), host.stderr())
    const [a, b, d] = readFileSync(file("ids"), "utf8").split(" ") as [string, string, string]
    const listing = Effect.map(other<Array<{ id: string }>>("GET", "/session?limit=10000"), (all) => all.map((s) => s.id))
    const before = (yield* listing).length

    proxy.setMode("drop")
    writeFileSync(file("offline"), "1")
    yield* Wait.until("the C side to queue", () => existsSync(file("queued")) || !host.running(), { timeout: "2 minutes" })
    assert.isTrue(existsSync(file("queued")), host.stderr())
    const local = json("local.json")
    assert.match(local.id, /^ses_[0-9a-f]{12}[0-9A-Za-z]{14}$/)
    assert.deepStrictEqual(local.pending?.map((p) => [p.kind, p.field, p.state]), [["create", "session", "pending"]])
    const seenA = json("a.json")
    assert.strictEqual(seenA.title, "gamma DELTA")
    assert.deepStrictEqual(seenA.pending?.map((p) => [p.kind, p.field, p.state]), [["title", "title", "pending"]])
    // Nothing reached the server.
    const ids = yield* listing
    assert.isFalse(ids.includes(local.id))
    assert.isTrue(ids.includes(d))

    // Another client edits the same words meanwhile; then the server is reachable again.
    yield* other("PATCH", `/session/${a}`, { title: "gamma dElTa" })
    yield* other("PATCH", `/session/${b}`, { title: "alpha bEtA" })
    proxy.setMode("pass")
    const result = yield* host.result
    assert.strictEqual(result.code, 0, result.stderr)
    // While a's conflict waited, get_info showed it.
    const waiting = json("conflict.json")
    assert.strictEqual(waiting.title, "gamma dElTa", "the server's title stays visible")
    assert.deepStrictEqual(waiting.pending?.map((p) => [p.kind, p.state]), [["title", "conflict"]])
    const resolved = json("resolved.json")
    assert.strictEqual(resolved.title, "gamma dElTa")
    assert.isUndefined(resolved.pending)
    assert.strictEqual((yield* other<{ title: string }>("GET", `/session/${a}`)).title, "gamma dElTa")
    assert.strictEqual((yield* other<{ title: string }>("GET", `/session/${b}`)).title, "alpha and beta, from C")

    // Each applied exactly once: one local session made, d deleted once.
    const after = yield* listing
    assert.strictEqual(after.filter((id) => id === local.id).length, 1)
    assert.isFalse(after.includes(d))
    assert.strictEqual(after.length, before, "one made, one deleted")
    assert.strictEqual(proxy.count(new RegExp(`^DELETE /session/${d}\\b`)), 1)
  })

layer(Live, { timeout: 240_000, excludeTestServices: true })("the outbox from C, offline", (it) => {
  it.scoped(`under plue host: ${TITLE}`, () => scenario(underHost), 240_000)
  it.scoped(`own main() over the sidecar: ${TITLE}`, () => scenario(overSidecar), 240_000)
})
