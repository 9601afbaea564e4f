/**
 * Batches: 64 deletes through `SessionManager.bulk`, serial (concurrency 1) against concurrency 8,
 * in the same run against the same real server, beside the same deletes sent straight through the
 * client (what the server itself gains from concurrency). Each round deletes fresh sessions that the
 * bridge's cache already follows, alternating which of the two goes first.
 */
import type * as OpenCodeClient from "@plue/core/OpenCodeClient"
import type * as SessionManager from "@plue/core/SessionManager"
import * as Effect from "effect/Effect"

export interface BulkFigures {
  readonly operations: number
  readonly rounds: number
  /** Wall time of each batch, ms, by concurrency. */
  readonly serialMs: ReadonlyArray<number>
  readonly concurrentMs: ReadonlyArray<number>
  readonly concurrency: number
  /** Median serial time over median concurrent time. */
  readonly speedup: number
  /** The same deletes sent straight through the client (no bridge), serial and 8 at once, ms. */
  readonly rawSerialMs: ReadonlyArray<number>
  readonly rawConcurrentMs: ReadonlyArray<number>
  /**
   * CPU time (user + system) of this process per delete, ms, each batch, by path: the bridge's
   * own work is the difference between `bulk` and the raw client (both follow the server's
   * deletion events through the bridge's sync fiber). Less noisy than wall time on a shared
   * machine: it does not count waiting for the server or for the CPU.
   */
  readonly cpuPerDelete: {
    readonly serial: ReadonlyArray<number>
    readonly concurrent: ReadonlyArray<number>
    readonly rawSerial: ReadonlyArray<number>
    readonly rawConcurrent: ReadonlyArray<number>
  }
  /** Operations that did not succeed (should be none). */
  readonly failures: number
}

/** Runs `batch`, timing it: wall ms, and this process's CPU ms (user + system) per operation. */
const measured = <E>(n: number, batch: Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const cpu = process.cpuUsage()
    const start = performance.now()
    yield* batch
    const ms = performance.now() - start
    const used = process.cpuUsage(cpu)
    return { ms, cpu: (used.user + used.system) / 1000 / n }
  })

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const bulkBench = (
  client: OpenCodeClient.Service,
  sessions: SessionManager.Service,
  options: { readonly rounds: number; readonly operations?: number; readonly concurrency?: number }
): Effect.Effect<BulkFigures, unknown> =>
  Effect.gen(function*() {
    const n = options.operations ?? 64
    const concurrency = options.concurrency ?? 8
    let failures = 0
    const prepare = Effect.gen(function*() {
      const made = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.create({ title: `bench bulk ${i}` }), {
        concurrency: 8
      })
      // The bridge follows them (from the event stream) before the clock starts.
      for (;;) {
        const listed = new Set((yield* sessions.list).map((s) => s.id))
        if (made.every((s) => listed.has(s.id))) break
        yield* Effect.sleep("20 millis")
      }
      return made.map((s) => ({ op: "delete" as const, session: s.id }))
    })
    const timed = (c: number) =>
      Effect.gen(function*() {
        const ops = yield* prepare
        return yield* measured(
          n,
          Effect.map(sessions.bulk(ops, { concurrency: c }), (results) => void (failures += results.filter((r) => r.status !== "ok").length))
        )
      })
    // The server's own limit: the same deletes straight through the client.
    const raw = (c: number) =>
      Effect.gen(function*() {
        const ops = yield* prepare
        return yield* measured(
          n,
          Effect.map(
            Effect.forEach(ops, (op) => Effect.either(client.delete(op.session)), { concurrency: c }),
            (outcomes) => void (failures += outcomes.filter((o) => o._tag === "Left").length)
          )
        )
      })
    const serialMs: Array<number> = []
    const concurrentMs: Array<number> = []
    const rawSerialMs: Array<number> = []
    const rawConcurrentMs: Array<number> = []
    const cpu = { serial: [] as Array<number>, concurrent: [] as Array<number>, rawSerial: [] as Array<number>, rawConcurrent: [] as Array<number> }
    const keep = (wall: Array<number>, cpus: Array<number>) => (m: { ms: number; cpu: number }) => {
      wall.push(m.ms)
      cpus.push(m.cpu)
    }
    for (let round = 0; round < options.rounds; round++) {
      const turns = [
        () => Effect.map(timed(1), keep(serialMs, cpu.serial)),
        () => Effect.map(timed(concurrency), keep(concurrentMs, cpu.concurrent)),
        () => Effect.map(raw(1), keep(rawSerialMs, cpu.rawSerial)),
        () => Effect.map(raw(concurrency), keep(rawConcurrentMs, cpu.rawConcurrent))
      ]
      // A different one goes first each round.
      for (let i = 0; i < turns.length; i++) yield* turns[(i + round) % turns.length]!()
    }
    return {
      operations: n,
      rounds: options.rounds,
      serialMs,
      concurrentMs,
      concurrency,
      speedup: median(serialMs) / median(concurrentMs),
      rawSerialMs,
      rawConcurrentMs,
      cpuPerDelete: cpu,
      failures
    }
  })

const cpuMs = (xs: ReadonlyArray<number>) => median(xs).toFixed(2)

export const bulkLines = (f: BulkFigures): Array<string> => {
  const fmt = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(0)).join(", ")
  return [
    `\nBulk: ${f.operations} deletes through SessionManager.bulk, ${f.rounds} rounds (baseline: the same batch serial, concurrency 1)`,
    `  serial          median ${median(f.serialMs).toFixed(0)} ms  (each: ${fmt(f.serialMs)})`,
    `  concurrency ${f.concurrency}   median ${median(f.concurrentMs).toFixed(0)} ms  (each: ${fmt(f.concurrentMs)})`,
    `  concurrency ${f.concurrency} takes ${(1 / f.speedup).toFixed(2)} of the serial wall time (${
      f.speedup.toFixed(2)
    }x faster); ${f.failures} operation(s) failed`,
    `  raw client, no bridge: serial median ${median(f.rawSerialMs).toFixed(0)} ms, ${f.concurrency} at once median ${
      median(f.rawConcurrentMs).toFixed(0)
    } ms` +
    ` (${(median(f.rawSerialMs) / median(f.rawConcurrentMs)).toFixed(2)}x): the server's own gain from concurrency`,
    `  CPU of this process per delete, median ms: bulk serial ${cpuMs(f.cpuPerDelete.serial)}, bulk at ${f.concurrency} ${
      cpuMs(f.cpuPerDelete.concurrent)
    }; raw client serial ${cpuMs(f.cpuPerDelete.rawSerial)}, raw at ${f.concurrency} ${cpuMs(f.cpuPerDelete.rawConcurrent)}`
  ]
}
