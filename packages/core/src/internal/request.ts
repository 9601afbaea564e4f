import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { flow } from "effect/Function"
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

/** What one call needs to know to be sent, classified and decoded. */
export interface Spec<A> {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE"
  readonly path: string
  readonly urlParams?: Record<string, string> | undefined
  readonly body?: unknown
  /** Safe to send twice: retried on a transient failure. */
  readonly idempotent: boolean
  /** The session the path names: a 404 then means `SessionNotFound`. */
  readonly sessionId?: string | undefined
  readonly timeout?: Duration.Duration | undefined
  /** How to read a 2xx body; `undefined` ignores it. */
  readonly decode: Schema.Schema<A, any> | undefined
}

export interface Requester {
  readonly client: HttpClient.HttpClient
  readonly run: <A>(spec: Spec<A>) => Effect.Effect<A, OpenCodeError>
  readonly target: (method: string, path: string) => { readonly method: string; readonly url: string }
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

const isRetryable = (error: OpenCodeError): boolean =>
  (error._tag === "Unreachable" && (error.reason === "refused" || error.reason === "reset" || error.reason === "transport")) ||
  (error._tag === "ServerError" && (error.status === 502 || error.status === 503 || error.status === 504))

/**
 * Fails with `onTimeout()` when `self` has not completed within `duration`, interrupting it.
 * `Effect.timeoutFail` does the same through a race of two fibers; one child fiber and a plain
 * timer cost markedly less on every request's path.
 */
const withDeadline = <E2>(duration: Duration.Duration, onTimeout: () => E2) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.fork(restore(self)), (fiber) => {
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        fiber.unsafeInterruptAsFork(fiber.id())
      }, Duration.toMillis(duration))
      return restore(Fiber.await(fiber)).pipe(
        Effect.onInterrupt(() => Effect.zipRight(Effect.sync(() => clearTimeout(timer)), Fiber.interrupt(fiber))),
        Effect.flatMap((exit): Effect.Effect<A, E | E2> => {
          clearTimeout(timer)
          if (timedOut && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return Effect.fail(onTimeout())
          return exit
        })
      )
    })
  )

/** Builds the request runner for one connection over the ambient HttpClient. */
export const makeRequester = (settings: ConnectionSettings, base: HttpClient.HttpClient): Requester => {
  // No trace headers to the server: OpenCode traces sampled requests itself, at a cost per call.
  const plain = base.pipe(HttpClient.withTracerPropagation(false))
  // Requests made by `run` carry the full URL and the auth header from the start (computed
  // once), so nothing is rewritten per call; `client` does that for the few other requests.
  const authorization: Record<string, string> = Option.match(settings.password, {
    onNone: () => ({}),
    onSome: (password) => ({
      authorization: `Basic ${Buffer.from(`opencode:${Redacted.value(password)}`).toString("base64")}`
    })
  })
  const client = plain.pipe(
    HttpClient.mapRequest(flow(
      HttpClientRequest.prependUrl(settings.url),
      Option.match(settings.directory, {
        onNone: () => (request: HttpClientRequest.HttpClientRequest) => request,
        onSome: (directory) => HttpClientRequest.setUrlParam("directory", directory)
      }),
      Option.match(settings.password, {
        onNone: () => (request: HttpClientRequest.HttpClientRequest) => request,
        onSome: (password) => HttpClientRequest.basicAuth("opencode", Redacted.value(password))
      })
    ))
  )
  const passwordSent = Option.isSome(settings.password)
  const directory = Option.getOrUndefined(settings.directory)
  const target = (method: string, path: string) => ({ method, url: `${settings.url}${path}` })

  // After a first failure: 40 ms (jittered), then exponential, each wait at most 1 s; in all
  // `retries` retries.
  const firstRetryDelay = () => Duration.millis(40 * (0.8 + Math.random() * 0.4))
  const retrySchedule = Schedule.exponential(Duration.millis(80), 2).pipe(
    Schedule.jittered,
    Schedule.either(Schedule.spaced(Duration.seconds(1))),
    Schedule.intersect(Schedule.recurs(settings.retries - 1))
  )

  const transportError = (request: ReturnType<typeof target>) => (error: HttpClientError.HttpClientError) =>
    new Unreachable({
      request,
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
        // check (`Schema.is`, about 4x faster than a decode that keeps excess properties) is
        // enough; a full decode runs only to explain a failure.
        const valid = Schema.is(schema)
        decode = (input) => (valid(input) ? Either.right(input as A) : full(input))
      } else {
        decode = full
      }
      decoders.set(schema, decode)
    }
    return decode
  }

  const classify = <A>(
    spec: Spec<A>,
    request: ReturnType<typeof target>,
    status: number,
    body: string
  ): Either.Either<A, OpenCodeError> => {
    if (status >= 200 && status < 300) {
      if (spec.decode === undefined) return Either.right(undefined as A)
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch (cause) {
        return Either.left(
          new ProtocolError({ request, what: "the JSON body", detail: `${describe(cause)}; body starts ${JSON.stringify(body.slice(0, 80))}` })
        )
      }
      return Either.mapLeft(decoderFor(spec.decode)(json), (error) =>
        new ProtocolError({ request, what: "the response body", detail: ParseResult.TreeFormatter.formatErrorSync(error) }))
    }
    if (status === 401 || status === 403) return Either.left(new Unauthorized({ request, status, passwordSent }))
    if (status === 404 && spec.sessionId !== undefined) {
      return Either.left(new SessionNotFound({ sessionId: spec.sessionId, request }))
    }
    if (status === 400 || status === 422) return Either.left(new BadRequest({ request, status, detail: serverDetail(body) }))
    return Either.left(new ServerError({ request, status, detail: serverDetail(body) }))
  }

  const run = <A>(spec: Spec<A>): Effect.Effect<A, OpenCodeError> => {
    const request = target(spec.method, spec.path)
    const urlParams = directory === undefined ? spec.urlParams : { directory, ...spec.urlParams }
    let http = HttpClientRequest.make(spec.method)(request.url, {
      acceptJson: true,
      headers: authorization,
      ...(urlParams ? { urlParams } : {})
    })
    if (spec.body !== undefined) http = HttpClientRequest.bodyText(http, JSON.stringify(spec.body), "application/json")
    const timeout = spec.timeout ?? settings.requestTimeout
    const attempt = plain.execute(http).pipe(
      Effect.flatMap((response) => Effect.map(response.text, (body) => classify(spec, request, response.status, body))),
      Effect.mapError(transportError(request)),
      withDeadline(timeout, () =>
        new Unreachable({ request, reason: "timeout", detail: `no complete answer within ${Duration.format(timeout)}` })),
      Effect.flatten
    )
    if (!spec.idempotent || settings.retries === 0) return attempt
    // The retry machinery is entered only after a first failure: the usual call pays nothing
    // for it. The first retry waits like every later one.
    return Effect.catchIf(attempt, isRetryable, () =>
      Effect.retry(Effect.zipRight(Effect.sleep(firstRetryDelay()), attempt), { schedule: retrySchedule, while: isRetryable }))
  }

  return { client, run, target }
}
