import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Option, Redacted, Stream } from "effect"
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as Loopback from "@plue/testing/Loopback"

// Protocol cases the real server cannot produce on demand (a 400 with a given body, a 401 on the
// event stream, an event stream that never opens) are served by a plain loopback server that
// records what it receives, as in Robustness.test.ts.

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
}

const localServer = (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
  const seen: Array<Seen> = []
  return Effect.map(
    Loopback.serve((req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers })
      handler(req, res)
    }),
    ({ url, server }) => ({ url, seen, server })
  )
}

const clientFor = Loopback.client

const session = { id: "ses_abc", slug: "s", projectID: "p", directory: "/", title: "t", version: "1", time: { created: 1, updated: 2 } }

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))

const fromEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("OpenCodeConnection from configuration", () => {
  it.effect("layerConfig reads OPENCODE_URL, OPENCODE_SERVER_PASSWORD, OPENCODE_DIRECTORY and the timeouts; other settings keep their defaults", () =>
    Effect.gen(function*() {
      const settings = yield* Effect.provide(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.layerConfig).pipe(
        fromEnv({
          OPENCODE_URL: "http://127.0.0.1:4096/",
          OPENCODE_SERVER_PASSWORD: "s3cret",
          OPENCODE_DIRECTORY: "/work/project",
          OPENCODE_REQUEST_TIMEOUT: "5 seconds",
          OPENCODE_HEARTBEAT_TIMEOUT: "500 millis"
        })
      )
      assert.strictEqual(settings.url, "http://127.0.0.1:4096", "no trailing slash")
      assert.strictEqual(Option.map(settings.password, Redacted.value).pipe(Option.getOrUndefined), "s3cret")
      assert.strictEqual(String(settings.password.pipe(Option.getOrThrow)), "<redacted>", "the password prints redacted")
      assert.deepStrictEqual(settings.directory, Option.some("/work/project"))
      assert.strictEqual(Duration.toMillis(settings.requestTimeout), 5_000)
      assert.strictEqual(Duration.toMillis(settings.heartbeatTimeout), 500)
      assert.strictEqual(Duration.toMillis(settings.initTimeout), 10 * 60_000)
      assert.strictEqual(Duration.toMillis(settings.streamOpenTimeout), 3_000)
      assert.strictEqual(settings.retries, 3)

      const plain = yield* Effect.provide(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.layerConfig).pipe(
        fromEnv({ OPENCODE_URL: "https://opencode.example" })
      )
      assert.isTrue(Option.isNone(plain.password))
      assert.isTrue(Option.isNone(plain.directory))
      assert.strictEqual(Duration.toMillis(plain.requestTimeout), 10_000)
      assert.strictEqual(Duration.toMillis(plain.heartbeatTimeout), 30_000)
    }))

  it.effect("a missing or malformed OPENCODE_URL is a ConfigError that names the variable", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Effect.provide(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.layerConfig).pipe(fromEnv({})))
      assert.include(String(missing), "OPENCODE_URL")
      for (const url of ["127.0.0.1:4096", "ftp://host", "http:// spaced"]) {
        const bad = yield* Effect.flip(
          Effect.provide(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.layerConfig).pipe(fromEnv({ OPENCODE_URL: url }))
        )
        assert.include(String(bad), "OPENCODE_URL must be an http:// or https:// URL", url)
      }
      const timeout = yield* Effect.flip(
        Effect.provide(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.layerConfig).pipe(
          fromEnv({ OPENCODE_URL: "http://127.0.0.1:1", OPENCODE_REQUEST_TIMEOUT: "soon" })
        )
      )
      assert.include(String(timeout), "OPENCODE_REQUEST_TIMEOUT")
    }))

  it.live("OpenCodeClient.layerConfig talks to that server: basic auth as user opencode, ?directory= on every request and the event stream, no trace headers", () =>
    Effect.gen(function*() {
      const server = yield* localServer((req, res) => {
        if (req.url?.startsWith("/event")) {
          res.writeHead(200, { "content-type": "text/event-stream" })
          return void res.end(`data: {"type":"server.instance.disposed","properties":{}}\n\n`)
        }
        json(res, 200, req.url?.startsWith("/session/") ? session : [session])
      })
      const context = yield* Layer.build(Layer.provide(OpenCodeClient.layerConfig, NodeHttpClient.layerUndici)).pipe(
        fromEnv({ OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: "s3cret", OPENCODE_DIRECTORY: "/work/my project" })
      )
      const client = yield* Effect.provide(OpenCodeClient.OpenCodeClient, context)
      assert.strictEqual((yield* client.get("ses_abc")).id, "ses_abc")
      assert.strictEqual((yield* client.list()).length, 1)
      yield* Stream.runDrain(client.events)

      assert.strictEqual(server.seen.length, 3)
      const basic = `Basic ${Buffer.from("opencode:s3cret").toString("base64")}`
      for (const request of server.seen) {
        const url = new URL(request.url, server.url)
        assert.strictEqual(url.searchParams.get("directory"), "/work/my project", request.url)
        assert.strictEqual(request.headers.authorization, basic, request.url)
        assert.isUndefined(request.headers.traceparent, "no trace headers")
        assert.isUndefined(request.headers.b3, "no trace headers")
      }
      assert.deepStrictEqual(server.seen.map((r) => `${r.method} ${new URL(r.url, server.url).pathname}`), [
        "GET /session/ses_abc",
        "GET /session",
        "GET /event"
      ])
    }).pipe(Effect.scoped))

  it.live("without a password no authorization header is sent, and a 401 says to set OPENCODE_SERVER_PASSWORD", () =>
    Effect.gen(function*() {
      const server = yield* localServer((_req, res) => res.writeHead(401).end())
      const open = yield* clientFor(server.url)
      const error = yield* Effect.flip(open.get("ses_abc"))
      assert.strictEqual(error._tag, "Unauthorized")
      if (error._tag === "Unauthorized") {
        assert.isFalse(error.passwordSent)
        assert.strictEqual(error.status, 401)
      }
      assert.include(error.message, "the server needs a password; set OPENCODE_SERVER_PASSWORD")
      assert.isUndefined(server.seen[0]!.headers.authorization)

      const refused = yield* clientFor(server.url, { password: Redacted.make("wrong-password-value") })
      const wrong = yield* Effect.flip(refused.list())
      assert.strictEqual(wrong._tag, "Unauthorized")
      assert.include(wrong.message, "the password was refused; check OPENCODE_SERVER_PASSWORD")
      assert.include(wrong.message, `GET ${server.url}/session`)
      assert.notInclude(wrong.message, "wrong-password-value", "never the password")
    }).pipe(Effect.scoped))
})

describe("how answers are classified", () => {
  it.live("400 and 422 are BadRequest with the server's own message; other statuses are ServerError; 404 is SessionNotFound only on a session route", () =>
    Effect.gen(function*() {
      const server = yield* localServer((req, res) => {
        const path = new URL(req.url ?? "/", "http://x").pathname
        if (path === "/session/ses_data") return json(res, 400, { name: "BadRequest", data: { message: "title: Expected string" } })
        if (path === "/session/ses_plain") return void res.writeHead(422).end("  unprocessable title  \n")
        if (path === "/session/ses_named") return json(res, 500, { name: "UnknownError" })
        if (path === "/session/ses_tagged") return json(res, 500, { _tag: "Database.Locked" })
        if (path === "/session/ses_message") return json(res, 418, { message: "short and stout" })
        if (path === "/session/ses_empty") return void res.writeHead(500).end()
        if (path === "/session/ses_long") return void res.writeHead(500).end("x".repeat(5000))
        if (path === "/session/ses_gone") return void res.writeHead(404).end()
        return void res.writeHead(404).end("no such route")
      })
      const client = yield* clientFor(server.url, { retries: 0, storageRetryBudget: 0 })

      const data = yield* Effect.flip(client.update("ses_data", { title: "x" }))
      assert.strictEqual(data._tag, "BadRequest")
      if (data._tag === "BadRequest") {
        assert.strictEqual(data.status, 400)
        assert.strictEqual(data.detail, "title: Expected string")
      }
      assert.include(data.message, `PATCH ${server.url}/session/ses_data`)

      const plain = yield* Effect.flip(client.get("ses_plain"))
      assert.strictEqual(plain._tag, "BadRequest")
      if (plain._tag === "BadRequest") assert.strictEqual(plain.detail, "unprocessable title")

      const details: Array<[string, string, number]> = [
        ["ses_named", "UnknownError", 500],
        ["ses_tagged", "Database.Locked", 500],
        ["ses_message", "short and stout", 418],
        ["ses_empty", "(empty body)", 500]
      ]
      for (const [id, detail, status] of details) {
        const error = yield* Effect.flip(client.get(id))
        assert.strictEqual(error._tag, "ServerError", id)
        if (error._tag === "ServerError") {
          assert.strictEqual(error.detail, detail, id)
          assert.strictEqual(error.status, status, id)
        }
        assert.include(error.message, "The server log may say more")
      }
      const long = yield* Effect.flip(client.get("ses_long"))
      if (long._tag === "ServerError") assert.strictEqual(long.detail.length, 500, "the server's words are kept short")

      const gone = yield* Effect.flip(client.children("ses_gone"))
      assert.strictEqual(gone._tag, "SessionNotFound")
      if (gone._tag === "SessionNotFound") assert.strictEqual(gone.sessionId, "ses_gone")
      assert.include(gone.message, "list sessions to see what exists")

      // Not a session route: a 404 there means the server has no such route, not a missing session.
      const status = yield* Effect.flip(client.status)
      assert.strictEqual(status._tag, "ServerError")
      if (status._tag === "ServerError") {
        assert.strictEqual(status.status, 404)
        assert.strictEqual(status.detail, "no such route")
      }
    }).pipe(Effect.scoped))

  it.live("502, 503 and 504 on a read are retried `retries` times; `retries: 0` sends once; a delete is never repeated", () =>
    Effect.gen(function*() {
      const server = yield* localServer((req, res) => {
        const status = Number(new URL(req.url ?? "/", "http://x").searchParams.get("search") ?? 503)
        res.writeHead(req.method === "DELETE" ? 503 : status).end("upstream trouble")
      })
      const twice = yield* clientFor(server.url, { retries: 2, requestTimeout: "2 seconds" })
      for (const status of [502, 503, 504]) {
        const before = server.seen.length
        const error = yield* Effect.flip(twice.list({ search: String(status) }))
        assert.strictEqual(error._tag, "ServerError")
        assert.strictEqual(server.seen.length - before, 3, `${status}: one try and 2 retries`)
      }
      // A 500 is the server's own failure, not a transient one: not retried.
      const before = server.seen.length
      yield* Effect.flip(twice.list({ search: "500" }))
      assert.strictEqual(server.seen.length - before, 1)

      const once = yield* clientFor(server.url, { retries: 0 })
      const start = server.seen.length
      yield* Effect.flip(once.list({ search: "503" }))
      assert.strictEqual(server.seen.length - start, 1, "retries: 0 sends once")

      const deletes = server.seen.length
      assert.strictEqual((yield* Effect.flip(twice.delete("ses_abc")))._tag, "ServerError")
      assert.strictEqual(server.seen.length - deletes, 1, "a delete is sent once")
    }).pipe(Effect.scoped))

  it.live("list passes roots, search and start to the server and asks again, larger, when a page comes back full", () =>
    Effect.gen(function*() {
      const total = 1500
      const server = yield* localServer((req, res) => {
        const limit = Number(new URL(req.url ?? "/", "http://x").searchParams.get("limit"))
        const count = Math.min(limit, total)
        json(res, 200, Array.from({ length: count }, (_, i) => ({ ...session, id: `ses_${i}` })))
      })
      const client = yield* clientFor(server.url)
      const all = yield* client.list({ roots: true, search: "needle", start: 1234 })
      assert.strictEqual(all.length, total)
      const params = server.seen.map((r) => Object.fromEntries(new URL(r.url, server.url).searchParams))
      assert.deepStrictEqual(params, [
        { roots: "true", search: "needle", start: "1234", limit: "1000" },
        { roots: "true", search: "needle", start: "1234", limit: "4000" }
      ])
      // The next full listing asks for twice the largest list seen, at once.
      yield* client.list()
      assert.strictEqual(new URL(server.seen[2]!.url, server.url).searchParams.get("limit"), "3000")
    }).pipe(Effect.scoped))
})

describe("opening the event stream", () => {
  it.live("a 401 is Unauthorized, another status is ServerError with the server's words, a closed port is Unreachable (refused)", () =>
    Effect.gen(function*() {
      const denied = yield* localServer((_req, res) => res.writeHead(403).end())
      const deniedError = yield* Effect.flip(Stream.runDrain((yield* clientFor(denied.url, { password: Redacted.make("pw") })).events))
      assert.strictEqual(deniedError._tag, "Unauthorized")
      if (deniedError._tag === "Unauthorized") {
        assert.isTrue(deniedError.passwordSent)
        assert.strictEqual(deniedError.status, 403)
      }

      const broken = yield* localServer((_req, res) => res.writeHead(500).end("instance failed to boot"))
      const brokenError = yield* Effect.flip(Stream.runDrain((yield* clientFor(broken.url)).events))
      assert.strictEqual(brokenError._tag, "ServerError")
      if (brokenError._tag === "ServerError") assert.strictEqual(brokenError.detail, "instance failed to boot")
      assert.include(brokenError.message, `GET ${broken.url}/event`)

      const closed = yield* Effect.scoped(localServer(() => undefined)).pipe(Effect.map((s) => s.url))
      const refused = yield* Effect.flip(Stream.runDrain((yield* clientFor(closed)).events))
      assert.strictEqual(refused._tag, "Unreachable")
      if (refused._tag === "Unreachable") assert.strictEqual(refused.reason, "refused")
    }).pipe(Effect.scoped))

  it.live("a server that accepts and never answers is Unreachable (timeout) after streamOpenTimeout, not the request timeout", () =>
    Effect.gen(function*() {
      const silent = yield* localServer(() => undefined)
      const client = yield* clientFor(silent.url, { streamOpenTimeout: "300 millis", requestTimeout: "30 seconds" })
      const [elapsed, error] = yield* Effect.timed(Effect.flip(Stream.runDrain(client.events)))
      assert.strictEqual(error._tag, "Unreachable")
      if (error._tag === "Unreachable") assert.strictEqual(error.reason, "timeout")
      assert.include(error.message, "did not open within")
      assert.isBelow(Duration.toMillis(elapsed), 5_000)
    }).pipe(Effect.scoped))

  it.live("a frame without a type and a known type that does not decode are skipped; a stream cut mid-way is Unreachable (reset)", () =>
    Effect.gen(function*() {
      const server = yield* localServer((req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: {"properties":{}}\n\n`)
        res.write(`data: 42\n\n`)
        res.write(`data: {"type":"session.deleted","properties":{"info":{"id":7}}}\n\n`)
        res.write(`data: {"type":"session.deleted","properties":{"info":${JSON.stringify(session)}}}\n\n`)
        // Let the client read the frames, then cut the connection.
        setTimeout(() => req.socket.destroy(), 200)
      })
      const client = yield* clientFor(server.url)
      const seen: Array<string> = []
      const error = yield* client.events.pipe(
        Stream.runForEach((event) => Effect.sync(() => seen.push(event.type))),
        Effect.flip
      )
      assert.deepStrictEqual(seen, ["session.deleted"])
      assert.strictEqual(error._tag, "Unreachable")
      if (error._tag === "Unreachable") assert.strictEqual(error.reason, "reset")
      assert.include(error.message, "the event stream broke")
    }).pipe(Effect.scoped))
})
