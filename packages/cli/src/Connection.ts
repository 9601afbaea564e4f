/**
 * How every command reaches OpenCode: `--url` / `OPENCODE_URL` and `--password` /
 * `OPENCODE_SERVER_PASSWORD` for an existing server, or, with no URL, a managed local server
 * started for the command and stopped when it ends.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import type { ServeError } from "@effect/platform/HttpServerError"
import type * as HttpClient from "@effect/platform/HttpClient"
import { NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeConnection, OpenCodeServer, ShareGrants } from "@plue/core"
import { ShareService, ShareStore } from "@plue/share"
import { createServer } from "node:http"
import { homedir } from "node:os"
import { join, resolve } from "node:path"
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
 * `--directory`, falling back to `OPENCODE_DIRECTORY`.
 *
 * @since 0.1.0
 */
export const directory = Options.directory("directory").pipe(
  Options.withDescription(
    "Project directory to work in (default: OPENCODE_DIRECTORY, else the server's own; a local server is started " +
      "there). OpenCode lists sessions and events per directory."
  ),
  Options.withFallbackConfig(Config.string("OPENCODE_DIRECTORY")),
  Options.optional
)

/**
 * The connection options every command takes.
 *
 * @since 0.1.0
 */
export const options = { url, password, directory }

/**
 * The parsed connection options.
 *
 * @since 0.1.0
 */
export interface ConnectionOptions {
  readonly url: Option.Option<string>
  readonly password: Option.Option<Redacted.Redacted<string>>
  readonly directory: Option.Option<string>
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
 * Where the embedded share service keeps its shares: `PLUE_SHARE_DIR`, else
 * `$XDG_DATA_HOME/plue/shares` (`~/.local/share/plue/shares`).
 *
 * @since 0.1.0
 */
export const shareDirectory = (): string =>
  process.env.PLUE_SHARE_DIR ??
    join(process.env.XDG_DATA_HOME ?? join(process.env.HOME ?? homedir(), ".local", "share"), "plue", "shares")

/**
 * plue's share service on a free loopback port, for the command's lifetime, with its shares in
 * `shareDirectory()`. It provides `ShareGrants`, so the managed server shares through it and the
 * session manager hands out its owner secrets.
 *
 * @since 0.1.0
 */
export const embeddedShareService = (
  options: ShareService.Options = {}
): Layer.Layer<ShareService.ShareService | ShareGrants.ShareGrants, PlatformError | ServeError> =>
  ShareService.layerEmbedded(options).pipe(
    Layer.provide(ShareStore.layerFile(shareDirectory())),
    Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )

/**
 * The connection for a command: an existing server, or a managed local one started (with a
 * progress indicator) for the command and stopped when it ends. A managed server shares through
 * plue's own share service, embedded, unless `PLUE_SHARE_URL` names another; `ShareGrants` comes
 * with the connection, so whatever is built over it (the session manager) sees that service.
 *
 * @since 0.1.0
 */
export const connection = (
  options: ConnectionOptions
): Layer.Layer<
  OpenCodeConnection.OpenCodeConnection | ShareGrants.ShareGrants,
  OpenCodeServer.ServerStartError | PlatformError | ServeError,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient
> =>
  Option.match(options.url, {
    onSome: (url) =>
      Layer.merge(
        OpenCodeConnection.layer({
          url,
          password: Option.getOrUndefined(options.password),
          directory: Option.getOrUndefined(Option.map(options.directory, (d) => resolve(d)))
        }),
        // Not ours: OpenCode holds the owner secrets of its share service.
        Layer.succeed(ShareGrants.ShareGrants, ShareGrants.none)
      ),
    onNone: () => {
      const share = process.env.PLUE_SHARE_URL ? ShareGrants.layerRemote(process.env.PLUE_SHARE_URL) : embeddedShareService()
      // The managed server takes its share service (enterprise.url) from ShareGrants.
      return Layer.scoped(
        OpenCodeConnection.OpenCodeConnection,
        withProgress(
          "starting a local OpenCode server",
          OpenCodeServer.supervise({
            cwd: Option.getOrElse(Option.map(options.directory, (d) => resolve(d)), () => process.cwd())
          })
        ).pipe(Effect.map((info) => OpenCodeConnection.make({ url: info.url, password: info.password })))
      ).pipe(Layer.provideMerge(share))
    }
  })

/**
 * The OpenCode client for a command.
 *
 * @since 0.1.0
 */
export const layer = (
  options: ConnectionOptions
): Layer.Layer<
  OpenCodeClient.OpenCodeClient | OpenCodeConnection.OpenCodeConnection | ShareGrants.ShareGrants,
  OpenCodeServer.ServerStartError | PlatformError | ServeError,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient
> => OpenCodeClient.layer.pipe(Layer.provideMerge(connection(options)))
