/**
 * `npm run bench`: every figure plue tracks, each measured side by side with its baseline in this
 * same run. `--json` prints one JSON object instead of the table; `--quick` runs fewer rounds.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Effect, Layer } from "effect"
import { cpus, totalmem } from "node:os"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import { makeSandbox } from "../src/testing/TestServer.js"
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
  const machine = {
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? "?"}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    opencode: server.binary
  }
  if (args.has("--json")) {
    console.log(JSON.stringify({ machine, client: figures, clientOverhead: overhead }, null, 2))
  } else {
    console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
    console.log("OpenCode client, per call (baseline: raw fetch)")
    console.log(table(figures))
    console.log("\nClient overhead alone, against a loopback stub answering at once (baseline: raw fetch)")
    console.log(table([overhead]))
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
