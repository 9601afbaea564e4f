import * as Sse from "@effect/experimental/Sse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ConnectionSettings } from "../OpenCodeConnection.js"
import { type OpenCodeError, Unreachable } from "../OpenCodeError.js"
import { KnownEvent, type OpenCodeEvent, wireParseOptions } from "../OpenCodeSchema.js"
import type { Pipeline } from "./request.js"

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

/**
 * One connection to the server's `/event` stream, opened through the request pipeline (URL,
 * auth, directory, status classification shared with every call), decoded into events.
 */
export const eventStream = (pipeline: Pipeline, settings: ConnectionSettings): Stream.Stream<OpenCodeEvent, OpenCodeError> => {
  const silence = settings.heartbeatTimeout
  return Stream.unwrapScoped(Effect.map(
    pipeline.open("/event", "text/event-stream", settings.streamOpenTimeout),
    ({ response, target }) =>
      response.stream.pipe(
        Stream.decodeText(),
        Stream.pipeThroughChannel(Sse.makeChannel()),
        Stream.mapError((error) => new Unreachable({ request: target, reason: "reset", detail: `the event stream broke: ${error.message}` })),
        Stream.timeoutFail(
          () => new Unreachable({ request: target, reason: "heartbeat", detail: `nothing received for ${Duration.format(silence)}` }),
          silence
        ),
        Stream.mapEffect((event) => decodeMessage(event.data)),
        Stream.filterMap((event) => event),
        // The server closes the stream after this one; do not wait for it.
        Stream.takeUntil((event) => event.type === "server.instance.disposed")
      )
  ))
}
