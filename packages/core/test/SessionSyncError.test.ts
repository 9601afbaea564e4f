import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import type { ServerResponse } from "node:http"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as Plue from "../src/Plue.js"
import { SessionEvents } from "../src/SessionEvents.js"
import * as SessionSync from "../src/SessionSync.js"
import * as Loopback from "@plue/testing/Loopback"

// A `session.error` the server sends without a session (OpenCode does for a failure outside any
// session's run): the real server cannot be made to send one on demand, so a loopback server
// plays the event stream.

describe("SessionSync relays session.error", () => {
  it.live("with no sessionID: an Error event without sessionId, carrying OpenCode's error object", () =>
    Effect.gen(function*() {
      const error = { name: "UnknownError", data: { message: "the provider is not configured" } }
      let stream: ServerResponse | undefined
      const server = yield* Loopback.serve((req, res) => {
        if (req.url?.startsWith("/event")) {
          // Connected at once; the error is sent once the test has subscribed.
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write(`data: ${JSON.stringify({ type: "server.connected", properties: {} })}\n\n`)
          stream = res
          return
        }
        if (req.url?.startsWith("/session")) return void res.writeHead(200, { "content-type": "application/json" }).end("[]")
        res.writeHead(404).end()
      })
      const context = yield* Layer.build(
        Plue.layer().pipe(Layer.provide(Layer.mergeAll(OpenCodeConnection.layer({ url: server.url }), NodeHttpClient.layerUndici)))
      )
      const sync = Context.get(context, SessionSync.SessionSync)
      yield* sync.awaitConnected
      const events = yield* Context.get(context, SessionEvents).subscribe
      stream!.write(`data: ${JSON.stringify({ type: "session.error", properties: { error } })}\n\n`)
      const first = yield* Stream.runHead(events)
      assert.deepStrictEqual(first._tag === "Some" ? first.value : undefined, { _tag: "Error", error } as never)
      assert.isFalse("sessionId" in (first._tag === "Some" ? first.value : {}))
    }).pipe(Effect.scoped))
})
