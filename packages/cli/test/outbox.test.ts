import { assert, layer } from "@effect/vitest"
import { OpenCodeServer } from "@plue/core"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Plue from "./plue.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

layer(Live, { timeout: 180_000, excludeTestServices: true })("plue outbox", (it) => {
  it.scoped("session create --queue while the server is unreachable; outbox list shows it; outbox flush applies it once", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const other = yield* OtherClient.make
      const proxy = yield* Proxy.start(server.url)
      const env = {
        OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
        XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "plue-cli-outbox-"))
      }
      const url = ["--url", proxy.url]
      proxy.setMode("drop")
      const queued = yield* Plue.run(["session", "create", "--queue", "--title", "queued by the cli", "--json", ...url], env)
      assert.strictEqual(queued.code, 0, queued.stderr)
      const made = JSON.parse(queued.stdout) as { id: string; opId: string; title: string; pending: Array<{ kind: string }> }
      assert.match(made.opId, /^op_/)
      assert.strictEqual(made.title, "queued by the cli")
      assert.deepStrictEqual(made.pending.map((p) => p.kind), ["create"])

      const listed = yield* Plue.run(["outbox", "list", "--json", ...url], env)
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.deepStrictEqual(
        (JSON.parse(listed.stdout) as Array<{ opId: string; kind: string; state: string }>).map((i) => [i.opId, i.kind, i.state]),
        [[made.opId, "create", "pending"]]
      )
      const stillOffline = yield* Plue.run(["outbox", "flush", ...url], env)
      assert.strictEqual(stillOffline.code, 1)
      assert.include(stillOffline.stderr, made.opId)

      proxy.setMode("pass")
      const flushed = yield* Plue.run(["outbox", "flush", ...url], env)
      assert.strictEqual(flushed.code, 0, flushed.stderr)
      assert.include(flushed.stdout, "everything applied")
      const all = yield* other<Array<{ id: string; title: string }>>("GET", "/session?limit=10000")
      assert.deepStrictEqual(all.filter((s) => s.id === made.id).map((s) => s.title), ["queued by the cli"])

      const dropped = yield* Plue.run(["outbox", "drop", "op_nothing", ...url], env)
      assert.strictEqual(dropped.code, 3)
    }), 180_000)
})
