import { assert, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { type CliError, ExitCode, type Mapping, outcomes } from "../src/Errors.js"

class BrandNewError extends Schema.TaggedError<BrandNewError>()("BrandNewError", {}) {}

// The exit-code record covers every error a command can fail with; `tsc -b` type-checks this file,
// and fails the build if this assignment compiles: an error type that is not mapped does not compile.
// @ts-expect-error BrandNewError has no exit code
const unmapped: Mapping<CliError | BrandNewError> = outcomes

it("every CLI error has an exit code; a new one must be mapped before it compiles", () => {
  assert.strictEqual(unmapped, outcomes)
  assert.strictEqual(outcomes.Unauthorized.length, 1)
  assert.include(Object.values(ExitCode), 4)
})
