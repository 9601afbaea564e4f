/**
 * Waiting in tests: for a condition, never for a fixed time. A test that needs something to have
 * happened (a process started, an event arrived, a counter moved) polls for it on the live clock,
 * with a generous ceiling, and fails with a `WaitTimeout` naming what it waited for.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/**
 * A condition was not met within its ceiling.
 *
 * @since 0.1.0
 */
export class WaitTimeout extends Data.TaggedError("WaitTimeout")<{ readonly what: string; readonly after: Duration.Duration }> {
  override get message() {
    return `timed out after ${Duration.format(this.after)} waiting for ${this.what}`
  }
}

/**
 * How long a wait may take by default: far beyond what anything takes on a quiet machine, so that
 * a saturated one still passes, while a real hang still ends the test.
 *
 * @since 0.1.0
 */
export const defaultCeiling: Duration.Duration = Duration.seconds(60)

/**
 * Options of `until`.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The ceiling. Default `defaultCeiling` (60 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Time between two checks. Default 25 ms. */
  readonly every?: Duration.DurationInput | undefined
}

/**
 * Checks `condition` until it holds (at once if it already does), failing with `WaitTimeout`
 * after the ceiling. The polling and the ceiling use the live clock, also inside a test that runs
 * on the `TestClock`; the condition itself runs with the caller's clock. Not for finalizers: they
 * are uninterruptible, so the ceiling could not cut the wait there.
 *
 * @since 0.1.0
 */
export const until = <E = never, R = never>(
  what: string,
  condition: (() => boolean) | Effect.Effect<boolean, E, R>,
  options: Options = {}
): Effect.Effect<void, E | WaitTimeout, R> =>
  Effect.flatMap(Effect.clock, (callerClock) => {
    const after = Duration.decode(options.timeout ?? defaultCeiling)
    const check = Effect.withClock(Effect.isEffect(condition) ? condition : Effect.sync(condition), callerClock)
    return check.pipe(
      Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced(options.every ?? Duration.millis(25)) }),
      Effect.asVoid,
      Effect.timeoutFail({ duration: after, onTimeout: () => new WaitTimeout({ what, after }) }),
      Effect.withClock(Clock.make())
    )
  })
