import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { OpenCodeClient } from "@plue/core"
import * as PostgreSQL from "@plue/testing/PostgreSQL"
import { childEnv } from "@plue/testing/ChildEnv"
import * as TestServer from "@plue/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "@plue/testing/Net"

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const Platform = Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)
const havePostgres = PostgreSQL.available()

const call = (url: string, method = "GET", body?: unknown) =>
  Effect.promise(async () => {
    try {
      const response = await fetch(url, {
        method,
        headers: { "content-type": "application/json" },
        signal: AbortSignal.timeout(20_000),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {})
      })
      return { status: response.status, text: await response.text() }
    } catch (error) {
      return { status: 0, text: String(error) }
    }
  })

const waitFor = (child: ChildProcess, pattern: RegExp) =>
  new Promise<string>((resolve, reject) => {
    let seen = ""
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${seen}`)), 60_000)
    child.stderr!.on("data", (d) => {
      seen += d
      if (pattern.test(seen)) {
        clearTimeout(timer)
        resolve(seen)
      }
    })
    child.on("exit", (code) => reject(new Error(`exited with ${code} before ${pattern}: ${seen}`)))
  })

/** A `plue share-server --store` replica; the test's scope kills it. */
/** Replica A gets the database by --store, B by PLUE_SHARE_STORE (both ways are tested). */
const replica = (database: string, how: "flag" | "env" = "env") =>
  Effect.gen(function*() {
    const port = yield* freePort
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [BIN, "share-server", "--port", String(port), ...(how === "flag" ? ["--store", database] : [])], {
          env: childEnv({
            HOME: mkdtempSync(join(tmpdir(), "plue-home-")),
            ...(how === "env" ? { PLUE_SHARE_STORE: database } : {})
          }),
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      // SIGTERM first: the replica exits through its own shutdown (and writes its coverage); a
      // replica still running 10 s later is killed.
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
          child.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          child.kill("SIGTERM")
        })
    )
    const banner = yield* Effect.promise(() => waitFor(child, /listening on \S+/))
    assert.include(banner, "shares in PostgreSQL at postgres://postgres@127.0.0.1:")
    return { url: `http://127.0.0.1:${port}`, child }
  })

/** Polls `effect` until `done` holds, up to `limit` (generous), and returns the last value. */
const until = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean, limit = 200) =>
  Effect.gen(function*() {
    let value = yield* effect
    for (let i = 0; i < limit && !done(value); i++) {
      yield* Effect.sleep("100 millis")
      value = yield* effect
    }
    return value
  })

describe("share-server replicas on one PostgreSQL", () => {
  it.live("CI has PostgreSQL", () => Effect.sync(() => assert.isTrue(havePostgres || process.env.CI !== "true", "run scripts/setup-postgres.sh")))

  it.scopedLive.runIf(havePostgres)("a share made through A is viewed through B; unshare: both 404 within a second", () =>
    Effect.gen(function*() {
      const pg = yield* PostgreSQL.make
      const a = yield* replica(pg.url, "flag")
      const b = yield* replica(pg.url, "env")
      // OpenCode is pointed at replica A.
      const context = yield* Layer.build(TestServer.layer({ config: { enterprise: { url: a.url } } }).pipe(Layer.provide(Platform)))
      const client = Context.get(context, OpenCodeClient.OpenCodeClient)
      const session = yield* client.create({ title: "Replicated share" })
      const url = (yield* client.share(session.id)).share!.url
      assert.isTrue(url.startsWith(`${a.url}/share/`))
      const id = url.split("/").pop()!
      const data = yield* until(call(`${b.url}/api/share/${id}/data`), (r) => r.text.includes("Replicated share"))
      assert.strictEqual(data.status, 200, "B serves the data OpenCode synced through A")
      const page = yield* call(`${b.url}/share/${id}`)
      assert.strictEqual(page.status, 200)
      assert.include(page.text, "<h1>Replicated share</h1>")

      yield* client.unshare(session.id)
      const unsharedAt = Date.now()
      const gone = (base: string) => until(call(`${base}/share/${id}`), (r) => r.status === 404, 10)
      const [onA, onB] = yield* Effect.all([gone(a.url), gone(b.url)], { concurrency: 2 })
      const elapsed = Date.now() - unsharedAt
      assert.strictEqual(onA.status, 404)
      assert.strictEqual(onB.status, 404)
      assert.isBelow(elapsed, 1_000, "both replicas answer 404 within a second of the unshare")
      assert.strictEqual((yield* call(`${b.url}/api/share/${id}/data`)).status, 404)
    }), 240_000)

  it.scopedLive.runIf(havePostgres)("a replica killed with kill -9 mid-sync loses no acknowledged sync", () =>
    Effect.gen(function*() {
      const pg = yield* PostgreSQL.make
      const a = yield* replica(pg.url)
      const b = yield* replica(pg.url)
      const created = JSON.parse((yield* call(`${a.url}/api/share`, "POST", { sessionID: "ses_killed" })).text) as { id: string; secret: string }
      const acknowledged: Array<number> = []
      let killed = false
      yield* Effect.forEach(Array.from({ length: 400 }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          const result = yield* call(`${a.url}/api/share/${created.id}/sync`, "POST", {
            secret: created.secret,
            data: [{ type: "part", data: { id: `prt_${String(i).padStart(4, "0")}`, text: "x".repeat(2000) } }]
          })
          if (result.status === 200) acknowledged.push(i)
          if (acknowledged.length >= 50 && !killed) {
            killed = true
            a.child.kill("SIGKILL")
          }
        }), { concurrency: 16, discard: true })
      assert.isTrue(killed, "A was killed while syncs were in flight")
      assert.isBelow(acknowledged.length, 400, "some syncs were cut by the kill")
      const data = yield* call(`${b.url}/api/share/${created.id}/data`)
      assert.strictEqual(data.status, 200)
      const stored = new Set((JSON.parse(data.text) as Array<{ data: { id: string } }>).map((item) => item.data.id))
      const lost = acknowledged.filter((i) => !stored.has(`prt_${String(i).padStart(4, "0")}`))
      assert.deepStrictEqual(lost, [], "every acknowledged sync is in the database")
    }), 240_000)

  it.scopedLive.runIf(havePostgres)(
    "a PostgreSQL restart: replicas answer 503 quickly while it is down, then recover on their own",
    () =>
      Effect.gen(function*() {
        const pg = yield* PostgreSQL.make
        const a = yield* replica(pg.url)
        const b = yield* replica(pg.url)
        const created = JSON.parse((yield* call(`${a.url}/api/share`, "POST", { sessionID: "ses_restart" })).text) as { id: string; secret: string }
        yield* call(`${a.url}/api/share/${created.id}/sync`, "POST", {
          secret: created.secret,
          data: [{ type: "session", data: { id: "ses_restart", title: "Survives" } }]
        })
        assert.strictEqual((yield* call(`${b.url}/readyz`)).status, 200)

        yield* pg.stop
        for (const replica of [a, b]) {
          const started = Date.now()
          const ready = yield* call(`${replica.url}/readyz`)
          assert.strictEqual(ready.status, 503, ready.text)
          assert.isBelow(Date.now() - started, 10_000, "503 comes quickly, it does not hang")
          assert.strictEqual((yield* call(`${replica.url}/healthz`)).status, 200, "the process itself is live")
          assert.strictEqual((yield* call(`${replica.url}/share/${created.id}`)).status, 503)
          assert.strictEqual((yield* call(`${replica.url}/api/share`, "POST", { sessionID: "ses_down" })).status, 503)
        }

        yield* pg.start
        for (const replica of [a, b]) {
          const ready = yield* until(call(`${replica.url}/readyz`), (r) => r.status === 200)
          assert.strictEqual(ready.status, 200, "ready again without a restart of the replica")
          const page = yield* call(`${replica.url}/share/${created.id}`)
          assert.strictEqual(page.status, 200)
          assert.include(page.text, "Survives")
        }
      }),
    240_000
  )
})
