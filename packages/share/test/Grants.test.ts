import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, Plue, SessionEvents, SessionManager, ShareGrants } from "@plue/core"
import * as TestServer from "@plue/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ShareService from "../src/ShareService.js"
import * as ShareStore from "../src/ShareStore.js"

const Platform = Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)

/** The README's composition: the share service embedded, provided to `Plue.layer`. */
const readmeProgram = (box: TestServer.Sandbox, config: Record<string, unknown> = {}) => {
  const ShareLive = ShareService.layerEmbedded().pipe(
    Layer.provide(ShareStore.layerFile(mkdtempSync(join(tmpdir(), "plue-shares-")))),
    Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
  return Plue.layerManaged({ server: { cwd: box.project, env: box.env, config: { autoupdate: false, ...config } } }).pipe(
    Layer.provideMerge(ShareLive),
    Layer.provide(Platform)
  )
}

/** The first event matching `f` on a subscription (a subscription is read once). */
const nextEvent = (
  stream: Stream.Stream<SessionEvents.Delivery>,
  f: (event: SessionEvents.Delivery) => boolean
) => stream.pipe(Stream.filter(f), Stream.runHead, Effect.map(Option.getOrThrow), Effect.timeout("20 seconds"))

describe("the share service provided to Plue.layer (an Effect program built from the README)", () => {
  it.live("share returns the owner secret and expiry; the grant is taken, not kept; Shared and Unshared reach a subscriber", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.makeSandbox
      const context = yield* Layer.build(readmeProgram(box))
      const sessions = Context.get(context, SessionManager.SessionManager)
      const service = Context.get(context, ShareService.ShareService)
      const events = Context.get(context, SessionEvents.SessionEvents)
      const grants = Context.get(context, ShareGrants.ShareGrants)
      assert.isString(grants.url, "ShareGrants names the embedded service")
      const subscription = yield* events.subscribe
      const later = yield* events.subscribe

      const handle = yield* sessions.create({ title: "shared from an Effect program" })
      const id = yield* sessions.sessionId(handle)
      const before = Date.now()
      const result = yield* sessions.share(handle)
      assert.isTrue(result.url.startsWith(`${grants.url}/share/`), "the managed server shared through the embedded service")
      assert.isString(result.secret)
      assert.isNumber(result.expiresAt)
      assert.approximately(result.expiresAt! - before, 24 * 3600 * 1000, 60_000)
      assert.isTrue(yield* service.validateShare(result.url.split("/").pop()!, result.secret!))
      assert.strictEqual(yield* service.grantsHeld, 0, "the grant was handed over and forgotten")

      const shared = yield* nextEvent(subscription, (e) => e._tag === "Shared" && e.session.id === id)
      assert.strictEqual(shared._tag === "Shared" ? shared.url : "", result.url)
      yield* sessions.unshare(handle)
      const unshared = yield* nextEvent(later, (e) => e._tag === "Unshared" && e.session.id === id)
      assert.strictEqual(unshared._tag, "Unshared")
      assert.isFalse(yield* service.validateShare(result.url.split("/").pop()!, result.secret!))
      yield* sessions.destroy(handle)
    }).pipe(Effect.scoped, Effect.provide(Platform)), 120_000)

  it.live("OpenCode's share: \"auto\": a new session is shared by itself, through the same service", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.makeSandbox
      const context = yield* Layer.build(readmeProgram(box, { share: "auto" }))
      const sessions = Context.get(context, SessionManager.SessionManager)
      const events = Context.get(context, SessionEvents.SessionEvents)
      const grants = Context.get(context, ShareGrants.ShareGrants)
      const service = Context.get(context, ShareService.ShareService)
      const client = Context.get(context, OpenCodeClient.OpenCodeClient)
      const subscription = yield* events.subscribe

      const handle = yield* sessions.create({ title: "auto-shared" })
      const id = yield* sessions.sessionId(handle)
      const shared = yield* nextEvent(subscription, (e) => e._tag === "Shared" && e.session.id === id)
      const url = shared._tag === "Shared" ? shared.url : ""
      assert.isTrue(url.startsWith(`${grants.url}/share/`), url)
      assert.strictEqual((yield* client.get(id)).share?.url, url)
      const shareId = url.split("/").pop()!
      assert.isTrue(Option.isSome(yield* service.find(shareId)), "the share is live at the service")
      const page = yield* Effect.promise(() => fetch(url).then((r) => r.status))
      assert.strictEqual(page, 200, "the viewer shows it")
      // Sharing it again by hand (OpenCode makes a new share) gives that share's owner secret;
      // the auto-share's grant, never taken, is not kept beside it.
      const result = yield* sessions.share(handle)
      assert.isTrue(result.url.startsWith(`${grants.url}/share/`))
      assert.isString(result.secret)
      assert.isTrue(yield* service.validateShare(result.url.split("/").pop()!, result.secret!))
      assert.strictEqual(yield* service.grantsHeld, 0)
      yield* sessions.destroy(handle)
    }).pipe(Effect.scoped, Effect.provide(Platform)), 120_000)

  it.live("without a share service of ours (ShareGrants not provided), share gives the URL alone", () =>
    Effect.gen(function*() {
      // A share service elsewhere: the managed server shares through its URL; no grants here.
      const box = yield* TestServer.makeSandbox
      const elsewhere = yield* Layer.build(
        ShareService.layerEmbedded().pipe(
          Layer.provide(ShareStore.layerMemory),
          Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
        )
      )
      const url = Context.get(elsewhere, ShareGrants.ShareGrants).url!
      const context = yield* Layer.build(
        Plue.layerManaged({ server: { cwd: box.project, env: box.env, config: { autoupdate: false } } }).pipe(
          Layer.provide(ShareGrants.layerRemote(url)),
          Layer.provide(Platform)
        )
      )
      const sessions = Context.get(context, SessionManager.SessionManager)
      const handle = yield* sessions.create({ title: "shared elsewhere" })
      const result = yield* sessions.share(handle)
      assert.isTrue(result.url.startsWith(`${url}/share/`))
      assert.isUndefined(result.secret)
      assert.isUndefined(result.expiresAt)
      yield* sessions.destroy(handle)
    }).pipe(Effect.scoped, Effect.provide(Platform)), 120_000)
})
