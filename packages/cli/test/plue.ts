/**
 * Runs the built `plue` as a subprocess owned by the test's scope: closing the scope (the test
 * passed, failed or timed out) kills it if it still runs.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface Running {
  readonly child: ChildProcess
  /** What it printed so far. */
  readonly output: () => Run
  /** Ends when the process exits. */
  readonly done: Effect.Effect<Run>
  /** Waits (at most `within`) until `stream` matches `pattern`; fails with what was seen. */
  readonly waitFor: (stream: "stdout" | "stderr", pattern: RegExp, within?: Duration.DurationInput) => Effect.Effect<string, Error>
}

/** Starts `plue args...` with only PATH and `env` in its environment. */
export const start = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  cwd?: string
): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.gen(function*() {
    const exited = yield* Deferred.make<Run>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [BIN, ...args], {
          cwd: cwd ?? process.cwd(),
          env: { PATH: process.env.PATH ?? "", ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d) => (stdout += d))
    child.stderr!.on("data", (d) => (stderr += d))
    const output = () => ({ code: child.exitCode, stdout, stderr })
    child.on("close", (code) => Deferred.unsafeDone(exited, Effect.succeed({ code, stdout, stderr })))
    const waitFor = (stream: "stdout" | "stderr", pattern: RegExp, within: Duration.DurationInput = "300 seconds") =>
      Effect.async<string, Error>((resume) => {
        const check = () => {
          const match = pattern.exec(stream === "stdout" ? stdout : stderr)
          if (match) {
            resume(Effect.succeed(match[0]))
            return true
          }
          return false
        }
        if (check()) return
        const listener = () => {
          if (check()) child[stream]!.off("data", listener)
        }
        child[stream]!.on("data", listener)
        return Effect.sync(() => child[stream]!.off("data", listener))
      }).pipe(
        Effect.timeoutFail({
          duration: within,
          onTimeout: () => new Error(`timed out waiting for ${pattern} on ${stream}; stdout: ${stdout}; stderr: ${stderr}`)
        })
      )
    return { child, output, done: Deferred.await(exited), waitFor }
  })

/** Runs `plue args...` to its end (within `within`). */
export const run = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  within: Duration.DurationInput = "300 seconds",
  cwd?: string
): Effect.Effect<Run, Error> =>
  Effect.scoped(Effect.flatMap(start(args, env, cwd), (running) =>
    running.done.pipe(
      Effect.timeoutFail({
        duration: within,
        onTimeout: () => new Error(`plue ${args.join(" ")} did not end within ${Duration.format(Duration.decode(within))}: ${JSON.stringify(running.output())}`)
      })
    )))
