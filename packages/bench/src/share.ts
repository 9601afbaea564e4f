/**
 * The share service on PostgreSQL: viewer reads per second against one `plue share-server`
 * replica and against two on the same database, and sync writes per second. Runs on its own
 * (`node packages/bench/dist/share.js [--quick] [--json]`, after `tsc -b`) and from `main.ts`.
 * Needs Debian's PostgreSQL (scripts/setup-postgres.sh).
 */
import * as PostgreSQL from "@plue/testing/PostgreSQL"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "@plue/testing/Net"

const BIN = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url))

export interface ShareFigures {
  readonly concurrency: number
  readonly seconds: number
  readonly items: number
  readonly readsPerSecondOneReplica: number
  readonly readsPerSecondTwoReplicas: number
  readonly syncWritesPerSecond: number
  /** The same reads and writes against one replica on the file store, in the same run. */
  readonly fileStore: { readonly readsPerSecond: number; readonly syncWritesPerSecond: number }
}

/** A replica on PostgreSQL, or (no database) one on the file store, the baseline. */
const replica = (database: string | undefined) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const port = await Effect.runPromise(freePort)
      const home = mkdtempSync(join(tmpdir(), "plue-bench-home-"))
      const child = spawn(process.execPath, [BIN, "share-server", "--port", String(port), "--data", home], {
        env: { PATH: process.env.PATH ?? "", HOME: home, ...(database ? { PLUE_SHARE_STORE: database } : {}) },
        stdio: ["ignore", "ignore", "pipe"]
      })
      await new Promise<void>((resolve, reject) => {
        let seen = ""
        child.stderr!.on("data", (d) => {
          seen += d
          if (seen.includes("listening on")) resolve()
        })
        child.on("exit", (code) => reject(new Error(`share-server exited with ${code}: ${seen}`)))
      })
      return { url: `http://127.0.0.1:${port}`, child }
    }),
    ({ child }: { readonly url: string; readonly child: ChildProcess }) => Effect.sync(() => child.kill("SIGTERM"))
  )

/** Runs `op` from `concurrency` loops for `seconds`; operations that succeeded per second. */
const rate = async (concurrency: number, seconds: number, op: (i: number) => Promise<boolean>) => {
  const end = performance.now() + seconds * 1000
  let done = 0
  let counter = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) if (await op(counter++)) done++
  }))
  return Math.round(done / seconds)
}

const post = (url: string, body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

export const shareBench = (options: { readonly quick: boolean }) =>
  Effect.gen(function*() {
    const pg = yield* PostgreSQL.make
    const [a, b, file] = yield* Effect.all([replica(pg.url), replica(pg.url), replica(undefined)], { concurrency: 3 })
    const concurrency = 32
    const seconds = options.quick ? 3 : 8
    const items = 50
    const measure = (base: (i: number) => string, writeTo: string) =>
      Effect.gen(function*() {
        const created = yield* Effect.promise(() =>
          post(`${writeTo}/api/share`, { sessionID: "ses_benchshare" }).then((r) => r.json() as Promise<{ id: string; secret: string }>)
        )
        yield* Effect.promise(() =>
          post(`${writeTo}/api/share/${created.id}/sync`, {
            secret: created.secret,
            data: [
              { type: "session", data: { id: "ses_benchshare", title: "bench", time: { created: 1, updated: 2 } } },
              ...Array.from(
                { length: items - 1 },
                (_, i) => ({ type: "part", data: { id: `prt_${i}`, messageID: "msg_1", type: "text", text: "x".repeat(400) } })
              )
            ]
          })
        )
        const reads = yield* Effect.promise(() =>
          rate(concurrency, seconds, (i) => fetch(`${base(i)}/api/share/${created.id}/data`).then(async (r) => (await r.arrayBuffer(), r.status === 200)))
        )
        const writes = yield* Effect.promise(() =>
          rate(concurrency, seconds, (i) =>
            post(`${writeTo}/api/share/${created.id}/sync`, {
              secret: created.secret,
              data: [{ type: "part", data: { id: `prt_w${i}`, messageID: "msg_1", type: "text", text: "y".repeat(400) } }]
            }).then(async (r) => (await r.arrayBuffer(), r.status === 200)))
        )
        return { reads, writes }
      })
    const one = yield* measure(() => a.url, a.url)
    const two = yield* measure((i) => (i % 2 === 0 ? a.url : b.url), a.url)
    const baseline = yield* measure(() => file.url, file.url)
    return {
      concurrency,
      seconds,
      items,
      readsPerSecondOneReplica: one.reads,
      readsPerSecondTwoReplicas: two.reads,
      syncWritesPerSecond: one.writes,
      fileStore: { readsPerSecond: baseline.reads, syncWritesPerSecond: baseline.writes }
    } satisfies ShareFigures
  }).pipe(Effect.scoped)

export const shareTable = (f: ShareFigures): string =>
  [
    `share service on PostgreSQL (${f.concurrency} concurrent clients, ${f.seconds} s each, a share of ${f.items} items)`,
    `  viewer reads/s, one replica    ${f.readsPerSecondOneReplica}`,
    `  viewer reads/s, two replicas   ${f.readsPerSecondTwoReplicas}`,
    `  sync writes/s, one replica     ${f.syncWritesPerSecond}`,
    `  baseline, one replica on the file store: reads/s ${f.fileStore.readsPerSecond}, sync writes/s ${f.fileStore.syncWritesPerSecond}`
  ].join("\n")

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = new Set(process.argv.slice(2))
  if (!PostgreSQL.available()) {
    process.stderr.write("share bench: PostgreSQL is not installed (scripts/setup-postgres.sh)\n")
    process.exit(1)
  }
  Effect.runPromise(shareBench({ quick: args.has("--quick") })).then((figures) => {
    process.stdout.write(args.has("--json") ? `${JSON.stringify(figures)}\n` : `${shareTable(figures)}\n`)
  }, (error) => {
    process.stderr.write(`share bench: ${String(error)}\n`)
    process.exit(1)
  })
}
