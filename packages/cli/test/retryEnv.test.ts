import * as Platform from "@plue/testing/Platform"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { run } from "./plue.js"

// The retry settings (docs/retries.md) reach the CLI's connection, and so the C sidecar's and
// `plue host`'s, from the environment: a bad one is refused before anything is sent. (That they
// take effect is shown in core's Retry.test.ts and StorageRetry.test.ts.)
const NOWHERE = "http://127.0.0.1:9"

layer(Platform.layer, { timeout: 300_000 })("retry settings from the environment", (it) => {
  for (
    const [name, value, says] of [
      ["OPENCODE_RETRY_TOKENS", "-1", "must be 0 or more"],
      ["OPENCODE_STORAGE_RETRY_BUDGET", "soon", "Expected a duration"]
    ] as const
  ) {
    it.effect(`a bad ${name} is refused, naming it`, () =>
      Effect.gen(function*() {
        const result = yield* run(["session", "list", "--url", NOWHERE], { [name]: value }, "120 seconds")
        assert.strictEqual(result.code, 2, result.stderr)
        assert.include(result.stderr, name)
        assert.include(result.stderr, says)
      }))
  }
})
