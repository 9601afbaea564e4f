/**
 * `plue serve`: the sidecar of a C program that called `plue_init` (plue.h). Started by the
 * header with a socket as fd 3; runs the same operation table as `plue host` and exits when the
 * socket closes (the program called plue_shutdown, or died). Not meant to be run by hand.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Outbox, Plue, SessionSync } from "@plue/core"
import { Api, Sidecar } from "@plue/ffi"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Connection from "../Connection.js"

/** The plue_error code plue_init returns when the sidecar cannot start. */
const initCode = (error: unknown): number => {
  switch ((error as { _tag?: unknown })?._tag) {
    case "ServerStartError":
    case "Unreachable":
      return Api.Code.PLUE_ERR_UNREACHABLE
    case "Unauthorized":
      return Api.Code.PLUE_ERR_UNAUTHORIZED
    default:
      return Api.Code.PLUE_ERR_INTERNAL
  }
}

/**
 * @since 0.1.0
 */
export const serve = Command.make("serve", {
  ...Connection.options,
  fd: Options.integer("fd").pipe(Options.withDefault(3), Options.withDescription("The socket to the C program (default 3)"))
}, (o) =>
  Effect.gen(function*() {
    const channel = yield* Sidecar.connect(o.fd)
    const { hello } = channel
    // What the program set in plue_options wins over the flags and the environment.
    const connection: Connection.ConnectionOptions = {
      url: hello.url !== undefined ? Option.some(hello.url) : o.url,
      password: hello.password !== undefined ? Option.some(Redacted.make(hello.password)) : o.password,
      directory: hello.directory !== undefined ? Option.some(hello.directory) : o.directory,
      // The program's stderr is its own: no progress drawn on it.
      progress: false
    }
    let serving = false
    const program = Effect.gen(function*() {
      const sync = yield* SessionSync.SessionSync
      // A refused password fails plue_init at once (PLUE_ERR_UNAUTHORIZED): retrying cannot help.
      yield* Effect.raceFirst(sync.awaitConnected, Connection.refused(sync))
      serving = true
      yield* Sidecar.serve(channel)
    }).pipe(
      Effect.scoped,
      Effect.provide(Plue.layer().pipe(Layer.provide(Outbox.layerConfig), Layer.provide(Connection.connection(connection)))),
      Effect.tapError((error) => channel.fail(initCode(error), error instanceof Error ? error.message : String(error)))
    )
    // The program gave up (plue_init timed out) or died while this was starting: stop starting.
    yield* Effect.raceFirst(program, Effect.flatMap(channel.ended, () => (serving ? Effect.never : Effect.void)))
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription(
      "Internal: the sidecar that plue_init (plue.h) starts for a C program with its own main(), with a\n" +
        "socket as fd 3. It serves the plue C API over that socket and exits when it closes."
    )
  )
