/**
 * One route in a loop against a loopback stub, for `node --cpu-prof`:
 * `node --cpu-prof packages/bench/dist/profile.js [undici|platform|fetch|sdk] [calls] [get|list]`
 * runs plue's client over `UndiciHttpClient` (default) or `NodeHttpClient.layerUndici`, or, for
 * comparison, raw `fetch` or the official SDK, on `get` (default) or `list` (100 sessions, the
 * bench's stub listing). Prints wall and CPU time a call.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { createOpencodeClient } from "@opencode-ai/sdk/v2/client"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import * as OpenCodeConnection from "@plue/core/OpenCodeConnection"
import * as UndiciHttpClient from "@plue/core/UndiciHttpClient"

const which = process.argv[2] ?? "undici"
const calls = Number(process.argv[3] ?? 20000)
const route = process.argv[4] === "list" ? "list" : "get"
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
const body = JSON.stringify(route === "list" ? Array.from({ length: 100 }, (_, i) => session(i)) : session(0))
const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(body))
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const program = Effect.gen(function*() {
  const client = yield* OpenCodeClient.make.pipe(
    Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url, password: Redacted.make("pw") }))
  )
  const headers = { authorization: "Basic b3BlbmNvZGU6cHc=", accept: "application/json" }
  const sdk = createOpencodeClient({ baseUrl: url, headers: { authorization: headers.authorization } })
  const id = session(0).id
  const call = route === "list"
    ? which === "fetch"
      ? () => fetch(`${url}/session?limit=1000`, { headers }).then((r) => r.json())
      : which === "sdk"
      ? () => sdk.session.list({ limit: 1000 })
      : () => Effect.runPromise(client.list())
    : which === "fetch"
    ? () => fetch(`${url}/session/${id}`, { headers }).then((r) => r.json())
    : which === "sdk"
    ? () => sdk.session.get({ sessionID: id })
    : () => Effect.runPromise(client.get(id))
  for (let i = 0; i < 500; i++) yield* Effect.promise(call)
  const start = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  for (let i = 0; i < calls; i++) yield* Effect.promise(call)
  const used = process.cpuUsage(cpu)
  const us = Number(process.hrtime.bigint() - start) / 1000 / calls
  // CPU time of the whole process (the stub server included, alike for every client).
  console.log(`${which} ${route}: wall ${us.toFixed(1)} us, CPU ${((used.user + used.system) / calls).toFixed(1)} us a call (mean over ${calls})`)
})

await Effect.runPromise(
  Effect.scoped(
    which === "platform"
      ? Effect.provide(program, NodeHttpClient.layerUndici)
      : Effect.provide(program, UndiciHttpClient.layer)
  )
)
server.close()
