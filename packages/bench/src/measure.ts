/**
 * Side-by-side measurement: the implementations of an operation take turns call by call, each
 * turn in the next of all their orders, so that drift in machine load hits each of them alike.
 * The first implementation is the baseline the others are compared with.
 */

export interface Op {
  readonly name: string
  /** Implementations by label; the first one is the baseline. */
  readonly impls: Readonly<Record<string, () => Promise<unknown>>>
}

export interface Stats {
  readonly p50: number
  readonly p99: number
  readonly mean: number
  readonly samples: number
}

export interface Figure {
  readonly name: string
  readonly baseline: string
  /** Per-call latency in microseconds, by implementation. */
  readonly stats: Readonly<Record<string, Stats>>
  /** p50 of each implementation divided by the baseline's p50. */
  readonly ratios: Readonly<Record<string, number>>
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

export const summarize = (samples: ReadonlyArray<number>): Stats => {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    samples: sorted.length
  }
}

/** Every order of `items` (n! of them: meant for the handful of implementations of an `Op`). */
export const permutations = <A>(items: ReadonlyArray<A>): Array<Array<A>> =>
  items.length <= 1
    ? [[...items]]
    : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]))

/** A full garbage collection when node runs with `--expose-gc` (as `npm run bench` does). */
const collect = (globalThis as { gc?: () => void }).gc ?? (() => {})

export const measure = async (op: Op, rounds: number, perRound: number): Promise<Figure> => {
  const labels = Object.keys(op.impls)
  const samples: Record<string, Array<number>> = Object.fromEntries(labels.map((l) => [l, []]))
  // Warm up connections and JIT for each implementation, the same number of calls each.
  for (const label of labels) for (let i = 0; i < 100; i++) await op.impls[label]!()
  // Calls are interleaved one by one, so each implementation sees the same moments of the
  // machine's (and the server's) load. Each turn takes the next of all the orders of the
  // implementations: each runs first, second, ... equally often and follows each other one
  // equally often (a rotation would always put the same one after another, which then pays
  // for whatever the other leaves behind: garbage, the server's deferred work).
  const orders = permutations(labels)
  let turn = 0
  for (let round = 0; round < rounds; round++) {
    // Every round starts from the same heap state: nobody pays for the last round's garbage.
    collect()
    for (let i = 0; i < perRound; i++, turn++) {
      for (const label of orders[turn % orders.length]!) {
        const start = process.hrtime.bigint()
        await op.impls[label]!()
        samples[label]!.push(Number(process.hrtime.bigint() - start) / 1000)
      }
    }
  }
  const stats = Object.fromEntries(labels.map((l) => [l, summarize(samples[l]!)]))
  const base = stats[labels[0]!]!.p50
  return {
    name: op.name,
    baseline: labels[0]!,
    stats,
    ratios: Object.fromEntries(labels.map((l) => [l, stats[l]!.p50 / base]))
  }
}

const us = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${n.toFixed(1)} us`)

/** A plain-text table of figures. */
export const table = (figures: ReadonlyArray<Figure>): string => {
  const rows: Array<Array<string>> = [["operation", "impl", "p50", "p99", "mean", "n", "p50 vs baseline"]]
  for (const figure of figures) {
    for (const [label, s] of Object.entries(figure.stats)) {
      rows.push([
        figure.name,
        label,
        us(s.p50),
        us(s.p99),
        us(s.mean),
        String(s.samples),
        label === figure.baseline ? "(baseline)" : `${figure.ratios[label]!.toFixed(3)}x`
      ])
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n")
}
