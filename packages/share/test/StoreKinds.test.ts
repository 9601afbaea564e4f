import { FileSystem } from "@effect/platform"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import * as PostgreSQL from "@plue/testing/PostgreSQL"
import * as Proxy from "@plue/testing/Proxy"
import * as ShareService from "../src/ShareService.js"
import * as ShareStorePg from "../src/ShareStorePg.js"

// The service over each kind of store, through its HTTP routes: shares kept in memory
// (`layerMemory`), a share file damaged on disk, and a database that stops answering.

/** Serves `service` on a free loopback port for the scope's life: the service and its base URL. */
const serving = <E>(service: Layer.Layer<ShareService.ShareService, E>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.merge(service, NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })))
    const url = yield* Effect.provide(ShareService.serve, context)
    return { service: Context.get(context, ShareService.ShareService), url }
  })

const call = (url: string, method = "GET", body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    return { status: response.status, text: await response.text() }
  })

const create = (url: string, sessionID: string) =>
  Effect.map(call(`${url}/api/share`, "POST", { sessionID }), (r) => {
    assert.strictEqual(r.status, 200, r.text)
    return JSON.parse(r.text) as { readonly id: string; readonly url: string; readonly secret: string }
  })

describe("the share service over each store", () => {
  it.scopedLive("layerMemory: shares kept in memory, created, synced, read and removed through the routes; another layer has none", () =>
    Effect.gen(function*() {
      const { service, url } = yield* serving(ShareService.layerMemory({ ttl: "1 hour" }))
      const share = yield* create(url, "ses_memory1")
      assert.strictEqual(share.url, `${url}/share/${share.id}`)
      const items = [{ type: "session", data: { id: "ses_memory1", title: "kept in memory", time: { updated: 2 } } }]
      assert.strictEqual((yield* call(`${url}/api/share/${share.id}/sync`, "POST", { secret: share.secret, data: items })).status, 200)
      assert.deepStrictEqual(JSON.parse((yield* call(`${url}/api/share/${share.id}/data`)).text), items)
      const found = Option.getOrThrow(yield* service.find(share.id))
      assert.strictEqual(found.record.sessionID, "ses_memory1")
      assert.isNotNull(found.record.expiresAt)
      assert.deepStrictEqual(found.items, items)
      assert.include((yield* call(`${url}/share/${share.id}`)).text, "kept in memory")

      // A second memory layer is a store of its own: it never saw this share.
      const other = yield* serving(ShareService.layerMemory())
      assert.isTrue(Option.isNone(yield* other.service.find(share.id)))
      assert.strictEqual((yield* call(`${other.url}/api/share/${share.id}/data`)).status, 404)

      assert.strictEqual((yield* call(`${url}/api/share/${share.id}`, "DELETE", { secret: share.secret })).status, 200)
      assert.isTrue(Option.isNone(yield* service.find(share.id)))
      assert.strictEqual((yield* call(`${url}/api/share/${share.id}/data`)).status, 404)
    }))

  it.scopedLive("a share file damaged on disk: find fails with ShareStoreError naming the read; the routes answer 503", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* fs.makeTempDirectoryScoped({ prefix: "plue-share-damaged-" })
      const { service, url } = yield* serving(ShareService.layerFile(directory).pipe(Layer.provide(NodeContext.layer)))
      const share = yield* create(url, "ses_damaged1")
      const file = `${directory}/share-${share.id}`
      assert.isTrue(yield* fs.exists(file))
      yield* fs.writeFileString(file, "{\"id\":\"cut short")

      const error = yield* Effect.flip(service.find(share.id))
      assert.strictEqual(error._tag, "ShareStoreError")
      assert.strictEqual(error.operation, "read")
      assert.match(error.message, /^share store: read failed: .+/)
      assert.strictEqual(error.message, `share store: read failed: ${error.detail}`)

      const data = yield* call(`${url}/api/share/${share.id}/data`)
      assert.strictEqual(data.status, 503)
      assert.deepStrictEqual(JSON.parse(data.text), { error: `storage unavailable: ${error.detail}` })
      const page = yield* call(`${url}/share/${share.id}`)
      assert.strictEqual(page.status, 503)
      assert.include(page.text, "cannot reach its storage")
    }).pipe(Effect.provide(NodeContext.layer)))

  // CI installs PostgreSQL (StoreContract.test.ts fails there without it).
  it.scopedLive.skipIf(!PostgreSQL.available())(
    "/readyz: a database that stops answering makes readiness fail after readyTimeout with 503 'timed out'",
    () =>
      Effect.gen(function*() {
        const database = yield* PostgreSQL.make
        const proxy = yield* Proxy.start(`http://127.0.0.1:${database.port}`)
        const through = new URL(database.url)
        through.port = new URL(proxy.url).port
        // The connection attempt waits far longer than readiness does: readiness gives up first.
        const store = ShareStorePg.layer({ url: through.toString(), connectTimeout: "15 seconds" }).pipe(Layer.provide(NodeContext.layer))
        const { url } = yield* serving(ShareService.layer({ readyTimeout: "500 millis" }).pipe(Layer.provide(store)))
        assert.strictEqual((yield* call(`${url}/readyz`)).status, 200)

        // Connections through the proxy are cut, and what the database says is never passed on.
        proxy.setMode("swallow")
        const ready = yield* call(`${url}/readyz`)
        assert.strictEqual(ready.status, 503)
        assert.deepStrictEqual(JSON.parse(ready.text), { error: "storage unavailable: timed out" })
        assert.strictEqual((yield* call(`${url}/healthz`)).status, 200)

        proxy.setMode("pass")
        assert.strictEqual((yield* call(`${url}/readyz`)).status, 200)
      }),
    120_000
  )
})
