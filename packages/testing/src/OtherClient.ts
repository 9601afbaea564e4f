/**
 * Another client of the same OpenCode server: plain `fetch`, nothing of plue. Tests use it to
 * change things behind plue's back and to read what the server itself says.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as OpenCodeServer from "@plue/core/OpenCodeServer"

/**
 * A request of the other client failed: no answer, or an answer that is not 2xx.
 *
 * @since 0.1.0
 */
export class OtherClientError extends Data.TaggedError("OtherClientError")<{
  readonly request: string
  readonly status?: number | undefined
  readonly detail: string
}> {
  override get message() {
    return `${this.request}: ${this.status === undefined ? "" : `${this.status} `}${this.detail}`
  }
}

/**
 * One request: `method path` with an optional JSON body; the answer's JSON (or `undefined` for an
 * empty body).
 *
 * @since 0.1.0
 */
export type Request = <A = any>(method: string, path: string, body?: unknown) => Effect.Effect<A, OtherClientError>

/**
 * The other client of the server at `url` with `password`.
 *
 * @since 0.1.0
 */
export const at = (server: { readonly url: string; readonly password: Redacted.Redacted<string> }): Request => {
  const headers = {
    authorization: `Basic ${Buffer.from(`opencode:${Redacted.value(server.password)}`).toString("base64")}`,
    "content-type": "application/json"
  }
  return <A = any>(method: string, path: string, body?: unknown) =>
    Effect.tryPromise({
      try: async (signal) => {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers,
          signal,
          ...(body === undefined ? {} : { body: JSON.stringify(body) })
        })
        const text = await response.text()
        if (!response.ok) throw new OtherClientError({ request: `${method} ${path}`, status: response.status, detail: text })
        return (text === "" ? undefined : JSON.parse(text)) as A
      },
      catch: (error) => error instanceof OtherClientError ? error : new OtherClientError({ request: `${method} ${path}`, detail: String(error) })
    }).pipe(
      // A loaded server can close a kept-alive connection just as fetch reuses it ("fetch
      // failed", no answer at all). A read or a PATCH is safe to send again; a POST or DELETE is
      // not, so those report the failure.
      Effect.retry({
        times: 3,
        schedule: Schedule.exponential("100 millis"),
        while: (error) => error.status === undefined && (method === "GET" || method === "PATCH")
      })
    )
}

/**
 * The other client of the test's `OpenCodeServer`.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Request, never, OpenCodeServer.OpenCodeServer> = Effect.map(OpenCodeServer.OpenCodeServer, at)

/**
 * One request of the other client to the test's `OpenCodeServer`.
 *
 * @since 0.1.0
 */
export const request = <A = any>(method: string, path: string, body?: unknown): Effect.Effect<A, OtherClientError, OpenCodeServer.OpenCodeServer> =>
  Effect.flatMap(make, (other) => other<A>(method, path, body))
