import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { flow } from "effect/Function"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
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

/** Builds the request runner for one connection over the ambient HttpClient. */
export const makeRequester = (settings: ConnectionSettings, base: HttpClient.HttpClient): Requester => {
  const client = base.pipe(
    // No trace headers to the server: OpenCode traces sampled requests itself, at a cost per call.
    HttpClient.withTracerPropagation(false),
    HttpClient.mapRequest(flow(
      HttpClientRequest.prependUrl(settings.url),
      Option.match(settings.password, {
        onNone: () => (request: HttpClientRequest.HttpClientRequest) => request,
        onSome: (password) => HttpClientRequest.basicAuth("opencode", Redacted.value(password))
      })
    ))
  )
  const passwordSent = Option.isSome(settings.password)
  const target = (method: string, path: string) => ({ method, url: `${settings.url}${path}` })

  const retrySchedule = Schedule.exponential(Duration.millis(40), 2).pipe(
    Schedule.jittered,
    Schedule.either(Schedule.spaced(Duration.seconds(1))),
    Schedule.intersect(Schedule.recurs(settings.retries))
  )

  const transportError = (request: ReturnType<typeof target>) => (error: HttpClientError.HttpClientError) =>
    new Unreachable({
      request,
      reason: error._tag === "RequestError" ? unreachableReason(error.cause) : "reset",
      detail: describe(error.cause ?? error)
    })

  const classify = <A>(
    spec: Spec<A>,
    request: ReturnType<typeof target>,
    response: HttpClientResponse.HttpClientResponse,
    body: string
  ): Effect.Effect<A, OpenCodeError> => {
    const status = response.status
    if (status >= 200 && status < 300) {
      if (spec.decode === undefined) return Effect.succeed(undefined as A)
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch (cause) {
        return Effect.fail(
          new ProtocolError({ request, what: "the JSON body", detail: `${describe(cause)}; body starts ${JSON.stringify(body.slice(0, 80))}` })
        )
      }
      return Schema.decodeUnknown(spec.decode, wireParseOptions)(json).pipe(
        Effect.mapError((error) =>
          new ProtocolError({ request, what: "the response body", detail: ParseResult.TreeFormatter.formatErrorSync(error) })
        )
      )
    }
    if (status === 401 || status === 403) return Effect.fail(new Unauthorized({ request, status, passwordSent }))
    if (status === 404 && spec.sessionId !== undefined) {
      return Effect.fail(new SessionNotFound({ sessionId: spec.sessionId, request }))
    }
    if (status === 400 || status === 422) return Effect.fail(new BadRequest({ request, status, detail: serverDetail(body) }))
    return Effect.fail(new ServerError({ request, status, detail: serverDetail(body) }))
  }

  const run = <A>(spec: Spec<A>): Effect.Effect<A, OpenCodeError> => {
    const request = target(spec.method, spec.path)
    let http = HttpClientRequest.make(spec.method)(spec.path, {
      acceptJson: true,
      ...(spec.urlParams ? { urlParams: spec.urlParams } : {})
    })
    if (spec.body !== undefined) http = HttpClientRequest.bodyText(http, JSON.stringify(spec.body), "application/json")
    const timeout = spec.timeout ?? settings.requestTimeout
    const attempt = client.execute(http).pipe(
      Effect.flatMap((response) => Effect.map(response.text, (body) => [response, body] as const)),
      Effect.mapError(transportError(request)),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new Unreachable({ request, reason: "timeout", detail: `no complete answer within ${Duration.format(timeout)}` })
      }),
      Effect.flatMap(([response, body]) => classify(spec, request, response, body))
    )
    return spec.idempotent && settings.retries > 0
      ? Effect.retry(attempt, { schedule: retrySchedule, while: isRetryable })
      : attempt
  }

  return { client, run, target }
}
