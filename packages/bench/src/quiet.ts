/**
 * Waiting for a server process to go quiet before timing calls against it. A freshly started
 * OpenCode server keeps a core half busy for tens of seconds after it answers (its own start-up
 * work, and what the sessions the bench creates set off), which lands on whichever route is
 * timed first; the bench waits until that is over.
 */
import * as Effect from "effect/Effect"
import { readdirSync, readFileSync } from "node:fs"

/** Clock ticks a second of `/proc/<pid>/stat` times (`getconf CLK_TCK`: 100 on Linux). */
const ticksPerSecond = 100

/** `/proc/<pid>/stat` fields after the command name: [state, ppid, ...]. */
const statFields = (pid: number): Array<string> | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

/** CPU time (user + system, ms) of `pid` and all its descendants; `undefined` without `/proc`. */
export const treeCpuMillis = (pid: number): number | undefined => {
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return undefined
  }
  const children = new Map<number, Array<number>>()
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const fields = statFields(Number(entry))
    if (fields === undefined) continue
    const parent = Number(fields[1])
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)])
  }
  let ticks = 0
  const walk = (p: number) => {
    const fields = statFields(p)
    // utime and stime are fields 14 and 15 of the whole line, 11 and 12 here.
    if (fields !== undefined) ticks += Number(fields[11]) + Number(fields[12])
    for (const child of children.get(p) ?? []) walk(child)
  }
  walk(pid)
  return (ticks * 1000) / ticksPerSecond
}

export interface Quiet {
  /** Seconds waited. */
  readonly waited: number
  /** Whether it went quiet before the ceiling (false also where `/proc` is missing). */
  readonly quiet: boolean
}

/**
 * Waits until the process tree of `pid` used less than `share` of one core over each of two
 * consecutive one-second windows, at most `ceilingSeconds`.
 */
export const awaitQuiet = (pid: number, options: { readonly share?: number; readonly ceilingSeconds?: number } = {}): Effect.Effect<Quiet> =>
  Effect.gen(function*() {
    const share = options.share ?? 0.1
    const ceiling = options.ceilingSeconds ?? 120
    const start = Date.now()
    let calm = 0
    let before = treeCpuMillis(pid)
    if (before === undefined) return { waited: 0, quiet: false }
    while ((Date.now() - start) / 1000 < ceiling) {
      const windowStart = Date.now()
      yield* Effect.sleep("1 second")
      const now = treeCpuMillis(pid)
      if (now === undefined) return { waited: (Date.now() - start) / 1000, quiet: false }
      calm = now - before < share * (Date.now() - windowStart) ? calm + 1 : 0
      before = now
      if (calm >= 2) return { waited: (Date.now() - start) / 1000, quiet: true }
    }
    return { waited: (Date.now() - start) / 1000, quiet: false }
  })
