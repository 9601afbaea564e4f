/**
 * The session bridge: a cached info read against one HTTP GET, and freshness, the time from a
 * change made by another client to the event reaching a subscriber.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as OpenCodeServer from "@plue/core/OpenCodeServer"
import type * as SessionEvents from "@plue/core/SessionEvents"
import type * as SessionManager from "@plue/core/SessionManager"
import type * as OpenCodeClient from "@plue/core/OpenCodeClient"
import { type Figure, measure, type Stats, summarize } from "./measure.js"

export interface BridgeFigures {
  readonly cachedRead: Figure
  /** Milliseconds from the other client sending its PATCH to our subscriber holding the event. */
  readonly freshness: Stats & { readonly unit: "ms" }
}

export const bridgeBench = (
  server: OpenCodeServer.Info,
  client: OpenCodeClient.Service,
  sessions: SessionManager.Service,
  events: SessionEvents.Service,
  options: { readonly rounds: number; readonly perRound: number; readonly changes: number }
): Effect.Effect<BridgeFigures, unknown> =>
  Effect.gen(function*() {
    const handle = yield* sessions.create({ title: "bench bridge" })
    const id = yield* sessions.sessionId(handle)
    const cachedRead = yield* Effect.promise(() =>
      measure(
        {
          name: "session info",
          impls: {
            "HTTP GET (plue client)": () => Effect.runPromise(client.get(id)),
            "cached (SessionManager.info)": () => Effect.runPromise(sessions.info(handle))
          }
        },
        options.rounds,
        options.perRound
      )
    )

    const auth = `Basic ${Buffer.from(`opencode:${Redacted.value(server.password)}`).toString("base64")}`
    const waiting = new Map<string, (at: number) => void>()
    yield* Effect.forkScoped(Stream.runForEach(events.stream, (event) =>
      Effect.sync(() => {
        if (event._tag === "Updated" && event.session.id === id) waiting.get(event.session.title)?.(performance.now())
      })))
    yield* Effect.sleep("200 millis")
    const samples: Array<number> = []
    for (let i = 0; i < options.changes; i++) {
      const title = `fresh ${i}`
      const arrived = new Promise<number>((resolve) => waiting.set(title, resolve))
      const sent = performance.now()
      yield* Effect.promise(() =>
        fetch(`${server.url}/session/${id}`, {
          method: "PATCH",
          headers: { authorization: auth, "content-type": "application/json" },
          body: JSON.stringify({ title })
        }).then((r) => r.arrayBuffer())
      )
      samples.push((yield* Effect.promise(() => arrived)) - sent)
      waiting.delete(title)
    }
    yield* sessions.destroy(handle)
    return { cachedRead, freshness: { ...summarize(samples), unit: "ms" as const } }
  }).pipe(Effect.scoped)
