/**
 * The failures of the session bridge itself, beside the OpenCode client's (`OpenCodeError`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { OpenCodeError } from "./OpenCodeError.js"
import type { OperationNotFound, OutboxError } from "./Outbox.js"

/**
 * The handle is not open: never issued, or already destroyed.
 *
 * @since 0.1.0
 */
export class InvalidHandle extends Schema.TaggedError<InvalidHandle>("@plue/core/InvalidHandle")(
  "InvalidHandle",
  { handle: Schema.Number }
) {
  override get message(): string {
    return `Invalid session handle ${this.handle}: it was never opened or has been destroyed. Open or create a session to get a handle.`
  }
}

/**
 * The handle's session was deleted, by this process or by another client.
 *
 * @since 0.1.0
 */
export class SessionDeleted extends Schema.TaggedError<SessionDeleted>("@plue/core/SessionDeleted")(
  "SessionDeleted",
  { sessionId: Schema.String }
) {
  override get message(): string {
    return `Session ${this.sessionId} has been deleted. Destroy its handle; the session cannot be used any more.`
  }
}

/**
 * The operation was cut short by an abort on its handle.
 *
 * @since 0.1.0
 */
export class Aborted extends Schema.TaggedError<Aborted>("@plue/core/Aborted")(
  "Aborted",
  { sessionId: Schema.String, operation: Schema.String }
) {
  override get message(): string {
    return `${this.operation} on session ${this.sessionId} was aborted.`
  }
}

/**
 * The server accepted a share but produced no URL (sharing disabled, or no share service).
 *
 * @since 0.1.0
 */
export class ShareUnavailable extends Schema.TaggedError<ShareUnavailable>("@plue/core/ShareUnavailable")(
  "ShareUnavailable",
  { sessionId: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `Session ${this.sessionId} could not be shared: ${this.detail}. Configure a share service (enterprise.url), for instance \`plue share-server\`.`
  }
}

/**
 * Every failure of a session operation.
 *
 * @since 0.1.0
 */
export type SessionError = OpenCodeError | InvalidHandle | SessionDeleted | Aborted | ShareUnavailable | OutboxError | OperationNotFound
