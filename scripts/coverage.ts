/**
 * The coverage provider of `npm run coverage`: vitest's own V8 provider (@vitest/coverage-v8),
 * plus the code that ran in the processes the tests started (the CLI, `plue host`).
 *
 * - In the test processes, vitest's provider counts what runs in-process (tests load the
 *   workspace packages from `src/`, see vitest.shared.ts).
 * - Children get `NODE_V8_COVERAGE` through `childEnv` (@plue/testing/ChildEnv): this provider
 *   sets `PLUE_CHILD_V8_COVERAGE` to a directory before the test processes start, and Node writes
 *   each child's raw V8 coverage there when the child exits.
 * - Before the tests start, the CLI bundle (dist/plue.cjs, what the CLI children run) is rebuilt
 *   unminified (build.mjs --coverage), so that its functions map back to their source files.
 * - Before the report, the children's coverage of the workspace's built files is merged per
 *   script (@bcoe/v8-coverage, as vitest merges its workers), converted by the provider's own
 *   converter through the built files' source maps (tsc's `.js.map` or a bundle's map) back to
 *   `packages/<package>/src/*.ts`, and merged into vitest's map. Files only children ran are not
 *   added again as "untested". The text table, `coverage/coverage-summary.json` and the thresholds
 *   all judge the merged map.
 *
 * A child killed by a signal (SIGKILL) writes no coverage; one that exits (also through Ctrl-C
 * handled by the program) does.
 */
import { decode } from "@jridgewell/sourcemap-codec"
import v8 from "@vitest/coverage-v8"
import { execFileSync } from "node:child_process"
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { CoverageProvider, CoverageProviderModule, ReportContext, Vitest } from "vitest/node"

/** The variable @plue/testing/ChildEnv reads (kept literal: this file is not part of a package). */
const COVERAGE_VARIABLE = "PLUE_CHILD_V8_COVERAGE"

interface FunctionCoverage {
  readonly functionName: string
  readonly ranges: ReadonlyArray<{ readonly startOffset: number }>
}

interface ScriptCoverage {
  readonly url: string
  readonly functions: ReadonlyArray<FunctionCoverage>
}

/**
 * The functions of a bundle that are code the bundler wrote, not code of a source file, told
 * apart by the bundle's source map: a function of a source file starts on a mapped token (it
 * does in esbuild's unminified output, see build.mjs --coverage); the bundler's own do not.
 * - A lazily loaded module is wrapped in a function named after its path
 *   (`"packages/cli/src/Output.ts"() { ... }`, esbuild's `__esm`): that is the module's top level,
 *   not a function of the source (vitest's view has none either). It stays a block (its lines and
 *   its branch count), without a name, so the converter does not count it as a function.
 * - The rest (the runtime helpers `__toESM`, `__export`..., and the export getters
 *   `name: () => name`, which V8 names after the export) are dropped: mapped to the nearest token,
 *   they would count as functions and branches of whatever source line precedes them.
 * Scripts without a source map of several sources (not a bundle) are left as they are.
 */
const bundlerCode = async (url: string): Promise<(fn: FunctionCoverage) => FunctionCoverage | undefined> => {
  const path = fileURLToPath(url)
  let raw: { sources: Array<string>; mappings: string }
  try {
    raw = JSON.parse(await readFile(`${path}.map`, "utf8"))
  } catch {
    return (fn) => fn
  }
  if (raw.sources.length < 2) return (fn) => fn
  const code = await readFile(path, "latin1")
  const lineStarts = [0]
  for (let i = code.indexOf("\n"); i !== -1; i = code.indexOf("\n", i + 1)) lineStarts.push(i + 1)
  const mapped = new Map<number, Set<number>>()
  decode(raw.mappings).forEach((segments, line) => mapped.set(line, new Set(segments.filter((s) => s.length >= 4).map((s) => s[0]))))
  const startsOnMappedToken = (offset: number): boolean => {
    let lo = 0
    let hi = lineStarts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (lineStarts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return mapped.get(lo)?.has(offset - lineStarts[lo]!) === true
  }
  return (fn) => {
    if (fn.functionName === "" || startsOnMappedToken(fn.ranges[0]!.startOffset)) return fn
    return /^packages\/.*\.ts$/.test(fn.functionName) ? { ...fn, functionName: "" } : undefined
  }
}

interface CoverageMap {
  files(): Array<string>
  fileCoverageFor(file: string): { readonly data: FileCoverage }
  merge(other: unknown): void
  filter(keep: (file: string) => boolean): void
}

/** The parts of vitest's V8 provider (a class it does not export) used here. */
interface V8Provider extends CoverageProvider {
  coverageFilesDirectory: string
  testExclude: { shouldInstrument(file: string): boolean }
  createCoverageMap(): CoverageMap
  generateCoverage(context: ReportContext): Promise<CoverageMap>
  getUntestedFiles(tested: Array<string>): Promise<CoverageMap>
  v8ToIstanbul(url: string, wrapperLength: number, sources: object, functions: ReadonlyArray<unknown>): Promise<unknown>
}

const childCoverage = async (provider: V8Provider, directory: string, workspace: string): Promise<CoverageMap> => {
  // @ts-expect-error: the package has no type declarations
  const { mergeProcessCovs } = await import("@bcoe/v8-coverage")
  const files = (await readdir(directory).catch(() => [])).filter((file) => file.endsWith(".json"))
  let merged: { result: Array<ScriptCoverage> } = { result: [] }
  for (const file of files) {
    let dump: { result: Array<ScriptCoverage> }
    try {
      dump = JSON.parse(await readFile(join(directory, file), "utf8"))
    } catch (error) {
      // A child still writing (an orphan of a failed test): its coverage is not counted, said so.
      console.warn(`coverage: skipped the unreadable child coverage file ${file}: ${String(error)}`)
      continue
    }
    // Only the workspace's own built files; dependencies and Node's internals are dropped early.
    const ours = dump.result.filter((script) => script.url.startsWith(workspace) && !script.url.includes("/node_modules/"))
    merged = mergeProcessCovs([merged, { result: ours }] as never) as never
  }
  const map = provider.createCoverageMap()
  for (const script of merged.result) {
    const ofSources = await bundlerCode(script.url)
    const functions = script.functions.flatMap((fn) => ofSources(fn) ?? [])
    // No sources given: the converter reads the built file and its source map from disk.
    map.merge(await provider.v8ToIstanbul(script.url, 0, {}, functions))
  }
  map.filter((file) => provider.testExclude.shouldInstrument(file))
  return map
}

interface FileCoverage {
  readonly path: string
  readonly statementMap: Record<string, { readonly start: { readonly line: number } }>
  readonly s: Record<string, number>
}

/**
 * Keeps a child's statements only on the lines vitest counts as code in that file. The converter
 * makes one statement per source line the source map maps; tsc's maps also map comments and the
 * names inside multi-line imports, vitest's transform does not. Without this, a child would add
 * those lines (as covered, or not) to the denominator. Functions and branches are merged as they
 * are: V8 reports them as they run, in both views alike.
 */
const onCodeLines = (children: CoverageMap, code: CoverageMap, result: CoverageMap): CoverageMap => {
  const lines = new Map<string, Set<number>>()
  for (const file of code.files()) {
    const data = code.fileCoverageFor(file).data
    lines.set(file, new Set(Object.values(data.statementMap).map((statement) => statement.start.line)))
  }
  for (const file of children.files()) {
    const data = children.fileCoverageFor(file).data
    const codeLines = lines.get(file)
    const statementMap: Record<string, FileCoverage["statementMap"][string]> = {}
    const s: Record<string, number> = {}
    let index = 0
    for (const [key, statement] of Object.entries(data.statementMap)) {
      if (codeLines && !codeLines.has(statement.start.line)) continue
      statementMap[index] = statement
      s[index++] = data.s[key]!
    }
    result.merge({ [file]: { ...data, statementMap, s } })
  }
  return result
}

interface Location {
  readonly start: { readonly line: number; readonly column: number }
}

/**
 * One entry per function and per branch, identified by where it starts. The same function seen
 * by vitest (its transform's source map) and by a child (tsc's or a bundle's map) starts at the
 * same place in the source, but its end can map a character or a line apart; without this it
 * would count twice, once covered and once not. Counts of the same function or branch add up.
 */
const oneEntryPerStart = (data: {
  fnMap: Record<string, { readonly loc: Location }>
  f: Record<string, number>
  branchMap: Record<string, { readonly loc: Location; readonly locations: ReadonlyArray<unknown> }>
  b: Record<string, Array<number>>
}) => {
  const at = (loc: Location) => `${loc.start.line}:${loc.start.column}`
  const fnMap: typeof data.fnMap = {}
  const f: typeof data.f = {}
  const fnKeys = new Map<string, string>()
  for (const [key, fn] of Object.entries(data.fnMap)) {
    const same = fnKeys.get(at(fn.loc))
    if (same === undefined) {
      const index = String(fnKeys.size)
      fnKeys.set(at(fn.loc), index)
      fnMap[index] = fn
      f[index] = data.f[key]!
    } else {
      f[same]! += data.f[key]!
    }
  }
  const branchMap: typeof data.branchMap = {}
  const b: typeof data.b = {}
  const branchKeys = new Map<string, string>()
  for (const [key, branch] of Object.entries(data.branchMap)) {
    const where = `${at(branch.loc)}/${branch.locations.length}`
    const same = branchKeys.get(where)
    if (same === undefined) {
      const index = String(branchKeys.size)
      branchKeys.set(where, index)
      branchMap[index] = branch
      b[index] = [...data.b[key]!]
    } else {
      b[same] = b[same]!.map((count, i) => count + (data.b[key]![i] ?? 0))
    }
  }
  Object.assign(data, { fnMap, f, branchMap, b })
}

interface Entries {
  all?: boolean
  fnMap: Record<string, { name: string; decl: unknown; loc: Location }>
  branchMap: Record<string, { loc: Location; locations: Array<Location> }>
}

/**
 * Puts a child's functions and branches where vitest's view of the same file has them. The two
 * views start some entries a character apart: the bundle prints a one-parameter arrow function
 * without its parentheses (`x=>`), so V8's start maps to the parameter, one column after the `(`
 * where the in-process view starts it. A child's entry takes the location of vitest's entry that
 * starts on the same line at most two columns away (the nearest), so that both count as one.
 * Entries vitest does not have (a function nested in one no test ran in-process) stay as they are.
 */
const alignTo = (children: CoverageMap, code: CoverageMap): void => {
  const known = new Set(code.files())
  const nearest = <T extends { loc: Location }>(entries: Array<T>, loc: Location): T | undefined => {
    let best: T | undefined
    for (const entry of entries) {
      if (entry.loc.start.line !== loc.start.line) continue
      const distance = Math.abs(entry.loc.start.column - loc.start.column)
      if (distance <= 2 && (best === undefined || distance < Math.abs(best.loc.start.column - loc.start.column))) best = entry
    }
    return best
  }
  for (const file of children.files()) {
    if (!known.has(file)) continue
    const theirs = code.fileCoverageFor(file).data as unknown as Entries
    if (theirs.all === true) continue
    const ours = children.fileCoverageFor(file).data as unknown as Entries
    const functions = Object.values(theirs.fnMap)
    for (const fn of Object.values(ours.fnMap)) {
      const same = nearest(functions, fn.loc)
      if (same) Object.assign(fn, { name: same.name, decl: same.decl, loc: same.loc })
    }
    // A branch is merged by its first location (istanbul-lib-coverage's key).
    const branches = Object.values(theirs.branchMap).map((branch) => ({ loc: branch.locations[0] ?? branch.loc, branch }))
    for (const branch of Object.values(ours.branchMap)) {
      const same = nearest(branches, branch.locations[0] ?? branch.loc)
      if (same) Object.assign(branch, { loc: same.branch.loc, locations: same.branch.locations })
    }
  }
}

const module: CoverageProviderModule = {
  ...v8,
  async getProvider() {
    const provider = (await v8.getProvider()) as unknown as V8Provider
    const initialize = provider.initialize.bind(provider)
    const generateCoverage = provider.generateCoverage.bind(provider)
    const getUntestedFiles = provider.getUntestedFiles.bind(provider)
    let workspace = ""
    let children: CoverageMap | undefined
    provider.initialize = (ctx: Vitest) => {
      initialize(ctx)
      workspace = pathToFileURL(join(ctx.config.root, "packages")).href + "/"
      // The CLI children run dist/plue.cjs: rebuilt here without minification (see build.mjs,
      // --coverage), whatever built it before, so its functions map back to src/*.ts. The test
      // processes are not forked yet. A later `npm run build` makes the minified bundle again.
      execFileSync(process.execPath, [join(ctx.config.root, "packages", "cli", "build.mjs"), "--coverage"], { stdio: "inherit" })
      // Set before the test processes are forked: they inherit it, and childEnv passes it on.
      process.env[COVERAGE_VARIABLE] = join(provider.coverageFilesDirectory, "children")
    }
    provider.getUntestedFiles = (tested) => getUntestedFiles([...tested, ...(children?.files() ?? [])])
    provider.generateCoverage = async (context) => {
      // vitest's view of every included file (as it counts a file no test loaded): its code lines.
      const code = await getUntestedFiles([])
      children = onCodeLines(
        await childCoverage(provider, process.env[COVERAGE_VARIABLE]!, workspace),
        code,
        provider.createCoverageMap()
      )
      const map = await generateCoverage(context)
      alignTo(children, map)
      map.merge(children)
      for (const file of map.files()) oneEntryPerStart(map.fileCoverageFor(file).data as never)
      return map
    }
    return provider
  }
}

export default module
