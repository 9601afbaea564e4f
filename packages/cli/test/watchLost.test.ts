import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { start } from "./plue.js"

// `plue watch` across a lost server: the real server behind a loopback proxy that the test cuts
// (every connection refused, the open ones closed) and then lets through again.

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

/** Waits (ceiling `seconds`) until `done` holds; on timeout, says what was seen. */
const until = (what: string, done: () => boolean, seen: () => string, seconds = 120) =>
  Wait.until(what, done, { timeout: Duration.seconds(seconds) }).pipe(
    Effect.catchTag("WaitTimeout", (timeout) => Effect.dieMessage(`${timeout.message}; seen: ${seen()}`))
  )

const lines = (text: string) => text.split("\n").filter((l) => l.length > 0)
const count = (text: string, pattern: RegExp) => lines(text).filter((l) => pattern.test(l)).length

layer(Live, { timeout: 300_000, excludeTestServices: true })("plue watch across a lost server", (it) => {
  it.scoped("the server goes away and returns: reconnecting with why and when, connected, then the missed and the new events", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const client = yield* OpenCodeClient.OpenCodeClient
      const proxy = yield* Proxy.start(server.url)
      const env = { OPENCODE_URL: proxy.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      const before = yield* client.create({ title: "before the cut" })
      const text = yield* start(["watch"], env)
      const json = yield* start(["watch", "--json"], env)
      const both = [text, json]
      const seen = () => both.map((c) => `stdout: ${c.stdout().slice(-2000)} stderr: ${c.stderr().slice(-2000)}`).join(" | ")
      yield* until("both watches connected, with their snapshot", () =>
        both.every((c) => count(c.stderr(), /^plue: connected$/) === 1 && c.stdout().includes(before.id)), seen)

      // The server goes away.
      proxy.setMode("drop")
      yield* until(
        "both say they reconnect, why, and when the next attempt is",
        () =>
          both.every((c) =>
            count(c.stderr(), /^plue: reconnecting: .+; next attempt at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) >= 2
          ),
        seen
      )
      // Made while the watches cannot see the server.
      const missed = yield* client.create({ title: "made while cut off" })
      yield* client.update(before.id, { title: "renamed while cut off" })

      // The server returns.
      proxy.setMode("pass")
      yield* until("both connected again", () => both.every((c) => count(c.stderr(), /^plue: connected$/) === 2), seen)
      const after = yield* client.create({ title: "made after the return" })
      yield* until(
        "the missed changes and the new session printed",
        () =>
          lines(text.stdout()).some((l) => / created +\S+/.test(l) && l.includes(after.id)) &&
          lines(json.stdout()).some((l) => l.includes(after.id) && l.includes("\"Created\"")) &&
          lines(text.stdout()).some((l) => l.includes(missed.id)) &&
          lines(json.stdout()).some((l) => l.includes(missed.id)),
        seen
      )
      // Text: the missed session as created, the rename as updated; the new one as created.
      const shown = lines(text.stdout())
      assert.isTrue(shown.some((l) => / {2}created +/.test(l) && l.includes(missed.id) && l.includes("made while cut off")), text.stdout())
      yield* until(
        "the rename made while cut off",
        () => lines(text.stdout()).some((l) => / {2}updated +/.test(l) && l.includes(before.id) && l.includes("renamed while cut off")),
        seen
      )
      // JSON: one Snapshot only (at the first connect), the missed changes found by listing.
      const events = lines(json.stdout()).map((l) => JSON.parse(l) as { _tag: string; session?: { id: string }; origin?: string })
      assert.strictEqual(events.filter((e) => e._tag === "Snapshot").length, 1)
      const missedEvent = events.find((e) => e._tag === "Created" && e.session?.id === missed.id)
      assert.isDefined(missedEvent, json.stdout())
      assert.strictEqual(missedEvent!.origin, "reconcile")
      assert.strictEqual(events.find((e) => e._tag === "Created" && e.session?.id === after.id)!.origin, "remote")
      assert.isFalse(events.some((e) => e._tag === "Created" && e.session?.id === before.id), "an old session is never created")

      for (const child of both) {
        assert.isTrue(child.running(), child.stderr())
        yield* child.signal("SIGINT")
        assert.strictEqual((yield* child.result).code, 130)
      }
    }), { timeout: 300_000 })
})
