/**
 * Processes a test starts, owned by the test's scope: when the scope closes (the test passed,
 * failed, or was interrupted by its timeout) a child still running gets SIGTERM, then SIGKILL
 * after a grace period, both sent to its whole process group. Built on `@effect/platform`'s
 * `Command`, whose own finalizer sends SIGTERM and then waits for as long as the child likes.
 *
 * @since 0.1.0
 */
import { childEnv } from "./ChildEnv.js"
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { readdirSync, readFileSync } from "node:fs"
import * as Wait from "./Wait.js"

/**
 * Options of a child.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Environment of the child, on top of `PATH` (nothing else of the test's environment). */
  readonly env?: Record<string, string> | undefined
  readonly cwd?: string | undefined
  /** Time between SIGTERM and SIGKILL when the scope ends the child. Default 5 s. */
  readonly grace?: Duration.DurationInput | undefined
}

/**
 * How a child ended and what it printed.
 *
 * @since 0.1.0
 */
export interface Result {
  /** The exit code; `null` when a signal ended it. */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * The child ended before it printed what a test waited for.
 *
 * @since 0.1.0
 */
export class ChildEnded extends Data.TaggedError("ChildEnded")<{ readonly what: string; readonly output: string }> {
  override get message() {
    return `the child ended before ${this.what}; it printed:\n${this.output}`
  }
}

/**
 * A running child.
 *
 * @since 0.1.0
 */
export interface Child {
  readonly pid: number
  /** What it printed so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  readonly running: () => boolean
  /** Sends `signal` to the child itself (not its group), as a terminal's Ctrl-C reaches a program. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits until `stream` matches `pattern` and returns the match. */
  readonly waitFor: (
    stream: "stdout" | "stderr",
    pattern: RegExp,
    options?: Wait.Options
  ) => Effect.Effect<string, Wait.WaitTimeout | ChildEnded>
  /** Waits for the child to end and for its output to be read. */
  readonly result: Effect.Effect<Result>
}

/** Signals the process group `pid` leads; or, while the child itself runs, the child alone. */
const signalGroup = (pid: number, signal: NodeJS.Signals, childRunning: boolean) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // No group left. The pid alone only while the child is known to run (a pid is reused later).
    if (childRunning) {
      try {
        process.kill(pid, signal)
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Starts `command args` in a process group of its own, owned by the current scope.
 *
 * @since 0.1.0
 */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  options: Options = {}
): Effect.Effect<Child, PlatformError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    let cmd = Command.make(command, ...args).pipe(Command.env(childEnv(options.env), { extendEnv: false }))
    if (options.cwd !== undefined) cmd = Command.workingDirectory(cmd, options.cwd)
    const process_ = yield* Command.start(cmd)
    const pid = process_.pid
    const text = { stdout: "", stderr: "" }
    let ended = false
    let onEnd = () => {}
    const endedPromise = new Promise<void>((resolve) => (onEnd = resolve))
    const read = (name: "stdout" | "stderr") =>
      Stream.runForEach(Stream.decodeText(process_[name]), (chunk) => Effect.sync(() => void (text[name] += chunk))).pipe(
        Effect.ignore,
        Effect.forkScoped
      )
    const readers = [yield* read("stdout"), yield* read("stderr")]
    const exit = yield* process_.exitCode.pipe(
      Effect.map((code): number | null => code),
      Effect.orElseSucceed(() => null),
      Effect.tap(() =>
        Effect.sync(() => {
          ended = true
          onEnd()
        })
      ),
      Effect.forkScoped
    )
    // Runs before `Command`'s own finalizer (finalizers run in reverse order).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (!ended) {
          signalGroup(pid, "SIGTERM", !ended)
          // A plain timer: finalizers are uninterruptible, so an Effect timeout could not cut the wait.
          const grace = Duration.toMillis(Duration.decode(options.grace ?? Duration.seconds(5)))
          const done = yield* Effect.promise(() =>
            new Promise<boolean>((resolve) => {
              const timer = setTimeout(() => resolve(false), grace)
              void endedPromise.then(() => {
                clearTimeout(timer)
                resolve(true)
              })
            })
          )
          if (!done) {
            signalGroup(pid, "SIGKILL", !ended)
            yield* Fiber.join(exit)
          }
        }
        // Whatever it left in its process group goes too.
        signalGroup(pid, "SIGKILL", false)
      })
    )
    const child: Child = {
      pid,
      stdout: () => text.stdout,
      stderr: () => text.stderr,
      running: () => !ended,
      signal: (signal) =>
        Effect.sync(() => {
          try {
            process.kill(pid, signal)
          } catch {
            // already gone
          }
        }),
      waitFor: (stream, pattern, waitOptions) =>
        Effect.gen(function*() {
          const what = `${pattern} in the child's ${stream}`
          yield* Wait.until(what, () => pattern.test(text[stream]) || ended, waitOptions)
          // Output read after the exit may still hold the match.
          if (ended) yield* Fiber.join(Fiber.zip(readers[0]!, readers[1]!))
          const match = pattern.exec(text[stream])
          if (match === null) return yield* Effect.fail(new ChildEnded({ what, output: `${text.stdout}${text.stderr}` }))
          return match[0]
        }),
      result: Effect.gen(function*() {
        const code = yield* Fiber.join(exit)
        yield* Fiber.join(Fiber.zip(readers[0]!, readers[1]!))
        return { code, stdout: text.stdout, stderr: text.stderr }
      })
    }
    return child
  })

/**
 * Runs `command args` to its end and returns how it ended and what it printed; the child is ended
 * with the scope if the caller is interrupted first.
 *
 * @since 0.1.0
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: Options = {}
): Effect.Effect<Result, PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.flatMap(spawn(command, args, options), (child) => child.result))

/**
 * Whether a process with this pid exists.
 *
 * @since 0.1.0
 */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, but is not ours.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Waits until the process `pid` no longer exists.
 *
 * @since 0.1.0
 */
export const gone = (pid: number, options?: Wait.Options): Effect.Effect<void, Wait.WaitTimeout> =>
  Wait.until(`process ${pid} to end`, () => !alive(pid), options)

/**
 * Every process whose environment mentions `needle` (for instance a test sandbox's folder).
 *
 * @since 0.1.0
 */
export const processesMentioning = (needle: string): Array<number> =>
  readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, "latin1").includes(needle) ? [Number(pid)] : []
    } catch {
      return []
    }
  })
