import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const REFUSE = "plue-cli-stub-refuse"
const Stub = StubLlm.layer({ refuse: REFUSE }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig, connection: { requestTimeout: "60 seconds" } }))).pipe(
  Layer.provideMerge(Stub),
  Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))
)

/** A CLI process against the test server, killed by the scope whatever happens. */
const plue = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => void (child.exitCode === null && child.kill("SIGKILL"))))
    const out = { stdout: "", stderr: "" }
    child.stdout!.on("data", (d) => (out.stdout += d))
    child.stderr!.on("data", (d) => (out.stderr += d))
    const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    return { child, out, exit }
  })

/** Waits (ceiling `seconds`) until `done` holds. */
const until = (what: string, done: () => boolean, seconds = 60, seen: () => string = () => "") =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 20; i++) {
      if (done()) return
      yield* Effect.sleep("50 millis")
    }
    assert.fail(`timed out after ${seconds} s waiting for ${what}; seen: ${seen()}`)
  })

const lines = (text: string) => text.split("\n").filter((l) => l.length > 0)

layer(Live, { timeout: 180_000, excludeTestServices: true })("plue watch and plue session init (real server, stub model)", (it) => {
  it.scoped("watch --json: one Snapshot of what existed (never Created), then real changes, and Error", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const old = yield* client.create({ title: "existed before watch" })
      const { child, out, exit } = yield* plue(["watch", "--json"])
      yield* until("the snapshot", () => lines(out.stdout).length >= 1)
      const snapshot = JSON.parse(lines(out.stdout)[0]!) as { _tag: string; sessions: Array<{ id: string }> }
      assert.strictEqual(snapshot._tag, "Snapshot")
      assert.deepStrictEqual(snapshot.sessions.map((s) => s.id), (yield* client.list()).map((s) => s.id))

      const born = yield* client.create({ title: "born while watched" })
      yield* client.promptAsync(born.id, { text: REFUSE, model: { providerID: stub.providerID, modelID: stub.modelID } })
      const events = () => lines(out.stdout).slice(1).map((l) => JSON.parse(l) as { _tag: string; session?: { id: string }; sessionId?: string; error?: { name?: string } })
      yield* until("Created and Error for the new session", () =>
        events().some((e) => e._tag === "Created" && e.session?.id === born.id) &&
        events().some((e) => e._tag === "Error" && e.sessionId === born.id), 90, () => out.stdout.slice(-3000) + out.stderr)
      assert.strictEqual(events().find((e) => e._tag === "Error")!.error!.name, "APIError")
      assert.isFalse(events().some((e) => e._tag === "Created" && e.session?.id === old.id), "an old session is not announced as created")
      assert.strictEqual(lines(out.stdout).filter((l) => l.includes('"Snapshot"')).length, 1)
      child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => exit), 130)
    }), { timeout: 180_000 })

  it.scoped("watch for people: the snapshot as a header and a line per session, then events", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const old = yield* client.create({ title: "shown in the snapshot" })
      const count = (yield* client.list()).length
      const { child, out, exit } = yield* plue(["watch"])
      yield* until("the snapshot", () => out.stdout.includes(old.id))
      const shown = lines(out.stdout)
      assert.match(shown[0]!, new RegExp(`snapshot  ${count} sessions at connect`))
      assert.isTrue(shown.some((l) => l.includes(old.id) && l.includes("shown in the snapshot")))
      assert.isFalse(shown.some((l) => / created /.test(l)))
      const born = yield* client.create({ title: "after the snapshot" })
      yield* until("the created line", () => lines(out.stdout).some((l) => l.includes("created") && l.includes(born.id)))
      child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => exit), 130)
    }), { timeout: 180_000 })

  it.scoped("session init runs the init turn on the stub model and waits for it", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const session = yield* client.create({ title: "cli init" })
      const before = yield* stub.stats
      const { exit, out } = yield* plue(["session", "init", session.id, "--provider", stub.providerID, "--model", stub.modelID, "--json"])
      const code = yield* Effect.promise(() => exit)
      assert.strictEqual(code, 0, out.stderr)
      assert.deepStrictEqual(JSON.parse(out.stdout), { initialized: session.id })
      assert.isAbove((yield* stub.stats).completed, before.completed, "the model answered to the end")
    }), { timeout: 180_000 })
})
