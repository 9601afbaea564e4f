import * as Platform from "@plue/testing/Platform"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FileSystem from "@effect/platform/FileSystem"
import { createServer } from "node:net"
import { run } from "./plue.js"

describe("plue share-server on a port another program holds", () => {
  it.scoped("exits 1 with one line that says it could not listen and asks whether the port is free", () =>
    Effect.gen(function*() {
      // Another program listening on the port: ours cannot take it.
      const holder = yield* Effect.acquireRelease(
        Effect.async<ReturnType<typeof createServer>>((resume) => {
          const server = createServer()
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const port = (holder.address() as { port: number }).port
      const data = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped({ prefix: "plue-shares-" })
      const result = yield* run(["share-server", "--host", "127.0.0.1", "--port", String(port), "--data", data], {}, "120 seconds")
      assert.strictEqual(result.code, 1, result.stderr)
      const lines = result.stderr.split("\n").filter((l) => l !== "")
      assert.strictEqual(lines.length, 1, result.stderr)
      assert.match(lines[0]!, /^plue: the share server could not listen: .*EADDRINUSE.*; is the port free\?$/)
      assert.strictEqual(result.stdout, "")
    }).pipe(Effect.provide(Platform.layer)), 180_000)
})
