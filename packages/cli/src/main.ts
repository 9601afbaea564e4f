/**
 * The `plue` command line.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { demo } from "./commands/demo.js"
import { host } from "./commands/host.js"
import { serve } from "./commands/serve.js"
import { session } from "./commands/session.js"
import { shareServer } from "./commands/shareServer.js"
import { watch } from "./commands/watch.js"

/**
 * The root command.
 *
 * @since 0.1.0
 */
export const plue = Command.make("plue").pipe(
  Command.withDescription(
    "Drive OpenCode sessions from the terminal.\n\n" +
      "Connects to --url / OPENCODE_URL (password: --password / OPENCODE_SERVER_PASSWORD), or, with no URL,\n" +
      "starts a local OpenCode server for the command and stops it after.\n\n" +
      "Exit codes: 0 ok, 1 internal failure, 2 usage error or bad id, 3 session not found,\n" +
      "4 unauthorized, 5 unreachable (or the local server did not start), 130 interrupted."
  ),
  Command.withSubcommands([session, watch, host, shareServer, demo, serve])
)

/**
 * Runs the CLI on `argv`.
 *
 * @since 0.1.0
 */
export const run = Command.run(plue, { name: "plue", version: "0.1.0" })
