import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Plue from "../src/Plue.js"
import { SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"

// After our own write, the cache skips what differs from it until the write's echo comes on the
// event stream (until then, what differs is older). A session of another project still echoes on
// our stream (the server publishes a write on the stream of the directory that sent it), so its
// next read by id, after another client's later write there, is taken in at once.
const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

layer(Live, { timeout: 180_000, excludeTestServices: true })("reading a session after our own write", (it) => {
  it.scoped("another project's session, renamed by us and then by another client: the next read by id shows the other client's title", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const other = yield* TestServer.makeSandbox
      // Our bridge works in another project, with a TTL so short that every read goes to the server.
      const context = yield* Layer.build(
        Plue.layer({ cache: { ttl: "1 millis" } }).pipe(
          Layer.provideMerge(OpenCodeConnection.layer({ url: server.url, password: server.password, directory: other.project, requestTimeout: "60 seconds" }))
        )
      )
      const sessions = Context.get(context, SessionManager)
      yield* Context.get(context, SessionSync).awaitConnected
      const request = OtherClient.at(server)
      const foreign = yield* request<{ id: string }>("POST", "/session", { title: "in the server's own project" })

      const handle = yield* sessions.open(foreign.id)
      yield* sessions.updateTitle(handle, "ours")
      assert.strictEqual((yield* sessions.info(handle)).title, "ours")
      yield* request("PATCH", `/session/${foreign.id}`, { title: "theirs, after ours" })
      assert.strictEqual((yield* sessions.info(handle)).title, "theirs, after ours")
    }))
})
