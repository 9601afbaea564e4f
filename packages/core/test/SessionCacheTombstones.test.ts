/**
 * Remembered deletions are forgotten after the tombstone TTL, once there are many, oldest first:
 * the walk stops at the first one still kept (a delete costs no walk over every deletion).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, TestClock } from "effect"
import type { SessionId } from "../src/Identifier.js"
import * as OpenCodeClient from "../src/OpenCodeClient.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as SessionCache from "../src/SessionCache.js"
import * as SessionEvents from "../src/SessionEvents.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"

const id = (batch: string, i: number) => `ses_tombstone${batch}${String(i).padStart(5, "0")}` as SessionId

describe("SessionCache tombstones", () => {
  it.scoped("past 1024, those older than the TTL are forgotten and the younger ones kept", () =>
    Effect.gen(function*() {
      // Deletions only: the client is never called (no server behind it).
      const client = yield* OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: "http://127.0.0.1:9", password: Redacted.make("unused") })),
        Effect.provide(UndiciHttpClient.layer)
      )
      const events = yield* SessionEvents.make()
      const cache = yield* SessionCache.make({ tombstoneTtl: "1 minute" }).pipe(
        Effect.provideService(OpenCodeClient.OpenCodeClient, client),
        Effect.provideService(SessionEvents.SessionEvents, events)
      )
      for (let i = 0; i < 600; i++) yield* cache.remove(id("old", i), "local")
      yield* TestClock.adjust("30 seconds")
      for (let i = 0; i < 600; i++) yield* cache.remove(id("new", i), "local")
      // Still within the TTL of everything: all remembered.
      assert.isTrue(cache.isDeleted(id("old", 0)) && cache.isDeleted(id("old", 599)))
      yield* TestClock.adjust("31 seconds")
      yield* cache.remove(id("last", 0), "local")
      for (let i = 0; i < 600; i++) {
        assert.isFalse(cache.isDeleted(id("old", i)), `old ${i}`)
        assert.isTrue(cache.isDeleted(id("new", i)), `new ${i}`)
      }
      assert.isTrue(cache.isDeleted(id("last", 0)))
    }))
})
