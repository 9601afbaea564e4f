import { NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { createServer } from "node:http"
import { run, start } from "./plue.js"

// What `plue watch` prints for the changes another client makes (rename, a run's status, an
// abort, a delete), for people and as JSON; and `session init` on a session deleted while it runs.
// The model is the stub, slow (300 ms a chunk), so a run lasts long enough to act during it.

const Stub = StubLlm.layer({ pace: "300 millis", chunks: 40 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Layer.unwrapEffect(
  Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig, connection: { requestTimeout: "60 seconds" } }))
).pipe(
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

const env = Effect.map(
  OpenCodeServer.OpenCodeServer,
  (server) => ({ OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) })
)

const until = (what: string, done: (() => boolean) | Effect.Effect<boolean>, seen: () => string, seconds = 120) =>
  Wait.until(what, done, { timeout: Duration.seconds(seconds) }).pipe(
    Effect.catchTag("WaitTimeout", (timeout) => Effect.dieMessage(`${timeout.message}; seen: ${seen()}`))
  )

const lines = (text: string) => text.split("\n").filter((l) => l.length > 0)

layer(Live, { timeout: 300_000, excludeTestServices: true })("plue watch prints what other clients do", (it) => {
  it.scoped("renamed, busy, aborted (seen as idle), deleted: a line each for people, an event each with --json", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const text = yield* start(["watch"], yield* env)
      const json = yield* start(["watch", "--json"], yield* env)
      const seen = () => `text: ${text.stdout().slice(-3000)} ${text.stderr()} | json: ${json.stdout().slice(-3000)} ${json.stderr()}`
      yield* until("both watching", () => [text, json].every((c) => lines(c.stdout()).length >= 1), seen)

      const session = yield* client.create({ title: "watched" })
      const id = session.id
      yield* client.update(id, { title: "watched, renamed" })
      yield* client.promptAsync(id, { text: "take your time", model: { providerID: stub.providerID, modelID: stub.modelID } })
      const has = (child: typeof text, pattern: RegExp) => () => lines(child.stdout()).some((l) => l.includes(id) && pattern.test(l))
      yield* until("busy", () => has(text, / status +\S+ {2}busy$/)() && has(json, /"_tag":"Status".*"type":"busy"/)(), seen)
      yield* client.abort(id)
      yield* until("idle after the abort", () => has(text, / status +\S+ {2}idle$/)() && has(json, /"_tag":"Status".*"type":"idle"/)(), seen)
      yield* client.delete(id)
      yield* until("deleted", () => has(text, / deleted +ses_\w+$/)() && has(json, /"_tag":"Deleted"/)(), seen)

      assert.isTrue(has(text, / updated +\S+ {2}.*title.*: watched, renamed$/)(), text.stdout())
      const events = lines(json.stdout()).slice(1).map((l) => JSON.parse(l) as { _tag: string; sessionId?: string; session?: { id: string } })
      const ofIt = events.filter((e) => e.sessionId === id || e.session?.id === id)
      assert.includeMembers(ofIt.map((e) => e._tag), ["Created", "Updated", "Status", "Deleted"])
      // An abort sent by another client reaches a watcher as its status going idle, never as Aborted.
      assert.notInclude(ofIt.map((e) => e._tag), "Aborted")
      assert.isFalse(lines(text.stdout()).some((l) => / aborted /.test(l)))
      for (const child of [text, json]) {
        yield* child.signal("SIGINT")
        assert.strictEqual((yield* child.result).code, 130)
      }
    }), 300_000)

  it.scoped("session init on a session another client deletes while it runs: exit 3, the session was deleted", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const session = yield* client.create({ title: "deleted during init" })
      const before = (yield* stub.stats).requests
      const init = yield* start(["session", "init", session.id, "--provider", stub.providerID, "--model", stub.modelID], yield* env)
      yield* until("the init turn on the model", Effect.map(stub.stats, (s) => s.requests > before), () => init.stderr())
      yield* client.delete(session.id)
      const result = yield* init.result
      assert.strictEqual(result.code, 3, `stdout: ${result.stdout} stderr: ${result.stderr}`)
      assert.strictEqual(result.stderr, `plue: session ${session.id} was deleted (by another client) while this command used it\n`)
      // Reading it afterwards: it does not exist (exit 3 too).
      const after = yield* run(["session", "get", session.id], yield* env, "120 seconds")
      assert.strictEqual(after.code, 3, after.stderr)
    }), 300_000)
})
