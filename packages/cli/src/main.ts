/**
 * The `plue` command line.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { demo } from "./commands/demo.js"
import { host } from "./commands/host.js"
import { outbox } from "./commands/outbox.js"
import { serve } from "./commands/serve.js"
import { session } from "./commands/session.js"
import { shareServer } from "./commands/shareServer.js"
import { watch } from "./commands/watch.js"
import { version } from "./Help.js"

/**
 * The root command.
 *
 * @since 0.1.0
 */
export const plue = Command.make("plue").pipe(
  Command.withDescription("Drive OpenCode sessions from the terminal"),
  Command.withSubcommands([session, outbox, watch, host, shareServer, demo, serve])
)

/**
 * Runs the CLI on `argv`.
 *
 * @since 0.1.0
 */
export const run = Command.run(plue, { name: "plue", version })
