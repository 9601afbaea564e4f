/**
 * `npm run bench`: every figure plue tracks, each measured side by side with its baseline in this
 * same run. `--json` prints one JSON object instead of the table; `--quick` runs fewer rounds.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Context, Effect, Layer } from "effect"
import { cpus, totalmem } from "node:os"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import * as SessionEvents from "../src/SessionEvents.js"
import * as SessionManager from "../src/SessionManager.js"
import * as SessionSync from "../src/SessionSync.js"
import { makeSandbox } from "../src/testing/TestServer.js"
import { bridgeBench } from "./bridge.js"
import { clientBench, overheadBench } from "./client.js"
import { table } from "./measure.js"

const args = new Set(process.argv.slice(2))
const quick = args.has("--quick")

const program = Effect.gen(function*() {
  const box = yield* makeSandbox
  const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
  const client = yield* OpenCodeClient.make.pipe(
    Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: server.url, password: server.password }))
  )
  const sizes = quick ? { rounds: 3, perRound: 30 } : { rounds: 7, perRound: 100 }
  const figures = yield* clientBench(server, client, sizes)
  const overhead = yield* overheadBench(sizes)
  const bridge = yield* Effect.gen(function*() {
    const context = yield* Layer.build(Plue.layerWith().pipe(
      Layer.provide(OpenCodeConnection.layer({ url: server.url, password: server.password }))
    ))
    yield* Context.get(context, SessionSync.SessionSync).awaitConnected
    return yield* bridgeBench(
      server,
      client,
      Context.get(context, SessionManager.SessionManager),
      Context.get(context, SessionEvents.SessionEvents),
      { ...sizes, perRound: sizes.perRound * 4, changes: quick ? 50 : 300 }
    )
  })
  const machine = {
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? "?"}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    opencode: server.binary
  }
  if (args.has("--json")) {
    console.log(JSON.stringify({ machine, client: figures, clientOverhead: overhead, bridge }, null, 2))
  } else {
    console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
    console.log("OpenCode client, per call (baseline: raw fetch)")
    console.log(table(figures))
    console.log("\nClient overhead alone, against a loopback stub answering at once (baseline: raw fetch)")
    console.log(table([overhead]))
    console.log("\nSession bridge: cached read (baseline: one HTTP GET through the plue client)")
    console.log(table([bridge.cachedRead]))
    const f = bridge.freshness
    console.log(
      `\nFreshness, another client's PATCH sent -> Updated event at our subscriber (${f.samples} changes):` +
        ` p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, mean ${f.mean.toFixed(2)} ms`
    )
  }
})

program.pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(NodeContext.layer, process.env.PLUE_BENCH_HTTP === "fetch" ? FetchHttpClient.layer : process.env.PLUE_BENCH_HTTP === "node" ? NodeHttpClient.layer : NodeHttpClient.layerUndici)),
  Effect.runPromise
).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
