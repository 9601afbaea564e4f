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
  /** How many times an idempotent request is retried after a transient failure. */
  readonly retries: number
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
  retries: 3
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
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly initTimeout?: Duration.DurationInput | undefined
  readonly heartbeatTimeout?: Duration.DurationInput | undefined
  readonly streamOpenTimeout?: Duration.DurationInput | undefined
  readonly retries?: number | undefined
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
  requestTimeout: Duration.decode(options.requestTimeout ?? defaults.requestTimeout),
  initTimeout: Duration.decode(options.initTimeout ?? defaults.initTimeout),
  heartbeatTimeout: Duration.decode(options.heartbeatTimeout ?? defaults.heartbeatTimeout),
  streamOpenTimeout: Duration.decode(options.streamOpenTimeout ?? defaults.streamOpenTimeout),
  retries: options.retries ?? defaults.retries
})

/**
 * A connection to an existing server.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<OpenCodeConnection> =>
  Layer.succeed(OpenCodeConnection, make(options))

/**
 * The configuration read by `layerConfig`: `OPENCODE_URL`, `OPENCODE_SERVER_PASSWORD`,
 * `OPENCODE_DIRECTORY`, `OPENCODE_REQUEST_TIMEOUT` (a duration such as `5 seconds`) and
 * `OPENCODE_HEARTBEAT_TIMEOUT`.
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
  heartbeatTimeout: Config.withDefault(Config.duration("OPENCODE_HEARTBEAT_TIMEOUT"), defaults.heartbeatTimeout)
})

/**
 * A connection to an existing server, read from configuration (see `config`).
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<OpenCodeConnection, ConfigError.ConfigError> = Layer.effect(
  OpenCodeConnection,
  Effect.map(config, make)
)
