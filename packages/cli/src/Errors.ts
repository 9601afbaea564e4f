/**
 * How a failure ends the command: one line on stderr saying what went wrong and what to try,
 * and a documented exit code.
 *
 * @since 0.1.0
 */

import * as ValidationError from "@effect/cli/ValidationError"

/**
 * The exit codes of `plue`.
 *
 * @since 0.1.0
 */
export const ExitCode = {
  ok: 0,
  /** Anything unexpected: a server error, an answer that does not decode, a bug. */
  internal: 1,
  /** Bad arguments: unknown command or option, a malformed session id. */
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
 * The exit code and the line to print for a failure.
 *
 * @since 0.1.0
 */
export const describe = (error: unknown): { readonly code: number; readonly line: string | undefined } => {
  // @effect/cli has already printed what was wrong with the command line.
  if (ValidationError.isValidationError(error)) return { code: ExitCode.usage, line: undefined }
  // `plue host` ends with its host's own status.
  if ((error as { _tag?: unknown })?._tag === "HostExit") return { code: (error as { status: number }).status, line: undefined }
  const tag = (error as { _tag?: unknown })?._tag
  const message = error instanceof Error ? error.message : String(error)
  switch (tag) {
    case "InvalidSessionId":
      return { code: ExitCode.usage, line: message }
    case "SessionNotFound":
    case "SessionDeleted":
      return { code: ExitCode.notFound, line: message }
    case "Unauthorized":
      return { code: ExitCode.unauthorized, line: message }
    case "Unreachable":
      return { code: ExitCode.unreachable, line: `${message} (check --url / OPENCODE_URL)` }
    case "ServerStartError":
      return { code: ExitCode.unreachable, line: message }
    case "HostFailed":
      return { code: ExitCode.usage, line: message }
    default:
      return { code: ExitCode.internal, line: message }
  }
}
