/**
 * The environment of every process a test starts: `PATH`, the coverage variable, and what the
 * test adds. Tests give children an explicit environment (so the user's OpenCode settings never
 * leak into a test), and that used to drop `NODE_V8_COVERAGE`: what the CLI or `plue host` ran was
 * never counted. Under `npm run coverage` the coverage provider (scripts/coverage.ts) sets
 * `PLUE_CHILD_V8_COVERAGE` to a directory; each child gets it as `NODE_V8_COVERAGE`, so Node
 * writes the child's V8 coverage there when it exits, and the provider merges it into the report.
 *
 * @since 0.1.0
 */

/**
 * The variable the coverage run sets in the test processes: where children write their coverage.
 *
 * @since 0.1.0
 */
export const COVERAGE_VARIABLE = "PLUE_CHILD_V8_COVERAGE"

/**
 * `{ PATH, NODE_V8_COVERAGE (under a coverage run), ...extra }`: the environment for a child
 * process a test spawns.
 *
 * @since 0.1.0
 */
export const childEnv = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => {
  const coverage = process.env[COVERAGE_VARIABLE] ?? process.env.NODE_V8_COVERAGE
  return {
    PATH: process.env.PATH ?? "",
    ...(coverage ? { NODE_V8_COVERAGE: coverage } : {}),
    ...extra
  }
}
