import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Fiber, Stream } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Identifier from "../src/Identifier.js"
import * as Loopback from "@plue/testing/Loopback"
import * as Wait from "@plue/testing/Wait"

/**
 * A loopback HTTP server under the test's control, recording every request it receives. Used
 * where the real server cannot show a behaviour on demand: silence, bad frames, closed ports.
 */
const localServer = (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
  const seen: Array<string> = []
  return Effect.map(
    Loopback.serve((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      handler(req, res)
    }),
    ({ url, server }) => ({ url, seen, server })
  )
}

const clientFor = Loopback.client

const badIds = [
  "../x",
  "ses_a/../../auth",
  "ses_%2e%2e",
  "ses_%2E%2E%2Fconfig",
  "ses_abc\u0000",
  "",
  "ses_" + "a".repeat(10 * 1024),
  "ses_abc?x=1",
  "ses_abc#frag",
  "ses_ab c",
  "ses_ábc",
  "SES_abc",
  "ses_",
  "ses_abc\n"
]

describe("session ids", () => {
  it.effect("a bad id is refused with InvalidSessionId and never reaches the server", () =>
    Effect.gen(function*() {
      const server = yield* localServer((_req, res) => res.writeHead(500).end())
      const client = yield* clientFor(server.url)
      for (const id of badIds) {
        for (
          const call of [
            client.get(id),
            client.update(id, { title: "x" }),
            client.delete(id),
            client.children(id),
            client.abort(id),
            client.init(id, { providerID: "p", modelID: "m" }),
            client.share(id),
            client.unshare(id),
            client.promptAsync(id, { text: "hi" }),
            client.create({ parentID: id })
          ]
        ) {
          const error = yield* Effect.flip(call)
          assert.strictEqual(error._tag, "InvalidSessionId", JSON.stringify(id))
          assert.isBelow(error.message.length, 300, "the message quotes a bounded preview")
        }
      }
      assert.deepStrictEqual(server.seen, [], "no request was sent")
    }).pipe(Effect.scoped))

  it("OpenCode's own ids are accepted", () => {
    for (const id of ["ses_df557fc75ffe8uAWx0P0wTjSPl", "ses_df52ef724ffeXDvMevBjGyIfm2"]) {
      assert.strictEqual(Effect.runSync(Identifier.parseSessionId(id)), id)
    }
  })

  it("generated message ids ascend, also within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => Identifier.ascendingMessageId(1_795_000_000_000))
    const later = Identifier.ascendingMessageId(1_795_000_000_001)
    for (const id of [...ids, later]) assert.match(id, /^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/)
    for (let i = 1; i < ids.length; i++) assert.isTrue(ids[i - 1]!.slice(0, 16) < ids[i]!.slice(0, 16))
    assert.isTrue(ids[ids.length - 1]! < later)
    // A clock that goes backwards does not make ids go backwards.
    assert.isTrue(later < Identifier.ascendingMessageId(1_700_000_000_000))
  })
})

describe("unreachable servers", () => {
  it.live("a closed port is Unreachable (refused), fast, after bounded retries", () =>
    Effect.gen(function*() {
      // A port known to be closed: bind it, note it, close it.
      const closed = yield* Effect.scoped(localServer(() => undefined)).pipe(Effect.map((s) => s.url))
      const client = yield* clientFor(closed, { requestTimeout: "2 seconds" })
      const [elapsed, error] = yield* Effect.timed(Effect.flip(client.list()))
      assert.strictEqual(error._tag, "Unreachable")
      if (error._tag === "Unreachable") assert.strictEqual(error.reason, "refused")
      assert.isBelow(Duration.toMillis(elapsed), 2000)
      assert.include(error.message, closed)
    }).pipe(Effect.scoped))

  it.live("a 503 is retried for idempotent calls (3 times, then ServerError), never for a create; a read that recovers succeeds", () =>
    Effect.gen(function*() {
      const session = { id: "ses_abc", slug: "s", projectID: "p", directory: "/", title: "t", version: "1", time: { created: 1, updated: 1 } }
      let failures = 0
      const server = yield* localServer((req, res) => {
        if (req.url === "/session/ses_ok" && failures-- > 0) return void res.writeHead(503).end("busy")
        if (req.url === "/session/ses_ok") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(session))
        res.writeHead(503).end("busy")
      })
      const client = yield* clientFor(server.url, { requestTimeout: "2 seconds" })

      const read = yield* Effect.flip(client.get("ses_abc"))
      assert.strictEqual(read._tag, "ServerError")
      assert.strictEqual(server.seen.filter((r) => r === "GET /session/ses_abc").length, 4, "one try and 3 retries")

      // Setting a title twice is harmless, so it is retried; creating twice is not.
      assert.strictEqual((yield* Effect.flip(client.update("ses_abc", { title: "x" })))._tag, "ServerError")
      assert.strictEqual(server.seen.filter((r) => r === "PATCH /session/ses_abc").length, 4)
      assert.strictEqual((yield* Effect.flip(client.create({ title: "x" })))._tag, "ServerError")
      assert.strictEqual(server.seen.filter((r) => r === "POST /session").length, 1, "a create is sent once")

      failures = 2
      assert.strictEqual((yield* client.get("ses_ok")).title, "t")
      assert.strictEqual(server.seen.filter((r) => r === "GET /session/ses_ok").length, 3)
    }).pipe(Effect.scoped))

  it.live("interrupting a request in flight ends it at once and closes its connection", () =>
    Effect.gen(function*() {
      let closed = 0
      const server = yield* localServer((req) => req.socket.on("close", () => closed++)) // never answers
      const client = yield* clientFor(server.url, { requestTimeout: "30 seconds" })
      const fiber = yield* Effect.fork(client.get("ses_abc"))
      yield* Wait.until("the request to reach the server", () => server.seen.length > 0)
      const [elapsed] = yield* Effect.timed(Fiber.interrupt(fiber))
      assert.isBelow(Duration.toMillis(elapsed), 1000)
      yield* Effect.ignore(Wait.until("the connection to close", () => closed > 0))
      assert.strictEqual(closed, 1, "the abandoned request's connection was closed")
    }).pipe(Effect.scoped))

  it.live("a server that never answers is Unreachable (timeout) within the timeout, not retried", () =>
    Effect.gen(function*() {
      const server = yield* localServer(() => undefined) // accepts, never answers
      const client = yield* clientFor(server.url, { requestTimeout: "400 millis" })
      const [elapsed, error] = yield* Effect.timed(Effect.flip(client.get("ses_abc")))
      assert.strictEqual(error._tag, "Unreachable")
      if (error._tag === "Unreachable") assert.strictEqual(error.reason, "timeout")
      assert.isBelow(Duration.toMillis(elapsed), 1500)
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.scoped))

  it.live("a dropped connection on an idempotent GET is retried; a POST create is not repeated", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* localServer((req, res) => {
        calls++
        if (calls <= 2) return req.socket.destroy()
        res.writeHead(200, { "content-type": "application/json" }).end("[]")
      })
      const client = yield* clientFor(server.url)
      assert.deepStrictEqual(yield* client.list(), [])
      assert.strictEqual(calls, 3, "two resets, then success")
      calls = 0
      const error = yield* Effect.flip(client.create({ title: "once" }))
      assert.strictEqual(error._tag, "Unreachable")
      assert.strictEqual(calls, 1, "a create is never sent twice")
    }).pipe(Effect.scoped))

  it.live("answers that do not decode are ProtocolError saying what and where", () =>
    Effect.gen(function*() {
      const server = yield* localServer((req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(req.url?.startsWith("/session/") ? JSON.stringify({ id: "ses_abc", title: 42 }) : "not json")
      })
      const client = yield* clientFor(server.url)
      const wrong = yield* Effect.flip(client.get("ses_abc"))
      assert.strictEqual(wrong._tag, "ProtocolError")
      assert.include(wrong.message, "/session/ses_abc")
      assert.include(wrong.message, "title")
      const garbage = yield* Effect.flip(client.list())
      assert.strictEqual(garbage._tag, "ProtocolError")
      assert.include(garbage.message, "JSON")
    }).pipe(Effect.scoped))
})

describe("the event stream", () => {
  const session = {
    id: "ses_abc",
    slug: "s",
    projectID: "p",
    directory: "/",
    title: "t",
    version: "1",
    time: { created: 1, updated: 2 }
  }

  it.live("unknown types and bad frames never end it; a silent stream is dead after the heartbeat deadline", () =>
    Effect.gen(function*() {
      const server = yield* localServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: {"type":"server.connected","properties":{}}\n\n`)
        res.write(`data: {"type":"message.part.delta","properties":{"x":1}}\n\n`)
        res.write(`data: not json\n\n`)
        res.write(`data: {"type":"session.updated","properties":{}}\n\n`)
        res.write(`event: other\ndata: {"type":"session.updated","properties":{"info":${JSON.stringify(session)}}}\n\n`)
        // then silence, with the socket left open
      })
      const client = yield* clientFor(server.url, { heartbeatTimeout: "300 millis" })
      const seen: Array<string> = []
      const [elapsed, error] = yield* client.events.pipe(
        Stream.runForEach((event) => Effect.sync(() => seen.push(event.type === "unknown" ? `unknown:${event.eventType}` : event.type))),
        Effect.flip,
        Effect.timed
      )
      assert.deepStrictEqual(seen, ["server.connected", "unknown:message.part.delta", "session.updated"])
      assert.strictEqual(error._tag, "Unreachable")
      if (error._tag === "Unreachable") assert.strictEqual(error.reason, "heartbeat")
      assert.isBelow(Duration.toMillis(elapsed), 2000)
    }).pipe(Effect.scoped))

  it.live("it ends, without failing, after server.instance.disposed", () =>
    Effect.gen(function*() {
      const server = yield* localServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: {"type":"server.connected","properties":{}}\n\n`)
        res.write(`data: {"type":"server.instance.disposed","properties":{}}\n\n`)
      })
      const client = yield* clientFor(server.url, { heartbeatTimeout: "5 seconds" })
      const events = yield* Effect.either(Stream.runCollect(client.events))
      assert.isTrue(Either.isRight(events))
      if (Either.isRight(events)) {
        assert.deepStrictEqual(Chunk.toReadonlyArray(events.right).map((e) => e.type), ["server.connected", "server.instance.disposed"])
      }
    }).pipe(Effect.scoped))
})
