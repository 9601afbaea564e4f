/**
 * Batches of deletes against a real server, for a CPU profile of the bridge's own work:
 * `node packages/bench/dist/bulkProfile.js [bulk|raw] [concurrency] [batches] [profile.cpuprofile]`
 * deletes batches of 64 fresh sessions (that the bridge's cache follows) through
 * `SessionManager.bulk` (default) or straight through the client, 8 at once by default. The
 * profiler (node:inspector) runs only while the batches run, not while they are prepared. Prints
 * the wall time and this process's CPU time per delete; writes the profile when given a path.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as UndiciHttpClient from "@plue/core/UndiciHttpClient"
import { OpenCodeClient, OpenCodeConnection, OpenCodeServer, Plue, SessionManager, SessionSync } from "@plue/core"
import { makeSandbox } from "@plue/testing/TestServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"

const which = process.argv[2] === "raw" ? "raw" : "bulk"
const concurrency = Number(process.argv[3] ?? 8)
const batches = Number(process.argv[4] ?? 5)
const out = process.argv[5]
const n = 64

const program = Effect.gen(function*() {
  const box = yield* makeSandbox
  const server = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
  const connection = OpenCodeConnection.layer({ url: server.url, password: server.password })
  const client = yield* OpenCodeClient.make.pipe(Effect.provide(connection))
  const context = yield* Layer.build(Plue.layer().pipe(Layer.provide(connection)))
  yield* Context.get(context, SessionSync.SessionSync).awaitConnected
  const sessions = Context.get(context, SessionManager.SessionManager)
  const inspector = new Session()
  inspector.connect()
  yield* Effect.promise(() => inspector.post("Profiler.enable"))
  let wall = 0
  let cpu = 0
  let failures = 0
  for (let batch = 0; batch < batches; batch++) {
    const made = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.create({ title: `profile ${i}` }), { concurrency: 8 })
    for (;;) {
      const listed = new Set((yield* sessions.list).map((s) => s.id))
      if (made.every((s) => listed.has(s.id))) break
      yield* Effect.sleep("20 millis")
    }
    if (out !== undefined) yield* Effect.promise(() => inspector.post("Profiler.start"))
    const used = process.cpuUsage()
    const start = performance.now()
    if (which === "bulk") {
      const results = yield* sessions.bulk(made.map((s) => ({ op: "delete" as const, session: s.id })), { concurrency })
      failures += results.filter((r) => r.status !== "ok").length
    } else {
      const outcomes = yield* Effect.forEach(made, (s) => Effect.either(client.delete(s.id)), { concurrency })
      failures += outcomes.filter((o) => o._tag === "Left").length
    }
    wall += performance.now() - start
    const spent = process.cpuUsage(used)
    cpu += (spent.user + spent.system) / 1000
    if (out !== undefined) {
      const { profile } = yield* Effect.promise(() => inspector.post("Profiler.stop"))
      writeFileSync(batches === 1 ? out : out.replace(/(\.cpuprofile)?$/, `.${batch}.cpuprofile`), JSON.stringify(profile))
    }
  }
  console.log(
    `${which} at ${concurrency}: ${batches} batches of ${n} deletes, wall ${(wall / batches).toFixed(0)} ms a batch, CPU ${
      (cpu / batches / n).toFixed(2)
    } ms a delete, ${failures} failed`
  )
})

program.pipe(Effect.scoped, Effect.provide(Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)), Effect.runPromise).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
