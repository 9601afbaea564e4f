// bin/plue.js compiles the bundle from V8's code cache, and code compiled from a cache has no
// block counters: a child run under NODE_V8_COVERAGE (as the coverage run starts every CLI child)
// would report only which functions ran, and merged with other children's block counts the blocks
// it ran were lost (docs/testing.md). Under NODE_V8_COVERAGE the cache is off: every function of
// the bundle that ran comes with its blocks, on the first run and on the next one (which would be
// the one reading a cache).
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { BIN } from "./plue.js"

interface Script {
  readonly url: string
  readonly functions: ReadonlyArray<{ readonly isBlockCoverage: boolean; readonly ranges: ReadonlyArray<{ readonly count: number }> }>
}

/** Runs `plue --version` under NODE_V8_COVERAGE; returns the functions of the bundle that ran. */
const versionCoverage = () => {
  const directory = mkdtempSync(join(tmpdir(), "plue-v8-"))
  const out = execFileSync(process.execPath, [BIN, "--version"], { env: { PATH: process.env.PATH ?? "", NODE_V8_COVERAGE: directory }, encoding: "utf8" })
  assert.match(out, /^\d+\.\d+\.\d+/)
  const files = readdirSync(directory).filter((f) => f.endsWith(".json"))
  assert.strictEqual(files.length, 1)
  const dump = JSON.parse(readFileSync(join(directory, files[0]!), "utf8")) as { result: Array<Script> }
  const bundle = dump.result.find((s) => s.url.endsWith("/dist/plue.cjs"))
  assert.isDefined(bundle, "the bundle ran")
  return bundle!.functions.filter((fn) => fn.ranges[0]!.count > 0)
}

describe("bin/plue.js under V8 coverage", () => {
  it("no code cache: the functions that ran carry block counts, also on a second run", () => {
    for (let run = 0; run < 2; run++) {
      const ran = versionCoverage()
      assert.isAbove(ran.length, 0)
      assert.deepStrictEqual(ran.filter((fn) => !fn.isBlockCoverage).length, 0, `run ${run + 1}`)
    }
  })
})
