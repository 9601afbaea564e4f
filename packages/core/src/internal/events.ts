import * as Sse from "@effect/experimental/Sse"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ConnectionSettings } from "../OpenCodeConnection.js"
import { type OpenCodeError, Unauthorized, Unreachable, ServerError } from "../OpenCodeError.js"
import { KnownEvent, type OpenCodeEvent, wireParseOptions } from "../OpenCodeSchema.js"

/** A decoder per known event type: a failure then names only what is wrong with that type. */
const DECODERS: ReadonlyMap<string, (input: unknown) => Either.Either<KnownEvent, ParseResult.ParseError>> = new Map(
  KnownEvent.members.flatMap((member) => {
    const decode = Schema.decodeUnknownEither(member as Schema.Schema<KnownEvent, unknown>, wireParseOptions)
    return (member.fields.type.literals as ReadonlyArray<string>).map((type) => [type, decode] as const)
  })
)

/** `properties.info.id: Expected ...; ...`, short enough for one log line. */
const describeFailure = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message.slice(0, 160)}`)
    .join("; ")

/**
 * Turns one SSE message into an event. Unknown types are passed on as `unknown`; a message that
 * is not JSON, or a known type that does not decode, is logged and skipped: one bad frame never
 * ends the stream.
 */
export const decodeMessage = (data: string): Effect.Effect<Option.Option<OpenCodeEvent>> => {
  let json: unknown
  try {
    json = JSON.parse(data)
  } catch {
    return Effect.as(Effect.logWarning(`skipped an event that is not JSON: ${data.slice(0, 120)}`), Option.none())
  }
  const type = typeof json === "object" && json !== null ? (json as { type?: unknown }).type : undefined
  if (typeof type !== "string") {
    return Effect.as(Effect.logWarning(`skipped an event without a type: ${data.slice(0, 120)}`), Option.none())
  }
  const decodeKnown = DECODERS.get(type)
  if (decodeKnown === undefined) {
    const raw = json as { id?: unknown; properties?: unknown }
    return Effect.succeed(Option.some({
      type: "unknown",
      eventType: type,
      id: typeof raw.id === "string" ? raw.id : undefined,
      properties: raw.properties
    }))
  }
  const decoded = decodeKnown(json)
  if (decoded._tag === "Right") return Effect.succeed(Option.some(decoded.right))
  return Effect.as(
    Effect.logWarning(`skipped a ${type} event that does not decode: ${describeFailure(decoded.left)}`),
    Option.none()
  )
}

export interface EventStreamOptions {
  readonly client: HttpClient.HttpClient
  readonly request: HttpClientRequest.HttpClientRequest
  readonly target: { readonly method: string; readonly url: string }
  readonly settings: ConnectionSettings
}

/** One connection to an SSE endpoint of the server, decoded into events. */
export const eventStream = (options: EventStreamOptions): Stream.Stream<OpenCodeEvent, OpenCodeError> => {
  const { client, request, target, settings } = options
  const lost = (error: HttpClientError.HttpClientError) =>
    new Unreachable({ request: target, reason: "reset", detail: `the event stream broke: ${error.message}` })
  const silence = settings.heartbeatTimeout
  return Stream.unwrapScoped(Effect.gen(function*() {
    const response = yield* client.execute(request).pipe(
      Effect.mapError((error) =>
        new Unreachable({
          request: target,
          reason: (error.cause as { code?: string } | undefined)?.code === "ECONNREFUSED" ? "refused" : "transport",
          detail: error.message
        })
      ),
      Effect.timeoutFail({
        duration: settings.streamOpenTimeout,
        onTimeout: () =>
          new Unreachable({
            request: target,
            reason: "timeout",
            detail: `the event stream did not open within ${Duration.format(settings.streamOpenTimeout)}`
          })
      })
    )
    if (response.status === 401 || response.status === 403) {
      return yield* new Unauthorized({ request: target, status: response.status, passwordSent: Option.isSome(settings.password) })
    }
    if (response.status !== 200) {
      const body = yield* Effect.orElseSucceed(response.text, () => "")
      return yield* new ServerError({ request: target, status: response.status, detail: body.slice(0, 300) })
    }
    return response.stream.pipe(
      Stream.decodeText(),
      Stream.pipeThroughChannel(Sse.makeChannel()),
      Stream.mapError(lost),
      Stream.timeoutFail(
        () => new Unreachable({ request: target, reason: "heartbeat", detail: `nothing received for ${Duration.format(silence)}` }),
        silence
      ),
      Stream.mapEffect((event) => decodeMessage(event.data)),
      Stream.filterMap((event) => event),
      // The server closes the stream after this one; do not wait for it.
      Stream.takeUntil((event) => event.type === "server.instance.disposed")
    )
  }))
}
