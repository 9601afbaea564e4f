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
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import * as OpenCodeConnection from "@plue/core/OpenCodeConnection"
import type * as OpenCodeError from "@plue/core/OpenCodeError"
import type * as OpenCodeServer from "@plue/core/OpenCodeServer"
import type * as SessionEvents from "@plue/core/SessionEvents"
import type * as SessionManager from "@plue/core/SessionManager"
import type * as SessionSync from "@plue/core/SessionSync"
import * as ShareGrants from "@plue/core/ShareGrants"
import type * as ShareService from "@plue/share/ShareService"
import { createServer } from "node:http"
import { homedir } from "node:os"
import { join, resolve } from "node:path"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { existsSync, statSync } from "node:fs"
import { HostUnreachable, UsageError } from "./Errors.js"
import * as Indicator from "./Indicator.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/**
 * `--url`, falling back to `OPENCODE_URL`.
 *
 * @since 0.1.0
 */
export const url = Options.text("url").pipe(
  Options.withAlias("u"),
  Options.withDescription("Base URL of a running OpenCode server (default: OPENCODE_URL, else start a local one)"),
  Options.withFallbackConfig(Config.string("OPENCODE_URL")),
  Options.withSchema(Schema.String.pipe(
    Schema.filter((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol), {
      message: (issue) => `--url / OPENCODE_URL: '${String(issue.actual)}' is not an http(s) URL; write it like --url http://127.0.0.1:4096`
    })
  )),
  Options.optional
)

/**
 * `--password`, falling back to `OPENCODE_SERVER_PASSWORD`.
 *
 * @since 0.1.0
 */
export const password = Options.redacted("password").pipe(
  Options.withAlias("p"),
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
  Options.withAlias("d"),
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
  /** The command prints JSON (its `--json`): progress, if any, in plain lines. */
  readonly json?: boolean | undefined
  /** Show progress on stderr while a local server starts. Default true. */
  readonly progress?: boolean | undefined
}

// What only some commands need is loaded when they run, so `plue --help` and `plue --version`
// start fast: the HTTP client (undici), the share service and its HTTP server, the managed
// server, the session bridge.
const loadShare = Effect.promise(() => import("@plue/share"))
const loadHttpServer = Effect.promise(() => import("@effect/platform-node/NodeHttpServer"))
const loadServer = Effect.promise(() => import("@plue/core/OpenCodeServer"))

/**
 * The HTTP client every connection uses (undici), loaded when a command first connects.
 *
 * @since 0.1.0
 */
export const httpClient: Layer.Layer<HttpClient.HttpClient> = Layer.unwrapEffect(
  Effect.map(Effect.promise(() => import("@effect/platform-node/NodeHttpClient")), (m) => m.layerUndici)
)

/**
 * Shows progress on stderr while `effect` runs (`Indicator.show`: a spinner on a terminal, plain
 * lines under `ACCESSIBLE` / `TERM=dumb` / `--json`, nothing when stderr is not a terminal).
 *
 * @since 0.1.0
 */
export const withProgress = <A, E, R>(
  text: string,
  effect: Effect.Effect<A, E, R>,
  options: Indicator.Options = {}
): Effect.Effect<A, E, R> => Indicator.show(text, () => effect, options)

/**
 * Where the embedded share service keeps its shares: `PLUE_SHARE_DIR`, else
 * `$XDG_DATA_HOME/plue/shares` (`~/.local/share/plue/shares`).
 *
 * @since 0.1.0
 */
export const shareDirectory: Config.Config<string> = Config.all({
  dir: Config.option(Config.string("PLUE_SHARE_DIR")),
  xdg: Config.option(Config.string("XDG_DATA_HOME")),
  home: Config.string("HOME").pipe(Config.orElse(() => Config.succeed(homedir())))
}).pipe(Config.map(({ dir, home, xdg }) => Option.getOrElse(dir, () => join(Option.getOrElse(xdg, () => join(home, ".local", "share")), "plue", "shares"))))

/**
 * `PLUE_SHARE_URL`: the share service a managed server uses instead of the embedded one.
 *
 * @since 0.1.0
 */
export const shareUrl: Config.Config<Option.Option<string>> = Config.option(Config.string("PLUE_SHARE_URL"))

/**
 * Whether a share made on this connection dies with the command: a managed server sharing
 * through the share service embedded in this process.
 *
 * @since 0.1.0
 */
export const sharesDieWithCommand = (options: ConnectionOptions): Effect.Effect<boolean, ConfigError.ConfigError> =>
  Effect.map(shareUrl, (external) => Option.isNone(options.url) && Option.isNone(external))

/**
 * plue's share service on a free loopback port, for the command's lifetime, with its shares in
 * `shareDirectory()`. It provides `ShareGrants`, so the managed server shares through it and the
 * session manager hands out its owner secrets.
 *
 * @since 0.1.0
 */
export const embeddedShareService = (
  options: ShareService.Options = {}
): Layer.Layer<ShareService.ShareService | ShareGrants.ShareGrants, PlatformError | ServeError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(
    Effect.all([shareDirectory, loadShare, loadHttpServer]),
    ([directory, { ShareService, ShareStore }, NodeHttpServer]) =>
      ShareService.layerEmbedded(options).pipe(
        Layer.provide(ShareStore.layerFile(directory)),
        Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
  ))

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
  OpenCodeConnection.OpenCodeConnection | ShareGrants.ShareGrants | HttpClient.HttpClient,
  OpenCodeServer.ServerStartError | PlatformError | ServeError | ConfigError.ConfigError | UsageError,
  CommandExecutor.CommandExecutor
> => Layer.provideMerge(connectionTo(options), httpClient)

const connectionTo = (
  options: ConnectionOptions
): Layer.Layer<
  OpenCodeConnection.OpenCodeConnection | ShareGrants.ShareGrants,
  OpenCodeServer.ServerStartError | PlatformError | ServeError | ConfigError.ConfigError | UsageError,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient
> =>
  Option.match(options.url, {
    onSome: (url) =>
      Layer.merge(
        // The retry settings (OPENCODE_STORAGE_RETRY_BUDGET...) come from the environment.
        Layer.effect(
          OpenCodeConnection.OpenCodeConnection,
          Effect.map(OpenCodeConnection.retryConfig, (retry) =>
            OpenCodeConnection.make({
              ...retry,
              url,
              password: Option.getOrUndefined(options.password),
              directory: Option.getOrUndefined(Option.map(options.directory, (d) => resolve(d)))
            }))
        ),
        // Not ours: OpenCode holds the owner secrets of its share service.
        Layer.succeed(ShareGrants.ShareGrants, ShareGrants.none)
      ),
    onNone: () => {
      // The managed server shares through what ShareGrants names (its enterprise.url).
      const share = Layer.unwrapEffect(Effect.map(shareUrl, (external) =>
        Option.match(external, {
          onSome: (url) => ShareGrants.layerRemote(url),
          onNone: () => embeddedShareService()
        })))
      const cwd = Option.getOrElse(Option.map(options.directory, (d) => resolve(d)), () => process.cwd())
      return Layer.scoped(
        OpenCodeConnection.OpenCodeConnection,
        Effect.flatMap(loadServer, (OpenCodeServer) =>
          withProgress("starting a local OpenCode server", OpenCodeServer.supervise({ cwd }), {
            json: options.json,
            ...(options.progress === false ? { style: "off" as const } : {})
          })).pipe(
            Effect.flatMap((info) =>
              // Managed: the outbox is keyed by the directory served, not by this run's port.
              Effect.map(OpenCodeConnection.retryConfig, (retry) => OpenCodeConnection.make({ ...retry, url: info.url, password: info.password, managed: cwd }))
            )
          )
      ).pipe(
        Layer.provideMerge(share),
        // The local server runs in that directory: it must be one, and is checked before anything starts.
        Layer.provide(Layer.effectDiscard(Effect.suspend(() =>
          existsSync(cwd) && statSync(cwd).isDirectory()
            ? Effect.void
            : Effect.fail(new UsageError({ message: `--directory: ${cwd} is not a directory; name an existing project directory` }))
        )))
      )
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
  OpenCodeClient.OpenCodeClient | OpenCodeConnection.OpenCodeConnection | ShareGrants.ShareGrants | HttpClient.HttpClient,
  OpenCodeServer.ServerStartError | PlatformError | ServeError | ConfigError.ConfigError | UsageError,
  CommandExecutor.CommandExecutor
> => OpenCodeClient.layer.pipe(Layer.provideMerge(connection(options)))

/**
 * The whole session bridge (`Plue.layer`) and its connection for a command, loaded when the
 * command runs.
 *
 * @since 0.1.0
 */
export const bridge = (options: ConnectionOptions) =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => Promise.all([import("@plue/core/Plue"), import("@plue/core/Outbox")])),
      // PLUE_OUTBOX=1 turns the outbox on for `plue watch`, `plue host` and the C sidecar too.
      ([Plue, Outbox]) => Plue.layer().pipe(Layer.provide(Outbox.layerConfig), Layer.provideMerge(connection(options)))
    )
  )

/**
 * The session manager for a one-shot command: client, cache and manager, without the sync fiber
 * (nothing to follow for one request; the manager asks the server what the cache cannot tell).
 * Loaded when the command runs.
 *
 * @since 0.1.0
 */
export const managerLayer = (
  options: ConnectionOptions
): Layer.Layer<
  SessionManager.SessionManager | SessionEvents.SessionEvents | ShareGrants.ShareGrants | HttpClient.HttpClient,
  OpenCodeServer.ServerStartError | PlatformError | ServeError | ConfigError.ConfigError | UsageError,
  CommandExecutor.CommandExecutor
> =>
  Layer.unwrapEffect(Effect.map(
    Effect.promise(() => Promise.all([import("@plue/core/SessionManager"), import("@plue/core/SessionCache"), import("@plue/core/SessionEvents")])),
    ([SessionManager, SessionCache, SessionEvents]) =>
      SessionManager.layer.pipe(
        Layer.provideMerge(SessionCache.layer()),
        Layer.provideMerge(Layer.merge(OpenCodeClient.layer, SessionEvents.layer())),
        Layer.provideMerge(connection(options))
      )
  ))

/**
 * The session manager with the outbox on (whatever `PLUE_OUTBOX` says; `PLUE_OUTBOX_POLICY` is
 * read): what `plue outbox ...` and `--queue` use. Loaded when the command runs.
 *
 * @since 0.1.0
 */
export const outboxManagerLayer = (options: ConnectionOptions) =>
  Layer.unwrapEffect(Effect.map(
    Effect.promise(() =>
      Promise.all([
        import("@plue/core/SessionManager"),
        import("@plue/core/SessionCache"),
        import("@plue/core/SessionEvents"),
        import("@plue/core/Outbox")
      ])
    ),
    ([SessionManager, SessionCache, SessionEvents, Outbox]) =>
      SessionManager.layer.pipe(
        Layer.provideMerge(SessionCache.layer()),
        Layer.provideMerge(Layer.merge(OpenCodeClient.layer, SessionEvents.layer())),
        Layer.provide(Layer.unwrapEffect(Effect.map(Outbox.config, (c) => Outbox.layer({ enabled: true, policy: c.policy })))),
        Layer.provideMerge(connection(options))
      )
  ))

/**
 * The outbox folder of a command's server (which need not exist): the key of `--url` and
 * `--directory`, or, with no URL, of the managed server's directory (`managed:` and the
 * directory, the same every run).
 *
 * @since 0.1.0
 */
export const outboxDirectory = (options: ConnectionOptions): Effect.Effect<string, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const Outbox = yield* Effect.promise(() => import("@plue/core/Outbox"))
    const stateHome = yield* Outbox.stateHomeConfig
    const directory = Option.map(options.directory, (d) => resolve(d))
    const key = Option.match(options.url, {
      onSome: (url) => Outbox.keyOf({ url, directory }),
      onNone: () => Outbox.keyOf({ url: "", directory: Option.none(), managed: Option.getOrElse(directory, () => process.cwd()) })
    })
    return `${stateHome}/plue/outbox/${key}`
  })

/**
 * Fails as soon as the sync fiber lost its connection to a refused password: no point retrying.
 *
 * @since 0.1.0
 */
export const refused = (sync: SessionSync.Service): Effect.Effect<never, OpenCodeError.Unauthorized> =>
  sync.changes.pipe(
    Stream.filterMap((state) =>
      state.status === "reconnecting"
        ? Option.filter(state.lastFailure, (f): f is OpenCodeError.Unauthorized => f._tag === "Unauthorized")
        : Option.none()
    ),
    // The first refusal fails the run; `changes` never ends, so nothing else ever does.
    Stream.runForEach(Effect.fail),
    Effect.zipRight(Effect.never)
  )

/**
 * Waits until the sync fiber is connected: at most `within`, failing at once on a refused password
 * and, at the deadline, with what was tried.
 *
 * @since 0.1.0
 */
export const awaitConnected = (
  sync: SessionSync.Service,
  within: Duration.Duration
): Effect.Effect<void, OpenCodeError.Unauthorized | HostUnreachable, OpenCodeConnection.OpenCodeConnection> =>
  Effect.gen(function*() {
    const settings = yield* OpenCodeConnection.OpenCodeConnection
    const connected = yield* Effect.raceFirst(sync.awaitConnected, refused(sync)).pipe(Effect.timeoutOption(within))
    if (Option.isSome(connected)) return
    const state = yield* sync.state
    return yield* new HostUnreachable({
      url: settings.url,
      attempts: state.reconnects,
      seconds: Duration.toSeconds(within),
      detail: Option.getOrElse(state.lastError, () => "no answer")
    })
  })
