#!/usr/bin/env node
// The `plue` command. It runs the bundled CLI, dist/plue.cjs (shipped in the npm package; in a
// clone built by `npm run build`, and by the root `prepare` script that `npm ci` runs).
//
// Start-up time is mostly V8 compiling the bundle, so the bundle is compiled with V8's code
// cache (what Node 22's module.enableCompileCache does, done by hand for Node 20): the first run
// writes the cache under the system's temporary folder (one per bundle, Node and node flags),
// later runs reuse it. V8 rejects a cache
// made for another source or another V8, and the cache is then written afresh.
// PLUE_COMPILE_CACHE=0 turns it off; so does NODE_V8_COVERAGE (see useCache).
import { createHash } from "node:crypto"
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"

const bundle = fileURLToPath(new URL("../dist/plue.cjs", import.meta.url))

let source
try {
  // ASCII by construction (build.mjs checks), so read as one-byte text: no UTF-8 decoding.
  source = readFileSync(bundle, "latin1")
} catch (error) {
  if (error?.code !== "ENOENT") throw error
  process.stderr.write("plue: the CLI is not built: run `npm run build` at the repository root\n")
  process.exit(1)
}

// Code compiled from a cache has no block counters: under V8 coverage (NODE_V8_COVERAGE, as the
// coverage run sets for children) it would say only which functions ran, not which of their
// blocks, so the cache is off there.
const useCache = process.env.PLUE_COMPILE_CACHE !== "0" && !process.env.NODE_V8_COVERAGE
const { mtimeMs, size } = statSync(bundle)
const key = createHash("sha256").update(`${bundle}\0${size}\0${mtimeMs}\0${process.version}\0${process.arch}\0${process.execArgv.join(" ")}`).digest("hex")
const cacheFile = join(tmpdir(), "plue-compile-cache", `${key.slice(0, 32)}.bin`)

let cachedData
if (useCache) {
  try {
    cachedData = readFileSync(cacheFile)
  } catch {
    // no cache yet
  }
}

const script = new Script(source, { filename: bundle, cachedData })
if (useCache && (cachedData === undefined || script.cachedDataRejected)) {
  // Written when the command ends, so the cache also holds the functions this run compiled.
  process.once("exit", () => {
    try {
      mkdirSync(dirname(cacheFile), { recursive: true })
      const partial = `${cacheFile}.${process.pid}`
      writeFileSync(partial, script.createCachedData())
      renameSync(partial, cacheFile)
    } catch {
      // a read-only or full temporary folder costs speed, nothing else
    }
  })
}

const module = { exports: {} }
script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle))
