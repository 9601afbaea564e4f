/**
 * Runs a batch of session operations over the manager's own operations: one handle per
 * operation (a delete by id, without one), one chain per session (its operations in input order), at most `concurrency`
 * chains at once, so at most that many operations in flight.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { Session } from "../OpenCodeSchema.js"
import type { SessionError } from "../PlueError.js"
import { DEFAULT_CONCURRENCY, type Operation, type Options, type Result } from "../SessionBulk.js"
import type { SessionEvent } from "../SessionEvents.js"
import type { Handle, Service } from "../SessionManager.js"

/** What the batch needs of the manager. */
export interface Manager extends Pick<Service, "create" | "open" | "info" | "updateTitle" | "abort" | "share" | "unshare" | "destroy"> {
  /**
   * Deletes a session by id as `open`, `info`, `delete` and `destroy` on a handle would, without
   * the handle: the session as it was just before, and how many sessions went.
   */
  readonly deleteById: (sessionId: string) => Effect.Effect<{ readonly session: Session; readonly deleted: number }, SessionError>
}

/** BulkProgress is published at most this often. */
const PROGRESS_EVERY = 100

type Success = Omit<Extract<Result, { readonly status: "ok" }>, "status" | "index" | "op">

/** Operations on one session share a chain; a create without parent is a chain of its own. */
const chainKey = (op: Operation, index: number): string => op.op === "create" ? (op.parent !== undefined ? `s:${op.parent}` : `c:${index}`) : `s:${op.session}`

/** The same operation with the same arguments. */
const sameOperation = (a: Operation, b: Operation): boolean =>
  a.op === b.op && (a.op !== "create" && b.op !== "create") && a.session === b.session &&
  (a.op === "title" ? a.title === (b as typeof a).title : true)

export const run = (
  manager: Manager,
  publish: (event: SessionEvent) => void,
  scope: Scope.Scope,
  batch: number,
  operations: ReadonlyArray<Operation>,
  options: Options = {}
): Effect.Effect<ReadonlyArray<Result>> =>
  Effect.gen(function*() {
    const concurrency = Number.isFinite(options.concurrency) ? Math.max(1, Math.floor(options.concurrency!)) : DEFAULT_CONCURRENCY
    const total = operations.length
    const results = new Array<Result | undefined>(total)
    let done = 0
    let failed = 0
    let stopped = false
    const isCancelled = options.cancel === undefined ? Effect.succeed(false) : Deferred.isDone(options.cancel)
    const record = (result: Result) => {
      results[result.index] = result
      options.onResult?.(result)
    }

    // The plan: a chain per session; an operation that repeats the previous one on its session
    // is skipped now.
    const chains = new Map<string, Array<number>>()
    operations.forEach((op, index) => {
      const key = chainKey(op, index)
      const chain = chains.get(key)
      const previous = chain?.[chain.length - 1]
      if (previous !== undefined && sameOperation(operations[previous]!, op)) {
        record({ status: "skipped", index, op, reason: "duplicate", duplicateOf: previous })
        done++
        return
      }
      if (chain === undefined) chains.set(key, [index])
      else chain.push(index)
    })
    if (total === 0) return []

    // BulkProgress: at once, then at most every 100 ms while something changed, and the final
    // count (delayed, off this fiber, when the last one went out less than 100 ms ago).
    let lastAt = Number.NEGATIVE_INFINITY
    let lastSent = ""
    const state = () => `${done}/${failed}`
    const send = (now: number, d: number, f: number) => {
      lastAt = now
      lastSent = `${d}/${f}`
      publish({ _tag: "BulkProgress", batch, done: d, failed: f, total })
    }
    const tick = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        if (state() !== lastSent && now - lastAt >= PROGRESS_EVERY) send(now, done, failed)
      }))
    send(yield* Clock.currentTimeMillis, done, failed)
    const ticker = yield* Effect.fork(Effect.forever(Effect.zipRight(Effect.sleep(PROGRESS_EVERY), tick)))

    const withHandle = <A>(acquire: Effect.Effect<Handle, SessionError>, use: (handle: Handle) => Effect.Effect<A, SessionError>) =>
      Effect.acquireUseRelease(acquire, use, (handle) => Effect.ignore(manager.destroy(handle)))
    const session = (s: Session): Success => ({ session: s })

    const perform = (op: Operation): Effect.Effect<Success, SessionError> => {
      switch (op.op) {
        case "create":
          return withHandle(
            manager.create({ parentID: op.parent, title: op.title }),
            (h) => Effect.map(manager.info(h), session)
          )
        case "title":
          return withHandle(manager.open(op.session), (h) => Effect.map(manager.updateTitle(h, op.title), session))
        case "delete":
          return manager.deleteById(op.session)
        case "abort":
          return withHandle(manager.open(op.session), (h) => Effect.zipRight(manager.abort(h), Effect.map(manager.info(h), session)))
        case "share":
          return withHandle(manager.open(op.session), (h) =>
            Effect.map(manager.share(h), (r): Success => ({
              session: r.session,
              share: {
                url: r.url,
                ...(r.secret !== undefined ? { secret: r.secret } : {}),
                ...(r.expiresAt !== undefined ? { expiresAt: r.expiresAt } : {})
              }
            })))
        case "unshare":
          return withHandle(manager.open(op.session), (h) => Effect.map(manager.unshare(h), session))
      }
    }

    const runOne = (index: number): Effect.Effect<void> =>
      Effect.flatMap(isCancelled, (cancelled) => {
        const op = operations[index]!
        if (cancelled || stopped) {
          done++
          record(cancelled ? { status: "cancelled", index, op } : { status: "skipped", index, op, reason: "stopped" })
          return Effect.void
        }
        return Effect.map(Effect.either(perform(op)), (outcome) => {
          if (Either.isRight(outcome)) {
            done++
            record({ status: "ok", index, op, ...outcome.right })
          } else {
            failed++
            done++
            if (options.stopOnError === true) stopped = true
            record({ status: "failed", index, op, error: outcome.left, message: outcome.left.message })
          }
        })
      })

    yield* Effect.forEach(chains.values(), (chain) => Effect.forEach(chain, runOne, { discard: true }), {
      concurrency,
      discard: true
    }).pipe(Effect.ensuring(Fiber.interrupt(ticker)))

    const now = yield* Clock.currentTimeMillis
    if (state() !== lastSent) {
      const wait = lastAt + PROGRESS_EVERY - now
      if (wait <= 0) send(now, done, failed)
      else {
        const [d, f] = [done, failed]
        yield* Effect.forkIn(
          Effect.zipRight(Effect.sleep(wait), Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => send(at, d, f)))),
          scope
        )
      }
    }
    return results as ReadonlyArray<Result>
  })
