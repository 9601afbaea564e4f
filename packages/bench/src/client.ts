/**
 * Client overhead: plue's OpenCodeClient against raw `fetch` and the official `@opencode-ai/sdk`
 * on the same real server, measured side by side (interleaved rounds, rotating order) so a noisy
 * machine affects all three alike.
 */
import { createOpencodeClient } from "@opencode-ai/sdk/v2/client"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import * as OpenCodeConnection from "@plue/core/OpenCodeConnection"
import type * as OpenCodeServer from "@plue/core/OpenCodeServer"
import * as UndiciHttpClient from "@plue/core/UndiciHttpClient"
import { type Figure, measure, type Op } from "./measure.js"
import { awaitQuiet, type Quiet } from "./quiet.js"

/**
 * The client's own cost, without OpenCode's noise: get, list (100 sessions), update and create
 * against a loopback server that answers at once with fixed bodies.
 */
export const overheadBench = (options: ClientBenchOptions) =>
  Effect.gen(function*() {
    const session = (i: number) => ({
      id: `ses_df52ef724ffeXDvMevBjGy${String(i).padStart(4, "0")}`,
      slug: "hidden-sailor",
      projectID: "global",
      directory: "/tmp/project",
      path: "",
      cost: 0,
      tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } },
      title: "a session",
      version: "1.18.33",
      time: { created: 1795477801179, updated: 1795477801179 }
    })
    const one = JSON.stringify(session(0))
    const hundred = JSON.stringify(Array.from({ length: 100 }, (_, i) => session(i)))
    const server = yield* Effect.acquireRelease(
      Effect.async<Server>((resume) => {
        const server = createServer((req, res) => {
          // The request body is read (and dropped) before answering, as a real server does.
          req.resume()
          req.on("end", () => {
            const body = req.method === "GET" && req.url?.startsWith("/session?") ? hundred : one
            res.writeHead(200, { "content-type": "application/json" }).end(body)
          })
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.sync(() => server.close())
    )
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const connection = OpenCodeConnection.make({ url, password: Redacted.make("pw") })
    // plue over its own HttpClient (UndiciHttpClient, what the bench's plue uses everywhere)
    // and over @effect/platform-node's NodeHttpClient.layerUndici, for comparison.
    const dispatcher = yield* UndiciHttpClient.makeDispatcher
    const client = yield* OpenCodeClient.make.pipe(
      Effect.provideService(OpenCodeConnection.OpenCodeConnection, connection),
      Effect.provideService(HttpClient.HttpClient, UndiciHttpClient.make(dispatcher))
    )
    const platformHttp = yield* Layer.build(NodeHttpClient.layerUndici)
    const platformClient = yield* OpenCodeClient.make.pipe(
      Effect.provideService(OpenCodeConnection.OpenCodeConnection, connection),
      Effect.provide(platformHttp)
    )
    const headers = { authorization: "Basic b3BlbmNvZGU6cHc=", accept: "application/json" }
    const json = { ...headers, "content-type": "application/json" }
    const sdk = createOpencodeClient({ baseUrl: url, headers: { authorization: headers.authorization } })
    const id = session(0).id
    const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect)
    const ok = async (response: Response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      return response.json() as Promise<unknown>
    }
    const sdkOk = (result: { error?: unknown; data?: unknown }) => {
      if (result.error !== undefined) throw new Error(JSON.stringify(result.error))
      return result.data
    }
    const ops: ReadonlyArray<Op> = [
      {
        name: "get (loopback stub)",
        impls: {
          fetch: () => fetch(`${url}/session/${id}`, { headers }).then(ok),
          sdk: () => sdk.session.get({ sessionID: id }).then(sdkOk),
          plue: () => run(client.get(id)),
          "plue/platform": () => run(platformClient.get(id))
        }
      },
      {
        name: "list (loopback stub)",
        impls: {
          fetch: () => fetch(`${url}/session?limit=1000`, { headers }).then(ok),
          sdk: () => sdk.session.list({ limit: 1000 }).then(sdkOk),
          plue: () => run(client.list()),
          "plue/platform": () => run(platformClient.list())
        }
      },
      {
        name: "update (loopback stub)",
        impls: {
          fetch: () => fetch(`${url}/session/${id}`, { method: "PATCH", headers: json, body: JSON.stringify({ title: "t" }) }).then(ok),
          sdk: () => sdk.session.update({ sessionID: id, title: "t" }).then(sdkOk),
          plue: () => run(client.update(id, { title: "t" })),
          "plue/platform": () => run(platformClient.update(id, { title: "t" }))
        }
      },
      {
        name: "create (loopback stub)",
        impls: {
          fetch: () => fetch(`${url}/session`, { method: "POST", headers: json, body: JSON.stringify({ title: "t" }) }).then(ok),
          sdk: () => sdk.session.create({ title: "t" }).then(sdkOk),
          plue: () => run(client.create({ title: "t" })),
          "plue/platform": () => run(platformClient.create({ title: "t" }))
        }
      }
    ]
    const figures: Array<Figure> = []
    for (const op of ops) {
      figures.push(yield* Effect.promise(() => measure(op, options.rounds, options.perRound * 4)))
    }
    return figures
  })

export interface ClientBenchOptions {
  readonly rounds: number
  readonly perRound: number
}

/** The real server's figures, and how long the bench waited for the server to go quiet before each route. */
export interface ClientFigures {
  readonly figures: ReadonlyArray<Figure>
  readonly quiet: ReadonlyArray<Quiet & { readonly route: string }>
}

export const clientBench = (
  server: OpenCodeServer.Info,
  client: OpenCodeClient.Service,
  options: ClientBenchOptions
): Effect.Effect<ClientFigures, unknown> =>
  Effect.gen(function*() {
    const auth = `Basic ${Buffer.from(`opencode:${Redacted.value(server.password)}`).toString("base64")}`
    const headers = { authorization: auth, accept: "application/json" }
    const json = { ...headers, "content-type": "application/json" }
    const sdk = createOpencodeClient({ baseUrl: server.url, headers: { authorization: auth } })
    const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect)
    // `create` runs last, so the list keeps its 100 sessions while it is measured.
    const ok = async (response: Response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      return response.json() as Promise<unknown>
    }
    const sdkOk = (result: { error?: unknown; data?: unknown }) => {
      if (result.error !== undefined) throw new Error(JSON.stringify(result.error))
      return result.data
    }

    // 100 sessions, so `list` moves a realistic page.
    const sessions = yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => client.create({ title: `bench ${i}` }), {
      concurrency: 8
    })
    const id = sessions[0]!.id
    let n = 0
    const title = () => `title ${n++}`

    const ops: ReadonlyArray<Op> = [
      {
        name: "get",
        impls: {
          fetch: () => fetch(`${server.url}/session/${id}`, { headers }).then(ok),
          sdk: () => sdk.session.get({ sessionID: id }).then(sdkOk),
          plue: () => run(client.get(id))
        }
      },
      {
        // Every implementation asks for the complete list in one request.
        name: "list",
        impls: {
          fetch: () => fetch(`${server.url}/session?limit=1000`, { headers }).then(ok),
          sdk: () => sdk.session.list({ limit: 1000 }).then(sdkOk),
          plue: () => run(client.list())
        }
      },
      {
        name: "update",
        impls: {
          fetch: () => fetch(`${server.url}/session/${id}`, { method: "PATCH", headers: json, body: JSON.stringify({ title: title() }) }).then(ok),
          sdk: () => sdk.session.update({ sessionID: id, title: title() }).then(sdkOk),
          plue: () => run(client.update(id, { title: title() }))
        }
      },
      {
        name: "create",
        impls: {
          fetch: () => fetch(`${server.url}/session`, { method: "POST", headers: json, body: JSON.stringify({ title: title() }) }).then(ok),
          sdk: () => sdk.session.create({ title: title() }).then(sdkOk),
          plue: () => run(client.create({ title: title() }))
        }
      }
    ]
    const figures: Array<Figure> = []
    const quiet: Array<Quiet & { readonly route: string }> = []
    for (const op of ops) {
      // A fresh server (and the 100 sessions just created) keeps it busy for a while: that
      // work would land on the first route timed, the same for every client but not the same
      // between routes and runs.
      quiet.push({ route: op.name, ...(yield* awaitQuiet(server.pid)) })
      figures.push(yield* Effect.promise(() => measure(op, options.rounds, options.perRound)))
    }
    return { figures, quiet }
  })
