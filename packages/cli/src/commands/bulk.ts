/**
 * Several sessions at once: `plue session delete|title|abort|unshare` with more than one id (or,
 * for delete, a selection). One batch through `SessionManager.bulk`, a line per item and a
 * summary, or the results array with `--json`; the exit code is that of the worst failure.
 *
 * @since 0.1.0
 */
import type * as OpenCodeError from "@plue/core/OpenCodeError"
import type * as OpenCodeSchema from "@plue/core/OpenCodeSchema"
import type * as SessionBulk from "@plue/core/SessionBulk"
import type * as SessionManager from "@plue/core/SessionManager"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Connection from "../Connection.js"
import { type CliError, describe, ExitCode, ExitStatus } from "../Errors.js"
import { json, sanitize } from "../Output.js"

/** What each kind of operation is called in lines and summaries. */
const past: Record<SessionBulk.Operation["op"], string> = {
  create: "created",
  title: "titled",
  delete: "deleted",
  abort: "aborted",
  share: "shared",
  unshare: "unshared"
}

/** The worst failure decides the exit code: a missing session is the mildest, a refused password the worst. */
const severity: ReadonlyArray<number> = [ExitCode.notFound, ExitCode.usage, ExitCode.internal, ExitCode.unreachable, ExitCode.unauthorized]

/** A failure in a few words, for the summary. */
const short = (error: { readonly _tag: string }): string =>
  ({
    SessionNotFound: "not found",
    SessionDeleted: "deleted",
    InvalidSessionId: "invalid id",
    Unreachable: "unreachable",
    Unauthorized: "unauthorized",
    ServerError: "server error"
  } as Record<string, string>)[error._tag] ?? error._tag

const idOf = (result: SessionBulk.Result): string =>
  result.op.op === "create" ? (result.status === "ok" ? result.session.id : "(new session)") : result.op.session

/** One line for people per result. */
const line = (result: SessionBulk.Result): string => {
  const id = idOf(result)
  switch (result.status) {
    case "ok": {
      const children = (result.deleted ?? 1) - 1
      if (result.op.op === "title") return `titled ${id}  ${sanitize(result.session.title)}`
      if (result.op.op === "delete" && children > 0) return `deleted ${id} and ${children} child session${children === 1 ? "" : "s"}`
      return `${past[result.op.op]} ${id}`
    }
    case "failed":
      return `failed ${id}: ${sanitize(describe(result.error as CliError).line.split("\n")[0]!)}`
    case "skipped":
      return result.reason === "duplicate" ? `skipped ${id}: the same as item ${result.duplicateOf! + 1}` : `skipped ${id}: stopped`
    case "cancelled":
      return `cancelled ${id}`
  }
}

/** `deleted 61 of 64; 3 failed: ses_a (not found), ...`. */
export const summary = (verb: SessionBulk.Operation["op"], results: ReadonlyArray<SessionBulk.Result>): string => {
  const ok = results.filter((r) => r.status === "ok").length
  const failed = results.flatMap((r) => (r.status === "failed" ? [`${idOf(r)} (${short(r.error)})`] : []))
  const skipped = results.filter((r) => r.status === "skipped").length
  const cancelled = results.filter((r) => r.status === "cancelled").length
  const parts = [`${past[verb]} ${ok} of ${results.length}`]
  if (failed.length > 0) parts.push(`${failed.length} failed: ${failed.slice(0, 10).join(", ")}${failed.length > 10 ? ", ..." : ""}`)
  if (skipped > 0) parts.push(`${skipped} skipped`)
  if (cancelled > 0) parts.push(`${cancelled} cancelled`)
  return parts.join("; ")
}

/** The exit code of the worst failure among the results (0 when none failed). */
export const exitCode = (results: ReadonlyArray<SessionBulk.Result>): number => {
  let worst = -1
  for (const result of results) {
    if (result.status !== "failed") continue
    worst = Math.max(worst, severity.indexOf(describe(result.error as CliError).code))
  }
  return worst < 0 ? ExitCode.ok : severity[worst] ?? ExitCode.internal
}

/** Runs `select` then the batch it gives through the session manager, and prints the outcome. */
export const run = (
  connection: Connection.ConnectionOptions,
  verb: SessionBulk.Operation["op"],
  asJson: boolean,
  select: (manager: SessionManager.Service) => Effect.Effect<ReadonlyArray<SessionBulk.Operation>, OpenCodeError.OpenCodeError>
) =>
  Effect.gen(function*() {
    const [results, encode] = yield* Effect.provide(
      Effect.gen(function*() {
        // Loaded when a batch runs, not at start-up.
        const { SessionManager: Manager } = yield* Effect.promise(() => import("@plue/core/SessionManager"))
        const { encode } = yield* Effect.promise(() => import("@plue/core/SessionBulk"))
        const sessions = yield* Manager
        return [yield* sessions.bulk(yield* select(sessions)), encode] as const
      }),
      Connection.managerLayer(connection)
    )
    if (asJson) yield* Console.log(json(encode(results)))
    else {
      for (const result of results) yield* Console.log(line(result))
      yield* Console.log(summary(verb, results))
    }
    yield* Effect.flatMap(ExitStatus, (status) => Ref.set(status, exitCode(results)))
  })

/**
 * A duration for `--older-than`: `30s`, `15m`, `12h`, `7d`, `2w`, or Effect's `7 days`, `12 hours`.
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const compact = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim())
  if (compact !== null) {
    const unit = { s: "seconds", m: "minutes", h: "hours", d: "days", w: "weeks" }[compact[2] as "s"]
    return Duration.decodeUnknown(`${compact[1]} ${unit}`)
  }
  return Duration.decodeUnknown(text.trim())
}

/**
 * The sessions `--older-than` / `--title-matching` select, without those whose ancestor is
 * selected too (deleting the ancestor takes them along).
 *
 * @since 0.1.0
 */
export const selectSessions = (
  sessions: ReadonlyArray<OpenCodeSchema.Session>,
  filter: { readonly olderThan: Option.Option<Duration.Duration>; readonly titleMatching: Option.Option<string>; readonly now: number }
): ReadonlyArray<OpenCodeSchema.Session> => {
  const matches = (s: OpenCodeSchema.Session) =>
    Option.match(filter.olderThan, { onNone: () => true, onSome: (d) => s.time.updated < filter.now - Duration.toMillis(d) }) &&
    Option.match(filter.titleMatching, { onNone: () => true, onSome: (t) => s.title.toLowerCase().includes(t.toLowerCase()) })
  const selected = new Set(sessions.filter(matches).map((s) => s.id))
  const byId = new Map(sessions.map((s) => [s.id, s]))
  const ancestorSelected = (s: OpenCodeSchema.Session): boolean => {
    const seen = new Set<string>()
    for (let parent = s.parentID; parent !== undefined && !seen.has(parent); parent = byId.get(parent)?.parentID) {
      seen.add(parent)
      if (selected.has(parent)) return true
    }
    return false
  }
  return sessions.filter((s) => selected.has(s.id) && !ancestorSelected(s))
}
