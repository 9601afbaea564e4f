import { defineConfig } from "vitest/config"
import type { CoverageV8Options } from "vitest/node"

// What vitest's V8 provider reads; scripts/coverage.ts is that provider plus the children's coverage.
const measured: CoverageV8Options = {
  include: ["packages/core/src/**/*.ts", "packages/share/src/**/*.ts", "packages/ffi/src/**/*.ts", "packages/cli/src/**/*.ts"],
  reporter: ["text", "json-summary", "json"],
  reportOnFailure: true,
  // The floor under the last full run (issue 12 asks for 97/97/92/97; docs/testing.md says what is
  // missing): the run fails below it (also when a test failed: the report is still
  // written). What one run measured is in docs/testing.md.
  thresholds: { lines: 98, statements: 98, branches: 95, functions: 98 }
}

// One project per package; every test file that needs OpenCode starts its own sandboxed server,
// so files run in separate processes, two at a time (the machines here have two cores).
export default defineConfig({
  test: {
    projects: ["packages/core", "packages/share", "packages/ffi", "packages/cli"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // `npm run coverage` (`vitest run --coverage`): V8 coverage of the product packages' sources,
    // counted in the test processes and in the processes they start (scripts/coverage.ts). The run
    // fails below the thresholds, also when a test failed (the report is still written).
    coverage: {
      provider: "custom",
      customProviderModule: "./scripts/coverage.ts",
      ...measured
    }
  }
})
