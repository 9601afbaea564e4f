import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

// bin/plue.js, the launcher: the V8 code cache under the temporary folder, its switch, a folder
// it cannot write, and a measured run (NODE_V8_COVERAGE) that must keep V8's block coverage.

const bin = fileURLToPath(new URL("../bin/plue.js", import.meta.url))
const cacheFiles = (temp: string) => {
  const dir = join(temp, "plue-compile-cache")
  return existsSync(dir) ? readdirSync(dir) : []
}
/** `plue --version` with `TMPDIR` = `temp`, coverage off unless `env` turns it on. */
const version = (temp: string, env: Record<string, string> = {}) =>
  Spawn.run(process.execPath, [bin, "--version"], { env: { TMPDIR: temp, NODE_V8_COVERAGE: "", ...env } })

layer(Platform.layer, { timeout: 300_000 })("bin/plue.js, the launcher", (it) => {
  it.effect("writes its code cache under the temporary folder (one file per bundle) and runs from it", () =>
    Effect.gen(function*() {
      const temp = mkdtempSync(join(tmpdir(), "plue-cache-"))
      const first = yield* version(temp)
      assert.strictEqual(first.stdout, "0.1.0\n", first.stderr)
      assert.lengthOf(cacheFiles(temp), 1)
      assert.match(cacheFiles(temp)[0]!, /^[0-9a-f]{32}\.bin$/)
      const second = yield* version(temp)
      assert.strictEqual(second.stdout, "0.1.0\n", second.stderr)
      assert.lengthOf(cacheFiles(temp), 1, "the same bundle reuses its file")
    }))

  it.effect("PLUE_COMPILE_CACHE=0 writes no cache", () =>
    Effect.gen(function*() {
      const temp = mkdtempSync(join(tmpdir(), "plue-cache-"))
      const run = yield* version(temp, { PLUE_COMPILE_CACHE: "0" })
      assert.strictEqual(run.stdout, "0.1.0\n", run.stderr)
      assert.lengthOf(cacheFiles(temp), 0)
    }))

  it.effect("a temporary folder it cannot write costs the cache, nothing else", () =>
    Effect.gen(function*() {
      // TMPDIR names a file: the cache folder cannot be made under it.
      const file = join(mkdtempSync(join(tmpdir(), "plue-cache-")), "not-a-folder")
      writeFileSync(file, "")
      const run = yield* version(file)
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout, "0.1.0\n")
      assert.strictEqual(run.stderr, "")
    }))

  it.effect("NODE_V8_COVERAGE: a measured run compiles from the source, so V8 reports its blocks, not only whole functions", () =>
    Effect.gen(function*() {
      const temp = mkdtempSync(join(tmpdir(), "plue-cache-"))
      // A warm cache that an unmeasured run would use.
      yield* version(temp)
      yield* version(temp)
      const coverage = mkdtempSync(join(tmpdir(), "plue-v8-"))
      const measured = yield* version(temp, { NODE_V8_COVERAGE: coverage })
      assert.strictEqual(measured.stdout, "0.1.0\n", measured.stderr)
      const scripts = readdirSync(coverage).flatMap((f) =>
        (JSON.parse(readFileSync(join(coverage, f), "utf8")) as {
          result: Array<{ url: string; functions: Array<{ isBlockCoverage: boolean; ranges: Array<unknown> }> }>
        }).result
      ).filter((s) => s.url.endsWith("/dist/plue.cjs"))
      assert.lengthOf(scripts, 1)
      const functions = scripts[0]!.functions
      // The bundle's top level ran in part: its skipped blocks are ranges of their own.
      assert.isTrue(functions.some((fn) => fn.isBlockCoverage && fn.ranges.length > 1), "no block ranges: the code came from the cache")
    }))
})
