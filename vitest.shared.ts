import { fileURLToPath } from "node:url"

const packages = fileURLToPath(new URL("./packages/", import.meta.url))

/**
 * Tests load the workspace packages from their TypeScript sources, not from the built `dist/`:
 * `@plue/core` -> packages/core/src/index.ts, `@plue/testing/TestServer` ->
 * packages/testing/src/TestServer.ts. So there is one copy of each module in a test process, and
 * vitest's coverage sees the code the tests run in-process. Children (the CLI, `plue host`) still
 * run the built code; their coverage comes through NODE_V8_COVERAGE (see scripts/coverage.ts).
 */
export const resolve = {
  alias: [
    { find: /^@plue\/([a-z]+)$/, replacement: `${packages}$1/src/index.ts` },
    { find: /^@plue\/([a-z]+)\/([A-Za-z]+)$/, replacement: `${packages}$1/src/$2.ts` }
  ]
}
