/**
 * Where the OpenCode server is and how to talk to it. Provided either from configuration
 * (an existing server) or by `OpenCodeServer.layer` (a managed one): the client does not care.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/**
 * Connection settings for one OpenCode server.
 *
 * @since 0.1.0
 */
export interface ConnectionSettings {
  /** Base URL, for instance `http://127.0.0.1:4096` (no trailing slash). */
  readonly url: string
  /** Basic-auth password (user `opencode`), when the server has one. */
  readonly password: Option.Option<Redacted.Redacted<string>>
  /**
   * The project directory to work in (`?directory=` on every request). OpenCode scopes listings
   * and the event stream to one directory, the server's own by default; sessions made by a
   * client working in another directory are seen only there.
   */
  readonly directory: Option.Option<string>
  /**
   * Set when the server is a managed one (started for this process): the directory it serves.
   * Its URL changes every run, so what must outlive the run (the outbox) is keyed by this instead.
   */
  readonly managed?: string | undefined
  /** Upper bound for one request attempt, body included. */
  readonly requestTimeout: Duration.Duration
  /** Upper bound for `init`, which runs a whole model turn before it answers. */
  readonly initTimeout: Duration.Duration
  /** An event stream silent this long is dead (the server sends a heartbeat every ~10 s). */
  readonly heartbeatTimeout: Duration.Duration
  /**
   * Upper bound for the event stream to open. A healthy server answers at once; a server still
   * starting (a restart) accepts the connection and may never answer it, so the sync fiber gives
   * up on that attempt soon and tries again.
   */
  readonly streamOpenTimeout: Duration.Duration
  /**
   * How many times an idempotent request is retried after a connection failure (refused, reset)
   * or a 502/503/504, on the fast schedule (40 ms, doubling, capped at 1 s, jittered).
   */
  readonly retries: number
  /**
   * How long, from the start of a call, OpenCode's storage error (its generic 500, answered while
   * its database is locked) may be retried: no retry starts after it; zero turns those retries off.
   * Only idempotent calls and deletes are retried (docs/retries.md).
   */
  readonly storageRetryBudget: Duration.Duration
  /** The first wait before a storage retry; it doubles each time, jittered. */
  readonly storageRetryDelay: Duration.Duration
  /** The cap of the wait between two storage retries, before its jitter (0.8x to 1.2x). */
  readonly storageRetryMaxDelay: Duration.Duration
  /**
   * The connection's retry budget: a bucket of this many tokens shared by all its calls; every
   * retry (of either kind) takes one, and while it is empty nothing is retried. Zero: no retries.
   */
  readonly retryTokens: number
  /** One retry token comes back per this much time, up to `retryTokens`. */
  readonly retryTokenRefill: Duration.Duration
}

/**
 * The connection to the OpenCode server that the client uses.
 *
 * @since 0.1.0
 */
export class OpenCodeConnection extends Context.Tag("@plue/core/OpenCodeConnection")<
  OpenCodeConnection,
  ConnectionSettings
>() {}

/**
 * Defaults for everything but the URL.
 *
 * @since 0.1.0
 */
export const defaults = {
  requestTimeout: Duration.seconds(10),
  initTimeout: Duration.minutes(10),
  heartbeatTimeout: Duration.seconds(30),
  streamOpenTimeout: Duration.seconds(3),
  retries: 3,
  storageRetryBudget: Duration.seconds(15),
  storageRetryDelay: Duration.millis(500),
  storageRetryMaxDelay: Duration.seconds(4),
  retryTokens: 20,
  retryTokenRefill: Duration.seconds(1)
} as const

/**
 * Options accepted by `make` and `layer`.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly url: string
  readonly password?: Redacted.Redacted<string> | undefined
  readonly directory?: string | undefined
  /** The directory a managed server serves (see `ConnectionSettings.managed`). */
  readonly managed?: string | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly initTimeout?: Duration.DurationInput | undefined
  readonly heartbeatTimeout?: Duration.DurationInput | undefined
  readonly streamOpenTimeout?: Duration.DurationInput | undefined
  readonly retries?: number | undefined
  readonly storageRetryBudget?: Duration.DurationInput | undefined
  readonly storageRetryDelay?: Duration.DurationInput | undefined
  readonly storageRetryMaxDelay?: Duration.DurationInput | undefined
  readonly retryTokens?: number | undefined
  readonly retryTokenRefill?: Duration.DurationInput | undefined
}

/**
 * Normalises options into settings.
 *
 * @since 0.1.0
 */
export const make = (options: Options): ConnectionSettings => ({
  url: options.url.replace(/\/+$/, ""),
  password: Option.fromNullable(options.password),
  directory: Option.fromNullable(options.directory),
  ...(options.managed !== undefined ? { managed: options.managed } : {}),
  requestTimeout: Duration.decode(options.requestTimeout ?? defaults.requestTimeout),
  initTimeout: Duration.decode(options.initTimeout ?? defaults.initTimeout),
  heartbeatTimeout: Duration.decode(options.heartbeatTimeout ?? defaults.heartbeatTimeout),
  streamOpenTimeout: Duration.decode(options.streamOpenTimeout ?? defaults.streamOpenTimeout),
  retries: options.retries ?? defaults.retries,
  storageRetryBudget: Duration.decode(options.storageRetryBudget ?? defaults.storageRetryBudget),
  storageRetryDelay: Duration.decode(options.storageRetryDelay ?? defaults.storageRetryDelay),
  storageRetryMaxDelay: Duration.decode(options.storageRetryMaxDelay ?? defaults.storageRetryMaxDelay),
  retryTokens: options.retryTokens ?? defaults.retryTokens,
  retryTokenRefill: Duration.decode(options.retryTokenRefill ?? defaults.retryTokenRefill)
})

/**
 * A connection to an existing server.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<OpenCodeConnection> => Layer.succeed(OpenCodeConnection, make(options))

const nonNegative = (name: string) => Config.validate({ message: `${name} must be 0 or more`, validation: (n: number) => n >= 0 })

/**
 * The retry settings read from configuration, each with its default: `OPENCODE_RETRIES`,
 * `OPENCODE_STORAGE_RETRY_BUDGET`, `OPENCODE_STORAGE_RETRY_DELAY`,
 * `OPENCODE_STORAGE_RETRY_MAX_DELAY` (durations such as `15 seconds`), `OPENCODE_RETRY_TOKENS`
 * and `OPENCODE_RETRY_TOKEN_REFILL`. Read by `config`, and by the CLI and the C API's sidecar.
 *
 * @since 0.1.0
 */
export const retryConfig: Config.Config<
  Pick<Options, "retries" | "storageRetryBudget" | "storageRetryDelay" | "storageRetryMaxDelay" | "retryTokens" | "retryTokenRefill">
> = Config.all({
  retries: Config.withDefault(Config.integer("OPENCODE_RETRIES").pipe(nonNegative("OPENCODE_RETRIES")), defaults.retries),
  storageRetryBudget: Config.withDefault(Config.duration("OPENCODE_STORAGE_RETRY_BUDGET"), defaults.storageRetryBudget),
  storageRetryDelay: Config.withDefault(Config.duration("OPENCODE_STORAGE_RETRY_DELAY"), defaults.storageRetryDelay),
  storageRetryMaxDelay: Config.withDefault(Config.duration("OPENCODE_STORAGE_RETRY_MAX_DELAY"), defaults.storageRetryMaxDelay),
  retryTokens: Config.withDefault(Config.integer("OPENCODE_RETRY_TOKENS").pipe(nonNegative("OPENCODE_RETRY_TOKENS")), defaults.retryTokens),
  retryTokenRefill: Config.withDefault(Config.duration("OPENCODE_RETRY_TOKEN_REFILL"), defaults.retryTokenRefill)
})

/**
 * The configuration read by `layerConfig`: `OPENCODE_URL`, `OPENCODE_SERVER_PASSWORD`,
 * `OPENCODE_DIRECTORY`, `OPENCODE_REQUEST_TIMEOUT` (a duration such as `5 seconds`),
 * `OPENCODE_HEARTBEAT_TIMEOUT`, and the retry settings of `retryConfig`.
 *
 * @since 0.1.0
 */
export const config: Config.Config<Options> = Config.all({
  url: Config.string("OPENCODE_URL").pipe(
    Config.validate({
      message: "OPENCODE_URL must be an http:// or https:// URL",
      validation: (url) => /^https?:\/\/[^/\s]+/.test(url)
    })
  ),
  password: Config.option(Config.redacted("OPENCODE_SERVER_PASSWORD")).pipe(Config.map(Option.getOrUndefined)),
  directory: Config.option(Config.string("OPENCODE_DIRECTORY")).pipe(Config.map(Option.getOrUndefined)),
  requestTimeout: Config.withDefault(Config.duration("OPENCODE_REQUEST_TIMEOUT"), defaults.requestTimeout),
  heartbeatTimeout: Config.withDefault(Config.duration("OPENCODE_HEARTBEAT_TIMEOUT"), defaults.heartbeatTimeout),
  retry: retryConfig
}).pipe(Config.map(({ retry, ...rest }) => ({ ...rest, ...retry })))

/**
 * A connection to an existing server, read from configuration (see `config`).
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<OpenCodeConnection, ConfigError.ConfigError> = Layer.effect(
  OpenCodeConnection,
  Effect.map(config, make)
)
