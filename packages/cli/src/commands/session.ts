/**
 * `plue session ...`: manual session operations.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Identifier from "@plue/core/Identifier"
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import type * as OpenCodeError from "@plue/core/OpenCodeError"
import type * as SessionManager from "@plue/core/SessionManager"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { existsSync } from "node:fs"
import * as Connection from "../Connection.js"
import { InitFailed, ShareFailed, UsageError } from "../Errors.js"
import * as Indicator from "../Indicator.js"
import { json, localTime, sanitize, table, truncate } from "../Output.js"
import * as Bulk from "./bulk.js"

const jsonFlag = Options.boolean("json").pipe(
  Options.withAlias("j"),
  Options.withDescription("Print JSON for machines instead of text for people")
)

/** `--concurrency N` and `--stop-on-error`: how a batch runs. */
const batchOptions = {
  concurrency: Options.integer("concurrency").pipe(
    Options.withSchema(Schema.Number.pipe(Schema.filter((n) => Number.isInteger(n) && n >= 1, {
      message: (issue) => `--concurrency takes a positive whole number, not '${String(issue.actual)}': e.g. --concurrency 4`
    }))),
    Options.withDescription("With several sessions: at most N requests at once (default 8)"),
    Options.withDefault(8)
  ),
  stopOnError: Options.boolean("stop-on-error").pipe(
    Options.withDescription("With several sessions: start nothing more after the first failure (the rest are skipped)")
  )
}
const batchRun = (o: { readonly json: boolean; readonly concurrency: number; readonly stopOnError: boolean }): Bulk.RunOptions => ({
  json: o.json,
  concurrency: o.concurrency,
  stopOnError: o.stopOnError
})

/** A session id, checked while the command line is parsed: a bad one never reaches a server, or starts one. */
const SessionIdInput = Schema.String.pipe(
  Schema.filter((text) => Identifier.SessionIdPattern.test(text), {
    message: (issue) =>
      `Invalid session id '${sanitize(String(issue.actual).slice(0, 48))}': a session id is ses_ followed by 1-64 ASCII ` +
      "letters or digits, like ses_df557fc75ffe8uAWx0P0wTjSPl"
  }),
  Schema.brand("@plue/core/SessionId")
)
const sessionId = Args.text({ name: "ID" }).pipe(
  Args.withSchema(SessionIdInput),
  Args.withDescription("A session id, like ses_df557fc75ffe8uAWx0P0wTjSPl")
)
/** One or more session ids: with more than one, the command runs them as one batch. */
const sessionIds = sessionId.pipe(Args.atLeast(1))
const badId = (text: string) =>
  new UsageError({
    message: `Invalid session id '${
      sanitize(text.slice(0, 48))
    }': a session id is ses_ followed by 1-64 ASCII letters or digits, like ses_df557fc75ffe8uAWx0P0wTjSPl`
  })

const withClient = <A, E, R>(
  connection: Connection.ConnectionOptions,
  effect: Effect.Effect<A, E, R>
) => Effect.provide(effect, Connection.layer(connection))

/** Runs `f` on a handle of the session, through the session manager. */
const withHandle = <A, E>(
  connection: Connection.ConnectionOptions,
  id: Identifier.SessionId,
  f: (manager: SessionManager.Service, handle: SessionManager.Handle) => Effect.Effect<A, E>
) =>
  Effect.provide(
    Effect.gen(function*() {
      // Loaded here, not at start-up: only delete and share go through the session manager.
      const { SessionManager: Manager } = yield* Effect.promise(() => import("@plue/core/SessionManager"))
      const manager = yield* Manager
      const handle = yield* manager.open(id)
      return yield* Effect.ensuring(f(manager, handle), Effect.ignore(manager.destroy(handle)))
    }),
    Connection.managerLayer(connection)
  )

/**
 * Runs `f` on the session manager with the outbox on (`--queue`, and `session get` of a server
 * that has an outbox). The outbox's earlier operations are replayed as the manager starts; `f`
 * says whether the server answered, and if so the command waits for that replay before it ends.
 */
const withOutbox = <A, E>(
  connection: Connection.ConnectionOptions,
  f: (manager: SessionManager.Service) => Effect.Effect<{ readonly value: A; readonly reachable: boolean }, E>
) =>
  Effect.provide(
    Effect.gen(function*() {
      const { SessionManager: Manager } = yield* Effect.promise(() => import("@plue/core/SessionManager"))
      const manager = yield* Manager
      const { reachable, value } = yield* f(manager)
      if (reachable) yield* manager.outbox.flush
      return value
    }),
    Connection.outboxManagerLayer(connection)
  )

/** The operation of `kind` that the outbox holds for the session, if it still waits. */
const waitingOp = (manager: SessionManager.Service, sessionId: string, kind: "create" | "title" | "delete") =>
  Effect.map(manager.outbox.list, (items) => items.filter((i) => i.sessionId === sessionId && i.kind === kind && i.state !== "dead").pop())

const queueOption = Options.boolean("queue").pipe(Options.withDescription("With the server unreachable, queue it in the outbox"))

/** The framework's description (for completions); `plue ... --help` is rendered by Help.ts. */
const describe = (text: string, _examples: ReadonlyArray<string>) => Command.withDescription(text)

/** One session for people: field per line (and what the outbox holds for it). */
const details = (s: SessionManager.SessionView): string =>
  table(["", ""], [
    ["id", s.id],
    ["title", sanitize(s.title)],
    ["created", localTime(s.time.created)],
    ["updated", localTime(s.time.updated)],
    ["parent", s.parentID ?? "-"],
    ["shared", s.share?.url ? sanitize(s.share.url) : "no"],
    ["directory", sanitize(s.directory)],
    ["version", s.version],
    ...(s.pending !== undefined && s.pending.length > 0
      ? [["pending", s.pending.map((p) => `${p.opId} ${p.kind}${p.state === "conflict" ? " (conflict)" : ""}`).join(", ")]]
      : [])
  ]).split("\n").slice(1).join("\n")

const print = (asJson: boolean, value: unknown, text: () => string) => Console.log(asJson ? json(value) : text())

const create = Command.make("create", {
  ...Connection.options,
  parent: Options.text("parent").pipe(
    Options.withSchema(SessionIdInput),
    Options.withDescription("Create it as a child of this session"),
    Options.optional
  ),
  title: Options.text("title").pipe(Options.withAlias("t"), Options.withDescription("Its title (default: OpenCode's)"), Options.optional),
  queue: queueOption,
  json: jsonFlag
}, (o) =>
  Effect.gen(function*() {
    const parentID = Option.getOrUndefined(o.parent)
    if (o.queue && parentID === undefined) {
      const made = yield* withOutbox(o, (manager) =>
        Effect.gen(function*() {
          const handle = yield* manager.create({ title: Option.getOrUndefined(o.title) })
          const info = yield* manager.info(handle)
          const op = yield* waitingOp(manager, info.id, "create")
          return { value: { ...info, opId: op?.opId }, reachable: op === undefined }
        }))
      return yield* print(o.json, made, () =>
        made.opId === undefined ? `created ${made.id}  ${sanitize(made.title)}` : `queued ${made.opId}  created ${made.id}  ${sanitize(made.title)}`)
    }
    const session = yield* withClient(
      o,
      Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) =>
        c.create({ parentID, title: Option.getOrUndefined(o.title) }))
    )
    yield* print(o.json, session, () =>
      `created ${session.id}  ${sanitize(session.title)}`)
  })).pipe(describe("Create a session", [
    "plue session create --title \"Refactor the parser\"",
    "plue session create --parent ses_df557fc75ffe8uAWx0P0wTjSPl --json"
  ]))

const list = Command.make("list", {
  ...Connection.options,
  roots: Options.boolean("roots").pipe(Options.withAlias("r"), Options.withDescription("Only sessions without a parent")),
  json: jsonFlag
}, (o) =>
  Effect.gen(function*() {
    const sessions = yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.list({ roots: o.roots })))
    if (o.json) return yield* Console.log(json(sessions))
    if (sessions.length === 0) return yield* Console.log("no sessions")
    const width = Math.max(20, (process.stdout.columns ?? 120) - 30 - 21 - 30 - 8 - 8)
    yield* Console.log(table(
      ["ID", "TITLE", "UPDATED", "PARENT", "SHARED"],
      sessions.map((s) => [s.id, truncate(sanitize(s.title), width), localTime(s.time.updated), s.parentID ?? "-", s.share?.url ? "yes" : "no"])
    ))
    yield* Console.log(`${sessions.length} session${sessions.length === 1 ? "" : "s"}`)
  })).pipe(describe("List every session, newest update first (never cut at 100)", [
    "plue session list",
    "plue session list --roots --json"
  ]))

const get = Command.make("get", { ...Connection.options, id: sessionId, json: jsonFlag }, (o) =>
  Effect.gen(function*() {
    const id = o.id
    // With an outbox for this server: replayed first, then the session as visible here, with
    // what still waits for it (`pending`); a session created offline is shown while unreachable.
    // (Neither XDG_STATE_HOME nor HOME set: no outbox could have been written.)
    const outbox = yield* Effect.orElseSucceed(Effect.map(Connection.outboxDirectory(o), existsSync), () => false)
    const session: SessionManager.SessionView = outbox
      ? yield* withOutbox(o, (manager) =>
        Effect.gen(function*() {
          yield* manager.outbox.flush
          const handle = yield* manager.open(id)
          const info = yield* Effect.ensuring(manager.info(handle), Effect.ignore(manager.destroy(handle)))
          // Replayed already: nothing more to wait for.
          return { value: info, reachable: false }
        }))
      : yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.get(id)))
    yield* print(o.json, session, () => details(session))
  })).pipe(describe("Show one session", ["plue session get ses_df557fc75ffe8uAWx0P0wTjSPl"]))

const title = Command.make("title", {
  ...Connection.options,
  words: Args.text({ name: "ID... TEXT" }).pipe(
    Args.atLeast(2),
    Args.withDescription("One or more session ids, then the new title")
  ),
  ...batchOptions,
  queue: queueOption,
  json: jsonFlag
}, (o) =>
  Effect.gen(function*() {
    const ids = o.words.slice(0, -1)
    const text = o.words[o.words.length - 1]!
    const wrong = ids.find((id) => !Identifier.SessionIdPattern.test(id))
    if (wrong !== undefined) return yield* badId(wrong)
    if (o.queue) {
      if (ids.length > 1) return yield* new UsageError({ message: "--queue takes one session id: plue session title --queue ID TEXT" })
      const id = ids[0]!
      const done = yield* withOutbox(o, (manager) =>
        Effect.gen(function*() {
          const handle = yield* manager.open(id, { offline: true })
          const session = yield* Effect.ensuring(manager.updateTitle(handle, text), Effect.ignore(manager.destroy(handle)))
          const op = yield* waitingOp(manager, id, "title")
          const queued = op === undefined
            ? undefined
            : { id, title: text, opId: op.opId, pending: manager.outbox.pending(id), conflict: op.state === "conflict" }
          return { value: { session, queued }, reachable: op === undefined }
        }))
      if (done.queued === undefined) return yield* print(o.json, done.session, () => `titled ${done.session.id}  ${sanitize(done.session.title)}`)
      const { conflict, ...queued } = done.queued
      return yield* print(o.json, queued, () =>
        `queued ${queued.opId}  titled ${id}  ${sanitize(text)}${conflict ? `  (in conflict: plue outbox resolve ${queued.opId})` : ""}`)
    }
    if (ids.length > 1) {
      return yield* Bulk.run(o, "title", batchRun(o), () =>
        Effect.succeed(ids.map((session) => ({ op: "title" as const, session, title: text }))))
    }
    const id = ids[0]!
    const session = yield* withClient(
      o,
      Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) =>
        c.update(id, { title: text }))
    )
    yield* print(o.json, session, () => `titled ${session.id}  ${sanitize(session.title)}`)
  })).pipe(describe("Set the title of one or more sessions", ["plue session title ses_df557fc75ffe8uAWx0P0wTjSPl \"Parser, take two\""]))

const init = Command.make("init", {
  ...Connection.options,
  id: sessionId,
  provider: Options.text("provider").pipe(Options.withDescription("Provider id, e.g. anthropic")),
  model: Options.text("model").pipe(Options.withAlias("m"), Options.withDescription("Model id, e.g. claude-sonnet-4")),
  json: jsonFlag
}, (o) =>
  Effect.gen(function*() {
    const id = o.id
    const model = `${o.provider}/${o.model}`
    // Through the session manager, so the run's progress (the server's own status for the
    // session included) drives the indicator.
    yield* Effect.gen(function*() {
      const [{ SessionManager: Manager }, { SessionEvents }] = yield* Effect.promise(() =>
        Promise.all([import("@plue/core/SessionManager"), import("@plue/core/SessionEvents")])
      )
      const manager = yield* Manager
      const events = yield* SessionEvents
      const handle = yield* manager.open(id)
      const run = Indicator.show(`initializing ${id} with ${model}`, (indicator) =>
        Effect.gen(function*() {
          const progress = yield* events.subscribe
          yield* Effect.forkScoped(Stream.runForEach(progress, (event) =>
            Effect.sync(() => {
              if (event._tag === "Progress" && event.kind === "initialize" && event.sessionId === id) {
                const text = Indicator.phaseText(event)
                if (text !== undefined) indicator.update(`initializing ${id} with ${model}: ${text}`)
              }
            })))
          return yield* manager.initialize(handle, { providerID: o.provider, modelID: o.model })
        }).pipe(Effect.scoped), { json: o.json })
      return yield* Effect.ensuring(run, Effect.ignore(manager.destroy(handle)))
    }).pipe(Effect.provide(Connection.managerLayer(o))).pipe(
      // OpenCode answers an unknown provider or model with a bare 500: say which flags to check.
      Effect.catchTags({
        BadRequest: (e) => Effect.fail(new InitFailed({ sessionId: id, model: `${o.provider}/${o.model}`, detail: `${e.status}: ${e.detail}` })),
        ServerError: (e) => Effect.fail(new InitFailed({ sessionId: id, model: `${o.provider}/${o.model}`, detail: `${e.status}: ${e.detail}` }))
      })
    )
    yield* print(o.json, { initialized: id }, () => `initialized ${id} with ${o.provider}/${o.model}`)
  })).pipe(describe("Run OpenCode's init (AGENTS.md) turn on a model; waits for it to end", [
    "plue session init ses_df557fc75ffe8uAWx0P0wTjSPl --provider anthropic --model claude-sonnet-4"
  ]))

const remove = Command.make("delete", {
  ...Connection.options,
  ids: sessionId.pipe(Args.repeated),
  olderThan: Options.text("older-than").pipe(
    Options.withSchema(Schema.String.pipe(Schema.filter((text) => Option.isSome(Bulk.parseDuration(text)), {
      message: (issue) => `--older-than: '${sanitize(String(issue.actual))}' is not a duration; write it like --older-than 7d, 12h, 30m or "2 weeks"`
    }))),
    Options.withDescription("Every session not updated for this long (7d, 12h, 30m, \"2 weeks\")"),
    Options.optional
  ),
  titleMatching: Options.text("title-matching").pipe(
    // Empty text would match every session: an unset variable in a script must not delete a project.
    Options.withSchema(Schema.String.pipe(Schema.filter((text) => text.trim().length > 0, {
      message: () => "--title-matching: the text is empty, which would select every session; give the text to look for, e.g. --title-matching scratch"
    }))),
    Options.withDescription("Every session whose title contains this text (any case)"),
    Options.optional
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Print what would be deleted; delete nothing")),
  ...batchOptions,
  queue: queueOption,
  json: jsonFlag
}, (o) =>
  Effect.gen(function*() {
    const filtered = Option.isSome(o.olderThan) || Option.isSome(o.titleMatching)
    if (o.queue) {
      if (filtered || o.ids.length !== 1 || o.dryRun) {
        return yield* new UsageError({
          message: "--queue takes one session id (no --older-than, --title-matching or --dry-run): plue session delete --queue ID"
        })
      }
      const id = o.ids[0]!
      const done = yield* withOutbox(o, (manager) =>
        Effect.gen(function*() {
          const handle = yield* manager.open(id, { offline: true })
          const pending = manager.outbox.pending(id)
          const gone = yield* Effect.ensuring(manager.delete(handle), Effect.ignore(manager.destroy(handle)))
          const op = yield* waitingOp(manager, id, "delete")
          // A session whose create was still queued goes with it: nothing was sent, nothing waits.
          const cancelled = pending.some((p) => p.kind === "create") && op === undefined
          return { value: { children: gone - 1, op, cancelled, pending: manager.outbox.pending(id) }, reachable: op === undefined && !cancelled }
        }))
      const children = done.children
      const more = children > 0 ? ` and ${children} child session${children === 1 ? "" : "s"}` : ""
      if (done.op !== undefined) {
        return yield* print(o.json, { deleted: id, children, opId: done.op.opId, pending: done.pending }, () => `queued ${done.op!.opId}  deleted ${id}${more}`)
      }
      if (done.cancelled) {
        return yield* print(o.json, { deleted: id, children, cancelled: true }, () => `deleted ${id} (its create was still queued: nothing was sent)`)
      }
      return yield* print(o.json, { deleted: id, children }, () => `deleted ${id}${more}`)
    }
    if (filtered && o.ids.length > 0) {
      return yield* new UsageError({ message: "give session ids or --older-than / --title-matching, not both" })
    }
    if (!filtered && o.ids.length === 0) {
      return yield* new UsageError({ message: "missing ID: give session ids, or select with --older-than DURATION / --title-matching TEXT" })
    }
    if (!filtered && o.ids.length === 1 && !o.dryRun) {
      const id = o.ids[0]!
      const gone = yield* withHandle(o, id, (manager, handle) => manager.delete(handle))
      const children = gone - 1
      return yield* print(
        o.json,
        { deleted: id, children },
        () => `deleted ${id}${children > 0 ? ` and ${children} child session${children === 1 ? "" : "s"}` : ""}`
      )
    }
    const select = (
      manager: SessionManager.Service
    ): Effect.Effect<ReadonlyArray<{ readonly id: string; readonly title?: string | undefined }>, OpenCodeError.OpenCodeError> =>
      filtered
        ? Effect.map(manager.list, (all) =>
          Bulk.selectSessions(all, {
            olderThan: Option.flatMap(o.olderThan, Bulk.parseDuration),
            titleMatching: o.titleMatching,
            now: Date.now()
          }))
        : Effect.succeed(o.ids.map((id) => ({ id })))
    if (o.dryRun) {
      const chosen = yield* Effect.provide(
        Effect.gen(function*() {
          const { SessionManager: Manager } = yield* Effect.promise(() => import("@plue/core/SessionManager"))
          return yield* select(yield* Manager)
        }),
        Connection.managerLayer(o)
      )
      if (o.json) return yield* Console.log(json(chosen))
      for (const s of chosen) yield* Console.log(`would delete ${s.id}${s.title !== undefined ? `  ${sanitize(s.title)}` : ""}`)
      return yield* Console.log(`would delete ${chosen.length} session${chosen.length === 1 ? "" : "s"} (dry run: nothing was deleted)`)
    }
    yield* Bulk.run(
      o,
      "delete",
      batchRun(o),
      (manager) => Effect.map(select(manager), (chosen) => chosen.map((s) => ({ op: "delete" as const, session: s.id })))
    )
  })).pipe(describe("Delete sessions and all their children", [
    "plue session delete ses_df557fc75ffe8uAWx0P0wTjSPl",
    "plue session delete --older-than 30d --dry-run"
  ]))

const abort = Command.make("abort", { ...Connection.options, ids: sessionIds, ...batchOptions, json: jsonFlag }, (o) =>
  Effect.gen(function*() {
    if (o.ids.length > 1) {
      return yield* Bulk.run(o, "abort", batchRun(o), () => Effect.succeed(o.ids.map((session) => ({ op: "abort" as const, session }))))
    }
    const id = o.ids[0]
    yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.abort(id)))
    yield* print(o.json, { aborted: id }, () => `aborted ${id}`)
  })).pipe(describe("Stop whatever one or more sessions are running", ["plue session abort ses_df557fc75ffe8uAWx0P0wTjSPl"]))

const share = Command.make("share", { ...Connection.options, ids: sessionIds, ...batchOptions, json: jsonFlag }, (o) =>
  Effect.gen(function*() {
    if (o.ids.length > 1) {
      return yield* Bulk.run(o, "share", batchRun(o), () => Effect.succeed(o.ids.map((session) => ({ op: "share" as const, session }))))
    }
    const id = o.ids[0]
    const result = yield* withHandle(o, id, (manager, handle) => manager.share(handle)).pipe(
      Effect.catchTag("ServerError", (e) => Effect.fail(new ShareFailed({ sessionId: id, detail: `${e.status}: ${e.detail}` })))
    )
    const dies = yield* Connection.sharesDieWithCommand(o)
    const note = Bulk.diesNote
    const value = {
      url: result.url,
      ...(result.secret !== undefined ? { secret: result.secret, expiresAt: result.expiresAt ?? null } : {}),
      ...(dies ? { diesWithCommand: true } : {}),
      session: result.session
    }
    yield* print(o.json, value, () =>
      [
        dies ? `${result.url}  ${note}` : result.url,
        ...(result.secret !== undefined
          ? [
            `secret  ${result.secret}  (keep it: it revokes the share)`,
            `expires ${result.expiresAt == null ? "never" : localTime(result.expiresAt)}`
          ]
          : [])
      ].join("\n"))
  })).pipe(describe("Share one or more sessions and print their URLs (and, when the share service is plue's own, its owner secret and expiry)", [
    "plue session share ses_df557fc75ffe8uAWx0P0wTjSPl",
    "plue session share ses_df557fc75ffe8uAWx0P0wTjSPl --json"
  ]))

const unshare = Command.make("unshare", { ...Connection.options, ids: sessionIds, ...batchOptions, json: jsonFlag }, (o) =>
  Effect.gen(function*() {
    if (o.ids.length > 1) {
      return yield* Bulk.run(o, "unshare", batchRun(o), () => Effect.succeed(o.ids.map((session) => ({ op: "unshare" as const, session }))))
    }
    const id = o.ids[0]
    const session = yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.unshare(id)))
    yield* print(o.json, session, () => `unshared ${id}`)
  })).pipe(describe("Stop sharing one or more sessions", ["plue session unshare ses_df557fc75ffe8uAWx0P0wTjSPl"]))

/**
 * `plue session`.
 *
 * @since 0.1.0
 */
export const session = Command.make("session").pipe(
  Command.withDescription("Manage OpenCode sessions"),
  Command.withSubcommands([create, list, get, title, init, remove, abort, share, unshare])
)
