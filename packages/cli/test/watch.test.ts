import { NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { createServer } from "node:http"
import { start } from "./plue.js"

const REFUSE = "plue-cli-stub-refuse"
const Stub = StubLlm.layer({ refuse: REFUSE }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Layer.unwrapEffect(
  Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig, connection: { requestTimeout: "60 seconds" } }))
).pipe(
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

/** A CLI process against the test server, owned by the test's scope (ended with it whatever happens). */
const plue = (args: ReadonlyArray<string>) =>
  Effect.flatMap(
    OpenCodeServer.OpenCodeServer,
    (server) => start(args, { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) })
  )

/** Waits (ceiling `seconds`) until `done` holds; on timeout, says what was seen. */
const until = (what: string, done: () => boolean, seconds = 60, seen: () => string = () => "") =>
  Wait.until(what, done, { timeout: Duration.seconds(seconds) }).pipe(
    Effect.catchTag("WaitTimeout", (timeout) => Effect.dieMessage(`${timeout.message}; seen: ${seen()}`))
  )

const lines = (text: string) => text.split("\n").filter((l) => l.length > 0)

layer(Live, { timeout: 180_000, excludeTestServices: true })("plue watch and plue session init (real server, stub model)", (it) => {
  it.scoped("watch --json: one Snapshot of what existed (never Created), then real changes, and Error", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const old = yield* client.create({ title: "existed before watch" })
      const child = yield* plue(["watch", "--json"])
      yield* until("the snapshot", () => lines(child.stdout()).length >= 1)
      const snapshot = JSON.parse(lines(child.stdout())[0]!) as { _tag: string; sessions: Array<{ id: string }> }
      assert.strictEqual(snapshot._tag, "Snapshot")
      assert.deepStrictEqual(snapshot.sessions.map((s) => s.id), (yield* client.list()).map((s) => s.id))

      const born = yield* client.create({ title: "born while watched" })
      yield* client.promptAsync(born.id, { text: REFUSE, model: { providerID: stub.providerID, modelID: stub.modelID } })
      const events = () =>
        lines(child.stdout()).slice(1).map((l) => JSON.parse(l) as { _tag: string; session?: { id: string }; sessionId?: string; error?: { name?: string } })
      yield* until(
        "Created and Error for the new session",
        () =>
          events().some((e) => e._tag === "Created" && e.session?.id === born.id) &&
          events().some((e) => e._tag === "Error" && e.sessionId === born.id),
        90,
        () => child.stdout().slice(-3000) + child.stderr()
      )
      assert.strictEqual(events().find((e) => e._tag === "Error")!.error!.name, "APIError")
      assert.isFalse(events().some((e) => e._tag === "Created" && e.session?.id === old.id), "an old session is not announced as created")
      assert.strictEqual(lines(child.stdout()).filter((l) => l.includes("\"Snapshot\"")).length, 1)
      yield* child.signal("SIGINT")
      assert.strictEqual((yield* child.result).code, 130)
    }), { timeout: 180_000 })

  it.scoped("watch for people: the snapshot as a header and a line per session, then events", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const old = yield* client.create({ title: "shown in the snapshot" })
      const count = (yield* client.list()).length
      const child = yield* plue(["watch"])
      yield* until("the snapshot", () => child.stdout().includes(old.id))
      const shown = lines(child.stdout())
      assert.match(shown[0]!, new RegExp(`snapshot  ${count} sessions at connect`))
      assert.isTrue(shown.some((l) => l.includes(old.id) && l.includes("shown in the snapshot")))
      assert.isFalse(shown.some((l) => / created /.test(l)))
      const born = yield* client.create({ title: "after the snapshot" })
      yield* until("the created line", () => lines(child.stdout()).some((l) => l.includes("created") && l.includes(born.id)))
      yield* child.signal("SIGINT")
      assert.strictEqual((yield* child.result).code, 130)
    }), { timeout: 180_000 })

  it.scoped("session init runs the init turn on the stub model and waits for it", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const session = yield* client.create({ title: "cli init" })
      const before = yield* stub.stats
      const child = yield* plue(["session", "init", session.id, "--provider", stub.providerID, "--model", stub.modelID, "--json"])
      const { code, stderr, stdout } = yield* child.result
      assert.strictEqual(code, 0, stderr)
      assert.deepStrictEqual(JSON.parse(stdout), { initialized: session.id })
      assert.isAbove((yield* stub.stats).completed, before.completed, "the model answered to the end")
    }), { timeout: 180_000 })
})
