/**
 * The coherent session cache: one entry per session (never per handle), kept current by the
 * event stream and by reconciliation, so a read after any change that reached the stream is
 * never stale. Every change to an entry publishes exactly one event, so our own call's result
 * and the server's echo of it are one event.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { parseSessionId, type SessionId } from "./Identifier.js"
import * as OpenCodeClient from "./OpenCodeClient.js"
import type { OpenCodeError } from "./OpenCodeError.js"
import type { Session, SessionStatus } from "./OpenCodeSchema.js"
import { SessionDeleted } from "./PlueError.js"
import { type Origin, type SessionEvent, SessionEvents } from "./SessionEvents.js"

/**
 * The cache.
 *
 * @since 0.1.0
 */
export interface Service {
  /** The session as cached, whatever its age. No HTTP. */
  readonly peek: (sessionId: SessionId) => Option.Option<Session>
  /**
   * The session: from the cache when it is fresh (the event stream is live, or it was confirmed
   * within the TTL), else from the server. Concurrent misses for one session cost one request.
   */
  readonly get: (sessionId: string) => Effect.Effect<Session, OpenCodeError | SessionDeleted>
  /** The session when its entry is fresh; none when a read would need the server. No HTTP. */
  readonly fresh: (sessionId: SessionId) => Effect.Effect<Option.Option<Session>>
  /**
   * Every session, newest `time.updated` first, in the server's own order (equal times keep the
   * order of the server's last listing): from the cache when it mirrors the server, else listed
   * from the server.
   */
  readonly list: Effect.Effect<ReadonlyArray<Session>, OpenCodeError>
  /** Every cached session, in `list`'s order, as it is now. No HTTP. */
  readonly peekAll: () => ReadonlyArray<Session>
  /** Whether the session is known to be deleted. */
  readonly isDeleted: (sessionId: string) => boolean
  /** Takes in a server view of a session, publishing what changed. */
  readonly observe: (session: Session, origin: Origin) => Effect.Effect<void>
  /**
   * Takes in the result of one of our own writes (read-your-writes): it is applied, and the
   * stream's events for the session that differ from it are taken as older and skipped until
   * the write's echo arrives (at most 3 s).
   */
  readonly observeWrite: (session: Session) => Effect.Effect<void>
  /**
   * Takes in a session just read by id (another client's change, as the server has it now): taken
   * in even while one of our writes waits for its echo (that write is older than this read), then
   * differing stream events are taken as older until one matches it (at most 3 s), as for a write.
   */
  readonly observeRead: (session: Session) => Effect.Effect<void>
  /** The known descendants of a session, deepest first. No HTTP. */
  readonly descendants: (sessionId: SessionId) => ReadonlyArray<SessionId>
  /** Takes in a deletion (and of the known descendants first); returns how many went. */
  readonly remove: (sessionId: SessionId, origin: Origin, session?: Session) => Effect.Effect<number>
  /**
   * Takes in a complete listing: what appeared or changed is published as such. A cached session
   * the listing lacks is asked for by id (the listing covers one project; a session opened by id
   * may belong to another): it is deleted only when the server answers 404. The first listing
   * taken in is the baseline: what it holds existed already and is not announced as `Created`.
   */
  readonly reconcile: (sessions: ReadonlyArray<Session>) => Effect.Effect<void>
  /** Takes in a status; publishes it when it differs from the last one. */
  readonly status: (sessionId: SessionId, status: SessionStatus) => Effect.Effect<void>
  /**
   * Set by the sync fiber: while true, the stream is live and reconciled, so every entry is
   * current and the cache mirrors the server.
   */
  readonly setCoherent: (coherent: boolean) => Effect.Effect<void>
  readonly coherent: Effect.Effect<boolean>
  readonly size: Effect.Effect<number>
  /**
   * Calls `listener` synchronously, in the same step, on every change of an entry or of
   * coherence, for the scope's life. For mirrors that must be exactly as current as the cache.
   */
  readonly onChange: (listener: (change: CacheChange) => void) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Installs the outbox's view: every read and event of the cache then shows the visible value
   * (the server's confirmed value with the pending operations folded over it), not the
   * confirmed one. Without it the two are the same.
   */
  readonly setOverlay: (overlay: Overlay) => Effect.Effect<void>
  /**
   * Recomputes a session's visible value (its pending operations changed); publishes the change.
   * `onChange` listeners hear an `Upsert` of it even when the visible value stayed the same.
   */
  readonly refresh: (sessionId: SessionId) => Effect.Effect<void>
  /** Adds a session only this process knows yet (its create is queued); publishes `Created`. */
  readonly addLocal: (session: Session) => Effect.Effect<void>
  /**
   * Undoes a local delete (a queued delete dropped or failed for good): the session and the
   * descendants it hid are shown again as last seen (`Created`, origin `local`), and read again
   * from the server at the next read.
   */
  readonly undelete: (sessionId: SessionId) => Effect.Effect<void>
}

/**
 * How pending outbox operations change what the cache shows.
 *
 * @since 0.1.0
 */
export interface Overlay {
  /** The visible value of a session, from its confirmed value. */
  readonly view: (confirmed: Session) => Session
  /** Whether the session exists only here (a queued create): a listing that lacks it is not a deletion. */
  readonly isLocal: (sessionId: string) => boolean
}

/**
 * A change of the cache, as seen by an `onChange` listener.
 *
 * @since 0.1.0
 */
export type CacheChange =
  | { readonly _tag: "Upsert"; readonly session: Session }
  | { readonly _tag: "Remove"; readonly sessionId: SessionId }
  | { readonly _tag: "Coherent"; readonly coherent: boolean }

/**
 * The cache service.
 *
 * @since 0.1.0
 */
export class SessionCache extends Context.Tag("@plue/core/SessionCache")<SessionCache, Service>() {}

/**
 * Options of the cache.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Upper bound on an entry's age while the event stream is not live. Default 5 seconds. */
  readonly ttl?: Duration.DurationInput | undefined
  /** How long a deletion is remembered, so late echoes cannot resurrect it. Default 10 minutes. */
  readonly tombstoneTtl?: Duration.DurationInput | undefined
}

interface Entry {
  session: Session
  confirmedAt: number
  /** Position in the server's last listing that held it: orders equal `time.updated`. */
  rank: number
  /**
   * Whether the event stream follows it: it was in a listing or came through the stream. A
   * session of another project is neither; it is served for at most the TTL, then read again.
   */
  followed: boolean
  /** What reads and events show: `session` with the overlay's pending operations folded over it. */
  visible: Session
  /** Made here for a queued create: any server view of it replaces it, whatever its time. */
  local: boolean
}

/** The server's order: newest `time.updated` first; equal times as the server last listed them. */
const byServerOrder = (a: Entry, b: Entry): number =>
  b.session.time.updated - a.session.time.updated || a.rank - b.rank || (a.session.id < b.session.id ? -1 : a.session.id > b.session.id ? 1 : 0)

const sameValue = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b)

/** The top-level fields that differ between two views of a session. */
const changedFields = (before: Session, after: Session): Array<string> => {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)])
  const changed: Array<string> = []
  for (const key of keys) {
    if (!sameValue((before as Record<string, unknown>)[key], (after as Record<string, unknown>)[key])) changed.push(key)
  }
  return changed
}

/** The events that turn `before` into `after`. */
export const diff = (before: Session, after: Session, origin: Origin): Array<SessionEvent> => {
  const changes = changedFields(before, after)
  const events: Array<SessionEvent> = []
  if (changes.includes("share")) {
    if (after.share?.url) events.push({ _tag: "Shared", session: after, url: after.share.url, origin })
    else events.push({ _tag: "Unshared", session: after, origin })
  }
  const rest = changes.filter((field) => field !== "share")
  if (rest.length > 0) events.push({ _tag: "Updated", session: after, changes: rest, origin })
  return events
}

/**
 * Makes the cache.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, never, OpenCodeClient.OpenCodeClient | SessionEvents> =>
  Effect.gen(function*() {
    const client = yield* OpenCodeClient.OpenCodeClient
    const events = yield* SessionEvents
    const ttl = Duration.toMillis(options.ttl ?? Duration.seconds(5))
    const tombstoneTtl = Duration.toMillis(options.tombstoneTtl ?? Duration.minutes(10))
    const entries = new Map<SessionId, Entry>()
    const tombstones = new Map<string, number>()
    const statuses = new Map<SessionId, string>()
    const inflight = new Map<SessionId, Deferred.Deferred<Session, OpenCodeError | SessionDeleted>>()
    let coherent = false
    // Until the first listing is taken in, what a listing holds existed before we looked.
    let baselined = false
    let ranks = 0
    let overlay: Overlay | undefined
    const view = (session: Session): Session => (overlay === undefined ? session : overlay.view(session))
    const listeners = new Set<(change: CacheChange) => void>()
    const notify = (change: CacheChange) => {
      for (const listener of listeners) listener(change)
    }

    const isDeleted = (sessionId: string) => tombstones.has(sessionId)

    /**
     * Forgets deletions older than the tombstone TTL, once there are many. A tombstone is never
     * set twice, so the map is in the order of deletion: the walk stops at the first one still
     * kept, and a delete costs no walk over every deletion remembered.
     */
    const pruneTombstones = (now: number) => {
      if (tombstones.size < 1024) return
      for (const [id, at] of tombstones) {
        if (now - at <= tombstoneTtl) return
        tombstones.delete(id)
      }
    }

    /**
     * Read-your-writes: after one of our own writes is applied, the server's stream may still
     * carry events it sent before that write (a title or share change keeps `time.updated`, so
     * they cannot be told apart by time). The stream is ordered, so until the echo of our write
     * arrives, a differing event for that session is older: skip it. The wait is bounded, and it
     * ends when the stream is lost. While connected the echo always comes (the server publishes
     * every write on the stream of the directory that sent it: ours, also for another project's
     * session), but on a loaded machine it can come seconds after the write's answer: with 3 s,
     * an older title was seen shown again. So the bound is generous.
     */
    const awaitingEcho = new Map<SessionId, { readonly session: Session; readonly until: number }>()
    const ECHO_WAIT = 15_000
    const sameWrite = (a: Session, b: Session) => a.title === b.title && a.share?.url === b.share?.url

    /** The change itself, synchronous so that the event is published in the same step. */
    const apply = (session: Session, origin: Origin, now: number, announce = true): void => {
      if (tombstones.has(session.id)) return
      if (origin !== "local") {
        const pending = awaitingEcho.get(session.id)
        if (pending !== undefined) {
          if (sameWrite(pending.session, session) || now >= pending.until) awaitingEcho.delete(session.id)
          else return
        }
      }
      const entry = entries.get(session.id)
      if (entry === undefined) {
        const visible = view(session)
        entries.set(session.id, { session, confirmedAt: now, rank: Number.MAX_SAFE_INTEGER, followed: origin !== "reconcile", visible, local: false })
        notify({ _tag: "Upsert", session: visible })
        if (announce) events.unsafePublish({ _tag: "Created", session: visible, origin })
        return
      }
      if (origin === "remote") entry.followed = true
      // Out of order or repeated: an older view never overwrites a newer one. A title change
      // keeps `time.updated`, so equal times are taken in (the stream is ordered).
      if (!entry.local && session.time.updated < entry.session.time.updated) return
      entry.local = false
      entry.confirmedAt = now
      entry.session = session
      show(entry, origin)
    }

    /**
     * Publishes what changed in an entry's visible value. `always`: the listeners hear of it even
     * when it did not change (the outbox's pending operations of the session did).
     */
    const show = (entry: Entry, origin: Origin, always = false): void => {
      const visible = view(entry.session)
      const changes = diff(entry.visible, visible, origin)
      entry.visible = visible
      if (always && changes.length === 0) notify({ _tag: "Upsert", session: visible })
      if (changes.length === 0) return
      notify({ _tag: "Upsert", session: visible })
      for (const event of changes) events.unsafePublish(event)
    }

    const descendants = (sessionId: SessionId): Array<SessionId> => {
      const out: Array<SessionId> = []
      for (const [id, entry] of entries) {
        if (entry.session.parentID === sessionId) out.push(...descendants(id), id)
      }
      return out
    }

    /**
     * What a local delete (queued in the outbox, not yet applied) took away, so that dropping or
     * failing it can show it again without asking the server: the session's entry and its
     * descendants'. A second local remove (the delete applied) or the server's own delete ends it.
     */
    const shelved = new Map<SessionId, ReadonlyArray<readonly [SessionId, Entry | undefined]>>()

    const removeNow = (sessionId: SessionId, origin: Origin, now: number, session?: Session): number => {
      const ids = [...descendants(sessionId), sessionId]
      if (origin === "local" && !tombstones.has(sessionId)) {
        shelved.set(sessionId, ids.map((id) => [id, entries.get(id)] as const))
      } else {
        shelved.delete(sessionId)
      }
      let count = 0
      for (const id of ids) count += removeOne(id, origin, now, id === sessionId ? session : undefined)
      return count
    }

    /** Undoes a local delete: its session and descendants are shown again as they were. */
    const restore = (sessionId: SessionId): void => {
      const kept = shelved.get(sessionId) ?? [[sessionId, undefined] as const]
      shelved.delete(sessionId)
      // The session first, then its children: a subscriber sees a parent before its children.
      for (const [id, entry] of [...kept].reverse()) {
        tombstones.delete(id)
        if (entry === undefined || entries.has(id)) continue
        // Not confirmed since it was hidden: the next read asks the server.
        entry.confirmedAt = Number.NEGATIVE_INFINITY
        entry.followed = false
        entry.visible = view(entry.session)
        entries.set(id, entry)
        notify({ _tag: "Upsert", session: entry.visible })
        events.unsafePublish({ _tag: "Created", session: entry.visible, origin: "local" })
      }
    }

    const removeOne = (sessionId: SessionId, origin: Origin, now: number, session?: Session): number => {
      if (tombstones.has(sessionId)) return 0
      pruneTombstones(now)
      tombstones.set(sessionId, now)
      statuses.delete(sessionId)
      awaitingEcho.delete(sessionId)
      const entry = entries.get(sessionId)
      entries.delete(sessionId)
      notify({ _tag: "Remove", sessionId })
      const known = entry?.visible ?? session
      events.unsafePublish({ _tag: "Deleted", sessionId, ...(known ? { session: known } : {}), origin })
      return 1
    }

    const fetchOne = (sessionId: SessionId): Effect.Effect<Session, OpenCodeError | SessionDeleted> =>
      client.get(sessionId).pipe(
        Effect.flatMap((session) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() => {
              apply(session, "reconcile", now)
              return entries.get(sessionId)?.visible ?? view(session)
            }))
        ),
        Effect.catchTag("SessionNotFound", (error) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.suspend((): Effect.Effect<never, OpenCodeError | SessionDeleted> => {
              // Known to us before: it was deleted behind our back.
              if (entries.has(sessionId) || tombstones.has(sessionId)) {
                removeOne(sessionId, "reconcile", now)
                return Effect.fail(new SessionDeleted({ sessionId }))
              }
              return Effect.fail(error)
            })))
      )

    const get = (raw: string): Effect.Effect<Session, OpenCodeError | SessionDeleted> =>
      Effect.flatMap(parseSessionId(raw), (sessionId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (tombstones.has(sessionId)) return Effect.fail(new SessionDeleted({ sessionId }))
          const entry = entries.get(sessionId)
          if (entry !== undefined && (current(entry, now) || entry.local)) return Effect.succeed(entry.visible)
          const pending = inflight.get(sessionId)
          if (pending !== undefined) return Deferred.await(pending)
          // The first miss fetches for every concurrent reader; the fetch completes even if
          // this reader is interrupted, so the others still get their answer.
          return Effect.uninterruptibleMask((restore) =>
            Effect.gen(function*() {
              const deferred = yield* Deferred.make<Session, OpenCodeError | SessionDeleted>()
              inflight.set(sessionId, deferred)
              yield* fetchOne(sessionId).pipe(
                Effect.exit,
                Effect.flatMap((exit) => Deferred.done(deferred, exit)),
                Effect.ensuring(Effect.sync(() => inflight.delete(sessionId))),
                Effect.forkDaemon
              )
              return yield* restore(Deferred.await(deferred))
            })
          )
        }))

    /** Applies a listing; returns the cached sessions it lacks, for `reconcile` to ask after. */
    const reconcileNow = (sessions: ReadonlyArray<Session>, now: number): Array<SessionId> => {
      const announce = baselined
      baselined = true
      const seen = new Set<string>()
      const base = ranks
      ranks += sessions.length
      sessions.forEach((session, index) => {
        seen.add(session.id)
        apply(session, "reconcile", now, announce)
        const entry = entries.get(session.id)
        if (entry !== undefined) {
          entry.rank = base + index
          entry.followed = true
        }
      })
      return [...entries.keys()].filter((id) => !seen.has(id) && !(overlay?.isLocal(id) ?? false))
    }

    /**
     * A cached session a listing lacks was deleted, or is outside the listing's scope (another
     * project directory). Only the server's 404 on its own id says it was deleted; otherwise it
     * is taken in as it is now, and stays outside what the stream follows.
     */
    const checkMissing = (missing: ReadonlyArray<SessionId>): Effect.Effect<void> =>
      Effect.forEach(missing, (sessionId) =>
        client.get(sessionId).pipe(
          Effect.flatMap((session) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                apply(session, "reconcile", now)
                const entry = entries.get(sessionId)
                if (entry !== undefined) {
                  entry.followed = false
                  entry.confirmedAt = now
                }
              }))
          ),
          Effect.catchTag(
            "SessionNotFound",
            () => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => void removeOne(sessionId, "reconcile", now)))
          ),
          // Not known either way (the server is unreachable...): the entry stays as it was.
          Effect.ignore
        ), { concurrency: 8, discard: true })

    const takeListing = (sessions: ReadonlyArray<Session>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.suspend(() => checkMissing(reconcileNow(sessions, now))))

    /** Served without HTTP: the stream follows it and is live, or it was confirmed within the TTL. */
    const current = (entry: Entry, now: number) => (coherent && entry.followed) || now - entry.confirmedAt < ttl

    const ordered = () => Array.from(entries.values()).sort(byServerOrder).map((entry) => entry.visible)

    const service: Service = {
      peek: (sessionId) => Option.map(Option.fromNullable(entries.get(sessionId)), (entry) => entry.visible),
      fresh: (sessionId) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const entry = entries.get(sessionId)
          return entry !== undefined && (current(entry, now) || entry.local) ? Option.some(entry.visible) : Option.none()
        }),
      get,
      list: Effect.suspend(() => {
        if (coherent) return Effect.succeed(ordered().filter((session) => entries.get(session.id)!.followed))
        if (overlay !== undefined) {
          // What the server listed, as visible here, and the sessions whose create is queued.
          const local = overlay
          return Effect.flatMap(client.list(), (sessions) =>
            Effect.zipRight(
              takeListing(sessions),
              Effect.sync(() => {
                const listed = sessions.filter((s) => !tombstones.has(s.id)).map((s) => entries.get(s.id)?.visible ?? view(s))
                const ids = new Set(listed.map((s) => s.id))
                const queued = [...entries.values()].filter((e) => local.isLocal(e.session.id) && !ids.has(e.session.id))
                return [...queued.map((e) => e.visible), ...listed]
              })
            ))
        }
        return Effect.tap(client.list(), takeListing)
      }),
      peekAll: ordered,
      isDeleted,
      descendants: (sessionId) => descendants(sessionId),
      observe: (session, origin) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => apply(session, origin, now))),
      observeWrite: (session) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            if (tombstones.has(session.id)) return
            // When the echo came first, the entry already shows this write: nothing to wait for.
            const entry = entries.get(session.id)
            if (entry === undefined || !sameWrite(entry.session, session)) {
              awaitingEcho.set(session.id, { session, until: now + ECHO_WAIT })
            }
            apply(session, "local", now)
          })),
      observeRead: (session) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            if (tombstones.has(session.id)) return
            awaitingEcho.delete(session.id)
            apply(session, "reconcile", now)
            if (entries.get(session.id)?.session === session) awaitingEcho.set(session.id, { session, until: now + ECHO_WAIT })
          })),
      remove: (sessionId, origin, session) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => removeNow(sessionId, origin, now, session))),
      reconcile: takeListing,
      status: (sessionId, status) =>
        Effect.sync(() => {
          // A session never seen busy is idle: no event for that.
          const before = statuses.get(sessionId) ?? "idle"
          // Each retry of the model is a change: its attempt and next try differ.
          const key = status.type === "retry" ? `retry:${status.attempt}` : status.type
          if (tombstones.has(sessionId) || before === key) return
          statuses.set(sessionId, key)
          events.unsafePublish({ _tag: "Status", sessionId, status })
        }),
      setCoherent: (value) =>
        Effect.sync(() => {
          if (coherent === value) return
          coherent = value
          // The echo of a write would have come on the stream that was lost. The next stream
          // starts with a listing, newer than every write answered before it: skipping that
          // listing's differing value (another client's change) would keep a stale title.
          if (!value) awaitingEcho.clear()
          notify({ _tag: "Coherent", coherent: value })
        }),
      onChange: (listener) => Effect.acquireRelease(Effect.sync(() => void listeners.add(listener)), () => Effect.sync(() => void listeners.delete(listener))),
      setOverlay: (value) =>
        Effect.sync(() => {
          overlay = value
          for (const entry of entries.values()) entry.visible = view(entry.session)
        }),
      refresh: (sessionId) =>
        Effect.sync(() => {
          const entry = entries.get(sessionId)
          if (entry !== undefined) show(entry, "local", true)
        }),
      addLocal: (session) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            if (tombstones.has(session.id) || entries.has(session.id)) return
            apply(session, "local", now)
            const entry = entries.get(session.id)
            if (entry !== undefined) entry.local = true
          })),
      undelete: (sessionId) => Effect.sync(() => restore(sessionId)),
      coherent: Effect.sync(() => coherent),
      size: Effect.sync(() => entries.size)
    }
    return service
  })

/**
 * The cache as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<SessionCache, never, OpenCodeClient.OpenCodeClient | SessionEvents> => Layer.effect(SessionCache, make(options))
