/**
 * The wire data of OpenCode 1.18 (see its OpenAPI document), as Schemas. This is the one module
 * that knows OpenCode's shapes. Decoding tolerates, and keeps, fields a newer server adds.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { SessionId } from "./Identifier.js"

/**
 * A session's timestamps, in milliseconds since the epoch.
 *
 * @since 0.1.0
 */
export const SessionTime = Schema.Struct({
  created: Schema.Number,
  updated: Schema.Number,
  compacting: Schema.optional(Schema.Number),
  archived: Schema.optional(Schema.Number)
})

/**
 * An OpenCode session (`Session` in the OpenAPI document), every field of it.
 *
 * @since 0.1.0
 */
export const Session = Schema.Struct({
  id: SessionId,
  slug: Schema.String,
  projectID: Schema.String,
  workspaceID: Schema.optional(Schema.String),
  directory: Schema.String,
  path: Schema.optional(Schema.String),
  parentID: Schema.optional(SessionId),
  summary: Schema.optional(Schema.Struct({
    additions: Schema.Number,
    deletions: Schema.Number,
    files: Schema.Number,
    diffs: Schema.optional(Schema.Array(Schema.Unknown))
  })),
  cost: Schema.optional(Schema.Number),
  tokens: Schema.optional(Schema.Struct({
    input: Schema.Number,
    output: Schema.Number,
    reasoning: Schema.Number,
    cache: Schema.Struct({ read: Schema.Number, write: Schema.Number })
  })),
  share: Schema.optional(Schema.Struct({ url: Schema.String })),
  title: Schema.String,
  agent: Schema.optional(Schema.String),
  model: Schema.optional(Schema.Struct({
    id: Schema.String,
    providerID: Schema.String,
    variant: Schema.optional(Schema.String)
  })),
  version: Schema.String,
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  time: SessionTime,
  permission: Schema.optional(Schema.Array(Schema.Unknown)),
  revert: Schema.optional(Schema.Struct({
    messageID: Schema.String,
    partID: Schema.optional(Schema.String),
    snapshot: Schema.optional(Schema.String),
    diff: Schema.optional(Schema.String)
  }))
})

/**
 * @since 0.1.0
 */
export interface Session extends Schema.Schema.Type<typeof Session> {}

/**
 * What a session is doing now (`SessionStatus`). Idle sessions are absent from the status map.
 *
 * @since 0.1.0
 */
export const SessionStatus = Schema.Union(
  Schema.Struct({ type: Schema.Literal("idle") }),
  Schema.Struct({ type: Schema.Literal("busy") }),
  Schema.Struct({
    type: Schema.Literal("retry"),
    attempt: Schema.Number,
    message: Schema.String,
    next: Schema.Number
  })
)

/**
 * @since 0.1.0
 */
export type SessionStatus = typeof SessionStatus.Type

/**
 * `GET /session/status`: the sessions that are not idle.
 *
 * @since 0.1.0
 */
export const SessionStatusMap = Schema.Record({ key: SessionId, value: SessionStatus })

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

const infoEvent = <const T extends string>(type: T) =>
  Schema.Struct({
    type: Schema.Literal(type),
    id: Schema.optional(Schema.String),
    properties: Schema.Struct({ info: Session })
  })

/**
 * `session.created`: a session appeared.
 *
 * @since 0.1.0
 */
export const SessionCreatedEvent = infoEvent("session.created")

/**
 * `session.updated`: a session changed (title, share, time, ...).
 *
 * @since 0.1.0
 */
export const SessionUpdatedEvent = infoEvent("session.updated")

/**
 * `session.deleted`: a session is gone (children are deleted first, one event each).
 *
 * @since 0.1.0
 */
export const SessionDeletedEvent = infoEvent("session.deleted")

/**
 * `session.status`: a session became busy, idle or is retrying.
 *
 * @since 0.1.0
 */
export const SessionStatusEvent = Schema.Struct({
  type: Schema.Literal("session.status"),
  id: Schema.optional(Schema.String),
  properties: Schema.Struct({ sessionID: SessionId, status: SessionStatus })
})

/**
 * `session.idle`: a session finished its work.
 *
 * @since 0.1.0
 */
export const SessionIdleEvent = Schema.Struct({
  type: Schema.Literal("session.idle"),
  id: Schema.optional(Schema.String),
  properties: Schema.Struct({ sessionID: SessionId })
})

/**
 * `session.error`: a session's run failed; `error` is OpenCode's error object as sent.
 *
 * @since 0.1.0
 */
export const SessionErrorEvent = Schema.Struct({
  type: Schema.Literal("session.error"),
  id: Schema.optional(Schema.String),
  properties: Schema.Struct({
    sessionID: Schema.optional(SessionId),
    error: Schema.optional(Schema.Unknown)
  })
})

/**
 * Stream control messages: connected, heartbeat, and the disposal that ends a stream.
 *
 * @since 0.1.0
 */
export const ServerEvent = Schema.Struct({
  type: Schema.Literal("server.connected", "server.heartbeat", "server.instance.disposed"),
  id: Schema.optional(Schema.String),
  properties: Schema.optional(Schema.Unknown)
})

/**
 * Every event type plue decodes. Other types arrive as `UnknownEvent`.
 *
 * @since 0.1.0
 */
export const KnownEvent = Schema.Union(
  SessionCreatedEvent,
  SessionUpdatedEvent,
  SessionDeletedEvent,
  SessionStatusEvent,
  SessionIdleEvent,
  SessionErrorEvent,
  ServerEvent
)

/**
 * @since 0.1.0
 */
export type KnownEvent = typeof KnownEvent.Type

/**
 * An event of a type plue does not model (OpenCode has ~90). Kept, never fatal.
 *
 * @since 0.1.0
 */
export interface UnknownEvent {
  readonly type: "unknown"
  /** The event's own `type` field as the server sent it. */
  readonly eventType: string
  readonly id: string | undefined
  readonly properties: unknown
}

/**
 * One message of the `/event` stream.
 *
 * @since 0.1.0
 */
export type OpenCodeEvent = KnownEvent | UnknownEvent

/**
 * Decoding options for wire data: extra fields from a newer server are kept, not refused.
 *
 * @since 0.1.0
 */
export const wireParseOptions = { onExcessProperty: "preserve", errors: "first" } as const
