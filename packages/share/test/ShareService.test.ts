import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Scope } from "effect"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:http"
import { chromium } from "playwright-core"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OpenCodeClient, Plue, SessionManager as SessionManagerModule, ShareGrants } from "@plue/core"
import * as ShareService from "../src/ShareService.js"
import * as PlatformLayer from "@plue/testing/Platform"
import * as ShareStore from "../src/ShareStore.js"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

const Platform = PlatformLayer.layer
const dataDir = mkdtempSync(join(tmpdir(), "plue-shares-"))

/** The share service on a free loopback port, its URL provided as `ShareUrl`. */
class ShareUrl extends Context.Tag("test/ShareUrl")<ShareUrl, string>() {}
const serving = (directory: string, options: ShareService.Options = {}) =>
  Layer.effect(ShareUrl, Effect.map(ShareGrants.ShareGrants, (grants) => grants.url!)).pipe(
    Layer.provideMerge(ShareService.layerEmbedded(options)),
    Layer.provide(ShareStore.layerFile(directory)),
    Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Platform)
  )

// The managed server takes the share service's URL from ShareGrants, as the session manager
// takes its grants: no enterprise.url to pass by hand.
const Live = Plue.layer().pipe(
  Layer.provideMerge(TestServer.layer()),
  Layer.provideMerge(serving(dataDir)),
  Layer.provideMerge(Platform)
)

const call = (url: string, method = "GET", body?: unknown, raw?: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      headers: { "content-type": "application/json" },
      ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    return { status: response.status, text: await response.text() }
  })

layer(Live, { timeout: 120_000, excludeTestServices: true })("the share service with a real OpenCode server", (it) => {
  it.effect("OpenCode shares through it; the viewer shows the session; unshare makes the URL 404", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const service = yield* ShareService.ShareService
      const session = yield* client.create({ title: "Shared <b>title</b> & more" })
      const shared = yield* client.share(session.id)
      const url = shared.share?.url
      assert.isString(url)
      assert.match(url!, /\/share\/[A-Za-z0-9_-]{22}$/)
      const grant = yield* service.takeGrant(session.id)
      assert.isTrue(Option.isSome(grant), "the owner's grant is handed over once")
      assert.isTrue(Option.isNone(yield* service.takeGrant(session.id)))
      const { shareId, secret } = Option.getOrThrow(grant)
      assert.isAtLeast(Buffer.from(secret, "base64url").length, 32, "256-bit secret")
      assert.isTrue(yield* service.validateShare(shareId, secret))
      assert.isFalse(yield* service.validateShare(shareId, `${secret}x`))
      // Stored as its SHA-256 hash: the secret itself is in no file of the store.
      const stored = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
        .map((e) => readFileSync(join(e.parentPath, e.name), "utf8")).join("\n")
      assert.include(stored, createHash("sha256").update(secret).digest("hex"))
      assert.notInclude(stored, secret)

      // OpenCode syncs the session after creating the share.
      yield* Effect.ignore(Wait.until(
        "OpenCode to sync the shared session",
        Effect.map(
          call(`${url!.replace("/share/", "/api/share/")}/data`),
          (data) => data.text.includes("Shared <b>title</b>")
        ),
        { every: "100 millis" }
      ))
      const data = yield* call(`${url!.replace("/share/", "/api/share/")}/data`)
      assert.strictEqual(data.status, 200)
      assert.include(data.text, "\"type\":\"session\"")
      const page = yield* call(url!)
      assert.strictEqual(page.status, 200)
      assert.include(page.text, "<h1>Shared &lt;b&gt;title&lt;/b&gt; &amp; more</h1>", "the title, escaped")
      assert.notInclude(page.text, "<b>title</b>")

      yield* client.unshare(session.id)
      assert.strictEqual((yield* call(url!)).status, 404)
      assert.strictEqual((yield* call(`${url!.replace("/share/", "/api/share/")}/data`)).status, 404)
      assert.isFalse(yield* service.validateShare(shareId, secret))
    }))

  it.effect("SessionManager.share returns the URL, the owner secret and the expiry; the secret validates", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManagerModule.SessionManager
      const service = yield* ShareService.ShareService
      const handle = yield* sessions.create({ title: "managed share" })
      const before = Date.now()
      const result = yield* sessions.share(handle)
      assert.match(result.url, /\/share\/[A-Za-z0-9_-]{22}$/)
      assert.isString(result.secret)
      assert.isNumber(result.expiresAt)
      assert.approximately(result.expiresAt! - before, 24 * 3600 * 1000, 60_000, "24 hours by default")
      const shareId = result.url.split("/").pop()!
      assert.isTrue(yield* service.validateShare(shareId, result.secret!))
      const info = yield* sessions.info(handle)
      assert.strictEqual(info.share?.url, result.url)
      yield* sessions.unshare(handle)
      assert.isFalse(yield* service.validateShare(shareId, result.secret!), "unshare revokes it at the service")
      yield* sessions.destroy(handle)
    }))

  it.effect("a wrong or missing secret gets 403 and changes nothing; bad input gets 400/413", () =>
    Effect.gen(function*() {
      const base = yield* ShareUrl
      const created = yield* call(`${base}/api/share`, "POST", { sessionID: "ses_abc123" })
      assert.strictEqual(created.status, 200)
      const { id, secret } = JSON.parse(created.text) as { id: string; secret: string }
      const sync = `${base}/api/share/${id}/sync`
      assert.strictEqual((yield* call(sync, "POST", { secret: "nope", data: [{ type: "session", data: { title: "evil" } }] })).status, 403)
      assert.strictEqual((yield* call(`${base}/api/share/${id}`, "DELETE", { secret: "nope" })).status, 403)
      assert.strictEqual((yield* call(`${base}/api/share/${id}`, "DELETE", {})).status, 400)
      assert.notInclude((yield* call(`${base}/api/share/${id}/data`)).text, "evil")
      assert.strictEqual((yield* call(sync, "POST", undefined, "{not json")).status, 400)
      assert.strictEqual((yield* call(`${base}/api/share`, "POST", { sessionID: "../etc" })).status, 400)
      assert.strictEqual((yield* call(sync, "POST", undefined, JSON.stringify({ secret, data: "x".repeat(9 * 1024 * 1024) }))).status, 413)
      const many = Array.from({ length: 5001 }, (_, i) => ({ type: "part", data: { id: `prt_${i}` } }))
      assert.strictEqual((yield* call(sync, "POST", { secret, data: many })).status, 413)
      assert.strictEqual((yield* call(sync, "POST", { secret, data: [{ type: "session", data: { title: "fine" } }] })).status, 200)
      assert.strictEqual((yield* call(`${base}/api/share/not-a-share-id!`)).status, 404)
      assert.strictEqual((yield* call(`${base}/share/AAAAAAAAAAAAAAAAAAAAAA`)).status, 404)
    }))
})

describe("the share service on its own", () => {
  it.live("expired shares answer 404 at once, everywhere", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const base = yield* Layer.buildWithScope(serving(mkdtempSync(join(tmpdir(), "plue-shares-")), { ttl: "2 seconds" }), scope).pipe(
        Effect.map((context) => Context.get(context, ShareUrl))
      )
      const { id, secret } = JSON.parse((yield* call(`${base}/api/share`, "POST", { sessionID: "ses_abc" })).text)
      assert.strictEqual((yield* call(`${base}/share/${id}`)).status, 200)
      // Its time to live (2 s) passes; then every route answers 404.
      yield* Effect.ignore(Wait.until("the share to expire", Effect.map(call(`${base}/share/${id}`), (r) => r.status === 404)))
      assert.strictEqual((yield* call(`${base}/share/${id}`)).status, 404)
      assert.strictEqual((yield* call(`${base}/api/share/${id}/data`)).status, 404)
      assert.strictEqual((yield* call(`${base}/api/share/${id}/sync`, "POST", { secret, data: [] })).status, 404)
      yield* Scope.close(scope, Exit.void)
    }))

  it.live("shares survive a restart of the service (disk store)", () =>
    Effect.gen(function*() {
      const directory = mkdtempSync(join(tmpdir(), "plue-shares-"))
      const first = yield* Scope.make()
      const base1 = yield* Effect.map(Layer.buildWithScope(serving(directory), first), (c) => Context.get(c, ShareUrl))
      const { id, secret } = JSON.parse((yield* call(`${base1}/api/share`, "POST", { sessionID: "ses_kept" })).text)
      yield* call(`${base1}/api/share/${id}/sync`, "POST", { secret, data: [{ type: "session", data: { title: "Kept across restarts" } }] })
      yield* Scope.close(first, Exit.void)

      const second = yield* Scope.make()
      const base2 = yield* Effect.map(Layer.buildWithScope(serving(directory), second), (c) => Context.get(c, ShareUrl))
      const page = yield* call(`${base2}/share/${id}`)
      assert.strictEqual(page.status, 200)
      assert.include(page.text, "Kept across restarts")
      assert.strictEqual((yield* call(`${base2}/api/share/${id}`, "DELETE", { secret })).status, 200)
      assert.strictEqual((yield* call(`${base2}/share/${id}`)).status, 404)
      yield* Scope.close(second, Exit.void)
    }))
})

const CHROMIUM = "/usr/bin/chromium"
const haveChromium = existsSync(CHROMIUM)

describe("the viewer in a real browser", () => {
  // CI installs Chromium (scripts/setup-browser.sh): there, a missing browser is a failure.
  it.live("CI has Chromium", () => Effect.sync(() => assert.isTrue(haveChromium || process.env.CI !== "true", "run scripts/setup-browser.sh")))

  it.live.runIf(haveChromium)("headless Chromium opens the share URL and shows the title; after unshare the URL is gone", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Live)
      const client = Context.get(context, OpenCodeClient.OpenCodeClient)
      const session = yield* client.create({ title: "Seen in Chromium ✓" })
      const url = (yield* client.share(session.id)).share!.url
      const browser = yield* Effect.acquireRelease(
        Effect.promise(() =>
          chromium.launch({
            executablePath: CHROMIUM,
            args: [
              "--no-sandbox",
              "--disable-gpu",
              "--disable-quic",
              "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update",
              "--disable-sync"
            ]
          })
        ),
        (b) => Effect.promise(() => b.close())
      )
      const page = yield* Effect.promise(() => browser.newPage())
      let heading = ""
      yield* Effect.ignore(Wait.until(
        "the viewer to show the title",
        Effect.gen(function*() {
          yield* Effect.promise(() => page.goto(url))
          heading = yield* Effect.promise(() => page.locator("h1").innerText())
          return heading === "Seen in Chromium ✓"
        }),
        { every: "100 millis" }
      ))
      assert.strictEqual(heading, "Seen in Chromium ✓")
      assert.strictEqual(yield* Effect.promise(() => page.title()), "Seen in Chromium ✓")
      yield* client.unshare(session.id)
      const gone = yield* Effect.promise(() => page.goto(url))
      assert.strictEqual(gone?.status(), 404)
    }).pipe(Effect.scoped), 60_000)
})
