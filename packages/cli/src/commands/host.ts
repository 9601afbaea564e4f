/**
 * `plue host LIB [args...]`: runs a C host library against the bridge.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import { resolve } from "node:path"
import * as Connection from "../Connection.js"

/**
 * The host's exit status, handed to the process exit code by `bin.ts`.
 *
 * @since 0.1.0
 */
export class HostExit {
  readonly _tag = "HostExit"
  constructor(readonly status: number) {}
}

/**
 * The host library could not be loaded, bound or run.
 *
 * @since 0.1.0
 */
export class HostFailed extends Error {
  readonly _tag = "HostFailed"
}

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
    yield* sync.awaitConnected
    const { status, leaks } = yield* Host.run(resolve(o.library), o.args).pipe(
      Effect.mapError((error) => new HostFailed(error.message))
    )
    if (o.debug) {
      process.stderr.write(`plue host: ${leaks.strings} string(s) never freed with plue_free_json\n`)
      process.stderr.write(`plue host: ${leaks.handles.length} handle(s) never destroyed${leaks.handles.map((h) => `\n  handle ${h.handle} (${h.sessionId})`).join("")}\n`)
    }
    return yield* Effect.fail(new HostExit(status))
  }).pipe(
    Effect.scoped,
    Effect.provide(Connection.bridge(o))
  )).pipe(
    Command.withDescription(
      "Run a C host library: binds the plue C API into LIB, calls its plue_host_main(argc, argv) off the\n" +
        "main thread, and exits with its return value. Every handle is destroyed and every callback\n" +
        "unregistered on exit.\n\nExamples:\n  plue host ./libhost.so\n  plue host --debug ./libhost.so first-arg"
    )
  )
