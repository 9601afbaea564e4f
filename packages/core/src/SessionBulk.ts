/**
 * Batches of session operations (`SessionManager.bulk`): what a batch is made of and what it
 * gives back, as Schemas, since both cross into C (`plue_bulk`) and the CLI as JSON.
 *
 * OpenCode has no batch route: a batch is many requests, at most `concurrency` at once, one
 * result per operation, in input order. Operations on one session run one after another, in
 * input order; different sessions run in parallel. A batch is not atomic: what succeeded stays
 * done when another operation fails.
 *
 * @since 0.1.0
 */
import type * as Deferred from "effect/Deferred"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { OpenCodeError } from "./OpenCodeError.js"
import { Session } from "./OpenCodeSchema.js"
import { OperationNotFound, OutboxError } from "./Outbox.js"
import { Aborted, InvalidHandle, SessionDeleted, ShareUnavailable } from "./PlueError.js"

/**
 * Creates a session (`parent`: as a child of that session). Never a duplicate of another create.
 *
 * @since 0.1.0
 */
export const Create = Schema.Struct({
  op: Schema.Literal("create"),
  title: Schema.optional(Schema.String),
  parent: Schema.optional(Schema.String)
})

/**
 * Sets a session's title.
 *
 * @since 0.1.0
 */
export const Title = Schema.Struct({
  op: Schema.Literal("title"),
  session: Schema.String,
  title: Schema.String
})

/**
 * Deletes, aborts, shares or unshares a session.
 *
 * @since 0.1.0
 */
export const OnSession = Schema.Struct({
  op: Schema.Literal("delete", "abort", "share", "unshare"),
  session: Schema.String
})

/**
 * One operation of a batch. Session ids are checked per operation (a malformed one fails that
 * operation with `InvalidSessionId`), so one bad id never refuses the whole batch.
 *
 * @since 0.1.0
 */
export const Operation = Schema.Union(Create, Title, OnSession)

/**
 * @since 0.1.0
 */
export type Operation = typeof Operation.Type

/**
 * The operations of a batch.
 *
 * @since 0.1.0
 */
export const Operations = Schema.Array(Operation)

/**
 * Every failure an operation of a batch can have.
 *
 * @since 0.1.0
 */
export const OperationError = Schema.Union(
  OpenCodeError,
  InvalidHandle,
  SessionDeleted,
  Aborted,
  ShareUnavailable,
  OutboxError,
  OperationNotFound
)

/**
 * What a share gave (the secret and expiry when the share service is plue's own).
 *
 * @since 0.1.0
 */
export const ShareOutcome = Schema.Struct({
  url: Schema.String,
  secret: Schema.optional(Schema.String),
  expiresAt: Schema.optional(Schema.NullOr(Schema.Number))
})

/**
 * The operation succeeded. `session` is the session after it (for `delete`: as it was just
 * before); `deleted` (delete) counts the sessions that went, children included; `share` (share)
 * is the link.
 *
 * @since 0.1.0
 */
export const Ok = Schema.Struct({
  status: Schema.Literal("ok"),
  index: Schema.Number,
  op: Operation,
  session: Session,
  deleted: Schema.optional(Schema.Number),
  share: Schema.optional(ShareOutcome)
})

/**
 * The operation failed: `error` is the tagged error (`_tag` and its fields), `message` its text.
 *
 * @since 0.1.0
 */
export const Failed = Schema.Struct({
  status: Schema.Literal("failed"),
  index: Schema.Number,
  op: Operation,
  error: OperationError,
  message: Schema.String
})

/**
 * Why an operation was not run.
 *
 * @since 0.1.0
 */
export const SkipReason = Schema.Literal("duplicate", "stopped")

/**
 * The operation was not run: it repeats the previous operation on the same session
 * (`duplicate`, with `duplicateOf` its index), or an earlier failure stopped the batch
 * (`stopped`, with `stopOnError`).
 *
 * @since 0.1.0
 */
export const Skipped = Schema.Struct({
  status: Schema.Literal("skipped"),
  index: Schema.Number,
  op: Operation,
  reason: SkipReason,
  duplicateOf: Schema.optional(Schema.Number)
})

/**
 * The batch was cancelled before this operation started; nothing was sent for it.
 *
 * @since 0.1.0
 */
export const Cancelled = Schema.Struct({
  status: Schema.Literal("cancelled"),
  index: Schema.Number,
  op: Operation
})

/**
 * The result of one operation.
 *
 * @since 0.1.0
 */
export const Result = Schema.Union(Ok, Failed, Skipped, Cancelled)

/**
 * @since 0.1.0
 */
export type Result = typeof Result.Type

/**
 * The results of a batch, one per operation, in input order.
 *
 * @since 0.1.0
 */
export const Results = Schema.Array(Result)

/**
 * How a batch runs.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Operations in flight at once (at least 1). Default 8. */
  readonly concurrency?: number | undefined
  /** After the first failure no operation starts; the rest are `skipped` (`stopped`). Default false. */
  readonly stopOnError?: boolean | undefined
  /**
   * Once this is done, no operation starts any more: those not started are `cancelled`; those in
   * flight finish and keep their results. (Interrupting the batch instead interrupts the
   * operations in flight and gives no results.)
   */
  readonly cancel?: Deferred.Deferred<void> | undefined
  /**
   * Called once per operation as soon as its result is known (a duplicate's at the start), in
   * the order they become known, so that a caller can show each result as it comes. The results
   * the batch returns are the same objects.
   */
  readonly onResult?: ((result: Result) => void) | undefined
}

/**
 * The default number of operations in flight at once.
 *
 * @since 0.1.0
 */
export const DEFAULT_CONCURRENCY = 8

/**
 * The batch itself is not valid: not an array of operations of the shapes above.
 *
 * @since 0.1.0
 */
export class InvalidBatch extends Schema.TaggedError<InvalidBatch>("@plue/core/InvalidBatch")(
  "InvalidBatch",
  { detail: Schema.String }
) {
  override get message(): string {
    return `Invalid batch of operations: ${this.detail}. A batch is a JSON array of {"op":"create","title"?,"parent"?}, {"op":"title","session","title"} or {"op":"delete"|"abort"|"share"|"unshare","session"}, or {"operations":[...],"concurrency"?,"stopOnError"?}.`
  }
}

/**
 * A batch with its options, as JSON carries it: either the array of operations alone, or
 * `{"operations": [...], "concurrency"?: n, "stopOnError"?: bool}`.
 *
 * @since 0.1.0
 */
export const Batch = Schema.Union(
  Operations,
  Schema.Struct({
    operations: Operations,
    concurrency: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))),
    stopOnError: Schema.optional(Schema.Boolean)
  })
)

const decodeBatch = Schema.decodeUnknownEither(Batch, { onExcessProperty: "error", errors: "all" })

/** `operations[0].title`, `[2].op`, or `the batch` for the top level. */
const showPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "the batch"
    : path.map((key, i) => typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`).join("")

/**
 * The most specific of a decoding's issues: the one deepest in the batch (the branches of the
 * unions that fail at the top say little), an unexpected or missing field before a wrong type.
 */
const describe = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  // An `op` that does not match is the failure of every other branch of the operation union.
  const rank = (issue: ParseResult.ArrayFormatterIssue) =>
    issue.path.length * 8 + (issue.path.at(-1) === "op" ? 0 : 4) +
    (issue._tag === "Type" || issue._tag === "Refinement" ? 3 : issue._tag === "Unexpected" ? 2 : 1)
  const best = issues.reduce((a, b) => (rank(b) > rank(a) ? b : a))
  const message = best.path.length === 0
    ? "not an array of operations, nor {\"operations\": [...]}"
    : best.message.startsWith("Expected {")
    ? "not an operation ({\"op\": ...})"
    : best.path.at(-1) === "op"
    ? `unknown op, ${best.message.replace(/^.*, (actual .*)$/, "$1")}`
    : best.message
  return `${showPath(best.path)}: ${message}`.replace(/\s+/g, " ").slice(0, 300)
}

/**
 * Reads a batch (see {@link Batch}) from JSON text; unknown fields are refused, so a typo never
 * goes unnoticed. Never throws: text that is not JSON, or nested too deeply to be read, is an
 * `InvalidBatch` too.
 *
 * @since 0.1.0
 */
export const parseBatch = (
  json: string
): Either.Either<{ readonly operations: ReadonlyArray<Operation>; readonly options: Options }, InvalidBatch> => {
  let decoded: Either.Either<typeof Batch.Type, InvalidBatch>
  try {
    let value: unknown
    try {
      value = JSON.parse(json)
    } catch (error) {
      return Either.left(new InvalidBatch({ detail: `not JSON (${String((error as Error).message).slice(0, 200)})` }))
    }
    decoded = Either.mapLeft(decodeBatch(value), (error) => new InvalidBatch({ detail: describe(error) }))
  } catch {
    // Checking or describing a value nested thousands of levels deep overflows the stack.
    return Either.left(new InvalidBatch({ detail: "nested too deeply" }))
  }
  return Either.map(decoded, (batch) => {
    if (!("operations" in batch)) return { operations: batch, options: {} }
    const { operations, ...options } = batch
    return { operations, options }
  })
}

const encodeResults = Schema.encodeSync(Results, { onExcessProperty: "preserve" })
const encodeError = Schema.encodeSync(OperationError)

/**
 * The results as plain JSON data (errors as `{_tag, ...fields}`), every field of each session kept.
 * An error carries its tag and its fields only: never the JavaScript stack of where it was made.
 *
 * @since 0.1.0
 */
export const encode = (results: ReadonlyArray<Result>): ReadonlyArray<unknown> =>
  encodeResults(results).map((encoded, i) => {
    const result = results[i]!
    return result.status === "failed" ? { ...(encoded as object), error: encodeError(result.error) } : encoded
  })
