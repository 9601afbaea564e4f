#!/usr/bin/env node
import * as ValidationError from "@effect/cli/ValidationError"
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { describe, ExitCode, ExitStatus } from "./Errors.js"
import * as Help from "./Help.js"
import { run, version } from "./main.js"

/** The framework prints its own parse errors (in colour); ours are one `plue: ` line instead. */
const withoutFrameworkErrors = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.consoleWith((console) => Effect.withConsole(effect, { ...console, error: () => Effect.void }))

const say = (line: string) => Effect.sync(() => process.stderr.write(`plue: ${line.split("\n")[0]}\n`))

/** The command line, run to its exit code. */
const main = Effect.gen(function*() {
    const argv = process.argv.slice(2)
    if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
      yield* Console.log(version)
      return ExitCode.ok
    }
    const checked = Help.check(argv)
    switch (checked._tag) {
      case "Help":
        yield* Console.log(Help.render(checked.path, Help.colorEnabled(process.stdout.isTTY === true, process.env)))
        return ExitCode.ok
      case "Usage":
        yield* say(checked.message)
        return ExitCode.usage
      case "Parse": {
        const status = yield* Ref.make<number>(ExitCode.ok)
        return yield* run(process.argv).pipe(
          withoutFrameworkErrors,
          Effect.provideService(ExitStatus, status),
          Effect.zipRight(Ref.get(status)),
          Effect.catchAll((error) => {
            const { code, line } = describe(error)
            // The framework's own messages say what was wrong; point at the help for the rest.
            const hint = ValidationError.isValidationError(error) ? `; run '${["plue", ...checked.path].join(" ")} --help'` : ""
            return Effect.as(say(`${line.split("\n")[0]}${hint}`), code)
          })
        )
      }
    }
  })

NodeRuntime.runMain(main.pipe(Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))), {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(typeof exit.value === "number" ? exit.value : ExitCode.internal)
    if (Cause.isInterruptedOnly(exit.cause)) return onExit(ExitCode.interrupted)
    process.stderr.write(`plue: internal error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
    onExit(ExitCode.internal)
  }
})
