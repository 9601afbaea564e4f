/**
 * @plue/share: a self-hostable OpenCode share service, on files (one machine) or PostgreSQL
 * (`@plue/share/ShareStorePg`, several replicas).
 *
 * @since 0.1.0
 */

/** The routes OpenCode calls, the viewer, health and readiness, owner grants. */
export * as ShareService from "./ShareService.js"

/** The store contract, and the file and memory stores. */
export * as ShareStore from "./ShareStore.js"
