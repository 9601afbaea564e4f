import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream } from "effect"
import { createServer } from "node:http"
import * as Identifier from "../src/Identifier.js"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as Plue from "../src/Plue.js"
import { SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Wait from "@plue/testing/Wait"

// A real OpenCode server whose model is the stub: 40 chunks, 100 ms apart, so a run lasts ~4 s.
const Stub = StubLlm.layer({ pace: "100 millis", chunks: 40 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Plue.layer().pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig })))),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

layer(Live, { timeout: 120_000, excludeTestServices: true })("OpenCodeClient with a (stub) model", (it) => {
  it.effect("prompt_async runs in the background; abort cuts the model stream and the session goes idle", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const session = yield* client.create({ title: "prompted" })
      const before = yield* stub.stats

      let connected = false
      const statuses = yield* client.events.pipe(
        Stream.tap((e) => Effect.sync(() => void (connected ||= e.type === "server.connected"))),
        Stream.filter((e) => e.type === "session.status" && e.properties.sessionID === session.id),
        Stream.map((e) => (e.type === "session.status" ? e.properties.status.type : "")),
        Stream.takeUntil((type) => type === "idle"),
        Stream.runCollect,
        Effect.fork
      )
      yield* Wait.until("the event stream to connect", () => connected)
      yield* client.promptAsync(session.id, { text: "hello", model: { providerID: stub.providerID, modelID: stub.modelID } })

      // Wait until OpenCode is streaming from the model (it may refresh its project copy first).
      yield* Wait.until("the model to be called", Effect.map(stub.stats, (s) => s.streaming > before.streaming))
      assert.isAbove((yield* stub.stats).streaming, before.streaming, "the model was called")
      assert.strictEqual((yield* client.status)[session.id]?.type, "busy")

      assert.isTrue(yield* client.abort(session.id))
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(statuses))
      assert.include(seen, "busy")
      assert.strictEqual(seen[seen.length - 1], "idle")
      yield* Wait.until("the model's stream to be cut", Effect.map(stub.stats, (s) => s.cut > before.cut))
      assert.isAbove((yield* stub.stats).cut, before.cut, "the model's stream was cut off")
      assert.isUndefined((yield* client.status)[session.id])
    }), { timeout: 180_000 })

  it.effect("init runs a whole turn on the model with a generated ascending message id", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const stub = yield* StubLlm.StubLlm
      const session = yield* client.create({ title: "init" })
      const before = yield* stub.stats
      const start = Identifier.ascendingMessageId(Date.now())
      assert.isTrue(yield* client.init(session.id, { providerID: stub.providerID, modelID: stub.modelID }))
      const after = yield* stub.stats
      assert.isAbove(after.completed, before.completed, "the model answered to the end")
      const end = Identifier.ascendingMessageId(Date.now())
      // The server stored the turn's user message under the id the client generated.
      const messages = yield* OtherClient.request<Array<{ info: { id: string; role: string } }>>("GET", `/session/${session.id}/message`)
      const user = messages.filter((m) => m.info.role === "user").map((m) => m.info.id)
      assert.strictEqual(user.length, 1)
      assert.isTrue(start < user[0]! && user[0]! < end, `${start} < ${user[0]} < ${end}`)
    }), { timeout: 180_000 })

  it.effect("abort from one fiber while another blocks in initialize: Aborted, the model is cut, the session goes idle", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager
      const events = yield* SessionEvents
      const stub = yield* StubLlm.StubLlm
      const handle = yield* sessions.create({ title: "to abort" })
      const id = yield* sessions.sessionId(handle)
      const statuses = yield* events.stream.pipe(
        Stream.filter((e) => e._tag === "Status" && e.sessionId === id),
        Stream.map((e) => (e._tag === "Status" ? e.status.type : "")),
        Stream.takeUntil((type) => type === "idle"),
        Stream.runCollect,
        Effect.fork
      )
      const before = yield* stub.stats
      const init = yield* Effect.fork(sessions.initialize(handle, { providerID: stub.providerID, modelID: stub.modelID }))
      yield* Wait.until("the model to be called", Effect.map(stub.stats, (s) => s.streaming > before.streaming))
      assert.isAbove((yield* stub.stats).streaming, before.streaming, "the model is streaming")

      yield* sessions.abort(handle)
      const error = yield* Effect.flip(Fiber.join(init))
      assert.strictEqual(error._tag, "Aborted")
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(statuses).pipe(Effect.timeout(Wait.defaultCeiling)))
      assert.include(seen, "busy")
      assert.strictEqual(seen[seen.length - 1], "idle")
      yield* Wait.until("the model's stream to be cut", Effect.map(stub.stats, (s) => s.cut > before.cut))
      assert.isAbove((yield* stub.stats).cut, before.cut, "the model's stream was cut off")
      // The handle still works after an abort.
      assert.strictEqual((yield* sessions.info(handle)).id, id)
      yield* sessions.destroy(handle)
    }), { timeout: 180_000 })
})
