/**
 * How every command reaches OpenCode: `--url` / `OPENCODE_URL` and `--password` /
 * `OPENCODE_SERVER_PASSWORD` for an existing server, or, with no URL, a managed local server
 * started for the command and stopped when it ends.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as HttpClient from "@effect/platform/HttpClient"
import { OpenCodeClient, OpenCodeConnection, OpenCodeServer } from "@plue/core"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"

/**
 * `--url`, falling back to `OPENCODE_URL`.
 *
 * @since 0.1.0
 */
export const url = Options.text("url").pipe(
  Options.withDescription("Base URL of a running OpenCode server (default: OPENCODE_URL, else start a local one)"),
  Options.withFallbackConfig(Config.string("OPENCODE_URL")),
  Options.optional
)

/**
 * `--password`, falling back to `OPENCODE_SERVER_PASSWORD`.
 *
 * @since 0.1.0
 */
export const password = Options.redacted("password").pipe(
  Options.withDescription("Server password, HTTP basic auth user `opencode` (default: OPENCODE_SERVER_PASSWORD)"),
  Options.withFallbackConfig(Config.redacted("OPENCODE_SERVER_PASSWORD")),
  Options.optional
)

/**
 * The connection options every command takes.
 *
 * @since 0.1.0
 */
export const options = { url, password }

/**
 * The parsed connection options.
 *
 * @since 0.1.0
 */
export interface ConnectionOptions {
  readonly url: Option.Option<string>
  readonly password: Option.Option<Redacted.Redacted<string>>
}

/**
 * Shows a spinner on stderr (one line when stderr is not a terminal) while `effect` runs.
 *
 * @since 0.1.0
 */
export const withProgress = <A, E, R>(text: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  if (!process.stderr.isTTY) {
    return Effect.zipRight(Effect.sync(() => process.stderr.write(`plue: ${text}...\n`)), effect)
  }
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
  let frame = 0
  const draw = Effect.sync(() => process.stderr.write(`\r${frames[frame++ % frames.length]} ${text}...`))
  const clear = Effect.sync(() => process.stderr.write("\r\x1b[2K"))
  return Effect.acquireUseRelease(
    Effect.fork(Effect.repeat(draw, Schedule.spaced(Duration.millis(80)))),
    () => effect,
    (fiber) => Effect.zipRight(Fiber.interrupt(fiber), clear)
  )
}

/**
 * The connection for a command: an existing server, or a managed local one started (with a
 * progress indicator) for the command and stopped when it ends.
 *
 * @since 0.1.0
 */
export const connection = (
  options: ConnectionOptions
): Layer.Layer<
  OpenCodeConnection.OpenCodeConnection,
  OpenCodeServer.ServerStartError,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient
> =>
  Option.match(options.url, {
    onSome: (url) => OpenCodeConnection.layer({ url, password: Option.getOrUndefined(options.password) }),
    onNone: () =>
      Layer.scoped(
        OpenCodeConnection.OpenCodeConnection,
        withProgress("starting a local OpenCode server", OpenCodeServer.start({ cwd: process.cwd() })).pipe(
          Effect.map((info) => OpenCodeConnection.make({ url: info.url, password: info.password }))
        )
      )
  })

/**
 * The OpenCode client for a command.
 *
 * @since 0.1.0
 */
export const layer = (
  options: ConnectionOptions
): Layer.Layer<
  OpenCodeClient.OpenCodeClient | OpenCodeConnection.OpenCodeConnection,
  OpenCodeServer.ServerStartError,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient
> => OpenCodeClient.layer.pipe(Layer.provideMerge(connection(options)))
