import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { existsSync } from "node:fs"
import { run } from "./plue.js"

const Box = Layer.scoped(TestServer.TestSandbox, TestServer.makeSandbox).pipe(Layer.provideMerge(Platform.layer))

layer(Box, { timeout: 900_000, excludeTestServices: true })("plue session get with no URL", (it) => {
  it.effect("finds the session on the managed server of the project directory, with no outbox written", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const env = { ...box.env, HOME: box.home }
      const made = yield* run(["session", "create", "--title", "made by one run", "--json"], env, "400 seconds", box.project)
      assert.strictEqual(made.code, 0, made.stderr)
      const id = (JSON.parse(made.stdout) as { id: string }).id
      // Another run, another managed server (another port) for the same directory: same sessions.
      const got = yield* run(["session", "get", id, "--json"], env, "400 seconds", box.project)
      assert.strictEqual(got.code, 0, got.stderr)
      const session = JSON.parse(got.stdout) as { id: string; title: string; directory: string }
      assert.strictEqual(session.id, id)
      assert.strictEqual(session.title, "made by one run")
      // Without the outbox nothing was written under the state folder's outbox.
      assert.isFalse(existsSync(`${box.env.XDG_STATE_HOME}/plue/outbox`))
    }), 900_000)
})
