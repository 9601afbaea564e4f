/**
 * Several sessions at once: `plue session delete|title|abort|share|unshare` with more than one id (or,
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
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Connection from "../Connection.js"
import { type CliError, describe, ExitCode, ExitStatus } from "../Errors.js"
import * as Indicator from "../Indicator.js"
import { json, localTime, sanitize } from "../Output.js"

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
const short = (error: { readonly _tag: string; readonly databaseLocked?: boolean | undefined }): string =>
  error._tag === "Unreachable" && error.databaseLocked === true ? "timed out, database locked" : ({
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
      if (result.op.op === "share" && result.share !== undefined) {
        const { expiresAt, secret, url } = result.share
        return `shared ${id}  ${sanitize(url)}${
          secret !== undefined ? `  secret ${sanitize(secret)}  expires ${expiresAt == null ? "never" : localTime(expiresAt)}` : ""
        }`
      }
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

/** What each kind of operation is called while it runs, in the progress line. */
const running: Record<SessionBulk.Operation["op"], string> = {
  create: "creating",
  title: "titling",
  delete: "deleting",
  abort: "aborting",
  share: "sharing",
  unshare: "unsharing"
}

/**
 * The progress line of a batch: `deleting: 12 of 64 done, 1 failed`.
 *
 * @since 0.1.0
 */
export const progressText = (verb: SessionBulk.Operation["op"], done: number, failed: number, total: number): string =>
  `${running[verb]}: ${done} of ${total} done${failed > 0 ? `, ${failed} failed` : ""}`

/**
 * How a batch command runs: `--json`, `--concurrency N`, `--stop-on-error`.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  readonly json: boolean
  readonly concurrency: number
  readonly stopOnError: boolean
}

/** The note a share's line carries when the share service lives in this command. */
export const diesNote = "(served by this command: the link stops working when it exits; use plue share-server for one that lasts)"

/**
 * Runs `select` then the batch it gives through the session manager, and prints the outcome: a
 * line per item as soon as it and those before it are known (in input order), then the summary;
 * or, with `--json`, the results array. A progress line on stderr while it runs (`Indicator`).
 * Ctrl-C (the fiber interrupted) cancels the batch: what is in flight finishes, what has not
 * started is `cancelled`, and everything is still printed; the command then ends as
 * interrupted (130).
 */
export const run = (
  connection: Connection.ConnectionOptions,
  verb: SessionBulk.Operation["op"],
  options: RunOptions,
  select: (manager: SessionManager.Service) => Effect.Effect<ReadonlyArray<SessionBulk.Operation>, OpenCodeError.OpenCodeError>
) =>
  Effect.provide(
    Effect.gen(function*() {
      // Loaded when a batch runs, not at start-up.
      const [{ SessionManager: Manager }, { encode }, { SessionEvents }] = yield* Effect.promise(() =>
        Promise.all([import("@plue/core/SessionManager"), import("@plue/core/SessionBulk"), import("@plue/core/SessionEvents")])
      )
      const sessions = yield* Manager
      const events = yield* SessionEvents
      const dies = verb === "share" ? yield* Connection.sharesDieWithCommand(connection) : false
      const operations = yield* select(sessions)
      const cancel = yield* Deferred.make<void>()
      // Lines in input order: a result waits for those before it.
      const known = new Map<number, SessionBulk.Result>()
      let next = 0
      const printReady = (indicator: Indicator.Indicator) => {
        let text = ""
        for (let result = known.get(next); result !== undefined; result = known.get(next)) {
          text += `${line(result)}\n`
          known.delete(next++)
        }
        if (text !== "") indicator.print(text)
      }
      yield* Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const { interrupted, results } = yield* Indicator.show(progressText(verb, 0, 0, operations.length), (indicator) =>
            Effect.gen(function*() {
              const progress = yield* events.subscribe
              // Interruptible: it inherits this region's uninterruptibility otherwise, and could never be stopped.
              yield* Effect.forkScoped(Effect.interruptible(Stream.runForEach(progress, (event) =>
                Effect.sync(() => {
                  if (event._tag === "BulkProgress") indicator.update(progressText(verb, event.done, event.failed, event.total))
                }))))
              // In the scope, not a child of this fiber: Ctrl-C interrupts this fiber, and would interrupt its children.
              const batch = yield* Effect.forkScoped(restore(sessions.bulk(operations, {
                concurrency: options.concurrency,
                stopOnError: options.stopOnError,
                cancel,
                ...(options.json ? {} : {
                  onResult: (result: SessionBulk.Result) => {
                    known.set(result.index, result)
                    printReady(indicator)
                  }
                })
              })))
              const first = yield* Effect.exit(restore(Fiber.join(batch)))
              if (Exit.isSuccess(first)) return { interrupted: false, results: first.value }
              // Ctrl-C: nothing more starts; what is in flight finishes and says how it went.
              yield* Deferred.succeed(cancel, undefined)
              return { interrupted: true, results: yield* Fiber.join(batch) }
            }).pipe(Effect.scoped), { json: options.json })
          if (options.json) yield* Console.log(json(encode(results)))
          // Every result went through onResult (a cancelled or skipped one too): its line is out.
          else yield* Console.log(summary(verb, results) + (dies && results.some((r) => r.status === "ok") ? `  ${diesNote}` : ""))
          if (!interrupted) yield* Effect.flatMap(ExitStatus, (status) => Ref.set(status, exitCode(results)))
        })
      )
    }),
    Connection.managerLayer(connection)
  )

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
