/**
 * How a failure ends the command: one line on stderr saying what went wrong and what to try,
 * and a documented exit code. The mapping is a record over every error a command can fail
 * with, so an error type that is not mapped does not compile.
 *
 * @since 0.1.0
 */
import type * as ValidationError from "@effect/cli/ValidationError"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"

/**
 * The exit codes of `plue`.
 *
 * @since 0.1.0
 */
export const ExitCode = {
  ok: 0,
  /** Anything unexpected: a server error, an answer that does not decode, a bug. */
  internal: 1,
  /** Bad arguments: unknown command or option, a missing or malformed value, a malformed session id. */
  usage: 2,
  /** The session does not exist (or was deleted). */
  notFound: 3,
  /** The server refused the password. */
  unauthorized: 4,
  /** The server could not be reached (or the local one could not be started). */
  unreachable: 5,
  /** Interrupted (Ctrl-C). */
  interrupted: 130
} as const

/**
 * `plue outbox flush` left operations unapplied (unreachable, conflicts, dead letters).
 *
 * @since 0.1.0
 */
export class OutboxNotApplied extends Schema.TaggedError<OutboxNotApplied>("@plue/cli/OutboxNotApplied")("OutboxNotApplied", {
  count: Schema.Number
}) {
  override get message(): string {
    return `${this.count} outbox operation${this.count === 1 ? " was" : "s were"} not applied`
  }
}

/**
 * A mistake on the command line, with what to type instead.
 *
 * @since 0.1.0
 */
export class UsageError extends Schema.TaggedError<UsageError>("@plue/cli/UsageError")("UsageError", {
  message: Schema.String
}) {}

/**
 * `plue share-server --store` could not use its database at start.
 *
 * @since 0.1.0
 */
export class ShareStoreUnavailable extends Schema.TaggedError<ShareStoreUnavailable>("@plue/cli/ShareStoreUnavailable")(
  "ShareStoreUnavailable",
  { message: Schema.String }
) {}

/**
 * `plue host` could not reach the server within its bounded wait.
 *
 * @since 0.1.0
 */
export class HostUnreachable extends Schema.TaggedError<HostUnreachable>("@plue/cli/HostUnreachable")("HostUnreachable", {
  url: Schema.String,
  attempts: Schema.Number,
  seconds: Schema.Number,
  detail: Schema.String
}) {
  override get message(): string {
    // The last reason may already ask whether the server runs there: ask once.
    const last = this.detail.split("\n")[0]!.replace(/\s*Is the server running at that address\?$/, "")
    return `OpenCode unreachable at ${this.url}: tried ${
      this.attempts + 1
    } time(s) over ${this.seconds} s, last: ${last} Is the server running there? Check --url / OPENCODE_URL.`
  }
}

/**
 * The server could not share a session: it has no share service it can reach.
 *
 * @since 0.1.0
 */
export class ShareFailed extends Schema.TaggedError<ShareFailed>("@plue/cli/ShareFailed")("ShareFailed", {
  sessionId: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `the server could not share ${this.sessionId} (${this.detail}): it has no share service it can reach. ` +
      "Run `plue share-server` and set OpenCode's enterprise.url to it, or run plue without --url (a local server shares through plue's own service)."
  }
}

/**
 * OpenCode's init turn could not run on the model asked for.
 *
 * @since 0.1.0
 */
export class InitFailed extends Schema.TaggedError<InitFailed>("@plue/cli/InitFailed")("InitFailed", {
  sessionId: Schema.String,
  model: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `OpenCode could not run init on ${this.sessionId} with ${this.model} (${this.detail.replace(/[.\s]+$/, "")}). ` +
      "Most often the server does not know that provider or model: check --provider and --model (`opencode models` lists them); else the server's log says why."
  }
}

/**
 * The exit status a command chose for itself (`plue host` ends with its host's status): not a
 * failure, a value the command leaves for `bin.ts`.
 *
 * @since 0.1.0
 */
export class ExitStatus extends Context.Tag("@plue/cli/ExitStatus")<ExitStatus, Ref.Ref<number>>() {}

/**
 * How one failure ends the command.
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly code: number
  /** The line after `plue: ` (only its first line is printed). */
  readonly line: string
}

/**
 * A record with an entry for each `_tag` of `E`: the compiler rejects one that misses a tag.
 *
 * @since 0.1.0
 */
export type Mapping<E extends { readonly _tag: string }> = {
  readonly [K in E["_tag"]]: (error: Extract<E, { readonly _tag: K }>) => Outcome
}

/**
 * Every way a `plue` command can fail: the commands' errors and the framework's parse errors.
 *
 * @since 0.1.0
 */
export type CliError = Effect.Effect.Error<ReturnType<typeof import("./main.js").run>>

const usage = (error: { readonly message: string }): Outcome => ({ code: ExitCode.usage, line: error.message })
const internal = (error: { readonly message: string }): Outcome => ({ code: ExitCode.internal, line: error.message })
const config = (error: ConfigError.ConfigError): Outcome => ({
  code: ExitCode.usage,
  line: `environment: ${String(error).replace(/\s+/g, " ")}; fix or unset that variable`
})
const parse = (error: ValidationError.ValidationError): Outcome => ({ code: ExitCode.usage, line: helpText(error) })

/** The framework's own message, as plain text on one line. */
const helpText = (error: ValidationError.ValidationError): string => {
  const text = "error" in error ? JSON.stringify(error.error) : ""
  // A HelpDoc is a tree of spans; its texts, in order, are the message.
  const words: Array<string> = []
  JSON.parse(text, (key, value) => {
    if (key === "value" && typeof value === "string") words.push(value)
    return value
  })
  return words.join("").replace(/\s+/g, " ").trim() || error._tag
}

/**
 * The exit code and line of every failure, by `_tag`.
 *
 * @since 0.1.0
 */
export const outcomes: Mapping<CliError> = {
  UsageError: usage,
  InvalidSessionId: usage,
  // A PLUE_* / OPENCODE_* variable that does not hold what it should.
  ConfigError: config,
  CommandMismatch: parse,
  CorrectedFlag: parse,
  HelpRequested: parse,
  InvalidArgument: parse,
  InvalidValue: parse,
  MissingValue: parse,
  MissingFlag: parse,
  MultipleValuesDetected: parse,
  MissingSubcommand: parse,
  NoBuiltInMatch: parse,
  UnclusteredFlag: parse,
  SessionNotFound: (e) => ({ code: ExitCode.notFound, line: e.message }),
  SessionDeleted: (e) => ({ code: ExitCode.notFound, line: `session ${e.sessionId} was deleted (by another client) while this command used it` }),
  Unauthorized: (e) => ({
    code: ExitCode.unauthorized,
    line: e.passwordSent
      ? `OpenCode refused the password (${e.status} on ${e.request.method} ${e.request.url}); check --password / OPENCODE_SERVER_PASSWORD`
      : `OpenCode needs a password (${e.status} on ${e.request.method} ${e.request.url}); pass --password or set OPENCODE_SERVER_PASSWORD`
  }),
  Unreachable: (e) => ({ code: ExitCode.unreachable, line: e.databaseLocked === true ? e.message : `${e.message} (check --url / OPENCODE_URL)` }),
  ServerStartError: (e) => ({ code: ExitCode.unreachable, line: e.message }),
  HostUnreachable: (e) => ({ code: ExitCode.unreachable, line: e.message }),
  ShareStoreUnavailable: (e) => ({ code: ExitCode.unreachable, line: e.message }),
  HostFailed: usage,
  BadRequest: internal,
  ServerError: internal,
  ProtocolError: internal,
  InvalidHandle: internal,
  Aborted: internal,
  ShareUnavailable: internal,
  OutboxError: internal,
  OutboxNotApplied: internal,
  OperationNotFound: (e) => ({ code: ExitCode.notFound, line: e.message }),
  ShareFailed: internal,
  InitFailed: internal,
  BadArgument: internal,
  SystemError: internal,
  // `plue serve` run by hand: it serves only the socket a C program's plue_init hands it.
  SidecarError: (e) => ({ code: ExitCode.usage, line: e.message }),
  ServeError: (e) => ({ code: ExitCode.internal, line: `the share server could not listen: ${String(e.cause)}; is the port free?` })
}

/**
 * The exit code and the line to print for a failure.
 *
 * @since 0.1.0
 */
export const describe = (error: CliError): Outcome => (outcomes[error._tag] as (error: CliError) => Outcome)(error)
