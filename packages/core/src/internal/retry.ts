import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** How a failed attempt may be retried: not at all, quickly (connection), or slowly (storage). */
export type RetryKind = "transient" | "storage"

/** The retry settings of one connection (see `ConnectionSettings`). */
export interface RetrySettings {
  /** Retries after a connection failure or a 502/503/504. */
  readonly retries: number
  /** From the start of a call, the time after which no storage retry starts; zero: none. */
  readonly storageRetryBudget: Duration.Duration
  /** The first wait before a storage retry; it doubles each time. */
  readonly storageRetryDelay: Duration.Duration
  /** The cap of the wait between two storage retries, before jitter. */
  readonly storageRetryMaxDelay: Duration.Duration
  /** The connection's retry tokens: every retry takes one; zero disables retrying. */
  readonly retryTokens: number
  /** One token comes back per this much time, up to `retryTokens`. */
  readonly retryTokenRefill: Duration.Duration
}

/**
 * The fast schedule after a connection failure: 40 ms, doubling, capped at 1 s, each wait then
 * jittered (0.8x to 1.2x, Effect's Random), `retries` retries in all. Waits on Effect's Clock.
 */
export const transientSchedule = (retries: number): Schedule.Schedule<unknown, unknown> =>
  Schedule.exponential(Duration.millis(40), 2).pipe(
    Schedule.either(Schedule.spaced(Duration.seconds(1))),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, retries)))
  )

/**
 * The slow schedule after OpenCode's storage error: `delay`, doubling, capped at `maxDelay`, each
 * wait then jittered (0.8x to 1.2x, Effect's Random); it stops when the wait would end after
 * `deadline` (ms on Effect's Clock). Outputs each wait.
 */
export const storageSchedule = (
  settings: Pick<RetrySettings, "storageRetryDelay" | "storageRetryMaxDelay">,
  deadline: number
): Schedule.Schedule<Duration.Duration, unknown> =>
  Schedule.exponential(settings.storageRetryDelay, 2).pipe(
    Schedule.either(Schedule.spaced(settings.storageRetryMaxDelay)),
    Schedule.jittered,
    Schedule.delays,
    Schedule.checkEffect((_, wait) => Effect.map(Clock.currentTimeMillis, (now) => now + Duration.toMillis(wait) <= deadline))
  )

/**
 * A connection's retry budget: a token bucket shared by every call of the connection. A retry
 * takes a token; tokens come back one per `refill`, up to `capacity`. While the bucket is empty,
 * failures are not retried, so a server that is down for good gets one request per call (and the
 * caller its error at once), not a multiple of them. Time from Effect's Clock.
 */
export interface RetryTokens {
  /** Takes a token if there is one. */
  readonly take: Effect.Effect<boolean>
  /** Puts back a token taken for a retry that was not made. */
  readonly giveBack: Effect.Effect<void>
  /** Tokens available now (for tests and diagnostics). */
  readonly available: Effect.Effect<number>
}

/** Makes a full bucket. */
export const makeRetryTokens = (capacity: number, refill: Duration.Duration): RetryTokens => {
  const refillMillis = Math.max(1, Duration.toMillis(refill))
  let tokens = capacity
  let last: number | undefined
  const settle = (now: number) => {
    if (last !== undefined && now > last) tokens = Math.min(capacity, tokens + (now - last) / refillMillis)
    last = last === undefined || now > last ? now : last
  }
  return {
    take: Effect.clockWith((clock) =>
      Effect.sync(() => {
        settle(clock.unsafeCurrentTimeMillis())
        if (tokens < 1) return false
        tokens -= 1
        return true
      })
    ),
    giveBack: Effect.sync(() => {
      tokens = Math.min(capacity, tokens + 1)
    }),
    available: Effect.clockWith((clock) =>
      Effect.sync(() => {
        settle(clock.unsafeCurrentTimeMillis())
        return tokens
      })
    )
  }
}
