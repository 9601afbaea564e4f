/**
 * `npm run bench`: every figure plue tracks, each beside its baseline measured in the same run.
 * The OpenCode client and the session bridge (from @plue/core's benchmark), then the C API.
 * `--json` prints one JSON object; `--quick` runs fewer rounds; `--client` runs only the client
 * figures (real server and loopback stub).
 */
import { NodeContext } from "@effect/platform-node"
import * as UndiciHttpClient from "@plue/core/UndiciHttpClient"
import { OpenCodeClient, OpenCodeConnection, OpenCodeServer, Plue, SessionCache, SessionEvents, SessionManager, SessionSync } from "@plue/core"
import { bridgeBench } from "./bridge.js"
import { clientBench, overheadBench } from "./client.js"
import { loadBench } from "./load.js"
import { table } from "./measure.js"
import { startupBench, startupTable } from "./startup.js"
import { makeSandbox } from "@plue/testing/TestServer"
import { Context, Effect, Layer } from "effect"
import koffi from "koffi"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Host from "@plue/ffi/Host"

const args = new Set(process.argv.slice(2))
const quick = args.has("--quick")

const compile = (): string => {
  const source = fileURLToPath(new URL("../c/bench.c", import.meta.url))
  const include = fileURLToPath(new URL("../../ffi/include", import.meta.url))
  const out = join(mkdtempSync(join(tmpdir(), "plue-bench-")), "bench.so")
  execFileSync("cc", ["-std=c11", "-O2", "-fPIC", "-shared", `-I${include}`, "-o", out, source, "-lpthread"])
  return out
}

interface CFigures {
  readonly calls: number
  readonly koffi: { readonly p50: number; readonly p99: number; readonly threads8PerSecond: number }
  readonly getInfo: { readonly p50: number; readonly p99: number; readonly threads8PerSecond: number }
}

const machine = {
  node: process.version,
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? "?"}`,
  memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`
}

const startupHeading = "CLI start, CPU time (user + system) of the whole process (baseline: node -e 0)"

/** `--startup`: only the CLI start figures. */
const startupOnly = Effect.sync(() => {
  const startup = startupBench(quick ? 7 : 21)
  if (args.has("--json")) return console.log(JSON.stringify({ machine, startup }, null, 2))
  console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
  console.log(startupHeading)
  console.log(startupTable(startup))
})

const program = Effect.gen(function*() {
  // First, while nothing else of the benchmark runs.
  const startup = args.has("--client") ? [] : startupBench(quick ? 7 : 21)
  const box = yield* makeSandbox
  const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
  const connection = OpenCodeConnection.layer({ url: server.url, password: server.password })
  const client = yield* OpenCodeClient.make.pipe(Effect.provide(connection))
  const sizes = quick ? { rounds: 3, perRound: 30 } : { rounds: 7, perRound: 100 }

  const clientFigures = yield* clientBench(server, client, sizes)
  const overhead = yield* overheadBench(sizes)
  if (args.has("--client")) {
    if (args.has("--json")) return console.log(JSON.stringify({ machine, client: clientFigures, clientOverhead: overhead }, null, 2))
    console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
    console.log("OpenCode client, per call (baseline: raw fetch)")
    console.log(table(clientFigures))
    console.log("\nClient overhead alone, against a loopback stub answering at once (baseline: raw fetch)")
    console.log(table(overhead))
    return
  }
  const context = yield* Layer.build(Plue.layer().pipe(Layer.provide(connection)))
  yield* Context.get(context, SessionSync.SessionSync).awaitConnected
  const bridge = yield* bridgeBench(
    server,
    client,
    Context.get(context, SessionManager.SessionManager),
    Context.get(context, SessionEvents.SessionEvents),
    { ...sizes, perRound: sizes.perRound * 4, changes: quick ? 50 : 300 }
  )

  const load = yield* loadBench(
    server,
    client,
    Context.get(context, SessionCache.SessionCache),
    Context.get(context, SessionSync.SessionSync),
    Context.get(context, SessionManager.SessionManager),
    quick ? { sessions: 1000, rounds: 2, handleCycles: 10_000 } : { sessions: 10_000, rounds: 3, handleCycles: 100_000 }
  )

  // The C API: plue_session_get_info from C threads, beside a bare koffi round trip.
  const library = compile()
  const report = join(mkdtempSync(join(tmpdir(), "plue-bench-")), "c.json")
  const c = yield* Effect.scoped(Effect.gen(function*() {
    const lib = koffi.load(library)
    const Echo = koffi.proto("int bench_echo_fn(int x)")
    const setEcho = lib.func("void bench_set_echo(bench_echo_fn *fn)")
    const echo = yield* Effect.acquireRelease(
      Effect.sync(() => koffi.register((x: number) => x, koffi.pointer(Echo))),
      (pointer) => Effect.sync(() => koffi.unregister(pointer))
    )
    setEcho(echo)
    const { status } = yield* Host.run(library, [String(quick ? 5000 : 20000), report])
    if (status !== 0) return yield* Effect.dieMessage(`the C benchmark exited with ${status}`)
    return JSON.parse(readFileSync(report, "utf8")) as CFigures
  })).pipe(Effect.provide(context))

  if (args.has("--json")) {
    console.log(JSON.stringify({ machine, startup, client: clientFigures, clientOverhead: overhead, bridge, c, load }, null, 2))
    return
  }
  const f = bridge.freshness
  console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
  console.log(startupHeading)
  console.log(startupTable(startup))
  console.log("\nOpenCode client, per call (baseline: raw fetch)")
  console.log(table(clientFigures))
  console.log("\nClient overhead alone, against a loopback stub answering at once (baseline: raw fetch)")
  console.log(table(overhead))
  console.log("\nSession bridge: cached read (baseline: one HTTP GET through the plue client)")
  console.log(table([bridge.cachedRead]))
  console.log(`  a cached read is ${(bridge.cachedRead.ratios["HTTP GET (plue client)"]! / bridge.cachedRead.ratios["cached (SessionManager.info)"]!).toFixed(0)}x faster than one HTTP GET`)
  console.log(
    `\nFreshness, another client's PATCH sent -> Updated event at our subscriber (${f.samples} changes):` +
      ` p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms`
  )
  console.log(`\nC API, ${c.calls} calls a thread (baseline: a bare koffi round trip, C thread -> JS -> C)`)
  const line = (label: string, f: CFigures["koffi"]) =>
    console.log(`  ${label.padEnd(24)}p50 ${f.p50.toFixed(2)} us  p99 ${f.p99.toFixed(2)} us  8 threads ${f.threads8PerSecond.toFixed(0)} calls/s`)
  line("koffi round trip", c.koffi)
  line("plue_session_get_info", c.getInfo)
  const ratio = c.getInfo.p50 / c.koffi.p50
  console.log(`  p50 ratio               ${ratio.toFixed(3)}x the bare round trip${ratio < 1 ? ` (${(1 / ratio).toFixed(0)}x faster: warm reads are answered in C)` : ""}`)
  console.log(`  8-thread ratio          ${(c.getInfo.threads8PerSecond / c.koffi.threads8PerSecond).toFixed(1)}x the bare round trip's calls/s`)
  console.log(`\nLoad: ${load.sessions} sessions on the server (created in ${load.createSeconds} s); baseline: one raw fetch of the whole list`)
  console.log(table([load.reconcile]))
  console.log(`  cache equals server after reconcile: ${load.cacheEqualsServer}`)
  console.log(`  memory per cached session: ~${load.bytesPerCachedSession} bytes of heap`)
  console.log(
    `  ${load.handleCycles} handle open/destroy cycles (after a warm-up of ${load.handleCycles / 4}): RSS ${load.rssBeforeMiB} -> ${load.rssAfterMiB} MiB` +
      ` (each quarter: ${load.rssSeriesMiB.join(", ")}), heap ${load.heapBeforeMiB} -> ${load.heapAfterMiB} MiB`
  )
})

;(args.has("--startup") ? startupOnly : program).pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)),
  Effect.runPromise
).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
