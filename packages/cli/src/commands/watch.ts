/**
 * `plue watch`: session events, live, until Ctrl-C.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type { SessionEvents } from "@plue/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Connection from "../Connection.js"
import { localTime, sanitize } from "../Output.js"

/**
 * How `plue watch` shows one event to people (after the local time): a word for its kind, the
 * session, what changed. Titles and texts from the server are sanitized (no control characters).
 *
 * @since 0.1.0
 */
export const describe = (event: SessionEvents.Delivery | SessionEvents.Snapshot): string => {
  switch (event._tag) {
    case "Snapshot":
      return [
        `snapshot  ${event.sessions.length} session${event.sessions.length === 1 ? "" : "s"} at connect, newest update first`,
        ...event.sessions.map((session) => `          ${session.id}  ${sanitize(session.title)}`)
      ].join("\n")
    case "Created":
      return `created   ${event.session.id}  ${sanitize(event.session.title)}`
    case "Updated":
      return `updated   ${event.session.id}  ${event.changes.join(", ")}: ${sanitize(event.session.title)}`
    case "Deleted":
      return `deleted   ${event.sessionId}`
    case "Shared":
      return `shared    ${event.session.id}  ${sanitize(event.url)}`
    case "Unshared":
      return `unshared  ${event.session.id}`
    case "Aborted":
      return `aborted   ${event.sessionId}`
    case "Status":
      return `status    ${event.sessionId}  ${event.status.type}`
    case "Error":
      return `error     ${event.sessionId ?? "-"}  ${sanitize(JSON.stringify(event.error))}`
    case "Queued":
      return `queued    ${event.sessionId}  ${event.kind} ${event.opId}`
    case "Confirmed":
      return `confirmed ${event.sessionId}  ${event.kind} ${event.opId}`
    case "RolledBack":
      return `rolledback ${event.sessionId}  ${event.kind} ${event.opId}: ${sanitize(event.error)}`
    case "Cancelled":
      return `cancelled ${event.sessionId}  ${event.kind} ${event.opId} by ${event.by}`
    case "Conflict":
      return `conflict  ${event.sessionId}  ${event.opId}: base ${sanitize(JSON.stringify(event.base))}, local ${
        sanitize(JSON.stringify(event.local))
      }, remote ${sanitize(JSON.stringify(event.remote))}`
    case "Overwritten":
      return `overwritten ${event.sessionId}  ${event.opId} by ${sanitize(JSON.stringify(event.remote))}`
    case "DeadLettered":
      return `dead      ${event.sessionId}  ${event.kind} ${event.opId}: ${sanitize(event.error)}`
    case "BulkProgress":
      return `progress  batch ${event.batch}: ${event.done} of ${event.total} done, ${event.failed} failed`
    case "Progress":
      return `progress  ${event.sessionId ?? "-"}  ${event.kind} #${event.opId} ${event.phase}${
        event.attempt !== undefined ? ` (retry ${event.attempt})` : ""
      }${event.reason !== undefined ? `: ${sanitize(event.reason)}` : ""}`
    case "Lagged":
      return `lagged    ${event.missed} events were dropped; run plue session list to resynchronise`
  }
}

/**
 * @since 0.1.0
 */
export const watch = Command.make("watch", {
  ...Connection.options,
  json: Options.boolean("json").pipe(Options.withAlias("j"), Options.withDescription("One JSON object per line"))
}, (o) =>
  Effect.gen(function*() {
    const SessionSync = yield* Effect.promise(() => import("@plue/core/SessionSync"))
    const sync = yield* SessionSync.SessionSync
    // Connection state goes to stderr, so stdout stays a clean event log: every lost connection
    // says why and when the next attempt starts; watching is retried until Ctrl-C.
    yield* Effect.forkScoped(sync.changes.pipe(
      Stream.changesWith((a, b) => a.status === b.status && a.reconnects === b.reconnects),
      Stream.runForEach((state) =>
        Effect.sync(() => {
          if (state.status === "connected") process.stderr.write("plue: connected\n")
          // A refused password is not retried: the watch ends with the reason instead.
          if (state.status !== "reconnecting" || Option.exists(state.lastFailure, (f) => f._tag === "Unauthorized")) return
          const why = Option.getOrElse(state.lastError, () => "connection lost").split("\n")[0]!.replace(/[.\s]+$/, "")
          // SessionSync sets retryAt whenever it is reconnecting.
          const next = Option.isSome(state.retryAt) ? `; next attempt at ${localTime(state.retryAt.value)}` : ""
          process.stderr.write(`plue: reconnecting: ${why}${next}\n`)
        })
      )
    ))
    // The sessions at connect as one snapshot, then only real changes. A refused password ends
    // the watch at once: retrying cannot help.
    yield* Effect.raceFirst(
      Stream.runForEach(sync.watch, (event) => Console.log(o.json ? JSON.stringify(event) : `${localTime(Date.now())}  ${describe(event)}`)),
      Connection.refused(sync)
    )
  }).pipe(
    Effect.scoped,
    Effect.provide(Connection.bridge(o))
  )).pipe(
    Command.withDescription("Print the sessions at connect, then follow session events live until Ctrl-C")
  )
