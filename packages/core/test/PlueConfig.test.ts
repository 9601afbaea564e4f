import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Option, Redacted, Stream } from "effect"
import { mkdtempSync, realpathSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import { SessionEvents } from "../src/SessionEvents.js"
import { SessionManager } from "../src/SessionManager.js"
import * as SessionSync from "../src/SessionSync.js"
import * as TestServer from "@plue/testing/TestServer"

// `Plue.layerConfig`: the whole bridge over an existing server named by configuration
// (OPENCODE_URL, OPENCODE_SERVER_PASSWORD, OPENCODE_DIRECTORY), built as a user's program would.

const Live = TestServer.layer().pipe(Layer.provideMerge(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)))

const fromMap = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

layer(Live, { timeout: 180_000, excludeTestServices: true })("Plue.layerConfig", (it) => {
  it.scoped("reads the server, its password and the project directory from configuration; the bridge works over it", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const directory = realpathSync(mkdtempSync(join(tmpdir(), "plue-layer-config-")))
      const context = yield* Layer.build(Plue.layerConfig().pipe(Layer.provide(NodeHttpClient.layerUndici))).pipe(
        fromMap({ OPENCODE_URL: `${server.url}/`, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password), OPENCODE_DIRECTORY: directory })
      )
      const connection = Context.get(context, OpenCodeConnection.OpenCodeConnection)
      assert.strictEqual(connection.url, server.url, "the trailing slash is dropped")
      assert.deepStrictEqual(connection.directory, Option.some(directory))

      const sync = Context.get(context, SessionSync.SessionSync)
      yield* sync.awaitConnected
      const events = Context.get(context, SessionEvents)
      const seen = yield* Stream.toPull(yield* events.subscribe)
      const manager = Context.get(context, SessionManager)
      const handle = yield* manager.create({ title: "through layerConfig" })
      const info = yield* manager.info(handle)
      assert.strictEqual(info.title, "through layerConfig")
      assert.strictEqual(info.directory, directory, "created in OPENCODE_DIRECTORY")
      assert.include((yield* manager.list).map((s) => s.id), info.id)
      // The event stream follows that directory: the creation is published once, as local.
      let created: { _tag: string; origin?: string } | undefined
      while (created === undefined) {
        const chunk = yield* seen
        created = [...chunk].find((e) => e._tag === "Created" && "session" in e && e.session.id === info.id) as typeof created
      }
      assert.strictEqual(created!.origin, "local")
      yield* manager.delete(handle)
    }))

  it.effect("fails with a ConfigError naming OPENCODE_URL when it is missing or not an http(s) URL", () =>
    Effect.gen(function*() {
      for (const env of [{}, { OPENCODE_URL: "ftp://x" }]) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(Plue.layerConfig().pipe(Layer.provide(NodeHttpClient.layerUndici)))).pipe(fromMap(env)))
        assert.strictEqual(error._tag, "ConfigError" as never)
        assert.include(String(error), "OPENCODE_URL")
      }
    }))
})
