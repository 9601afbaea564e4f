/**
 * The progress hook: code deep inside an operation (the request pipeline's retries, a relay of
 * the server's own status) reports a phase to whoever runs the operation, without knowing who
 * that is. The session manager installs a reporter around each of its operations and publishes
 * what it is told as `Progress` events (`SessionEvents`); outside such an operation a report is
 * a no-op.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Progress } from "@plue/core"
 *
 * // In a retry loop: say that attempt 2 follows, and why.
 * const beforeRetry = (attempt: number, error: Error) => Progress.retrying(attempt, error.message)
 *
 * // Collect what an effect reports (the session manager publishes it instead).
 * const seen: Array<Progress.Update> = []
 * const program = beforeRetry(1, new Error("connection refused")).pipe(
 *   Progress.withReporter({ report: (update) => seen.push(update) })
 * )
 * Effect.runSync(program)
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import type { ProgressPhase } from "./SessionEvents.js"

/**
 * One report: the new phase, and for `retrying` the retry's number (1 for the first) and why.
 *
 * @since 0.1.0
 */
export interface Update {
  readonly phase: ProgressPhase
  readonly attempt?: number | undefined
  readonly reason?: string | undefined
}

/**
 * Receives the reports of the operation it was installed around. Called synchronously, so a
 * report is in order with what the operation does next.
 *
 * @since 0.1.0
 */
export interface Reporter {
  readonly report: (update: Update) => void
}

/**
 * The reporter of the operation the current fiber works for (inherited by the fibers it forks).
 *
 * @since 0.1.0
 */
export const currentReporter: FiberRef.FiberRef<Reporter | undefined> = globalValue(
  Symbol.for("@plue/core/Progress/currentReporter"),
  () => FiberRef.unsafeMake<Reporter | undefined>(undefined)
)

/**
 * Reports a phase to the current operation's reporter, if there is one.
 *
 * @since 0.1.0
 */
export const report = (update: Update): Effect.Effect<void> =>
  FiberRef.getWith(currentReporter, (reporter) => (reporter === undefined ? Effect.void : Effect.sync(() => reporter.report(update))))

/**
 * Reports that a failed attempt will be sent again: `attempt` counts retries from 1, `reason` says
 * what failed. For retry loops (the request pipeline's).
 *
 * @since 0.1.0
 */
export const retrying = (attempt: number, reason: string): Effect.Effect<void> => report({ phase: "retrying", attempt, reason })

/**
 * Runs `self` with `reporter` receiving its reports.
 *
 * @since 0.1.0
 */
export const withReporter = (reporter: Reporter) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, currentReporter, reporter)

/**
 * A short reason from a failure: its message's first line, at most 300 characters.
 *
 * @since 0.1.0
 */
export const reasonOf = (error: unknown): string => {
  const message = error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { message: unknown }).message)
    : String(error)
  const line = message.split("\n")[0] ?? ""
  return line.length > 300 ? `${line.slice(0, 299)}…` : line
}
