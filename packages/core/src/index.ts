/**
 * @plue/core: the typed OpenCode client, a managed OpenCode server, and the plue session bridge.
 *
 * @since 0.1.0
 */

/** Session and message identifiers, and the check that keeps bad ids out of URLs. */
export * as Identifier from "./Identifier.js"

/** Typed failures of talking to OpenCode. */
export * as OpenCodeError from "./OpenCodeError.js"

/** OpenCode's wire data as Schemas. */
export * as OpenCodeSchema from "./OpenCodeSchema.js"

/** Where the server is and how to reach it. */
export * as OpenCodeConnection from "./OpenCodeConnection.js"

/** The typed OpenCode client. */
export * as OpenCodeClient from "./OpenCodeClient.js"

/** A managed local OpenCode server as a scoped Layer. */
export * as OpenCodeServer from "./OpenCodeServer.js"

/** Failures of the session bridge (handles, deletion, abort, share). */
export * as PlueError from "./PlueError.js"

/** The session event PubSub. */
export * as SessionEvents from "./SessionEvents.js"

/** The coherent session cache. */
export * as SessionCache from "./SessionCache.js"

/** The sync fiber following the server's event stream. */
export * as SessionSync from "./SessionSync.js"

/** Session handles and the operations of the C API. */
export * as SessionManager from "./SessionManager.js"

/** Batches of session operations (`SessionManager.bulk`): operations and results as Schemas. */
export * as SessionBulk from "./SessionBulk.js"

/** The whole bridge as one Layer (`Plue.layer`, `Plue.layerConfig`, `Plue.layerManaged`). */
export * as Plue from "./Plue.js"

/** What the bridge needs of a share service in this process (provided by `@plue/share`). */
export * as ShareGrants from "./ShareGrants.js"

/** The durable outbox: offline writes queued on disk and replayed exactly once. */
export * as Outbox from "./Outbox.js"
/** The progress hook: how an operation's phases (retries included) reach its `Progress` events. */
export * as Progress from "./Progress.js"
