/**
 * The sync fiber: follows the server's event stream, applies session events to the cache, and
 * reconciles against the complete session list on every (re)connect and periodically, so that
 * nothing changed while it was not listening is missed. It reconnects with bounded backoff after
 * a dropped or heartbeat-silent stream, and says what it is doing.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as OpenCodeClient from "./OpenCodeClient.js"
import type { OpenCodeError } from "./OpenCodeError.js"
import type { OpenCodeEvent } from "./OpenCodeSchema.js"
import { SessionCache } from "./SessionCache.js"
import { type Delivery, SessionEvents, type Snapshot } from "./SessionEvents.js"

/**
 * What the sync fiber is doing.
 *
 * @since 0.1.0
 */
export interface SyncState {
  readonly status: "starting" | "connected" | "reconnecting"
  /** When the last full reconciliation finished (ms since the epoch). */
  readonly lastReconcile: Option.Option<number>
  /** How many times the stream was lost and re-opened. */
  readonly reconnects: number
  /** Why the stream was last lost. */
  readonly lastError: Option.Option<string>
  /** The typed failure that last lost the stream, when it was one (e.g. `Unauthorized`). */
  readonly lastFailure: Option.Option<OpenCodeError>
  /** While reconnecting: when the next attempt starts (ms since the epoch). */
  readonly retryAt: Option.Option<number>
}

/**
 * The sync fiber's face.
 *
 * @since 0.1.0
 */
export interface Service {
  readonly state: Effect.Effect<SyncState>
  /** The state now and every change after. */
  readonly changes: Stream.Stream<SyncState>
  /** Waits until the stream is connected and reconciled. */
  readonly awaitConnected: Effect.Effect<void>
  /**
   * Lists every session now and applies the difference. Taken in turn with the stream's events,
   * never beside one: a snapshot is not applied over a change the stream brought while the
   * list was in flight.
   */
  readonly reconcile: Effect.Effect<void, OpenCodeError>
  /**
   * What a watcher wants: once connected and reconciled, one `Snapshot` of every session then
   * known (newest update first), then every event after that instant, none missed and none
   * repeated. Sessions that existed before are in the snapshot, never announced as `Created`.
   */
  readonly watch: Stream.Stream<Snapshot | Delivery>
}

/**
 * The sync service.
 *
 * @since 0.1.0
 */
export class SessionSync extends Context.Tag("@plue/core/SessionSync")<SessionSync, Service>() {}

/**
 * Options of the sync fiber.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Reconcile this often as a safety net, even while connected. Default 30 seconds. */
  readonly reconcileInterval?: Duration.DurationInput | undefined
  /** First reconnect delay; doubles (jittered) up to `maxBackoff`. Default 100 ms. */
  readonly backoff?: Duration.DurationInput | undefined
  /** Longest reconnect delay. Default 5 seconds. */
  readonly maxBackoff?: Duration.DurationInput | undefined
}

const initial: SyncState = {
  status: "starting",
  lastReconcile: Option.none(),
  reconnects: 0,
  lastError: Option.none(),
  lastFailure: Option.none(),
  retryAt: Option.none()
}

/**
 * Starts the sync fiber in the scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, never, OpenCodeClient.OpenCodeClient | SessionCache | SessionEvents | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* OpenCodeClient.OpenCodeClient
    const cache = yield* SessionCache
    const events = yield* SessionEvents
    const state = yield* SubscriptionRef.make(initial)
    const interval = Duration.decode(options.reconcileInterval ?? Duration.seconds(30))

    // One thing at a time changes the cache: a stream event, or a whole reconcile (list and
    // apply). The snapshot of a reconcile that ran beside the stream could be older than an
    // event applied while the list was in flight, and a title change keeps `time.updated`.
    const turn = yield* Effect.makeSemaphore(1)
    const inTurn = turn.withPermits(1)

    const reconcile = Effect.gen(function*() {
      const sessions = yield* client.list()
      yield* cache.reconcile(sessions)
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      yield* SubscriptionRef.update(state, (s) => ({ ...s, lastReconcile: Option.some(now) }))
    })

    const handle = (event: OpenCodeEvent): Effect.Effect<void, OpenCodeError> => {
      switch (event.type) {
        case "server.connected":
          // The server cannot replay what we missed: list everything, then trust the stream.
          return reconcile.pipe(
            Effect.zipRight(cache.setCoherent(true)),
            Effect.zipRight(SubscriptionRef.update(state, (s) => ({ ...s, status: "connected" as const, retryAt: Option.none() })))
          )
        case "session.created":
        case "session.updated":
          return cache.observe(event.properties.info, "remote")
        case "session.deleted":
          return Effect.asVoid(cache.remove(event.properties.info.id, "remote", event.properties.info))
        case "session.status":
          return cache.status(event.properties.sessionID, event.properties.status)
        case "session.idle":
          return cache.status(event.properties.sessionID, { type: "idle" })
        case "session.error":
          return Effect.sync(() =>
            events.unsafePublish({
              _tag: "Error",
              ...(event.properties.sessionID ? { sessionId: event.properties.sessionID } : {}),
              error: event.properties.error
            })
          )
        default:
          return Effect.void
      }
    }

    type Item = { readonly _tag: "event"; readonly event: OpenCodeEvent } | { readonly _tag: "tick" }
    const follow = client.events.pipe(
      Stream.map((event): Item => ({ _tag: "event", event })),
      Stream.merge(Stream.fromSchedule(Schedule.spaced(interval)).pipe(Stream.as<Item>({ _tag: "tick" })), {
        haltStrategy: "left"
      }),
      Stream.runForEach((item) => inTurn(item._tag === "tick" ? reconcile : handle(item.event)))
    )

    const lost = (reason: string, failure: Option.Option<OpenCodeError>, retryAt: number) =>
      cache.setCoherent(false).pipe(
        Effect.zipRight(SubscriptionRef.update(state, (s) => ({
          ...s,
          status: "reconnecting" as const,
          reconnects: s.reconnects + 1,
          lastError: Option.some(reason),
          lastFailure: failure,
          retryAt: Option.some(retryAt)
        })))
      )

    const base = Duration.toMillis(Duration.decode(options.backoff ?? Duration.millis(100)))
    const ceiling = Duration.toMillis(Duration.decode(options.maxBackoff ?? Duration.seconds(5)))

    // Follow until the stream ends (disposal) or fails; either way it is lost. Then wait and
    // open it again: the delay doubles (jittered, capped) while attempts fail, and starts over
    // once an attempt got as far as a reconciled connection.
    const followForever = Effect.gen(function*() {
      let delay = base
      for (;;) {
        const exit = yield* Effect.exit(follow)
        const reached = (yield* SubscriptionRef.get(state)).status === "connected"
        if (reached) delay = base
        const wait = delay * (0.5 + (yield* Random.next) / 2)
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const failure = exit._tag === "Success" ? Option.none() : Cause.failureOption(exit.cause)
        yield* lost(
          exit._tag === "Success"
            ? "the server closed the event stream"
            : Option.isSome(failure)
            ? failure.value.message
            // Not a typed failure: a defect (a bug) or an interruption; its whole story.
            : Cause.pretty(exit.cause),
          failure,
          now + wait
        )
        yield* Effect.sleep(Duration.millis(wait))
        delay = Math.min(delay * 2, ceiling)
      }
    })
    // When the sync fiber stops (the layer closes), the cache no longer follows the server.
    yield* Effect.addFinalizer(() => cache.setCoherent(false))
    yield* Effect.forkScoped(followForever)

    const awaitConnected = state.changes.pipe(
      Stream.filter((s) => s.status === "connected"),
      Stream.take(1),
      Stream.runDrain
    )
    return {
      state: SubscriptionRef.get(state),
      changes: state.changes,
      awaitConnected,
      reconcile: inTurn(reconcile),
      watch: Stream.unwrapScoped(Effect.gen(function*() {
        yield* awaitConnected
        const [sessions, after] = yield* events.subscribeWith(cache.peekAll)
        const first: Snapshot = { _tag: "Snapshot", sessions }
        return Stream.concat(Stream.succeed<Snapshot | Delivery>(first), after)
      }))
    } satisfies Service
  })

/**
 * The sync fiber as a Layer: it runs while the Layer is alive.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<SessionSync, never, OpenCodeClient.OpenCodeClient | SessionCache | SessionEvents> => Layer.scoped(SessionSync, make(options))
