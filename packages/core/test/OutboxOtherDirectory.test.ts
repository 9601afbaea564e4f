import { FileSystem } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import { SessionManager } from "../src/SessionManager.js"

// With the outbox on, a create is sent under an id chosen here (`POST /api/session`); a bridge
// working in another project directory than the server's gets its sessions made in that directory.
const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

layer(Live, { timeout: 240_000, excludeTestServices: true })("the outbox in another project directory", (it) => {
  it.scoped("a session created through the outbox by a bridge working in another directory is made in that directory", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const box = yield* TestServer.TestSandbox
      const other = yield* TestServer.makeSandbox
      const fs = yield* FileSystem.FileSystem
      const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-dir-" })
      const bridge = (directory: string | undefined) =>
        Effect.map(
          Layer.build(
            Plue.layer().pipe(
              Layer.provide(Outbox.layer({ stateHome })),
              Layer.provideMerge(OpenCodeConnection.layer({ url: server.url, password: server.password, directory, requestTimeout: "60 seconds" }))
            )
          ),
          (context) => Context.get(context, SessionManager)
        )
      const request = OtherClient.at(server)
      const directoryOf = (id: string) => Effect.map(request<{ directory: string }>("GET", `/session/${id}`), (s) => s.directory)

      const elsewhere = yield* bridge(other.project)
      const away = yield* elsewhere.create({ title: "made elsewhere" })
      const awayId = yield* elsewhere.sessionId(away)
      assert.strictEqual(yield* directoryOf(awayId), other.project)
      assert.strictEqual((yield* elsewhere.info(away)).title, "made elsewhere")
      assert.deepStrictEqual(yield* elsewhere.outbox.list, [])

      // The same bridge with no directory: the server's own.
      const home = yield* bridge(undefined)
      const here = yield* home.create({ title: "made here" })
      assert.strictEqual(yield* directoryOf(yield* home.sessionId(here)), box.project)
    }), 180_000)
})
