import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ShareGrants } from "@plue/core"
import * as PlatformLayer from "@plue/testing/Platform"
import * as ShareService from "../src/ShareService.js"
import * as ShareStore from "../src/ShareStore.js"

// The viewer page as the share service serves it (GET /share/:id) after a sync through its own
// HTTP API (POST /api/share/:id/sync), the route OpenCode calls: messages in the order they were
// written, each message's parts by id, text and tool parts shown, every string escaped. The
// ShareService test shares a real OpenCode session (title only: no model turn); here the synced
// items carry messages and parts of every kind the viewer knows.
class ShareUrl extends Context.Tag("test/ShareUrl")<ShareUrl, string>() {}
const Live = Layer.effect(ShareUrl, Effect.map(ShareGrants.ShareGrants, (grants) => grants.url!)).pipe(
  Layer.provideMerge(ShareService.layerEmbedded()),
  Layer.provide(ShareStore.layerMemory),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provide(PlatformLayer.layer)
)

const call = (url: string, method = "GET", body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    return { status: response.status, text: await response.text() }
  })

/** A share created through the API, with `items` synced into it; returns its viewer page. */
const sharePage = (sessionID: string, items: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const base = yield* ShareUrl
    const created = yield* call(`${base}/api/share`, "POST", { sessionID })
    assert.strictEqual(created.status, 200, created.text)
    const { id, secret, url } = JSON.parse(created.text) as { id: string; secret: string; url: string }
    if (items.length > 0) {
      const synced = yield* call(`${base}/api/share/${id}/sync`, "POST", { secret, data: items })
      assert.strictEqual(synced.status, 200, synced.text)
    }
    const page = yield* call(url)
    assert.strictEqual(page.status, 200)
    return page.text
  })

layer(Live, { timeout: 60_000 })("the share viewer page", (it) => {
  it.effect("messages by time, parts by id, text and tool parts shown and escaped, other parts left out", () =>
    Effect.gen(function*() {
      const page = yield* sharePage("ses_viewer1", [
        { type: "session", data: { id: "ses_viewer1", title: "A <i>viewed</i> session" } },
        // Written out of order: the viewer sorts by creation time, then by id.
        { type: "message", data: { id: "msg_2", role: "assistant", time: { created: 2_000 } } },
        { type: "message", data: { id: "msg_1", role: "user", time: { created: 1_000 } } },
        { type: "message", data: { id: "msg_0", role: "<script>", time: { created: 2_000 } } },
        { type: "part", data: { id: "prt_b", messageID: "msg_1", type: "text", text: "second <b>part</b>" } },
        { type: "part", data: { id: "prt_a", messageID: "msg_1", type: "text", text: "first & \"quoted\" 'part'" } },
        { type: "part", data: { id: "prt_c", messageID: "msg_2", type: "tool", tool: "bash<x>", state: { status: "completed" } } },
        { type: "part", data: { id: "prt_d", messageID: "msg_2", type: "tool" } },
        { type: "part", data: { id: "prt_e", messageID: "msg_2", type: "reasoning", text: "not shown" } },
        { type: "part", data: { id: "prt_f", messageID: "msg_2", type: "text", text: 42 } }
      ])
      assert.include(page, "<title>A &lt;i&gt;viewed&lt;/i&gt; session</title>")
      assert.include(page, "<h1>A &lt;i&gt;viewed&lt;/i&gt; session</h1>")
      const user = page.indexOf("<h2>user</h2>")
      const scripted = page.indexOf("<h2>&lt;script&gt;</h2>")
      const assistant = page.indexOf("<h2>assistant</h2>")
      assert.isTrue(user !== -1 && scripted !== -1 && assistant !== -1, page)
      assert.isBelow(user, scripted, "the older message first")
      assert.isBelow(scripted, assistant, "same time: by id (msg_0 before msg_2)")
      assert.include(page, "<section class=\"message &lt;script&gt;\">")
      const first = page.indexOf("<p class=\"text\">first &amp; &quot;quoted&quot; &#39;part&#39;</p>")
      const second = page.indexOf("<p class=\"text\">second &lt;b&gt;part&lt;/b&gt;</p>")
      assert.isTrue(first !== -1 && second !== -1, page)
      assert.isBelow(first, second, "a message's parts by id")
      assert.include(page, "<p class=\"tool\">tool <code>bash&lt;x&gt;</code> (completed)</p>")
      assert.include(page, "<p class=\"tool\">tool <code>?</code> (?)</p>", "a tool part without name or state")
      assert.notInclude(page, "not shown", "a reasoning part is not shown")
      assert.notInclude(page, ">42<", "a text part whose text is not a string is not shown")
      assert.notInclude(page, "<script>")
      assert.notInclude(page, "No messages yet.")
    }))

  it.effect("a share with nothing synced: the default title and 'No messages yet.'", () =>
    Effect.gen(function*() {
      const page = yield* sharePage("ses_viewer2", [])
      assert.include(page, "<h1>Shared session</h1>")
      assert.include(page, "<p>No messages yet.</p>")
    }))

  it.effect("messages without a role or a time: shown as 'message', in id order", () =>
    Effect.gen(function*() {
      const page = yield* sharePage("ses_viewer3", [
        { type: "message", data: { id: "msg_b" } },
        { type: "message", data: { id: "msg_a", time: {} } },
        { type: "part", data: { id: "prt_1", messageID: "msg_b", type: "text", text: "in b" } },
        { type: "part", data: { id: "prt_2", messageID: "msg_a", type: "text", text: "in a" } }
      ])
      assert.include(page, "<section class=\"message \"><h2>message</h2>")
      assert.isBelow(page.indexOf("in a"), page.indexOf("in b"))
      assert.include(page, "<h1>Shared session</h1>")
    }))
})

// The file store (ShareService.layerFile, served with ShareService.serve) when a share's file
// cannot be read: the page says the storage cannot be reached (503), not that the share is gone.
const directory = mkdtempSync(join(tmpdir(), "plue-viewer-"))
const FileBacked = Layer.scoped(ShareUrl, ShareService.serve).pipe(
  Layer.provideMerge(ShareService.layerFile(directory)),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provide(PlatformLayer.layer)
)

layer(FileBacked, { timeout: 60_000 })("the share viewer over the file store", (it) => {
  it.effect("a share whose file cannot be read: 503 'cannot reach its storage'; its file removed: 404", () =>
    Effect.gen(function*() {
      const base = yield* ShareUrl
      const created = yield* call(`${base}/api/share`, "POST", { sessionID: "ses_viewer4" })
      assert.strictEqual(created.status, 200, created.text)
      const { id, url } = JSON.parse(created.text) as { id: string; url: string }
      assert.strictEqual((yield* call(url)).status, 200)
      // The share's file replaced by a directory of the same name: reading it fails (EISDIR).
      const file = join(directory, encodeURIComponent(`share-${id}`))
      rmSync(file)
      mkdirSync(file)
      const broken = yield* call(url)
      assert.strictEqual(broken.status, 503)
      assert.include(broken.text, "The share service cannot reach its storage; try again.")
      const data = yield* call(`${base}/api/share/${id}/data`)
      assert.strictEqual(data.status, 503, data.text)
      rmSync(file, { recursive: true })
      assert.strictEqual((yield* call(url)).status, 404, "the share is gone with its file")
    }))
})
