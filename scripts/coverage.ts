/**
 * The coverage provider of `npm run coverage`: vitest's own V8 provider (@vitest/coverage-v8),
 * plus the code that ran in the processes the tests started (the CLI, `plue host`).
 *
 * - In the test processes, vitest's provider counts what runs in-process (tests load the
 *   workspace packages from `src/`, see vitest.shared.ts).
 * - Children get `NODE_V8_COVERAGE` through `childEnv` (@plue/testing/ChildEnv): this provider
 *   sets `PLUE_CHILD_V8_COVERAGE` to a directory before the test processes start, and Node writes
 *   each child's raw V8 coverage there when the child exits.
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
import v8 from "@vitest/coverage-v8"
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import type { CoverageProvider, CoverageProviderModule, ReportContext, Vitest } from "vitest/node"

/** The variable @plue/testing/ChildEnv reads (kept literal: this file is not part of a package). */
const COVERAGE_VARIABLE = "PLUE_CHILD_V8_COVERAGE"

interface ScriptCoverage {
  readonly url: string
  readonly functions: ReadonlyArray<unknown>
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
    // No sources given: the converter reads the built file and its source map from disk.
    map.merge(await provider.v8ToIstanbul(script.url, 0, {}, script.functions))
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
      map.merge(children)
      for (const file of map.files()) oneEntryPerStart(map.fileCoverageFor(file).data as never)
      return map
    }
    return provider
  }
}

export default module
