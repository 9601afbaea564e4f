import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type { ConnectionSettings } from "../OpenCodeConnection.js"
import {
  BadRequest,
  type OpenCodeError,
  ProtocolError,
  ServerError,
  SessionNotFound,
  Unauthorized,
  Unreachable,
  type UnreachableReason
} from "../OpenCodeError.js"
import { wireParseOptions } from "../OpenCodeSchema.js"
import * as Progress from "../Progress.js"
import { compileCheck } from "./check.js"
import { makeRetryTokens, storageSchedule, transientSchedule } from "./retry.js"

/** What one call needs to know to be sent, classified and decoded. */
export interface Spec<A> {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE"
  readonly path: string
  readonly urlParams?: Record<string, string> | undefined
  readonly body?: unknown
  /** Safe to send twice: retried on a transient failure and on OpenCode's storage error. */
  readonly idempotent: boolean
  /**
   * A delete: never repeated after a transient failure, but retried on OpenCode's storage error
   * (which applies nothing); a 404 on a retry means an earlier attempt did it, and answers `value`.
   */
  readonly goneOnRetry?: { readonly value: A } | undefined
  /** The session the path names: a 404 then means `SessionNotFound`. */
  readonly sessionId?: string | undefined
  readonly timeout?: Duration.Duration | undefined
  /** How to read a 2xx body; `undefined` ignores it. */
  readonly decode: Schema.Schema<A, any> | undefined
}

/** Where a request went, as errors name it. */
export interface Target {
  readonly method: string
  readonly url: string
}

/**
 * The one way requests reach the server: every call and the event stream are built here (URL,
 * auth, directory, accept), sent through the ambient `HttpClient` under a deadline on Effect's
 * clock, and every answer is classified here into the tagged errors of `OpenCodeError`.
 */
export interface Pipeline {
  /** A call: sent, retried when safe, its body decoded. */
  readonly run: <A>(spec: Spec<A>) => Effect.Effect<A, OpenCodeError>
  /**
   * Opens a streaming response (`accept`), failing like `run` on any status but 200; the deadline
   * covers the opening only. The caller owns the response's body.
   */
  readonly open: (
    path: string,
    accept: string,
    timeout: Duration.Duration
  ) => Effect.Effect<{ readonly target: Target; readonly response: HttpClientResponse.HttpClientResponse }, OpenCodeError>
}

const errorCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const unreachableReason = (cause: unknown): UnreachableReason => {
  const code = errorCode(cause)
  if (code === "ECONNREFUSED") return "refused"
  if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET" || code === "UND_ERR_CLOSED") {
    return "reset"
  }
  if (code === "ETIMEDOUT" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT") {
    return "timeout"
  }
  return "transport"
}

const describe = (cause: unknown): string => {
  const code = errorCode(cause)
  const message = cause instanceof Error ? cause.message : String(cause)
  return code && !message.includes(code) ? `${code}: ${message}` : message
}

/**
 * OpenCode's answer when its storage failed (seen while its SQLite database is write-locked by
 * another process: after its 5 s busy wait, nothing applied): a 500 named `UnknownError`.
 */
const isStorageAnswer = (status: number, body: string): boolean => {
  if (status !== 500) return false
  try {
    return (JSON.parse(body) as { name?: unknown } | null)?.name === "UnknownError"
  } catch {
    return false
  }
}

/** The server's own words from an error body, kept short. */
const serverDetail = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { data?: { message?: unknown }; message?: unknown; _tag?: unknown; name?: unknown }
    const message = parsed?.data?.message ?? parsed?.message ?? parsed?._tag ?? parsed?.name
    if (typeof message === "string") return message.slice(0, 500)
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim().slice(0, 500) || "(empty body)"
}

/** Effect's own clock: what `Effect.sleep` uses unless a layer or a test swaps it. */
const defaultClock: Clock.Clock = Effect.runSync(Effect.clock)

/**
 * What the default clock's `sleep` does: a `setTimeout`, none for a duration longer than a timer
 * can hold (an infinite deadline). Answers the canceler.
 */
const scheduleOnDefaultClock = (task: () => void, duration: Duration.Duration): () => void => {
  const millis = Duration.toMillis(duration)
  if (millis > 2 ** 31 - 1) return () => {}
  const handle = setTimeout(task, millis)
  return () => clearTimeout(handle)
}

/**
 * Fails with `onTimeout()` when `self` has not completed within `duration` on Effect's `Clock`,
 * interrupting it. The same as `Effect.timeoutFail`, whose race of two fibers cost a third of a
 * `get`'s CPU time on the loopback stub: here `self` runs in one child fiber, and the alarm only
 * interrupts it. On Effect's default clock the alarm is that clock's own timer (what its `sleep`
 * schedules), cancelled once `self` is done: no fiber of its own, which a call paid for in
 * allocation (a fiber, its sleep, its interruption: about 10 KB a call). Under any other clock
 * (the `TestClock`) the alarm is a daemon fiber sleeping on that clock.
 */
const withDeadline = <E2>(duration: Duration.Duration, onTimeout: () => E2) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
  Effect.clockWith((clock) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.fork(restore(self)), (fiber) => {
        let timedOut = false
        const ring = () => {
          timedOut = true
          fiber.unsafeInterruptAsFork(fiber.id())
        }
        const outcome = (exit: Exit.Exit<A, E>): Effect.Effect<A, E | E2> =>
          timedOut && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? Effect.fail(onTimeout()) : exit
        if (clock === defaultClock) {
          const cancel = scheduleOnDefaultClock(ring, duration)
          return restore(Fiber.await(fiber)).pipe(
            Effect.onInterrupt(() => Effect.zipRight(Effect.sync(cancel), Fiber.interrupt(fiber))),
            Effect.flatMap((exit) => {
              cancel()
              return outcome(exit)
            })
          )
        }
        // The alarm is always interruptible: forked in an uninterruptible region (this one, or a
        // caller's) it would inherit it, ignore its interruption, and keep its timer (and a CLI
        // process) alive for the whole deadline after the call ended.
        const alarm = Effect.flatMap(clock.sleep(duration), () => Effect.sync(ring))
        return Effect.flatMap(Effect.forkDaemon(Effect.interruptible(alarm)), (timer) =>
          restore(Fiber.await(fiber)).pipe(
            Effect.onInterrupt(() => Effect.zipRight(Fiber.interruptFork(timer), Fiber.interrupt(fiber))),
            Effect.flatMap((exit) => {
              timer.unsafeInterruptAsFork(timer.id())
              return outcome(exit)
            })
          ))
      })
    )
  )

/** Errors that were OpenCode's storage answer (see `isStorageAnswer`). */
const storageErrors = new WeakSet<OpenCodeError>()

const isTransient = (error: OpenCodeError): boolean =>
  (error._tag === "Unreachable" && (error.reason === "refused" || error.reason === "reset" || error.reason === "transport")) ||
  (error._tag === "ServerError" && (error.status === 502 || error.status === 503 || error.status === 504))

/** The last error of a retried call, saying how many attempts were made. */
const withAttempts = (error: OpenCodeError, attempts: number): OpenCodeError =>
  error._tag === "ServerError" && attempts > 1 ? new ServerError({ request: error.request, status: error.status, detail: error.detail, attempts }) : error

/** Builds the pipeline for one connection over the ambient HttpClient. */
export const makePipeline = (settings: ConnectionSettings, base: HttpClient.HttpClient): Pipeline => {
  // No trace headers to the server: OpenCode traces sampled requests itself, at a cost per call.
  const client = HttpClient.withTracerPropagation(base, false)
  // Computed once: every request carries the full URL, the auth header and the directory from
  // the start, so nothing is rewritten per call.
  const headers: Record<string, string> = Option.match(settings.password, {
    onNone: () => ({}),
    onSome: (password) => ({
      authorization: `Basic ${Buffer.from(`opencode:${Redacted.value(password)}`).toString("base64")}`
    })
  })
  const passwordSent = Option.isSome(settings.password)
  const directory = Option.getOrUndefined(settings.directory)

  const build = (
    method: Spec<unknown>["method"],
    path: string,
    accept: string,
    urlParams: Record<string, string> | undefined,
    body: unknown
  ): { readonly target: Target; readonly request: HttpClientRequest.HttpClientRequest } => {
    const target: Target = { method, url: `${settings.url}${path}` }
    const params = directory === undefined ? urlParams : { directory, ...urlParams }
    let request = HttpClientRequest.make(method)(target.url, {
      headers: { ...headers, accept },
      ...(params ? { urlParams: params } : {})
    })
    if (body !== undefined) request = HttpClientRequest.bodyText(request, JSON.stringify(body), "application/json")
    return { target, request }
  }

  // One retry budget for every call of this connection.
  const tokens = makeRetryTokens(settings.retryTokens, settings.retryTokenRefill)
  const storageBudget = Duration.toMillis(settings.storageRetryBudget)

  const transportError = (target: Target) => (error: HttpClientError.HttpClientError) =>
    new Unreachable({
      request: target,
      reason: error._tag === "RequestError" ? unreachableReason(error.cause) : "reset",
      detail: describe(error.cause ?? error)
    })

  // One decoder per schema, made once: decoding is synchronous and on every call's path.
  const decoders = new WeakMap<Schema.Schema<any, any>, (input: unknown) => Either.Either<any, ParseResult.ParseError>>()
  const decoderFor = <A>(schema: Schema.Schema<A, any>): (input: unknown) => Either.Either<A, ParseResult.ParseError> => {
    let decode = decoders.get(schema)
    if (decode === undefined) {
      const full = Schema.decodeUnknownEither(schema, wireParseOptions)
      if (SchemaAST.typeAST(schema.ast) === schema.ast) {
        // A schema with no transformation anywhere decodes a valid input to an equal value, and
        // keeping excess properties (wireParseOptions) makes that value the input itself. So a
        // check is enough; a full decode runs only to explain a failure. The check is compiled
        // from the schema once (`compileCheck`): `Schema.is` interprets the AST on every call and
        // cost more than the JSON.parse of a 100-session list.
        const valid = compileCheck(schema.ast)
        decode = (input) => (valid(input) ? Either.right(input as A) : full(input))
      } else {
        decode = full
      }
      decoders.set(schema, decode)
    }
    return decode
  }

  /** Every status but 2xx, classified once for calls and streams alike. */
  const failure = (target: Target, status: number, body: string, sessionId: string | undefined): OpenCodeError => {
    if (status === 401 || status === 403) return new Unauthorized({ request: target, status, passwordSent })
    if (status === 404 && sessionId !== undefined) return new SessionNotFound({ sessionId, request: target })
    if (status === 400 || status === 422) return new BadRequest({ request: target, status, detail: serverDetail(body) })
    const error = new ServerError({ request: target, status, detail: serverDetail(body) })
    if (isStorageAnswer(status, body)) storageErrors.add(error)
    return error
  }

  // Whether this connection's last answered write met OpenCode's storage error (its database
  // locked): a write that then gets no answer in time is waiting its turn behind the lock.
  let writesLocked = false
  const noteWrite = (method: string, status: number, body: string) => {
    if (method !== "GET") writesLocked = isStorageAnswer(status, body)
  }

  const classify = <A>(spec: Spec<A>, target: Target, status: number, body: string): Either.Either<A, OpenCodeError> => {
    noteWrite(spec.method, status, body)
    if (status < 200 || status >= 300) return Either.left(failure(target, status, body, spec.sessionId))
    const schema = spec.decode
    if (schema === undefined) return Either.right(undefined as A)
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch (cause) {
      return Either.left(
        new ProtocolError({ request: target, what: "the JSON body", detail: `${describe(cause)}; body starts ${JSON.stringify(body.slice(0, 80))}` })
      )
    }
    return Either.mapLeft(
      decoderFor(schema)(json),
      (error) => new ProtocolError({ request: target, what: "the response body", detail: issues(schema, json, error) })
    )
  }

  /**
   * What did not decode, on one line: each bad field's path and why (`title: Expected string,
   * actual 42`), the first eight. The schema's own tree starts with the whole type on its first
   * line, which is all a one-line report (the CLI, a C program's last error) would show. The hot
   * path stops at the first issue; a failure is decoded again to name them all.
   */
  const issues = (schema: Schema.Schema<any, any>, json: unknown, first: ParseResult.ParseError): string => {
    const every = Option.getOrElse(Either.getLeft(Schema.decodeUnknownEither(schema, { ...wireParseOptions, errors: "all" })(json)), () => first)
    const all = ParseResult.ArrayFormatter.formatErrorSync(every)
      .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "the body"}: ${issue.message.replace(/\s+/g, " ")}`)
    return all.length > 8 ? `${all.slice(0, 8).join("; ")}; and ${all.length - 8} more` : all.join("; ")
  }

  /** `write`: a write, marked `databaseLocked` when the connection's writes meet the lock. */
  const timedOut = (target: Target, what: string, timeout: Duration.Duration, write = false) => () =>
    new Unreachable({
      request: target,
      reason: "timeout",
      detail: `${what} within ${Duration.format(timeout)}`,
      ...(write && writesLocked ? { databaseLocked: true } : {})
    })

  const run = <A>(spec: Spec<A>): Effect.Effect<A, OpenCodeError> => {
    const { request, target } = build(spec.method, spec.path, "application/json", spec.urlParams, spec.body)
    const timeout = spec.timeout ?? settings.requestTimeout
    const attempt = client.execute(request).pipe(
      Effect.flatMap((response) => Effect.map(response.text, (body) => classify(spec, target, response.status, body))),
      Effect.mapError(transportError(target)),
      withDeadline(timeout, timedOut(target, "no complete answer", timeout, spec.method !== "GET")),
      Effect.flatten
    )
    const transient = spec.idempotent && settings.retries > 0
    const storage = (spec.idempotent || spec.goneOnRetry !== undefined) && storageBudget > 0
    if (!(transient || storage) || settings.retryTokens <= 0) return attempt
    const kindOf = (error: OpenCodeError) => transient && isTransient(error) ? "transient" : storage && storageErrors.has(error) ? "storage" : undefined
    // The retry machinery is entered only after a first failure that may be retried: the usual
    // call pays for one clock read. The storage budget counts from the start of the call.
    return Effect.clockWith((clock) => {
      const start = clock.unsafeCurrentTimeMillis()
      return Effect.catchAll(attempt, (error) => kindOf(error) === undefined ? Effect.fail(error) : retrying(spec, attempt, kindOf, start, error))
    })
  }

  /**
   * Retries `attempt` after `first`: connection failures on the fast schedule, storage errors on
   * the slow one (each with its own state), every retry taking one of the connection's tokens.
   * It gives up with the last error when the schedule ends or the bucket is empty.
   */
  const retrying = <A>(
    spec: Spec<A>,
    attempt: Effect.Effect<A, OpenCodeError>,
    kindOf: (error: OpenCodeError) => "transient" | "storage" | undefined,
    start: number,
    first: OpenCodeError
  ): Effect.Effect<A, OpenCodeError> =>
    Effect.gen(function*() {
      let fast: Schedule.ScheduleDriver<unknown, unknown> | undefined
      let slow: Schedule.ScheduleDriver<Duration.Duration, unknown> | undefined
      let error = first
      let attempts = 1
      const giveUp = () => Effect.fail(withAttempts(error, attempts))
      for (;;) {
        const kind = kindOf(error)
        if (kind === undefined) return yield* giveUp()
        if (!(yield* tokens.take)) return yield* giveUp()
        let driver: Schedule.ScheduleDriver<unknown, unknown>
        if (kind === "transient") {
          if (fast === undefined) fast = yield* Schedule.driver(transientSchedule(settings.retries))
          driver = fast
        } else {
          if (slow === undefined) slow = yield* Schedule.driver(storageSchedule(settings, start + storageBudget))
          driver = slow
        }
        // Waits on Effect's Clock; fails (None) when the schedule is done.
        const waited = yield* Effect.either(driver.next(error))
        if (Either.isLeft(waited)) {
          yield* tokens.giveBack
          return yield* giveUp()
        }
        attempts++
        // Reported to the operation's progress reporter (a no-op outside one): retries count from 1.
        yield* Progress.retrying(attempts - 1, Progress.reasonOf(error))
        const result = yield* Effect.either(attempt)
        if (Either.isRight(result)) return result.right
        error = result.left
        if (spec.goneOnRetry !== undefined && error._tag === "SessionNotFound") return spec.goneOnRetry.value
      }
    })

  const open: Pipeline["open"] = (path, accept, timeout) => {
    const { request, target } = build("GET", path, accept, undefined, undefined)
    return client.execute(request).pipe(
      Effect.mapError(transportError(target)),
      Effect.flatMap((response) =>
        response.status === 200
          ? Effect.succeed({ target, response })
          : Effect.flatMap(
            Effect.orElseSucceed(response.text, () => ""),
            (body) => Effect.fail(failure(target, response.status, body, undefined))
          )
      ),
      Effect.timeoutFail({ duration: timeout, onTimeout: timedOut(target, "the event stream did not open", timeout) })
    )
  }

  return { run, open }
}
