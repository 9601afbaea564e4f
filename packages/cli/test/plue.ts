/**
 * Runs the built `plue` through `@plue/testing/Spawn`: a child in its own process group, owned by
 * the test's scope (closing it, whether the test passed, failed or timed out, ends the child and
 * whatever it started), with the coverage environment of `childEnv`.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Spawn from "@plue/testing/Spawn"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { fileURLToPath } from "node:url"

export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

/** Starts `plue args...` with only PATH (and coverage) and `env` in its environment. */
export const start = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  cwd?: string
): Effect.Effect<Spawn.Child, PlatformError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Spawn.spawn(process.execPath, [BIN, ...args], { env, cwd: cwd ?? process.cwd() })

/** Runs `plue args...` to its end (within `within`, a ceiling, not an expectation). */
export const run = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  within: Duration.DurationInput = "300 seconds",
  cwd?: string
): Effect.Effect<Spawn.Result, PlatformError | Error, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.flatMap(start(args, env, cwd), (child) =>
    child.result.pipe(
      Effect.timeoutFail({
        duration: within,
        onTimeout: () =>
          new Error(
            `plue ${args.join(" ")} did not end within ${Duration.format(Duration.decode(within))}; ` +
              `stdout: ${child.stdout()}; stderr: ${child.stderr()}`
          )
      })
    )))
