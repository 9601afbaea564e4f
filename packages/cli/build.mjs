// Bundles the `plue` command with esbuild into one CommonJS file, dist/plue.cjs: src/bin.ts and
// everything it imports (the workspace packages straight from their TypeScript sources, effect,
// @effect/*, undici). What only some commands need sits behind dynamic import()s in the sources;
// in the bundle those modules are wrapped and evaluated only when the command runs. Native
// addons (koffi) stay external: they are dependencies of @plue/cli.
//
// The file is one function expression, `(function (exports, require, module, __filename,
// __dirname) { ... })`, that bin/plue.js compiles with V8's code cache (see there); the linked
// source map (dist/plue.cjs.map) carries the sources, so coverage of a CLI child process maps
// back to src/*.ts, offsets unchanged.
//
// Needs no `tsc` output: the root `prepare` script runs it, so `npm ci` on a fresh clone leaves
// a working `npx plue`. Usage: node packages/cli/build.mjs [--metafile] [--coverage]
//
// --coverage (run by the coverage provider, scripts/coverage.ts, before the tests start): the
// same bundle, not minified: no renaming, no rewriting of the code's shape (minifySyntax turns an
// `if` into `&&`, merges functions), and one line of output per statement. Every function and
// branch of the sources is then one function and branch in the bundle, with a mapping at its
// start, on a line of its own source file, so V8's coverage of a CLI child maps back to the
// right place in src/*.ts. (The converter, v8-to-istanbul, also looks at the mapping at column 0
// of a line; in minified output one line holds many modules, and functions landed in the wrong
// file.)
import * as esbuild from "esbuild"
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const cli = dirname(fileURLToPath(import.meta.url))
const packages = dirname(cli)
const dist = join(cli, "dist")

/** `@plue/<name>` and `@plue/<name>/<Module>` resolve to `packages/<name>/src/<Module>.ts`. */
const workspaceSources = {
  name: "plue-workspace-sources",
  setup(build) {
    build.onResolve({ filter: /^@plue\/[a-z-]+(\/[A-Za-z]+)?$/ }, (args) => {
      const [, name, module] = /^@plue\/([a-z-]+)(?:\/([A-Za-z]+))?$/.exec(args.path)
      const path = join(packages, name, "src", `${module ?? "index"}.ts`)
      return existsSync(path) ? { path } : undefined
    })
  }
}

for (const stale of ["bin.js", "bin.js.map", "chunks", "plue.cjs", "plue.cjs.map", "plue.cjs.LEGAL.txt", "THIRD-PARTY-LICENSES.txt"]) {
  rmSync(join(dist, stale), { recursive: true, force: true })
}

const coverage = process.argv.includes("--coverage")

const result = await esbuild.build({
  entryPoints: [join(cli, "src", "bin.ts")],
  outfile: join(dist, "plue.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  sourcesContent: true,
  minify: !coverage,
  // ASCII only (esbuild escapes the rest), so bin/plue.js reads it as one-byte text, fast.
  charset: "ascii",
  legalComments: "none",
  external: ["koffi"],
  plugins: [workspaceSources],
  define: { "import.meta.url": "__plueImportMetaUrl" },
  banner: {
    js: "(function (exports, require, module, __filename, __dirname) {\"use strict\";" +
      "const __plueImportMetaUrl = require(\"node:url\").pathToFileURL(__filename).href;"
  },
  footer: { js: "})" },
  metafile: true,
  logLevel: "warning"
})

if (coverage) {
  // Unminified output keeps the sources' comments, some not ASCII. The charset option escapes
  // every other non-ASCII character, so these are comments: each UTF-16 unit becomes "?", which
  // keeps every column the source map counts (in UTF-16 units).
  const text = readFileSync(join(dist, "plue.cjs"), "utf8")
  writeFileSync(join(dist, "plue.cjs"), text.replace(/[\u0080-\uffff]/g, (c) => "?".repeat(c.length)))
}
const bytes = readFileSync(join(dist, "plue.cjs"))
if (bytes.some((b) => b > 0x7f)) throw new Error("dist/plue.cjs is not ASCII: bin/plue.js reads it as latin1")

// The licences of what the bundle carries, shipped beside it.
const bundled = new Map()
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input)
  if (match) bundled.set(match[2], join(process.cwd(), match[1]))
}
const notices = [...bundled].sort(([a], [b]) => a.localeCompare(b)).map(([name, dir]) => {
  const { version, license } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f))
  return `${name}@${version} (${license})\n\n${file ? readFileSync(join(dir, file), "utf8").trim() : "(no licence file)"}\n`
})
writeFileSync(
  join(dist, "THIRD-PARTY-LICENSES.txt"),
  `dist/plue.cjs bundles these packages:\n\n${notices.join(`\n${"-".repeat(78)}\n\n`)}`
)

// The workspace's own entry (tests and scripts run `node packages/cli/dist/bin.js`).
writeFileSync(join(dist, "bin.js"), "#!/usr/bin/env node\nimport \"../bin/plue.js\"\n")
chmodSync(join(dist, "bin.js"), 0o755)

if (process.argv.includes("--metafile")) writeFileSync(join(dist, "meta.json"), JSON.stringify(result.metafile))
