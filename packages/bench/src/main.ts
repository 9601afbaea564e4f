/**
 * `npm run bench`: every figure plue tracks, each beside its baseline measured in the same run.
 * The OpenCode client and the session bridge (from @plue/core's benchmark), then the C API.
 * `--json` prints one JSON object; `--quick` runs fewer rounds; `--client` runs only the client
 * figures (real server and loopback stub); `--c-api` runs only the C API section; `--retry` runs
 * only the retry figure (a rename during a 10 s database lock); `--no-retry` leaves it out; `--bulk`
 * runs only the batch figure (64 deletes, serial against concurrency 8).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as UndiciHttpClient from "@plue/core/UndiciHttpClient"
import { OpenCodeClient, OpenCodeConnection, OpenCodeServer, Plue, SessionCache, SessionEvents, SessionManager, SessionSync } from "@plue/core"
import { bridgeBench } from "./bridge.js"
import { bulkBench, bulkLines } from "./bulk.js"
import { clientBench, type ClientFigures, overheadBench } from "./client.js"
import { loadBench } from "./load.js"
import { retryBench, type RetryFigures, retryTable } from "./retry.js"
import { table } from "./measure.js"
import { startupBench, startupTable } from "./startup.js"
import { makeSandbox } from "@plue/testing/TestServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import koffi from "koffi"
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Host from "@plue/ffi/Host"

const args = new Set(process.argv.slice(2))
const quick = args.has("--quick")

const compile = (flags: ReadonlyArray<string> = ["-fPIC", "-shared"]): string => {
  const source = fileURLToPath(new URL("../c/bench.c", import.meta.url))
  const include = fileURLToPath(new URL("../../ffi/include", import.meta.url))
  const out = join(mkdtempSync(join(tmpdir(), "plue-bench-")), "bench")
  execFileSync("cc", ["-std=c11", "-O2", ...flags, `-I${include}`, "-o", out, source, "-lpthread"])
  return out
}

/** A `plue` command for PLUE_COMMAND: the built CLI run by this Node. */
const plueCommand = (): string => {
  const cli = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url))
  const path = join(mkdtempSync(join(tmpdir(), "plue-bench-cmd-")), "plue")
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`)
  chmodSync(path, 0o755)
  return path
}

interface Latency {
  readonly p50: number
  readonly p99: number
  readonly threads8PerSecond: number
}

interface CFigures {
  readonly calls: number
  /** plue_init until bound (sidecar only), ms. */
  readonly initMs: number
  readonly koffi: Latency
  readonly roundTrip: Latency
  readonly getInfo: Latency
}

/**
 * The C API, both transports in the same run: `plue host` (koffi, in-process) and the sidecar (a
 * program with its own main(): plue_init starts `plue serve`, reached over a socketpair).
 */
const cApiBench = (
  context: Context.Context<SessionManager.SessionManager | SessionEvents.SessionEvents | SessionCache.SessionCache>,
  server: { readonly url: string; readonly password: Redacted.Redacted<string> }
) =>
  Effect.gen(function*() {
    const calls = quick ? 5000 : 20000
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
      const { status } = yield* Host.run(library, [String(calls), report])
      if (status !== 0) return yield* Effect.dieMessage(`the C benchmark exited with ${status}`)
      return JSON.parse(readFileSync(report, "utf8")) as CFigures
    })).pipe(Effect.provide(context))

    const sidecarProgram = compile(["-DBENCH_SIDECAR"])
    const sidecarReport = join(mkdtempSync(join(tmpdir(), "plue-bench-")), "sidecar.json")
    const sidecar = yield* Effect.acquireUseRelease(
      Effect.sync(() =>
        spawn(sidecarProgram, [String(calls), sidecarReport], {
          env: {
            PATH: process.env.PATH ?? "",
            PLUE_COMMAND: plueCommand(),
            OPENCODE_URL: server.url,
            OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
          },
          stdio: ["ignore", "inherit", "inherit"]
        })
      ),
      (child) =>
        Effect.async<number | null>((resume) => {
          child.on("close", (code) => resume(Effect.succeed(code)))
        }).pipe(
          Effect.flatMap((code) =>
            code === 0
              ? Effect.sync(() => JSON.parse(readFileSync(sidecarReport, "utf8")) as CFigures)
              : Effect.dieMessage(`the sidecar C benchmark exited with ${code}`)
          )
        ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )

    return { c, sidecar }
  })

const printC = (c: CFigures, sidecar: CFigures) => {
  console.log(`\nC API, ${c.calls} calls a thread: \`plue host\` (koffi, in-process) and the sidecar (own main(), plue_init), side by side`)
  const cell = (f: Latency | undefined) =>
    f === undefined ? "-".padEnd(44) : `p50 ${f.p50.toFixed(2)} us  p99 ${f.p99.toFixed(2)} us  8t ${f.threads8PerSecond.toFixed(0)}/s`.padEnd(44)
  console.log(`  ${"".padEnd(26)}${"plue host".padEnd(44)}${"sidecar".padEnd(44)}sidecar / host`)
  const row = (label: string, host: Latency, side: Latency | undefined) =>
    console.log(
      `  ${label.padEnd(26)}${cell(host)}${cell(side)}` +
        (side ? `p50 ${(side.p50 / host.p50).toFixed(2)}x, 8t ${(side.threads8PerSecond / host.threads8PerSecond).toFixed(2)}x` : "")
    )
  row("bare koffi round trip", c.koffi, undefined)
  row("plue round trip (hop)", c.roundTrip, sidecar.roundTrip)
  row("warm get_info (in C)", c.getInfo, sidecar.getInfo)
  console.log(`  plue round trip vs the bare koffi one: ${(c.roundTrip.p50 / c.koffi.p50).toFixed(2)}x at p50 under plue host`)
  console.log(
    `  warm get_info vs the plue round trip: ${(c.roundTrip.p50 / c.getInfo.p50).toFixed(0)}x faster under plue host, ${
      (sidecar.roundTrip.p50 / sidecar.getInfo.p50).toFixed(0)
    }x with the sidecar`
  )
  console.log(`  plue_init until bound (sidecar start, connected to the server): ${sidecar.initMs.toFixed(0)} ms`)
}

const machine = {
  node: process.version,
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? "?"}`,
  memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`
}

const retryHeading = (retry: RetryFigures) =>
  `Retries on OpenCode's storage error: a rename sent as its database is write-locked for ${retry.lockSeconds} s (${retry.rounds} round(s), default settings)`

const quietLine = (client: ClientFigures) =>
  `  waited for the server to go quiet (under 10% of a core for 2 s) before each route: ${
    client.quiet.map((q) => `${q.route} ${q.waited.toFixed(0)} s${q.quiet ? "" : " (not quiet)"}`).join(", ")
  }`

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
  const startup = args.has("--client") || args.has("--retry") || args.has("--bulk") ? [] : startupBench(quick ? 7 : 21)
  const box = yield* makeSandbox
  const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
  const connection = OpenCodeConnection.layer({ url: server.url, password: server.password })
  const client = yield* OpenCodeClient.make.pipe(Effect.provide(connection))
  const sizes = quick ? { rounds: 5, perRound: 40 } : { rounds: 7, perRound: 100 }
  const retryRounds = quick ? 1 : 3

  if (args.has("--retry")) {
    const retry = yield* retryBench(server, box, retryRounds)
    if (args.has("--json")) return console.log(JSON.stringify({ machine, retry }, null, 2))
    console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
    console.log(retryHeading(retry))
    console.log(retryTable(retry))
    return
  }

  if (args.has("--c-api")) {
    // Only the C API section (both transports), e.g. to compare them quickly.
    const context = yield* Layer.build(Plue.layer().pipe(Layer.provide(connection)))
    yield* Context.get(context, SessionSync.SessionSync).awaitConnected
    const { c, sidecar } = yield* cApiBench(context, server)
    if (args.has("--json")) console.log(JSON.stringify({ c, sidecar }, null, 2))
    else printC(c, sidecar)
    return
  }

  if (args.has("--bulk")) {
    const context = yield* Layer.build(Plue.layer().pipe(Layer.provide(connection)))
    yield* Context.get(context, SessionSync.SessionSync).awaitConnected
    const bulk = yield* bulkBench(client, Context.get(context, SessionManager.SessionManager), { rounds: quick ? 3 : 7 })
    if (args.has("--json")) console.log(JSON.stringify({ machine, bulk }, null, 2))
    else {
      console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}`)
      for (const line of bulkLines(bulk)) console.log(line)
    }
    return
  }

  const clientFigures = yield* clientBench(server, client, sizes)
  const overhead = yield* overheadBench(sizes)
  if (args.has("--client")) {
    if (args.has("--json")) return console.log(JSON.stringify({ machine, client: clientFigures, clientOverhead: overhead }, null, 2))
    console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
    console.log("OpenCode client, per call (baseline: raw fetch)")
    console.log(table(clientFigures.figures))
    console.log(quietLine(clientFigures))
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

  const bulk = yield* bulkBench(client, Context.get(context, SessionManager.SessionManager), { rounds: quick ? 3 : 7 })

  const { c, sidecar } = yield* cApiBench(context, server)
  const retry = args.has("--no-retry") ? undefined : yield* retryBench(server, box, retryRounds)

  if (args.has("--json")) {
    console.log(JSON.stringify({ machine, startup, client: clientFigures, clientOverhead: overhead, bridge, c, sidecar, load, retry, bulk }, null, 2))
    return
  }
  const f = bridge.freshness
  console.log(`plue benchmark: ${machine.node}, ${machine.cpus}, ${machine.memory}\n`)
  console.log(startupHeading)
  console.log(startupTable(startup))
  console.log("\nOpenCode client, per call (baseline: raw fetch)")
  console.log(table(clientFigures.figures))
  console.log(quietLine(clientFigures))
  console.log("\nClient overhead alone, against a loopback stub answering at once (baseline: raw fetch)")
  console.log(table(overhead))
  console.log("\nSession bridge: cached read (baseline: one HTTP GET through the plue client)")
  console.log(table([bridge.cachedRead]))
  console.log(
    `  a cached read is ${
      (bridge.cachedRead.ratios["HTTP GET (plue client)"]! / bridge.cachedRead.ratios["cached (SessionManager.info)"]!).toFixed(0)
    }x faster than one HTTP GET`
  )
  console.log(
    `\nFreshness, another client's PATCH sent -> Updated event at our subscriber (${f.samples} changes):` +
      ` p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms`
  )
  for (const line of bulkLines(bulk)) console.log(line)
  printC(c, sidecar)
  console.log(`\nLoad: ${load.sessions} sessions on the server (created in ${load.createSeconds} s); baseline: one raw fetch of the whole list`)
  console.log(table([load.reconcile]))
  console.log(`  cache equals server after reconcile: ${load.cacheEqualsServer}`)
  console.log(`  memory per cached session: ~${load.bytesPerCachedSession} bytes of heap`)
  console.log(
    `  ${load.handleCycles} handle open/destroy cycles (after a warm-up of ${load.handleCycles / 4}): RSS ${load.rssBeforeMiB} -> ${load.rssAfterMiB} MiB` +
      ` (each quarter: ${load.rssSeriesMiB.join(", ")}), heap ${load.heapBeforeMiB} -> ${load.heapAfterMiB} MiB`
  )
  if (retry !== undefined) {
    console.log(`\n${retryHeading(retry)}`)
    console.log(retryTable(retry))
  }
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
