/**
 * Batches: 64 deletes through `SessionManager.bulk`, serial (concurrency 1) against concurrency 8,
 * in the same run against the same real server. Each round deletes fresh sessions that the
 * bridge's cache already follows, alternating which of the two goes first.
 */
import type * as OpenCodeClient from "@plue/core/OpenCodeClient"
import type * as SessionManager from "@plue/core/SessionManager"
import { Effect } from "effect"

export interface BulkFigures {
  readonly operations: number
  readonly rounds: number
  /** Wall time of each batch, ms, by concurrency. */
  readonly serialMs: ReadonlyArray<number>
  readonly concurrentMs: ReadonlyArray<number>
  readonly concurrency: number
  /** Median serial time over median concurrent time. */
  readonly speedup: number
  /** Operations that did not succeed (should be none). */
  readonly failures: number
}

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
        const start = performance.now()
        const results = yield* sessions.bulk(ops, { concurrency: c })
        const ms = performance.now() - start
        failures += results.filter((r) => r.status !== "ok").length
        return ms
      })
    const serialMs: Array<number> = []
    const concurrentMs: Array<number> = []
    for (let round = 0; round < options.rounds; round++) {
      if (round % 2 === 0) {
        serialMs.push(yield* timed(1))
        concurrentMs.push(yield* timed(concurrency))
      } else {
        concurrentMs.push(yield* timed(concurrency))
        serialMs.push(yield* timed(1))
      }
    }
    return {
      operations: n,
      rounds: options.rounds,
      serialMs,
      concurrentMs,
      concurrency,
      speedup: median(serialMs) / median(concurrentMs),
      failures
    }
  })

export const bulkLines = (f: BulkFigures): Array<string> => {
  const fmt = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(0)).join(", ")
  return [
    `\nBulk: ${f.operations} deletes through SessionManager.bulk, ${f.rounds} rounds (baseline: the same batch serial, concurrency 1)`,
    `  serial          median ${median(f.serialMs).toFixed(0)} ms  (each: ${fmt(f.serialMs)})`,
    `  concurrency ${f.concurrency}   median ${median(f.concurrentMs).toFixed(0)} ms  (each: ${fmt(f.concurrentMs)})`,
    `  concurrency ${f.concurrency} takes ${(1 / f.speedup).toFixed(2)} of the serial wall time (${f.speedup.toFixed(2)}x faster); ${f.failures} operation(s) failed`
  ]
}
