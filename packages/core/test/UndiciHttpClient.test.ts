import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Option, Stream, Tracer } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

// The real server, with plue's client over UndiciHttpClient instead of NodeHttpClient.layerUndici.
const Live = TestServer.layer().pipe(Layer.provideMerge(Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)))

/** A loopback server that records what it receives and answers with `answer`. */
const recorder = (answer: (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly seen: Array<{ method: string; url: string; headers: Record<string, unknown> }>; readonly server: Server }>(
      (resume) => {
        const seen: Array<{ method: string; url: string; headers: Record<string, unknown> }> = []
        const server = createServer((req, res) => {
          seen.push({ method: req.method ?? "", url: req.url ?? "", headers: { ...req.headers } })
          answer(req, res)
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server })))
      }
    ),
    ({ server }) => Effect.sync(() => server.closeAllConnections?.() ?? server.close())
  )

layer(Live, { timeout: 180_000, excludeTestServices: true })("UndiciHttpClient", (it) => {
  it.effect("the client's session routes and its event stream work over it against the real server", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      assert.strictEqual((yield* client.health).version, "1.18.33")
      const created = yield* client.create({ title: "over undici" })
      assert.strictEqual((yield* client.get(created.id)).title, "over undici")
      const events = yield* client.events.pipe(
        Stream.filter((event) => event.type === "session.updated"),
        Stream.take(1),
        Stream.runHead,
        Effect.fork
      )
      // The stream is open once an update reaches it; updates are sent until one does.
      yield* Wait.until(
        "a session.updated event on the stream",
        Effect.gen(function*() {
          yield* client.update(created.id, { title: "renamed" })
          return Option.isSome(yield* Fiber.poll(events))
        }),
        { timeout: "60 seconds", every: "200 millis" }
      )
      const event = yield* Fiber.join(events)
      assert.isTrue(Option.isSome(event) && event.value.type === "session.updated")
      const listed = yield* client.list()
      assert.isTrue(listed.some((s) => s.id === created.id && s.title === "renamed"))
      assert.isTrue(yield* client.delete(created.id))
      const gone = yield* Effect.either(client.get(created.id))
      assert.isTrue(Either.isLeft(gone) && gone.left._tag === "SessionNotFound")
    }))

  it.scoped("any request: query parameters, headers and a body reach the server as sent; the answer reads as text and JSON", () =>
    Effect.gen(function*() {
      const stub = yield* recorder((req, res) => {
        let body = ""
        req.on("data", (chunk) => (body += chunk))
        req.on("end", () => res.writeHead(201, { "content-type": "application/json", "x-echo": "yes" }).end(JSON.stringify({ body })))
      })
      const http = yield* HttpClient.HttpClient
      const response = yield* http.execute(
        HttpClientRequest.post(`${stub.url}/a/b?x=1`).pipe(
          HttpClientRequest.setUrlParam("y", "two words"),
          HttpClientRequest.setHeader("x-test", "1"),
          HttpClientRequest.bodyUnsafeJson({ hello: "world" })
        )
      )
      assert.strictEqual(response.status, 201)
      assert.strictEqual(response.headers["x-echo"], "yes")
      assert.deepStrictEqual(yield* response.json, { body: JSON.stringify({ hello: "world" }) })
      assert.deepStrictEqual(yield* response.json, { body: JSON.stringify({ hello: "world" }) }, "a second read answers the same")
      assert.strictEqual(stub.seen[0]!.method, "POST")
      assert.strictEqual(stub.seen[0]!.url, "/a/b?x=1&y=two+words")
      assert.strictEqual(stub.seen[0]!.headers["x-test"], "1")
      assert.isUndefined(stub.seen[0]!.headers.traceparent, "no trace headers without a tracer")
    }))

  it.scoped("interrupting a request whose answer never comes closes its connection", () =>
    Effect.gen(function*() {
      let closed = 0
      const stub = yield* recorder((req) => req.socket.on("close", () => closed++))
      const http = yield* HttpClient.HttpClient
      const fiber = yield* Effect.fork(http.execute(HttpClientRequest.get(`${stub.url}/hang`)))
      yield* Wait.until("the request to arrive", () => stub.seen.length > 0, { timeout: "30 seconds" })
      yield* Fiber.interrupt(fiber)
      yield* Wait.until("the connection to close", () => closed > 0, { timeout: "30 seconds" })
    }))

  it.scoped("interrupting the read of a body that never ends closes its connection", () =>
    Effect.gen(function*() {
      let closed = 0
      const stub = yield* recorder((req, res) => {
        req.socket.on("close", () => closed++)
        res.writeHead(200, { "content-type": "text/plain" }).write("the start and never the end")
      })
      const http = yield* HttpClient.HttpClient
      const response = yield* http.execute(HttpClientRequest.get(`${stub.url}/slow-body`))
      assert.strictEqual(response.status, 200)
      // A deadline interrupts the read once it is under way.
      const read = yield* Effect.either(Effect.timeout(response.text, "200 millis"))
      assert.isTrue(Either.isLeft(read) && read.left._tag === "TimeoutException", "the read never completes")
      yield* Wait.until("the connection to close", () => closed > 0, { timeout: "30 seconds" })
    }))

  it.scoped("with a tracer installed, requests take the platform's path: a client span, trace headers", () =>
    Effect.gen(function*() {
      const stub = yield* recorder((_req, res) => res.writeHead(200).end("ok"))
      const spans: Array<string> = []
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          spans.push(name)
          return base.span(name, parent, context, links, startTime, kind, options)
        },
        context: base.context
      })
      const http = yield* HttpClient.HttpClient
      const text = yield* Effect.flatMap(http.get(`${stub.url}/traced`), (r) => r.text).pipe(Effect.withTracer(tracer))
      assert.strictEqual(text, "ok")
      assert.isTrue(spans.some((name) => name.startsWith("http.client")), `spans: ${spans.join(", ")}`)
      assert.isString(stub.seen[0]!.headers.traceparent)
    }))
})
