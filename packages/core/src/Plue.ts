/**
 * The whole session bridge in one Layer: client, event PubSub, coherent cache, sync fiber and
 * session manager, over whatever `OpenCodeConnection` is provided (`layer`), an existing server
 * named by configuration (`layerConfig`) or a managed local server (`layerManaged`).
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as OpenCodeClient from "./OpenCodeClient.js"
import * as OpenCodeConnection from "./OpenCodeConnection.js"
import * as OpenCodeServer from "./OpenCodeServer.js"
import * as SessionCache from "./SessionCache.js"
import * as SessionEvents from "./SessionEvents.js"
import * as SessionManager from "./SessionManager.js"
import * as SessionSync from "./SessionSync.js"

/**
 * Tuning of the bridge's parts.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly cache?: SessionCache.Options | undefined
  readonly sync?: SessionSync.Options | undefined
  readonly events?: SessionEvents.Options | undefined
}

/**
 * Everything the bridge provides.
 *
 * @since 0.1.0
 */
export type Services =
  | OpenCodeClient.OpenCodeClient
  | SessionEvents.SessionEvents
  | SessionCache.SessionCache
  | SessionSync.SessionSync
  | SessionManager.SessionManager

/**
 * The bridge over whatever `OpenCodeConnection` is provided.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Services, never, OpenCodeConnection.OpenCodeConnection | HttpClient.HttpClient> => {
  const client = OpenCodeClient.layer
  const events = SessionEvents.layer(options.events)
  const cache = SessionCache.layer(options.cache).pipe(Layer.provideMerge(Layer.merge(client, events)))
  const sync = SessionSync.layer(options.sync).pipe(Layer.provideMerge(cache))
  return SessionManager.layer.pipe(Layer.provideMerge(sync))
}

/**
 * The bridge over a managed local OpenCode server, started with the Layer and stopped with it.
 * (Formerly `Plue.layer`, a name that now means the bridge over a provided connection.)
 *
 * @example
 * ```ts
 * import { NodeContext, NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Plue, SessionManager } from "@plue/core"
 *
 * const PlueLive = Plue.layerManaged({ server: { cwd: process.cwd() } }).pipe(
 *   Layer.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici))
 * )
 *
 * const program = Effect.gen(function*() {
 *   const sessions = yield* SessionManager.SessionManager
 *   const handle = yield* sessions.create({ title: "hello" })
 *   const info = yield* sessions.info(handle)
 *   yield* sessions.destroy(handle)
 *   return info.title
 * })
 *
 * Effect.runPromise(Effect.provide(program, PlueLive))
 * ```
 *
 * @since 0.1.0
 */
export const layerManaged = (
  options: Options & { readonly server?: OpenCodeServer.Options | undefined } = {}
): Layer.Layer<
  Services | OpenCodeServer.OpenCodeServer | OpenCodeConnection.OpenCodeConnection,
  OpenCodeServer.ServerStartError,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient
> => layer(options).pipe(Layer.provideMerge(OpenCodeServer.layer(options.server)))

/**
 * The bridge over an existing server named by `OPENCODE_URL` / `OPENCODE_SERVER_PASSWORD` (see
 * `OpenCodeConnection.config`).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: Options = {}
): Layer.Layer<Services | OpenCodeConnection.OpenCodeConnection, ConfigError.ConfigError, HttpClient.HttpClient> =>
  layer(options).pipe(Layer.provideMerge(OpenCodeConnection.layerConfig))

/**
 * @deprecated Renamed `layer`; this alias goes in the next release.
 * @since 0.1.0
 */
export const layerWith = layer

/**
 * @deprecated Renamed `layerConfig`; this alias goes in the next release.
 * @since 0.1.0
 */
export const layerRemote = layerConfig
