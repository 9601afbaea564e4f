/**
 * `plue outbox ...`: what the durable outbox holds for a server, replaying it, dropping from it,
 * resolving its conflicts.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as Outbox from "@plue/core/Outbox"
import type * as SessionManager from "@plue/core/SessionManager"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Connection from "../Connection.js"
import { OutboxNotApplied, UsageError } from "../Errors.js"
import * as Indicator from "../Indicator.js"
import { json, sanitize, table } from "../Output.js"

const jsonFlag = Options.boolean("json").pipe(Options.withAlias("j"), Options.withDescription("Print JSON for machines"))
const opId = Args.text({ name: "OPID" }).pipe(Args.withDescription("An operation id from plue outbox list, like op_..."))

/** Runs `f` on the session manager with the outbox on. */
const withOutbox = <A, E>(
  connection: Connection.ConnectionOptions,
  f: (outbox: SessionManager.OutboxControl) => Effect.Effect<A, E>
) =>
  Effect.provide(
    Effect.gen(function*() {
      const { SessionManager: Manager } = yield* Effect.promise(() => import("@plue/core/SessionManager"))
      return yield* f((yield* Manager).outbox)
    }),
    Connection.outboxManagerLayer(connection)
  )

const describeItem = (i: Outbox.Item) =>
  i.state === "dead"
    ? `${i.error ?? ""}`
    : i.state === "conflict"
    ? `base ${JSON.stringify(i.base)}, local ${JSON.stringify(i.title)}, remote ${JSON.stringify(i.remote)}`
    : i.title !== undefined
    ? JSON.stringify(i.title)
    : ""

const show = (items: ReadonlyArray<Outbox.Item>) =>
  items.length === 0
    ? Console.log("the outbox is empty")
    : Console.log(table(["OPID", "SESSION", "KIND", "STATE", "DETAIL"], items.map((i) => [i.opId, i.sessionId, i.kind, i.state, sanitize(describeItem(i))])))

const list = Command.make("list", { ...Connection.options, json: jsonFlag }, (o) =>
  Effect.gen(function*() {
    const items = yield* withOutbox(o, (outbox) => outbox.list)
    yield* o.json ? Console.log(json(items)) : show(items)
  })).pipe(Command.withDescription("List queued operations, conflicts and dead letters"))

/**
 * The progress line of a flush: `flushing the outbox: 3 of 10 done, 1 failed` (failed: dead
 * lettered or in conflict).
 *
 * @since 0.1.0
 */
export const flushText = (done: number, failed: number, total: number): string =>
  `flushing the outbox: ${done} of ${total} done${failed > 0 ? `, ${failed} failed` : ""}`

/** Replays the outbox with a progress line on stderr, counted from the outbox's own events. */
const flushWithProgress = (connection: Connection.ConnectionOptions & { readonly json: boolean }) =>
  Effect.provide(
    Effect.gen(function*() {
      const [{ SessionManager: Manager }, { SessionEvents }] = yield* Effect.promise(() =>
        Promise.all([import("@plue/core/SessionManager"), import("@plue/core/SessionEvents")])
      )
      const outbox = (yield* Manager).outbox
      const events = yield* SessionEvents
      const queued = new Set((yield* outbox.list).filter((i) => i.state === "pending").map((i) => i.opId))
      const settled = new Set<string>()
      const failed = new Set<string>()
      return yield* Indicator.show(flushText(0, 0, queued.size), (indicator) =>
        Effect.gen(function*() {
          const progress = yield* events.subscribe
          yield* Effect.forkScoped(Stream.runForEach(progress, (event) =>
            Effect.sync(() => {
              if (event._tag !== "Confirmed" && event._tag !== "DeadLettered" && event._tag !== "Conflict") return
              if (!queued.has(event.opId) || settled.has(event.opId)) return
              settled.add(event.opId)
              if (event._tag !== "Confirmed") failed.add(event.opId)
              indicator.update(flushText(settled.size, failed.size, queued.size))
            })))
          return yield* outbox.flush
        }).pipe(Effect.scoped), { json: connection.json })
    }),
    Connection.outboxManagerLayer(connection)
  )

const flush = Command.make("flush", { ...Connection.options, json: jsonFlag }, (o) =>
  Effect.gen(function*() {
    const left = yield* flushWithProgress(o)
    if (o.json) yield* Console.log(json(left))
    else {
      for (const item of left) {
        yield* Effect.sync(() =>
          process.stderr.write(`plue: ${item.opId} (${item.kind} of ${item.sessionId}) ${item.state}: ${sanitize(describeItem(item))}\n`)
        )
      }
      if (left.length === 0) yield* Console.log("everything applied")
    }
    if (left.length > 0) return yield* new OutboxNotApplied({ count: left.length })
  })).pipe(Command.withDescription("Replay the outbox now; exits non-zero when anything is left"))

const drop = Command.make("drop", { ...Connection.options, opId }, (o) =>
  Effect.gen(function*() {
    yield* withOutbox(o, (outbox) => outbox.drop(o.opId))
    yield* Console.log(`dropped ${o.opId}`)
  })).pipe(Command.withDescription("Drop a queued operation (rolling it back) or acknowledge a dead letter"))

const resolve = Command.make("resolve", {
  ...Connection.options,
  opId,
  local: Options.boolean("local").pipe(Options.withDescription("Keep this side's title")),
  remote: Options.boolean("remote").pipe(Options.withDescription("Keep the server's title")),
  text: Options.text("text").pipe(Options.withDescription("Send this title instead"), Options.optional)
}, (o) =>
  Effect.gen(function*() {
    const chosen = [o.local, o.remote, Option.isSome(o.text)].filter(Boolean).length
    if (chosen !== 1) return yield* new UsageError({ message: "give exactly one of --local, --remote, --text TEXT" })
    const choice: Outbox.Choice = o.local ? "local" : o.remote ? "remote" : { text: Option.getOrThrow(o.text) }
    const left = yield* withOutbox(o, (outbox) => Effect.zipRight(outbox.resolve(o.opId, choice), outbox.flush))
    const still = left.find((i) => i.opId === o.opId)
    yield* Console.log(still === undefined ? `resolved ${o.opId}` : `resolved ${o.opId}; it is ${still.state} again: ${sanitize(describeItem(still))}`)
  })).pipe(Command.withDescription("Resolve a title conflict"))

/**
 * @since 0.1.0
 */
export const outbox = Command.make("outbox").pipe(
  Command.withDescription("The durable outbox of offline writes"),
  Command.withSubcommands([list, flush, drop, resolve])
)
