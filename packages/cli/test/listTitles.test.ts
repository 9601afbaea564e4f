import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { run } from "./plue.js"

// `plue session list` for people cuts a long title to the TITLE column (by display width, with
// an ellipsis); --json keeps the whole title.

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

layer(Live, { timeout: 300_000, excludeTestServices: true })("session list: long titles", (it) => {
  it.effect("cut to the column with …, by display width, when not a terminal 23 columns; --json has them whole", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const client = yield* OpenCodeClient.OpenCodeClient
      const env = { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      const long = yield* client.create({ title: "a title much longer than the column it is shown in" })
      const wide = yield* client.create({ title: "日本語のとても長いタイトルです" })
      const short = yield* client.create({ title: "short" })
      const listed = yield* run(["session", "list"], env, "120 seconds")
      assert.strictEqual(listed.code, 0, listed.stderr)
      const row = (id: string) => listed.stdout.split("\n").find((l) => l.startsWith(id))!
      assert.include(row(long.id), "  a title much longer th…  ")
      // Wide characters count two columns: eleven of them and the ellipsis fill the 23.
      assert.include(row(wide.id), "  日本語のとても長いタイ…  ")
      assert.include(row(short.id), "  short  ")
      const json = yield* run(["session", "list", "--json"], env, "120 seconds")
      const titles = (JSON.parse(json.stdout) as Array<{ id: string; title: string }>).map((s) => s.title)
      assert.includeMembers(titles, [long.title, wide.title, "short"])
    }))
})
