/**
 * Runs a command line that passed `Help.check`: parses it with @effect/cli, runs the command,
 * and turns every failure into one `plue: ` line and its exit code. Only NodeContext is provided
 * here: each command loads what else it needs (the HTTP client comes with its connection).
 *
 * @since 0.1.0
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import { describe, ExitCode, ExitStatus } from "./Errors.js"
import { run } from "./main.js"

/** The framework prints its own parse errors (in colour); ours are one `plue: ` line instead. */
const withoutFrameworkErrors = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.consoleWith((console) => Effect.withConsole(effect, { ...console, error: () => Effect.void }))

const say = (line: string) => Effect.sync(() => process.stderr.write(`plue: ${line.split("\n")[0]}\n`))

/**
 * Succeeds when stdout fails (EPIPE: its reader went away, as in `plue watch | head -1`). Node
 * emits that as an 'error' event, which with no listener crashes the process with a stack; with
 * this one the command stops as on Ctrl-C instead.
 */
const stdoutClosed = Effect.async<void>((resume) => {
  const onError = () => resume(Effect.void)
  process.stdout.once("error", onError)
  return Effect.sync(() => void process.stdout.off("error", onError))
})

/**
 * Runs `plue` on `argv` (the whole `process.argv`) for the command at `path`, to its exit code,
 * and exits.
 *
 * @since 0.1.0
 */
export const main = (argv: ReadonlyArray<string>, path: ReadonlyArray<string>): void => {
  const program = Effect.gen(function*() {
    const status = yield* Ref.make<number>(ExitCode.ok)
    return yield* run(argv).pipe(
      withoutFrameworkErrors,
      Effect.provideService(ExitStatus, status),
      Effect.zipRight(Ref.get(status)),
      Effect.catchAll((error) => {
        const { code, line } = describe(error)
        // The framework's own messages say what was wrong; point at the help for the rest.
        const hint = ValidationError.isValidationError(error) ? `; run '${["plue", ...path].join(" ")} --help'` : ""
        return Effect.as(say(`${line.split("\n")[0]}${hint}`), code)
      })
    )
  })
  // Later failures of stdout or stderr (a closed pipe) are nothing more to say or crash on.
  process.stdout.on("error", () => {})
  process.stderr.on("error", () => {})
  const untilStdoutCloses = Effect.raceFirst(program, Effect.zipRight(stdoutClosed, Effect.interrupt))
  NodeRuntime.runMain(untilStdoutCloses.pipe(Effect.provide(NodeContext.layer)), {
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(typeof exit.value === "number" ? exit.value : ExitCode.internal)
      if (Cause.isInterruptedOnly(exit.cause)) return onExit(ExitCode.interrupted)
      process.stderr.write(`plue: internal error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
      onExit(ExitCode.internal)
    }
  })
}
