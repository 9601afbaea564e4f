/**
 * The session event PubSub: one typed event per change, whether it came from this process or
 * from another client, delivered to every subscriber as a `Stream`. Bounded: a subscriber that
 * falls behind loses the oldest events and is told so with a `Lagged` event, never a silent gap.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { SessionId } from "./Identifier.js"
import { Session, SessionStatus } from "./OpenCodeSchema.js"

/**
 * Where a change was first seen: a call made through this bridge, the server's event stream
 * (another client, or the server itself), or a reconciliation after the stream was not followed.
 *
 * @since 0.1.0
 */
export const Origin = Schema.Literal("local", "remote", "reconcile")

/**
 * @since 0.1.0
 */
export type Origin = typeof Origin.Type

/**
 * A session appeared.
 *
 * @since 0.1.0
 */
export const Created = Schema.TaggedStruct("Created", { session: Session, origin: Origin })

/**
 * A session changed; `changes` names the top-level fields that differ (`title`, `time`, ...).
 *
 * @since 0.1.0
 */
export const Updated = Schema.TaggedStruct("Updated", {
  session: Session,
  changes: Schema.Array(Schema.String),
  origin: Origin
})

/**
 * A session is gone (with a parent, its children first).
 *
 * @since 0.1.0
 */
export const Deleted = Schema.TaggedStruct("Deleted", {
  sessionId: SessionId,
  session: Schema.optional(Session),
  origin: Origin
})

/**
 * A session got a share URL.
 *
 * @since 0.1.0
 */
export const Shared = Schema.TaggedStruct("Shared", { session: Session, url: Schema.String, origin: Origin })

/**
 * A session stopped being shared.
 *
 * @since 0.1.0
 */
export const Unshared = Schema.TaggedStruct("Unshared", { session: Session, origin: Origin })

/**
 * An abort was sent for a session through this bridge.
 *
 * @since 0.1.0
 */
export const Aborted = Schema.TaggedStruct("Aborted", { sessionId: SessionId, origin: Origin })

/**
 * A session became busy, idle or is retrying.
 *
 * @since 0.1.0
 */
export const Status = Schema.TaggedStruct("Status", { sessionId: SessionId, status: SessionStatus })

/**
 * A session's run failed; `error` is OpenCode's error object.
 *
 * @since 0.1.0
 */
export const Errored = Schema.TaggedStruct("Error", {
  sessionId: Schema.optional(SessionId),
  error: Schema.Unknown
})

/**
 * The kind of an outbox operation.
 *
 * @since 0.1.0
 */
export const OutboxOperationKind = Schema.Literal("create", "title", "delete")

/**
 * An operation was written to the outbox and is already visible (an `Updated`, `Created` or
 * `Deleted` of the visible value comes with it). `replaces` names the queued rename it replaced.
 *
 * @since 0.1.0
 */
export const Queued = Schema.TaggedStruct("Queued", {
  opId: Schema.String,
  sessionId: SessionId,
  kind: OutboxOperationKind,
  replaces: Schema.optional(Schema.String)
})

/**
 * The server applied a queued operation.
 *
 * @since 0.1.0
 */
export const Confirmed = Schema.TaggedStruct("Confirmed", { opId: Schema.String, sessionId: SessionId, kind: OutboxOperationKind })

/**
 * A queued operation failed for good (or was dropped); the visible value is the server's again
 * with the other pending operations folded over it: `restored`, when the session is visible.
 *
 * @since 0.1.0
 */
export const RolledBack = Schema.TaggedStruct("RolledBack", {
  opId: Schema.String,
  sessionId: SessionId,
  kind: OutboxOperationKind,
  error: Schema.String,
  restored: Schema.optional(Session)
})

/**
 * A queued operation was cancelled before it was sent, by a later one (`by`): a delete cancels the
 * renames of its session, and a delete of a session whose create is still queued cancels both.
 *
 * @since 0.1.0
 */
export const Cancelled = Schema.TaggedStruct("Cancelled", {
  opId: Schema.String,
  sessionId: SessionId,
  kind: OutboxOperationKind,
  by: Schema.String
})

/**
 * A queued title change met a different title on the server than the one it was typed over, and
 * no clean merge exists: the server's title stays visible and the operation waits to be resolved.
 *
 * @since 0.1.0
 */
export const Conflict = Schema.TaggedStruct("Conflict", {
  opId: Schema.String,
  sessionId: SessionId,
  field: Schema.Literal("title"),
  base: Schema.String,
  local: Schema.String,
  remote: Schema.String
})

/**
 * Our title change was sent, but reading the session back showed another value that arrived in
 * between (`remote`): our change was overwritten, not applied.
 *
 * @since 0.1.0
 */
export const Overwritten = Schema.TaggedStruct("Overwritten", { opId: Schema.String, sessionId: SessionId, remote: Schema.String })

/**
 * A queued operation can never succeed (400, 401, 404 on a rename...): it moved to the dead-letter
 * list with its error, where it stays until acknowledged (`drop`).
 *
 * @since 0.1.0
 */
export const DeadLettered = Schema.TaggedStruct("DeadLettered", {
  opId: Schema.String,
  sessionId: SessionId,
  kind: OutboxOperationKind,
  error: Schema.String
})

/**
 * How far a batch (`SessionManager.bulk`) has got: `done` of `total` operations finished (any
 * result), `failed` of them failed. At the start, then at most every 100 ms while it changes,
 * and once more with the final count.
 *
 * @since 0.1.0
 */
export const BulkProgress = Schema.TaggedStruct("BulkProgress", {
  batch: Schema.Number,
  done: Schema.Number,
  failed: Schema.Number,
  total: Schema.Number
})

/**
 * What an operation is doing: `queued` (accepted, not started), `sending` (its request is on the
 * way), `retrying` (a failed attempt will be sent again; `attempt` counts retries from 1),
 * `waiting` (initialize: the model is running the turn), then `done` or `failed` (with `reason`).
 *
 * @since 0.1.0
 */
export const ProgressPhase = Schema.Literal("queued", "sending", "retrying", "waiting", "done", "failed")

/**
 * @since 0.1.0
 */
export type ProgressPhase = typeof ProgressPhase.Type

/**
 * The operations that report progress, named as the C API's bulk operations are.
 *
 * @since 0.1.0
 */
export const OperationKind = Schema.Literal("create", "title", "initialize", "delete", "abort", "share", "unshare")

/**
 * @since 0.1.0
 */
export type OperationKind = typeof OperationKind.Type

/**
 * One phase change of an operation made through this bridge's session manager. `opId` names the
 * operation (a positive integer, never reused in this bridge); `sessionId` is absent only while a
 * create has no session yet. Not a change to a session: a progress indicator reads it.
 *
 * @since 0.1.0
 */
export const Progress = Schema.TaggedStruct("Progress", {
  opId: Schema.Number,
  sessionId: Schema.optional(SessionId),
  kind: OperationKind,
  phase: ProgressPhase,
  attempt: Schema.optional(Schema.Number),
  reason: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 */
export type Progress = typeof Progress.Type

/**
 * Every session event.
 *
 * @since 0.1.0
 */
export const SessionEvent = Schema.Union(
  Created,
  Updated,
  Deleted,
  Shared,
  Unshared,
  Aborted,
  Status,
  Errored,
  Queued,
  Confirmed,
  RolledBack,
  Cancelled,
  Conflict,
  Overwritten,
  DeadLettered,
  BulkProgress,
  Progress
)

/**
 * @since 0.1.0
 */
export type SessionEvent = typeof SessionEvent.Type

/**
 * This subscriber fell behind and `missed` events were dropped for it: resynchronise (list the
 * sessions) if it keeps state.
 *
 * @since 0.1.0
 */
export const Lagged = Schema.TaggedStruct("Lagged", { missed: Schema.Number })

/**
 * What a subscriber receives.
 *
 * @since 0.1.0
 */
export const Delivery = Schema.Union(SessionEvent, Lagged)

/**
 * @since 0.1.0
 */
export type Delivery = typeof Delivery.Type

/**
 * The sessions at one instant: what a watcher starts from, before the events that follow it.
 * Not a change, so never published: `SessionSync.watch` delivers it first, once.
 *
 * @since 0.1.0
 */
export const Snapshot = Schema.TaggedStruct("Snapshot", { sessions: Schema.Array(Session) })

/**
 * @since 0.1.0
 */
export type Snapshot = typeof Snapshot.Type

interface Envelope {
  readonly seq: number
  readonly event: SessionEvent
}

/**
 * The event PubSub.
 *
 * @since 0.1.0
 */
export interface Service {
  /** Publishes at once, synchronously: callers publish in the same step as the change. */
  readonly unsafePublish: (event: SessionEvent) => void
  /** Subscribes now (events published after this returns are delivered) for the scope's life. */
  readonly subscribe: Effect.Effect<Stream.Stream<Delivery>, never, Scope.Scope>
  /**
   * Subscribes and calls `read` at one instant: the stream carries exactly the events published
   * after `read` ran, so a state read there and the stream's events neither overlap nor leave a
   * gap. For the scope's life.
   */
  readonly subscribeWith: <A>(read: () => A) => Effect.Effect<readonly [A, Stream.Stream<Delivery>], never, Scope.Scope>
  /** A stream that subscribes when it is run. */
  readonly stream: Stream.Stream<Delivery>
  /** Events published so far. */
  readonly published: Effect.Effect<number>
}

/**
 * The event PubSub service.
 *
 * @since 0.1.0
 */
export class SessionEvents extends Context.Tag("@plue/core/SessionEvents")<SessionEvents, Service>() {}

/**
 * Options of the PubSub.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Events kept for the slowest subscriber before it lags. Default 4096. */
  readonly capacity?: number | undefined
}

/**
 * Makes the PubSub, shut down with the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pubsub = yield* Effect.acquireRelease(
      PubSub.sliding<Envelope>(options.capacity ?? 4096),
      PubSub.shutdown
    )
    let seq = 0
    const subscribeWith = <A>(read: () => A) =>
      Effect.gen(function*() {
        const queue = yield* PubSub.subscribe(pubsub)
        // Events published between the subscription and this step are already in the queue
        // and, having happened before `read`, are dropped: they are part of what it read.
        const [value, after] = yield* Effect.sync(() => [read(), seq] as const)
        let expected = after + 1
        const stream = Stream.fromQueue(queue).pipe(
          Stream.filter((envelope) => envelope.seq > after),
          Stream.mapConcat((envelope): ReadonlyArray<Delivery> => {
            const missed = envelope.seq - expected
            expected = envelope.seq + 1
            return missed > 0 ? [{ _tag: "Lagged", missed }, envelope.event] : [envelope.event]
          }),
          Stream.ensuring(Queue.shutdown(queue))
        )
        return [value, stream] as const
      })
    const subscribe = Effect.map(subscribeWith(() => undefined), ([, stream]) => stream)
    return {
      unsafePublish: (event) => {
        // Synchronous, so the event is in order with the change that caused it: offered
        // directly while there is room (no fiber run per event); when full, the sliding publish
        // (which never suspends) drops the oldest.
        const envelope = { seq: ++seq, event }
        if (!pubsub.unsafeOffer(envelope)) Effect.runSync(PubSub.publish(pubsub, envelope))
      },
      subscribe,
      subscribeWith,
      stream: Stream.unwrapScoped(subscribe),
      published: Effect.sync(() => seq)
    } satisfies Service
  })

/**
 * The PubSub as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<SessionEvents> => Layer.scoped(SessionEvents, make(options))
