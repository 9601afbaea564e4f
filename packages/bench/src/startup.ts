/**
 * How fast `plue` starts: the CPU time (user + system) of whole processes, `plue --version` and
 * `plue session list --help` beside `node -e 0` measured in the same run, interleaved so that the
 * machine's load hits all alike. bash's `time` reads each child's CPU time from the kernel.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { percentile } from "./measure.js"

const bin = fileURLToPath(new URL("../../cli/bin/plue.js", import.meta.url))

interface Case {
  readonly label: string
  readonly argv: ReadonlyArray<string>
  readonly env?: Record<string, string>
}

const cases: ReadonlyArray<Case> = [
  { label: "node -e 0", argv: ["-e", "0"] },
  { label: "plue --version", argv: [bin, "--version"] },
  { label: "plue session list --help", argv: [bin, "session", "list", "--help"] },
  { label: "plue --version, no code cache", argv: [bin, "--version"], env: { PLUE_COMPILE_CACHE: "0" } }
]

/** CPU and wall milliseconds of one process; bash's `time` reports them on its own stdout here. */
const run = (c: Case): { cpu: number; wall: number } => {
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`
  const command = `${quote(process.execPath)} ${c.argv.map(quote).join(" ")}`
  const line = `TIMEFORMAT='%3U %3S %3R'; { time ${command} >/dev/null 2>&1; } 2>&1`
  const out = execFileSync("bash", ["-c", line], { env: { ...process.env, NO_COLOR: "1", ...c.env }, encoding: "utf8" })
  const [user, sys, real] = out.trim().split(/\s+/).map(Number)
  if (![user, sys, real].every((n) => Number.isFinite(n))) throw new Error(`${c.label}: cannot read the time of ${command}: ${out}`)
  return { cpu: (user! + sys!) * 1000, wall: real! * 1000 }
}

/**
 * @since 0.1.0
 */
export interface StartupFigure {
  readonly label: string
  readonly cpuP50: number
  readonly wallP50: number
  readonly ratio: number
}

/**
 * @since 0.1.0
 */
export const startupBench = (rounds: number): ReadonlyArray<StartupFigure> => {
  // Warm-up: the first plue run writes the code cache; the OS caches the files.
  for (const c of cases) run(c)
  const samples = new Map(cases.map((c) => [c.label, { cpu: [] as Array<number>, wall: [] as Array<number> }]))
  for (let i = 0; i < rounds; i++) {
    for (const c of cases) {
      const { cpu, wall } = run(c)
      samples.get(c.label)!.cpu.push(cpu)
      samples.get(c.label)!.wall.push(wall)
    }
  }
  const p50 = (xs: Array<number>) => percentile([...xs].sort((a, b) => a - b), 50)
  const base = p50(samples.get("node -e 0")!.cpu)
  return cases.map((c) => {
    const s = samples.get(c.label)!
    return { label: c.label, cpuP50: p50(s.cpu), wallP50: p50(s.wall), ratio: p50(s.cpu) / base }
  })
}

/**
 * @since 0.1.0
 */
export const startupTable = (figures: ReadonlyArray<StartupFigure>): string =>
  figures.map((f) =>
    `  ${f.label.padEnd(32)}CPU p50 ${f.cpuP50.toFixed(0).padStart(4)} ms  ${f.ratio.toFixed(2)}x   wall p50 ${f.wallP50.toFixed(0).padStart(4)} ms`
  ).join("\n")
