import { defineConfig } from "vitest/config"

// One project per package; every test file that needs OpenCode starts its own sandboxed server,
// so files run in separate processes, two at a time (the machines here have two cores).
export default defineConfig({
  test: {
    projects: ["packages/core", "packages/share", "packages/ffi", "packages/cli"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000
  }
})
