/**
 * The session manager: the operations of the C API as typed Effects, over opaque handles.
 *
 * A handle is a number that is never reused. It names a session (several handles may name the
 * same one; they read the same cache entry), carries an abort signal and owns the fibers of its
 * in-flight operations. Destroying a handle interrupts them and never deletes the session.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { parseSessionId, type SessionId } from "./Identifier.js"
import * as OutboxEngine from "./internal/outbox.js"
import * as Bulk from "./internal/bulk.js"
import * as OpenCodeClient from "./OpenCodeClient.js"
import { OpenCodeConnection } from "./OpenCodeConnection.js"
import type { OpenCodeError } from "./OpenCodeError.js"
import type { Session, SessionStatus } from "./OpenCodeSchema.js"
import { Aborted, InvalidHandle, SessionDeleted, type SessionError, ShareUnavailable } from "./PlueError.js"
import { SessionCache } from "./SessionCache.js"
import * as Progress from "./Progress.js"
import type * as SessionBulk from "./SessionBulk.js"
import { type OperationKind, type ProgressPhase, SessionEvents } from "./SessionEvents.js"
import { ShareGrants } from "./ShareGrants.js"
import { type Choice, type Item, type OperationNotFound, OperationNotFound as OperationNotFoundError, Outbox, type OutboxError } from "./Outbox.js"
import { SessionSync } from "./SessionSync.js"

/**
 * An opaque session handle: a positive integer, never reused.
 *
 * @since 0.1.0
 */
export type Handle = number

/**
 * What is known of an open handle (for diagnostics and leak reports).
 *
 * @since 0.1.0
 */
export interface HandleInfo {
  readonly handle: Handle
  readonly sessionId: SessionId
  readonly inFlight: number
}

/**
 * An operation of the outbox that waits for a session (see `SessionView`).
 *
 * @since 0.1.0
 */
export interface PendingOperation {
  readonly opId: string
  readonly kind: "create" | "title" | "delete"
  /** What it changes: `title`, or `session` for a create or delete. */
  readonly field: "title" | "session"
  /** `conflict` while it waits for the host to resolve a conflict. */
  readonly state: "pending" | "conflict"
}

/**
 * A session as `info` shows it: with the outbox on, the visible value (the server's value with
 * the queued operations folded over it) and, while operations wait, `pending`.
 *
 * @since 0.1.0
 */
export interface SessionView extends Session {
  readonly pending?: ReadonlyArray<PendingOperation> | undefined
}

/**
 * The outbox as the host drives it. With the outbox off: `enabled` false, nothing listed, `drop`
 * and `resolve` fail with `OperationNotFound`.
 *
 * @since 0.1.0
 */
export interface OutboxControl {
  readonly enabled: boolean
  /** Queued operations (oldest first), those waiting on a conflict, then the dead letters. */
  readonly list: Effect.Effect<ReadonlyArray<Item>>
  /** Replays now and waits until every session's queue has gone as far as it can; what remains. */
  readonly flush: Effect.Effect<ReadonlyArray<Item>>
  /** Drops a queued operation (rolling back what it made visible) or acknowledges a dead letter. */
  readonly drop: (opId: string) => Effect.Effect<void, OperationNotFound | OutboxError>
  /** Resolves a conflict: keep our title (`local`), the server's (`remote`), or send `{ text }`. */
  readonly resolve: (opId: string, choice: Choice) => Effect.Effect<void, OperationNotFound | OutboxError>
  /**
   * What waits for a session now, as `info` shows it. Synchronous, for views kept in step with the
   * cache (the cache announces every change of it through `onChange`).
   */
  readonly pending: (sessionId: string) => ReadonlyArray<PendingOperation>
}

/**
 * The session manager.
 *
 * @since 0.1.0
 */
export interface Service {
  /**
   * Creates a session (optionally a child of `parentID`) and opens a handle on it. With the
   * outbox on, a root session gets its id here and the handle is returned also while the server
   * is unreachable (the create is queued).
   */
  readonly create: (
    options?: { readonly parentID?: string | undefined; readonly title?: string | undefined }
  ) => Effect.Effect<Handle, OpenCodeError | SessionDeleted | OutboxError>
  /**
   * Opens a handle on an existing session. With the outbox on and `offline: true`, an unreachable
   * server does not fail it: the handle is issued on the id unchecked, so that a title change or
   * a delete can be queued on it (what is queued is checked when it is sent).
   */
  readonly open: (sessionId: string, options?: { readonly offline?: boolean | undefined }) => Effect.Effect<Handle, OpenCodeError | SessionDeleted>
  /** The handle's session id. */
  readonly sessionId: (handle: Handle) => Effect.Effect<SessionId, InvalidHandle>
  /** The session, from the coherent cache (with the outbox on, its visible value and `pending`). */
  readonly info: (handle: Handle) => Effect.Effect<SessionView, SessionError>
  /** Every session. */
  readonly list: Effect.Effect<ReadonlyArray<Session>, OpenCodeError>
  /**
   * Sets the title; the result is the session as the server has it (with the outbox on and the
   * change queued or in conflict, as it is visible).
   */
  readonly updateTitle: (handle: Handle, title: string) => Effect.Effect<Session, SessionError | OutboxError>
  /** Runs OpenCode's init turn on a model; ends when the turn ends (or the handle is aborted). */
  readonly initialize: (
    handle: Handle,
    model: { readonly providerID: string; readonly modelID: string }
  ) => Effect.Effect<void, SessionError>
  /** Deletes the session and its descendants; returns how many sessions went (or go, when queued). */
  readonly delete: (handle: Handle) => Effect.Effect<number, SessionError | OutboxError>
  /** Interrupts the handle's in-flight operations and aborts the session's run on the server. */
  readonly abort: (handle: Handle) => Effect.Effect<void, SessionError>
  /**
   * Shares the session. The URL always; the owner secret (the capability to revoke the share)
   * and the expiry when the share service is plue's own, running in this process.
   */
  readonly share: (handle: Handle) => Effect.Effect<ShareResult, SessionError>
  /** Stops sharing the session. */
  readonly unshare: (handle: Handle) => Effect.Effect<Session, SessionError>
  /** Closes the handle: in-flight operations are interrupted; the session stays. */
  readonly destroy: (handle: Handle) => Effect.Effect<void, InvalidHandle>
  /** The open handles. */
  readonly handles: Effect.Effect<ReadonlyArray<HandleInfo>>
  /** The durable outbox (see `Outbox`). */
  readonly outbox: OutboxControl
  /**
   * Runs a batch of operations by session id: one result per operation, in input order; at most
   * `concurrency` (8) in flight; one session's operations in input order. Not atomic (see
   * `SessionBulk`). Publishes `BulkProgress` events.
   */
  readonly bulk: (
    operations: ReadonlyArray<SessionBulk.Operation>,
    options?: SessionBulk.Options
  ) => Effect.Effect<ReadonlyArray<SessionBulk.Result>>
}

/**
 * What sharing a session gives.
 *
 * @since 0.1.0
 */
export interface ShareResult {
  readonly url: string
  readonly secret?: string | undefined
  readonly expiresAt?: number | null | undefined
  readonly session: Session
}

/**
 * The session manager service.
 *
 * @since 0.1.0
 */
export class SessionManager extends Context.Tag("@plue/core/SessionManager")<SessionManager, Service>() {}

interface HandleState {
  readonly handle: Handle
  readonly sessionId: SessionId
  readonly scope: Scope.CloseableScope
  readonly fibers: FiberSet.FiberSet<unknown, unknown>
  /** Bumped by every abort, so an interrupted operation knows it was aborted. */
  aborts: number
}

/**
 * Makes the manager; handles live at most as long as the scope.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<
  Service,
  never,
  OpenCodeClient.OpenCodeClient | SessionCache | SessionEvents | Scope.Scope
> = Effect.gen(function*() {
  const client = yield* OpenCodeClient.OpenCodeClient
  const cache = yield* SessionCache
  const events = yield* SessionEvents
  // Read once, where the layers are built: the share service that the managed server shares
  // through is provided to the same layers, so this is that service's grants.
  const grants = yield* ShareGrants
  const layerScope = yield* Effect.scope
  const outboxSettings = yield* Effect.serviceOption(Outbox)
  const connection = yield* Effect.serviceOption(OpenCodeConnection)
  // The outbox replays in the background for the manager's life; off, it does not exist at all.
  const engine = Option.isSome(outboxSettings) && outboxSettings.value.enabled && Option.isSome(connection)
    ? yield* OutboxEngine.make({
      settings: outboxSettings.value,
      connection: connection.value,
      client,
      cache,
      events,
      sync: yield* Effect.serviceOption(SessionSync)
    }).pipe(Effect.orDie)
    : undefined
  const open = new Map<Handle, HandleState>()
  let lastHandle = 0
  let lastBatch = 0
  let lastOp = 0

  /**
   * Starts the progress of one operation: publishes `queued` now and returns its reporter, which
   * publishes each phase change (a repeat of the current phase is not a change) until the
   * operation ends with `done` or `failed`.
   */
  const startProgress = (kind: OperationKind, sessionId: SessionId | undefined) => {
    const opId = ++lastOp
    let current = sessionId
    let last = ""
    let ended = false
    const publish = (phase: ProgressPhase, attempt?: number, reason?: string) => {
      const key = `${phase}:${attempt ?? ""}`
      if (ended || key === last) return
      last = key
      ended = phase === "done" || phase === "failed"
      events.unsafePublish({
        _tag: "Progress",
        opId,
        ...(current !== undefined ? { sessionId: current } : {}),
        kind,
        phase,
        ...(attempt !== undefined ? { attempt } : {}),
        ...(reason !== undefined ? { reason } : {})
      })
    }
    publish("queued")
    return {
      report: (update: Progress.Update) => {
        // The end is the manager's to say, from the operation's exit.
        if (update.phase !== "done" && update.phase !== "failed") publish(update.phase, update.attempt, update.reason)
      },
      sessionIs: (id: SessionId) => {
        current = id
      },
      end: (exit: Exit.Exit<unknown, unknown>) =>
        Effect.sync(() => {
          if (Exit.isSuccess(exit)) return publish("done")
          const failure = Cause.failureOption(exit.cause)
          publish(
            "failed",
            undefined,
            Option.isSome(failure)
              ? Progress.reasonOf(failure.value)
              : Cause.isInterruptedOnly(exit.cause)
              ? "interrupted"
              : Progress.reasonOf(Cause.squash(exit.cause))
          )
        })
    } satisfies Progress.Reporter & Record<string, unknown>
  }

  /** Runs `operation` as one tracked operation of `kind`: its progress from queued to its end. */
  const tracked = <A, E>(
    kind: OperationKind,
    sessionId: SessionId | undefined,
    operation: (progress: ReturnType<typeof startProgress>) => Effect.Effect<A, E>
  ): Effect.Effect<A, E> =>
    Effect.suspend(() => {
      const progress = startProgress(kind, sessionId)
      return Effect.onExit(Effect.locally(operation(progress), Progress.currentReporter, progress), progress.end)
    })

  /** What OpenCode's `session.status` means for an operation waiting on the model. */
  const statusPhase = (status: SessionStatus): Progress.Update | undefined =>
    status.type === "busy"
      ? { phase: "waiting" }
      : status.type === "retry"
      ? { phase: "retrying", attempt: status.attempt, reason: status.message }
      : undefined

  /**
   * Relays the session's `session.status` to the current operation's reporter while `effect`
   * runs: from the bridge's own events when the cache follows the server's stream, else from a
   * stream of its own, opened (or given up on, after 5 s) before `effect` starts so that no
   * status is missed. Progress never fails the operation: a relay that cannot open is skipped.
   */
  const relayStatus = <A, E>(sessionId: SessionId, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.scoped(Effect.gen(function*() {
      const reporter = yield* FiberRef.get(Progress.currentReporter)
      if (reporter === undefined) return yield* effect
      const relay = (status: SessionStatus) =>
        Effect.sync(() => {
          const update = statusPhase(status)
          if (update !== undefined) reporter.report(update)
        })
      if (yield* cache.coherent) {
        const stream = yield* events.subscribe
        yield* Effect.forkScoped(Stream.runForEach(
          Stream.filterMap(stream, (e) => (e._tag === "Status" && e.sessionId === sessionId ? Option.some(e.status) : Option.none())),
          relay
        ))
      } else {
        const opened = yield* Deferred.make<void>()
        yield* Effect.forkScoped(client.events.pipe(
          Stream.tap((e) => (e.type === "server.connected" ? Deferred.succeed(opened, undefined) : Effect.void)),
          Stream.runForEach((e) => e.type === "session.status" && e.properties.sessionID === sessionId ? relay(e.properties.status) : Effect.void),
          Effect.ignore,
          Effect.ensuring(Deferred.succeed(opened, undefined))
        ))
        yield* Effect.ignore(Effect.timeout(Deferred.await(opened), "5 seconds"))
      }
      return yield* effect
    }))

  // Closing the layer closes every handle.
  yield* Effect.addFinalizer(() =>
    Effect.forEach([...open.values()], (state) => Scope.close(state.scope, Exit.void), { discard: true }).pipe(
      Effect.ensuring(Effect.sync(() => open.clear()))
    )
  )

  const issue = (sessionId: SessionId) =>
    Effect.gen(function*() {
      const scope = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
      const fibers = yield* FiberSet.make().pipe(Scope.extend(scope))
      const handle = ++lastHandle
      open.set(handle, { handle, sessionId, scope, fibers, aborts: 0 })
      return handle
    })

  const lookup = (handle: Handle) =>
    Effect.suspend(() => {
      const state = open.get(handle)
      return state === undefined ? Effect.fail(new InvalidHandle({ handle })) : Effect.succeed(state)
    })

  /** A 404 on a session we hold a handle for means it was deleted behind our back. */
  const deletedIfGone = <A, E>(sessionId: SessionId, effect: Effect.Effect<A, E>) =>
    Effect.catchIf(
      effect,
      (error): error is E => (error as { _tag?: string })._tag === "SessionNotFound",
      () => Effect.zipRight(cache.remove(sessionId, "reconcile"), Effect.fail(new SessionDeleted({ sessionId })))
    )

  /**
   * Runs `operation` as one of the handle's in-flight fibers: interrupted by abort (failing with
   * `Aborted`) and by destroy (failing with `InvalidHandle`).
   */
  const within = <A, E>(
    handle: Handle,
    name: string,
    operation: (sessionId: SessionId) => Effect.Effect<A, E>,
    kind?: OperationKind
  ): Effect.Effect<A, E | InvalidHandle | SessionDeleted | Aborted> =>
    Effect.gen(function*() {
      const state = yield* lookup(handle)
      if (cache.isDeleted(state.sessionId)) return yield* new SessionDeleted({ sessionId: state.sessionId })
      const run = (sending: Effect.Effect<void>) =>
        Effect.gen(function*() {
          const aborts = state.aborts
          const fiber = yield* FiberSet.run(
            state.fibers,
            Effect.zipRight(sending, deletedIfGone(state.sessionId, operation(state.sessionId)))
          )
          const exit = yield* Fiber.await(fiber).pipe(Effect.onInterrupt(() => Fiber.interrupt(fiber)))
          if (Exit.isSuccess(exit)) return exit.value
          if (Exit.isInterrupted(exit)) {
            if (!open.has(handle)) return yield* new InvalidHandle({ handle })
            if (state.aborts !== aborts) return yield* new Aborted({ sessionId: state.sessionId, operation: name })
          }
          return yield* Effect.failCause(exit.cause)
        })
      return yield* (kind === undefined
        ? run(Effect.void)
        : tracked(kind, state.sessionId, () => run(Progress.report({ phase: "sending" }))))
    })

  /** Every descendant of a session, asked of the server. */
  const allChildren = (sessionId: string): Effect.Effect<ReadonlyArray<string>, OpenCodeError> =>
    Effect.flatMap(client.children(sessionId), (children) =>
      Effect.map(
        Effect.forEach(children, (child) => Effect.map(allChildren(child.id), (below) => [...below, child.id]), { concurrency: 8 }),
        (nested) => nested.flat()
      ))

  /** One of our writes: its result goes to the cache, read-your-writes. */
  const write = (request: Effect.Effect<Session, OpenCodeError>, adjust: (s: Session) => Session = (s) => s) =>
    Effect.flatMap(request, (result) => {
      const session = adjust(result)
      return Effect.as(cache.observeWrite(session), session)
    })

  /**
   * What a title change queued on a session never seen returns: a placeholder with the new title
   * (empty `slug`, `projectID`, `directory`, `version`, times 0), as for a queued create.
   */
  const unseen = (sessionId: SessionId, title: string): Session => ({
    id: sessionId,
    slug: "",
    projectID: "",
    directory: "",
    title,
    version: "",
    time: { created: 0, updated: 0 }
  })

  /** A session's queued operations, shown beside its visible value. */
  const withPending = (session: Session): SessionView => {
    const pending = engine?.pending(session.id) ?? []
    return pending.length === 0 ? session : { ...session, pending }
  }

  /**
   * Deletes a session and its descendants; how many sessions went (or go, when queued). Counted
   * before asking: the server's deletion events may reach the cache before its answer does. The
   * cache knows every session while coherent; else the server is asked.
   */
  const deleteSession = (sessionId: SessionId): Effect.Effect<number, OpenCodeError | OutboxError> =>
    Effect.gen(function*() {
      const asked = Effect.map(allChildren(sessionId), (all) => all.length)
      const below = (yield* cache.coherent)
        ? cache.descendants(sessionId).length
        : engine !== undefined
        // With the outbox, an unreachable server queues the delete: count what the cache knows.
        ? yield* Effect.orElseSucceed(asked, () => cache.descendants(sessionId).length)
        : yield* asked
      if (engine !== undefined) {
        yield* engine.delete(sessionId)
      } else {
        yield* client.delete(sessionId)
        yield* cache.remove(sessionId, "local")
      }
      return below + 1
    })

  /**
   * A batch's operation on a session by id: what `open`, `info` and `within` do for a handle
   * (the session is read from the cache, the operation is tracked, a 404 means it was deleted),
   * without issuing a handle or forking a fiber for it. Nobody else could reach such a handle,
   * and interrupting the batch interrupts the operation.
   */
  const onSession = <A, E>(
    raw: string,
    kind: OperationKind,
    operation: (sessionId: SessionId) => Effect.Effect<A, E>
  ): Effect.Effect<{ readonly before: SessionView; readonly value: A }, E | OpenCodeError | SessionDeleted> =>
    Effect.flatMap(parseSessionId(raw), (sessionId) =>
      Effect.flatMap(cache.get(sessionId), (session) =>
        Effect.suspend(() => {
          if (cache.isDeleted(sessionId)) return Effect.fail(new SessionDeleted({ sessionId }))
          const before = withPending(session)
          return Effect.map(
            tracked(kind, sessionId, () => Effect.zipRight(Progress.report({ phase: "sending" }), deletedIfGone(sessionId, operation(sessionId)))),
            (value) => ({ before, value })
          )
        })))

  const service: Service = {
    create: (options = {}) =>
      tracked("create", undefined, (progress) =>
        engine !== undefined && options.parentID === undefined
          ? Effect.flatMap(engine.create(options.title), ({ sessionId }) => {
            progress.sessionIs(sessionId)
            return issue(sessionId)
          })
          : Effect.zipRight(Progress.report({ phase: "sending" }), client.create(options)).pipe(
            Effect.tap((session) => {
              progress.sessionIs(session.id)
              return cache.observe(session, "local")
            }),
            Effect.flatMap((session) => issue(session.id))
          )),
    open: (raw, options) =>
      Effect.flatMap(parseSessionId(raw), (sessionId) =>
        cache.get(sessionId).pipe(
          Effect.map((session) => session.id),
          Effect.catchTag("Unreachable", (error) => engine !== undefined && options?.offline === true ? Effect.succeed(sessionId) : Effect.fail(error)),
          Effect.flatMap(issue)
        )),
    sessionId: (handle) => Effect.map(lookup(handle), (state) => state.sessionId),
    // A fresh cache entry is answered at once; only a read that needs the server becomes one
    // of the handle's in-flight operations.
    info: (handle) =>
      Effect.suspend(() => {
        const state = open.get(handle)
        if (state === undefined) return Effect.fail(new InvalidHandle({ handle }))
        if (cache.isDeleted(state.sessionId)) return Effect.fail(new SessionDeleted({ sessionId: state.sessionId }))
        return Effect.flatMap(cache.fresh(state.sessionId), (cached) =>
          Option.isSome(cached)
            ? Effect.succeed(withPending(cached.value))
            : Effect.map(
              within(handle, "info", (sessionId) =>
                engine === undefined
                  ? cache.get(sessionId)
                  // With the outbox on, an unreachable server shows what is known here.
                  : Effect.catchTag(
                    cache.get(sessionId),
                    "Unreachable",
                    (error) => Option.match(cache.peek(sessionId), { onNone: () => Effect.fail(error), onSome: Effect.succeed })
                  )),
              withPending
            ))
      }),
    // With the outbox on, an unreachable server does not hide what is known: the cached
    // sessions, as visible here.
    list: engine === undefined ? cache.list : Effect.catchTag(cache.list, "Unreachable", () => Effect.sync(cache.peekAll)),
    updateTitle: (handle, title) =>
      engine === undefined
        ? within(handle, "updateTitle", (sessionId) => write(client.update(sessionId, { title })), "title")
        : within(handle, "updateTitle", (sessionId) =>
          Effect.gen(function*() {
            // The base is the title the change was typed over: what is visible here now.
            // Never seen and the server unreachable (a handle opened offline): no base.
            const seen = cache.peek(sessionId)
            const current = Option.isSome(seen)
              ? seen.value
              : yield* Effect.catchTag(cache.get(sessionId), "Unreachable", () => Effect.succeed(undefined))
            const result = yield* engine.title(sessionId, title, current?.title)
            if (result._tag === "Applied" && result.session !== undefined) return result.session
            return Option.getOrElse(cache.peek(sessionId), () => current ?? unseen(sessionId, title))
          }), "title"),
    // OpenCode's own status for the session (busy, retrying the model) is relayed as progress.
    // OpenCode answers an init whose session was deleted while it ran with a bare 500: a 404 on
    // the session's own id then says it was deleted (SessionDeleted), not a server error.
    initialize: (handle, model) =>
      within(handle, "initialize", (sessionId) =>
        relayStatus(sessionId, Effect.asVoid(client.init(sessionId, model))).pipe(
          Effect.catchTag("ServerError", (error) =>
            client.get(sessionId).pipe(
              Effect.matchEffect({
                onFailure: (probe) => Effect.fail(probe._tag === "SessionNotFound" ? probe : error),
                onSuccess: () => Effect.fail(error)
              })
            ))
        ), "initialize"),
    delete: (handle) => within(handle, "delete", deleteSession, "delete"),
    abort: (handle) =>
      Effect.gen(function*() {
        const state = yield* lookup(handle)
        if (cache.isDeleted(state.sessionId)) return yield* new SessionDeleted({ sessionId: state.sessionId })
        yield* tracked("abort", state.sessionId, () =>
          Effect.gen(function*() {
            state.aborts++
            yield* FiberSet.clear(state.fibers)
            yield* Progress.report({ phase: "sending" })
            yield* deletedIfGone(state.sessionId, client.abort(state.sessionId))
            events.unsafePublish({ _tag: "Aborted", sessionId: state.sessionId, origin: "local" })
          }))
      }),
    share: (handle) =>
      within(handle, "share", (sessionId) =>
        write(client.share(sessionId)).pipe(
          Effect.flatMap((session) =>
            session.share?.url
              ? Effect.map(grants.take(sessionId), (grant): ShareResult =>
                Option.match(grant, {
                  onNone: () => ({ url: session.share!.url, session }),
                  onSome: (g) => ({ url: session.share!.url, secret: g.secret, expiresAt: g.expiresAt, session })
                }))
              : Effect.fail(new ShareUnavailable({ sessionId, detail: "the server answered without a share URL (sharing disabled?)" }))
          )
        ), "share"),
    // OpenCode's answer to an unshare can still carry the old `share`: once the call succeeded,
    // the session is not shared, whatever that answer says.
    unshare: (handle) =>
      within(handle, "unshare", (sessionId) => write(client.unshare(sessionId), ({ share: _share, ...session }) => session as Session), "unshare"),
    destroy: (handle) =>
      Effect.gen(function*() {
        const state = yield* lookup(handle)
        open.delete(handle)
        yield* Scope.close(state.scope, Exit.void)
      }),
    outbox: engine === undefined
      ? {
        enabled: false,
        list: Effect.succeed([]),
        flush: Effect.succeed([]),
        drop: (opId) => Effect.fail(new OperationNotFoundError({ opId, detail: "exists: the outbox is off" })),
        resolve: (opId) => Effect.fail(new OperationNotFoundError({ opId, detail: "exists: the outbox is off" })),
        pending: () => []
      }
      : {
        enabled: true,
        list: engine.list,
        flush: engine.flush,
        drop: engine.drop,
        resolve: engine.resolve,
        pending: (sessionId) => engine.pending(sessionId as SessionId)
      },
    handles: Effect.gen(function*() {
      const out: Array<HandleInfo> = []
      for (const state of open.values()) out.push({ handle: state.handle, sessionId: state.sessionId, inFlight: yield* FiberSet.size(state.fibers) })
      return out
    }),
    bulk: (operations, options) => Effect.suspend(() => Bulk.run(batchManager, events.unsafePublish, layerScope, ++lastBatch, operations, options))
  }
  const batchManager: Bulk.Manager = {
    ...service,
    deleteById: (sessionId) => Effect.map(onSession(sessionId, "delete", deleteSession), ({ before, value }) => ({ session: before, deleted: value }))
  }
  return service
})

/**
 * The manager as a Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<SessionManager, never, OpenCodeClient.OpenCodeClient | SessionCache | SessionEvents> = Layer.scoped(SessionManager, make)
