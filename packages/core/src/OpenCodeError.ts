/**
 * The typed failures of talking to an OpenCode server. Every one is a `Schema.TaggedError`, so it
 * can cross into C or the CLI as data, and each message says what failed, where, and what to try.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** A detail as the middle of a sentence: without the full stop it may end with (the message adds its own). */
const clause = (text: string): string => text.trimEnd().replace(/[.\s]+$/, "")

/**
 * Where a failed request went: method and path (never credentials).
 *
 * @since 0.1.0
 */
export const RequestTarget = Schema.Struct({
  method: Schema.String,
  url: Schema.String
})

/**
 * A session id that is not of OpenCode's shape. Raised before any request is sent.
 *
 * @since 0.1.0
 */
export class InvalidSessionId extends Schema.TaggedError<InvalidSessionId>("@plue/core/InvalidSessionId")(
  "InvalidSessionId",
  { input: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `Invalid session id ${this.input}: ${clause(this.reason)}. Session ids look like ses_df557fc75ffe8uAWx0P0wTjSPl.`
  }
}

/**
 * The server has no session with this id (HTTP 404), or it was deleted.
 *
 * @since 0.1.0
 */
export class SessionNotFound extends Schema.TaggedError<SessionNotFound>("@plue/core/SessionNotFound")(
  "SessionNotFound",
  { sessionId: Schema.String, request: RequestTarget }
) {
  override get message(): string {
    return `Session ${this.sessionId} not found on the OpenCode server (${this.request.method} ${this.request.url}). It may have been deleted; list sessions to see what exists.`
  }
}

/**
 * The server refused our credentials (HTTP 401/403).
 *
 * @since 0.1.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>("@plue/core/Unauthorized")(
  "Unauthorized",
  { request: RequestTarget, status: Schema.Number, passwordSent: Schema.Boolean }
) {
  override get message(): string {
    const hint = this.passwordSent
      ? "the password was refused; check OPENCODE_SERVER_PASSWORD"
      : "the server needs a password; set OPENCODE_SERVER_PASSWORD"
    return `OpenCode answered ${this.status} to ${this.request.method} ${this.request.url}: ${hint}.`
  }
}

/**
 * The server rejected the request as malformed (HTTP 400 or 422).
 *
 * @since 0.1.0
 */
export class BadRequest extends Schema.TaggedError<BadRequest>("@plue/core/BadRequest")(
  "BadRequest",
  { request: RequestTarget, status: Schema.Number, detail: Schema.String }
) {
  override get message(): string {
    return `OpenCode rejected ${this.request.method} ${this.request.url} as a bad request (${this.status}): ${this.detail}`
  }
}

/**
 * The server failed (HTTP 5xx or another unexpected status). `attempts` is set when the call was
 * retried (how many times it was sent in all).
 *
 * @since 0.1.0
 */
export class ServerError extends Schema.TaggedError<ServerError>("@plue/core/ServerError")(
  "ServerError",
  { request: RequestTarget, status: Schema.Number, detail: Schema.String, attempts: Schema.optional(Schema.Number) }
) {
  override get message(): string {
    const tried = this.attempts !== undefined && this.attempts > 1 ? ` (sent ${this.attempts} times)` : ""
    const retried = this.attempts !== undefined && this.attempts > 1
    const hint = this.status !== 500
      ? " The server log may say more."
      : retried
      ? " OpenCode answers this while its database is locked by another process. The server log may say more."
      : " OpenCode also answers this while its database is locked by another process. The server log may say more."
    return `OpenCode failed on ${this.request.method} ${this.request.url} with status ${this.status}${tried}: ${clause(this.detail)}.${hint}`
  }
}

/**
 * Why the server could not be reached.
 *
 * @since 0.1.0
 */
export const UnreachableReason = Schema.Literal("refused", "reset", "timeout", "heartbeat", "transport")

/**
 * @since 0.1.0
 */
export type UnreachableReason = typeof UnreachableReason.Type

/**
 * The server could not be reached: connection refused or reset, no answer within the timeout,
 * or an event stream that went silent past its heartbeat deadline. `databaseLocked` is set on a
 * write that got no answer in time while the connection's writes were meeting OpenCode's storage
 * error (its database locked by another process): OpenCode holds writes, one at a time, until the
 * lock ends, and may still apply this one then.
 *
 * @since 0.1.0
 */
export class Unreachable extends Schema.TaggedError<Unreachable>("@plue/core/Unreachable")(
  "Unreachable",
  { request: RequestTarget, reason: UnreachableReason, detail: Schema.String, databaseLocked: Schema.optional(Schema.Boolean) }
) {
  override get message(): string {
    if (this.databaseLocked === true) {
      return `OpenCode did not answer ${this.request.method} ${this.request.url} in time${
        this.detail ? ` (${clause(this.detail)})` : ""
      }: its database is locked by another process, and OpenCode holds writes, one at a time, until the lock ends; it may still apply this one then.`
    }
    const what = {
      refused: "connection refused",
      reset: "connection reset",
      timeout: "no answer in time",
      heartbeat: "the event stream went silent (no heartbeat)",
      transport: "transport failure"
    }[this.reason]
    return `OpenCode unreachable on ${this.request.method} ${this.request.url}: ${what}${
      this.detail ? ` (${clause(this.detail)})` : ""
    }. Is the server running at that address?`
  }
}

/**
 * The server answered something we could not read: what failed to decode, and where.
 *
 * @since 0.1.0
 */
export class ProtocolError extends Schema.TaggedError<ProtocolError>("@plue/core/ProtocolError")(
  "ProtocolError",
  { request: RequestTarget, what: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `Unexpected answer from OpenCode to ${this.request.method} ${this.request.url}: could not decode ${this.what}: ${this.detail}`
  }
}

/**
 * Every failure the OpenCode client can report.
 *
 * @since 0.1.0
 */
export type OpenCodeError =
  | InvalidSessionId
  | SessionNotFound
  | Unauthorized
  | BadRequest
  | ServerError
  | Unreachable
  | ProtocolError

/**
 * Schema of every OpenCode client failure, for crossing a boundary as data.
 *
 * @since 0.1.0
 */
export const OpenCodeError: Schema.Union<[
  typeof InvalidSessionId,
  typeof SessionNotFound,
  typeof Unauthorized,
  typeof BadRequest,
  typeof ServerError,
  typeof Unreachable,
  typeof ProtocolError
]> = Schema.Union(
  InvalidSessionId,
  SessionNotFound,
  Unauthorized,
  BadRequest,
  ServerError,
  Unreachable,
  ProtocolError
)
