import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { OpenCodeServer, Plue, SessionEvents } from "@plue/core"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { createServer } from "node:http"
import { EventKinds, ProgressPhases } from "../src/Api.js"
import { compileProgram, cSource, plueCommand, type Ran, runProgram } from "./support.js"

// A compiled C program with its own main() receives Progress events through its callback, over
// plue_init and the sidecar, from the test's real OpenCode server with the stub model.
const Stub = StubLlm.layer({ pace: "100 millis", chunks: 10 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Plue.layer().pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig })))),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))
)

const program = compileProgram(cSource("progress.c"))
const command = plueCommand()
const explain = (ran: Ran) => `exit ${ran.code} ${ran.signal ?? ""}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`

interface Progress {
  readonly _tag: "Progress"
  readonly opId: number
  readonly sessionId?: string
  readonly kind: string
  readonly phase: string
  readonly attempt?: number
  readonly reason?: string
}

layer(Live, { timeout: 240_000, excludeTestServices: true })("Progress events in a C host", (it) => {
  it.effect("the header's event kinds and progress phases are the bridge's own", () =>
    Effect.sync(() => {
      assert.include(EventKinds.map((k) => k.tag), "Progress")
      const bridgeTags = SessionEvents.SessionEvent.members.map((m) =>
        String((m.fields._tag.ast as unknown as { readonly type: { readonly literal: unknown } }).type.literal)
      )
      for (const tag of bridgeTags) assert.include(EventKinds.map((k) => k.tag), tag, `${tag} has a PLUE_EVENT_ macro`)
      assert.deepStrictEqual(ProgressPhases.map((p) => p.phase), [...SessionEvents.ProgressPhase.literals])
    }))

  it.effect("a compiled C program gets queued, sending, (waiting,) done for create, title, initialize and delete", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const stub = yield* StubLlm.StubLlm
      const ran = yield* Effect.acquireUseRelease(
        Effect.sync(() =>
          runProgram(program, [stub.providerID, stub.modelID], {
            PATH: process.env.PATH ?? "",
            PLUE_COMMAND: command,
            OPENCODE_URL: server.url,
            OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
          })
        ),
        (ran) => Effect.promise(() => ran),
        (ran) => Effect.sync(() => ran.kill())
      )
      assert.strictEqual(ran.code, 0, explain(ran))
      assert.include(ran.stdout, "done: 0 failure(s)")
      const events: Array<Progress> = ran.stdout.split("\n").filter((l) => l.startsWith("progress ")).map((l) => JSON.parse(l.slice(9)))
      const ops = [...new Set(events.map((e) => e.opId))].map((opId) => events.filter((e) => e.opId === opId))
      const byKind = (kind: string) => ops.filter((op) => op[0]!.kind === kind)
      const phases = (kind: string) => byKind(kind).map((op) => op.map((e) => e.phase))
      assert.deepStrictEqual(phases("create"), [["queued", "sending", "done"]], explain(ran))
      assert.deepStrictEqual(phases("title"), [["queued", "sending", "done"]], "one title ran; the one after the delete was refused before it started")
      assert.deepStrictEqual(phases("initialize"), [["queued", "sending", "waiting", "done"]], explain(ran))
      assert.deepStrictEqual(phases("delete"), [["queued", "sending", "done"]])
      const id = byKind("create")[0]![2]!.sessionId
      assert.match(id ?? "", /^ses_/)
      assert.isTrue(events.filter((e) => e.kind !== "create" || e.phase === "done").every((e) => e.sessionId === id))
    }), { timeout: 240_000 })
})
