// docs/cli.md, "Several sessions at once": `--concurrency N` keeps at most N requests in flight,
// counted at a loopback proxy (@plue/testing Proxy) between the built CLI and the real server.
// To make the bound reached, and not only respected, the server's database is write-locked while
// the batch starts: its deletes wait on the lock, so the CLI has as many in flight as it allows.
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as DbLock from "@plue/testing/DbLock"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Effect, Either, Exit, Layer, Redacted, Scope } from "effect"
import * as Plue from "./plue.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

const DELETE = /^DELETE \/session\/ses_/

const makeSessions = (n: number, title: string) =>
  Effect.flatMap(
    OpenCodeClient.OpenCodeClient,
    (client) => Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.create({ title: `${title} ${i}` }), { concurrency: 4 })
  )

const gone = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(
    OpenCodeClient.OpenCodeClient,
    (client) => Effect.forEach(ids, (id) => Effect.map(Effect.either(client.get(id)), Either.isLeft)).pipe(Effect.map((all) => all.every(Boolean)))
  )

layer(Live, { timeout: 600_000, excludeTestServices: true })("--concurrency through the CLI, counted at a proxy", (it) => {
  for (const concurrency of [3, 1]) {
    it.scoped(
      `session delete of 12 ids --concurrency ${concurrency}: never more than ${concurrency} deletes in flight, and ${concurrency} reached`,
      () =>
        Effect.gen(function*() {
          const server = yield* OpenCodeServer.OpenCodeServer
          const box = yield* TestServer.TestSandbox
          const proxy = yield* Proxy.start(server.url)
          const ids = (yield* makeSessions(12, `concurrency ${concurrency}`)).map((s) => s.id)
          const env = { OPENCODE_URL: proxy.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
          // The lock has a scope of its own (closed early, once enough deletes wait on it); the CLI
          // belongs to the test's.
          const lock = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
          yield* Scope.extend(DbLock.hold(DbLock.databaseOf(box), "60 seconds"), lock)
          const child = yield* Plue.start(["session", "delete", ...ids, "--concurrency", String(concurrency)], env)
          yield* Wait.until(
            `${concurrency} deletes in flight at the proxy`,
            () => proxy.maxInFlight(DELETE) >= concurrency,
            { timeout: "120 seconds" }
          )
          yield* Scope.close(lock, Exit.void)
          const ran = yield* child.result
          assert.strictEqual(ran.code, 0, `${ran.stdout}\n${ran.stderr}`)
          assert.deepStrictEqual(ran.stdout.trimEnd().split("\n"), [...ids.map((id) => `deleted ${id}`), `deleted 12 of 12`])
          assert.isTrue(yield* gone(ids))
          assert.isAtLeast(proxy.count(DELETE), 12)
          assert.strictEqual(proxy.maxInFlight(DELETE), concurrency, "at most --concurrency deletes in flight, and that many reached")
        }),
      { timeout: 600_000 }
    )
  }
})
