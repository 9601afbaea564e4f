/**
 * The `plue` command line.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { demo } from "./commands/demo.js"

/**
 * The root command.
 *
 * @since 0.1.0
 */
export const plue = Command.make("plue").pipe(
  Command.withDescription("Drive OpenCode sessions: plue demo, ..."),
  Command.withSubcommands([demo])
)

/**
 * Runs the CLI on `argv`.
 *
 * @since 0.1.0
 */
export const run = Command.run(plue, { name: "plue", version: "0.1.0" })
