/**
 * Progress for people, on stderr, for what takes more than a moment (starting a local server,
 * initialize, and whatever else a command wraps in `show`): a spinner line when stderr is a
 * terminal, a plain line per phase under `ACCESSIBLE` or `TERM=dumb` (or with `--json`), and
 * nothing at all when stderr is not a terminal. Nothing is written for what ends within the
 * delay.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import type * as SessionEvents from "@plue/core/SessionEvents"
import { sanitize, truncate } from "./Output.js"

/**
 * How progress is shown: `spinner` (one line redrawn in place), `lines` (a plain line per phase,
 * no escape codes) or `off`.
 *
 * @since 0.1.0
 */
export type Style = "spinner" | "lines" | "off"

/**
 * The style for this process: `off` unless stderr is a terminal (so redirected output never has
 * progress in it, let alone escape codes); `lines` with `--json` (machine output never comes with
 * escape codes), under `ACCESSIBLE` (set, not empty or `0`) and with `TERM=dumb`; else `spinner`.
 *
 * @since 0.1.0
 */
export const style = (
  stderrIsTty: boolean,
  env: Readonly<Record<string, string | undefined>>,
  json: boolean
): Style => {
  if (!stderrIsTty) return "off"
  const accessible = env.ACCESSIBLE !== undefined && env.ACCESSIBLE !== "" && env.ACCESSIBLE !== "0"
  if (json || accessible || env.TERM === "dumb") return "lines"
  return "spinner"
}

/**
 * Whether the spinner may use colour: `NO_COLOR` unset or empty.
 *
 * @since 0.1.0
 */
export const colorEnabled = (env: Readonly<Record<string, string | undefined>>): boolean => env.NO_COLOR === undefined || env.NO_COLOR === ""

/**
 * What a running operation tells the indicator.
 *
 * @since 0.1.0
 */
export interface Indicator {
  /** What is happening now: the spinner shows it; `lines` prints it (once per change). */
  readonly update: (text: string) => void
  /**
   * Writes `text` (whole lines) to stdout while the indicator runs: a spinner's line is erased
   * first and drawn again after, so the two never share a line.
   */
  readonly print: (text: string) => void
}

/**
 * Options of `show`.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The command prints JSON: no spinner, plain lines at most. */
  readonly json?: boolean | undefined
  /** Nothing is shown for what ends sooner. Default 300 ms. */
  readonly delay?: Duration.DurationInput | undefined
  /** Overrides the style computed from the terminal and the environment. */
  readonly style?: Style | undefined
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
const ERASE_LINE = "\r\x1b[2K"

/**
 * Runs `f` with an indicator that starts as `text`; the indicator is gone (its line erased) when
 * `f` ends, however it ends.
 *
 * @since 0.1.0
 */
export const show = <A, E, R>(
  text: string,
  f: (indicator: Indicator) => Effect.Effect<A, E, R>,
  options: Options = {}
): Effect.Effect<A, E, R> => {
  const how = options.style ?? style(process.stderr.isTTY === true, process.env, options.json === true)
  const out = (text: string) => void process.stdout.write(text)
  if (how === "off") return f({ update: () => {}, print: out })
  const write = (s: string) => void process.stderr.write(s)
  const color = colorEnabled(process.env)
  let current = text
  let printed = ""
  let visible = false
  let frame = 0
  const line = () => {
    if (current === printed) return
    printed = current
    write(`plue: ${sanitize(current)}\n`)
  }
  const draw = () => {
    const glyph = FRAMES[frame++ % FRAMES.length]!
    // A terminal that does not say its width (0) is taken as 80 columns.
    const width = Math.max(10, (process.stderr.columns || 80) - 3)
    write(`${ERASE_LINE}${color ? `\x1b[36m${glyph}\x1b[39m` : glyph} ${truncate(sanitize(current), width)}`)
  }
  const indicator: Indicator = {
    update: (next) => {
      current = next
      if (visible && how === "lines") line()
    },
    print: (text) => {
      if (!visible || how !== "spinner") return out(text)
      write(ERASE_LINE)
      out(text)
      frame--
      draw()
    }
  }
  const appear = Effect.sync(() => {
    visible = true
    if (how === "lines") line()
  })
  const ticker = Effect.sleep(options.delay ?? Duration.millis(300)).pipe(
    Effect.zipRight(appear),
    Effect.zipRight(how === "spinner" ? Effect.repeat(Effect.sync(draw), Schedule.spaced(Duration.millis(80))) : Effect.never)
  )
  // Forked interruptible: an acquire runs uninterruptibly, and a ticker inheriting that could
  // never be stopped (its release would wait for it forever).
  return Effect.acquireUseRelease(
    Effect.forkDaemon(Effect.interruptible(ticker)),
    () => f(indicator),
    (fiber) =>
      Effect.zipRight(
        Fiber.interrupt(fiber),
        Effect.sync(() => {
          if (visible && how === "spinner") write(ERASE_LINE)
        })
      )
  )
}

/**
 * What a phase of an operation means to a person (`undefined` for the end, which the command's
 * own result line says).
 *
 * @since 0.1.0
 */
export const phaseText = (event: SessionEvents.Progress): string | undefined => {
  switch (event.phase) {
    case "queued":
      return "queued"
    case "sending":
      return "sending"
    case "waiting":
      return "waiting for the model"
    case "retrying":
      return `retrying (attempt ${event.attempt ?? "?"})${event.reason !== undefined ? `: ${event.reason}` : ""}`
    case "done":
    case "failed":
      return undefined
  }
}
