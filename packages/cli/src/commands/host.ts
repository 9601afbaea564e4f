/**
 * `plue host LIB [args...]`: runs a C host library against the bridge.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { resolve } from "node:path"
import * as Connection from "../Connection.js"
import { ExitStatus } from "../Errors.js"

/**
 * The host library could not be loaded, bound or run.
 *
 * @since 0.1.0
 */
export class HostFailed extends Schema.TaggedError<HostFailed>("@plue/cli/HostFailed")("HostFailed", {
  message: Schema.String
}) {}

/**
 * How long `plue host` waits for the server before it gives up (exit 5).
 *
 * @since 0.1.0
 */
export const connectTimeout: Duration.Duration = Duration.seconds(10)

/**
 * @since 0.1.0
 */
export const host = Command.make("host", {
  ...Connection.options,
  debug: Options.boolean("debug").pipe(Options.withDescription("On exit, report strings never freed and handles never destroyed")),
  library: Args.file({ name: "LIB", exists: "yes" }).pipe(Args.withDescription("A shared library built with plue.h, exporting plue_host_main")),
  args: Args.text({ name: "ARGS" }).pipe(Args.repeated, Args.withDescription("Arguments passed on to plue_host_main"))
}, (o) =>
  Effect.gen(function*() {
    // Loaded here, not at start-up: koffi and the bridge are this command's alone.
    const SessionSync = yield* Effect.promise(() => import("@plue/core/SessionSync"))
    const Host = yield* Effect.promise(() => import("@plue/ffi/Host"))
    const sync = yield* SessionSync.SessionSync
    // A refused password ends it at once (exit 4), an unreachable server after a bounded wait (exit 5).
    yield* Connection.awaitConnected(sync, connectTimeout)
    const { status, leaks } = yield* Host.run(resolve(o.library), o.args).pipe(
      Effect.mapError((error) => new HostFailed({ message: error.message }))
    )
    if (o.debug) {
      process.stderr.write(`plue host: ${leaks.strings} string(s) never freed with plue_free_json\n`)
      process.stderr.write(
        `plue host: ${leaks.handles.length} handle(s) never destroyed${leaks.handles.map((h) => `\n  handle ${h.handle} (${h.sessionId})`).join("")}\n`
      )
    }
    yield* Effect.flatMap(ExitStatus, (exit) => Ref.set(exit, status))
  }).pipe(
    Effect.scoped,
    Effect.provide(Connection.bridge(o))
  )).pipe(
    Command.withDescription("Run a C host library's plue_host_main against the bridge and exit with its status")
  )
