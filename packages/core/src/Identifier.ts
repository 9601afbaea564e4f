/**
 * OpenCode identifiers: the session id shape that is allowed near a URL, and the ascending
 * `msg_` ids the client generates for `init` and prompts.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { InvalidSessionId } from "./OpenCodeError.js"

/**
 * The only session id shape plue lets into a URL path: `ses_` then 1-64 ASCII letters or digits.
 * OpenCode's own ids are `ses_` + 12 hex digits + 14 base62 characters. Anything else (`..`, `/`,
 * `%`, NUL, whitespace, empty, oversized) is refused before a request is built.
 *
 * @since 0.1.0
 */
export const SessionIdPattern = /^ses_[0-9A-Za-z]{1,64}$/

/**
 * A validated OpenCode session id.
 *
 * @since 0.1.0
 */
export const SessionId = Schema.String.pipe(
  Schema.pattern(SessionIdPattern, {
    message: () => "a session id is `ses_` followed by 1-64 ASCII letters or digits"
  }),
  Schema.brand("@plue/core/SessionId")
)

/**
 * @since 0.1.0
 */
export type SessionId = typeof SessionId.Type

/**
 * A validated OpenCode message id (`msg_` then ASCII letters or digits).
 *
 * @since 0.1.0
 */
export const MessageId = Schema.String.pipe(
  Schema.pattern(/^msg_[0-9A-Za-z]{1,64}$/),
  Schema.brand("@plue/core/MessageId")
)

/**
 * @since 0.1.0
 */
export type MessageId = typeof MessageId.Type

const isSessionId = Schema.is(SessionId)

/** Shows a refused id in a message without flooding it or echoing control bytes. */
const preview = (input: string): string => {
  const shown = JSON.stringify(input.length > 48 ? `${input.slice(0, 48)}…` : input)
  return input.length > 48 ? `${shown} (${input.length} characters)` : shown
}

const refusal = (input: string): string => {
  if (input.length === 0) return "it is empty"
  if (input.length > 68) return "it is too long"
  if (!input.startsWith("ses_")) return "it does not start with `ses_`"
  return "it contains characters other than ASCII letters and digits"
}

/**
 * Checks an untrusted string and returns it as a `SessionId`, or fails with `InvalidSessionId`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Identifier } from "@plue/core"
 *
 * const id = Identifier.parseSessionId("ses_df557fc75ffe8uAWx0P0wTjSPl")
 * Effect.runSync(id) // "ses_df557fc75ffe8uAWx0P0wTjSPl"
 * ```
 *
 * @since 0.1.0
 */
export const parseSessionId = (input: unknown): Effect.Effect<SessionId, InvalidSessionId> => {
  if (isSessionId(input)) return Effect.succeed(input)
  if (typeof input !== "string") {
    return Effect.fail(new InvalidSessionId({ input: String(input).slice(0, 48), reason: "it is not a string" }))
  }
  return Effect.fail(new InvalidSessionId({ input: preview(input), reason: refusal(input) }))
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

let lastValue = 0n

/**
 * Generates a message id in OpenCode's ascending format: `msg_`, 12 hex digits of
 * `(milliseconds * 4096 + counter)`, then 14 random base62 characters. Every id is greater than
 * the one before it, also within one millisecond, past 4096 ids a millisecond, and when the wall
 * clock steps back. `now` is the time in ms (the client reads it from Effect's `Clock`).
 *
 * @since 0.1.0
 */
export const ascendingMessageId = (now: number): MessageId => MessageId.make(ascending("msg_", now))

const ascending = (prefix: string, now: number): string => {
  const fromClock = BigInt(now) * 4096n + 1n
  const value = fromClock > lastValue ? fromClock : lastValue + 1n
  lastValue = value
  const time = (value & 0xffffffffffffn).toString(16).padStart(12, "0")
  const bytes = new Uint8Array(14)
  globalThis.crypto.getRandomValues(bytes)
  let random = ""
  for (const byte of bytes) random += BASE62[byte % 62]
  return `${prefix}${time}${random}`
}

/**
 * Generates a session id in OpenCode's format (`ses_`, 12 hex digits from the time, 14 random
 * base62 characters): the id of a session created while the server is unreachable, sent later
 * through OpenCode's create-by-id route.
 *
 * @since 0.1.0
 */
export const localSessionId = (now: number): SessionId => SessionId.make(ascending("ses_", now))

/**
 * Generates an outbox operation id: `op_` then the same ascending shape, so ids sort in the order
 * they were made.
 *
 * @since 0.1.0
 */
export const operationId = (now: number): string => ascending("op_", now)
