// What a new user met with `plue outbox` (docs/offline.md), with no server at all: each test
// here failed before the fix it names.
import { assert, layer } from "@effect/vitest"
import * as Net from "@plue/testing/Net"
import * as Platform from "@plue/testing/Platform"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Plue from "./plue.js"

layer(Platform.layer, { timeout: 180_000, excludeTestServices: true })("plue outbox, the server unreachable", (it) => {
  it.effect("outbox drop of a queued create: dropped (it was refused as 'being sent', since every run replays first), then gone", () =>
    Effect.gen(function*() {
      // A port nothing listens on: every request is refused.
      const url = ["--url", `http://127.0.0.1:${yield* Net.freePort}`]
      const env = { OPENCODE_SERVER_PASSWORD: "unused", XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "plue-cli-audit2-")) }
      const queued = yield* Plue.run(["session", "create", "--queue", "--title", "never sent", "--json", ...url], env)
      assert.strictEqual(queued.code, 0, queued.stderr)
      const { opId } = JSON.parse(queued.stdout) as { opId: string }

      const dropped = yield* Plue.run(["outbox", "drop", opId, ...url], env)
      assert.strictEqual(dropped.code, 0, dropped.stderr)
      assert.strictEqual(dropped.stdout, `dropped ${opId}\n`)
      const listed = yield* Plue.run(["outbox", "list", "--json", ...url], env)
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.deepStrictEqual(JSON.parse(listed.stdout), [])
      const again = yield* Plue.run(["outbox", "drop", opId, ...url], env)
      assert.strictEqual(again.code, 3, again.stderr)
    }), 180_000)
})
