import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Loopback from "@plue/testing/Loopback"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"

// Request bodies plue's own client never sends (it sends JSON) but any user of the HttpClient
// layer may: a form (a global FormData, as HttpBody.formData takes; it failed with a transport
// error, "action is not a function", before) and a stream. A loopback server echoes what it got.

const echo = Loopback.serve((req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () =>
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
      contentType: req.headers["content-type"] ?? "",
      body: Buffer.concat(chunks).toString("utf8")
    })))
})

layer(UndiciHttpClient.layer)("UndiciHttpClient sends every kind of body", (it) => {
  it.scoped("a form (multipart) and a stream arrive whole", () =>
    Effect.gen(function*() {
      const { url } = yield* echo
      const client = yield* HttpClient.HttpClient
      const form = new FormData()
      form.append("title", "Grüße")
      form.append("file", new Blob(["file contents"], { type: "text/plain" }), "notes.txt")
      const sentForm = yield* client.execute(HttpClientRequest.post(`${url}/form`).pipe(HttpClientRequest.setBody(HttpBody.formData(form))))
      const gotForm = (yield* sentForm.json) as { contentType: string; body: string }
      assert.match(gotForm.contentType, /^multipart\/form-data; boundary=/)
      assert.include(gotForm.body, "name=\"title\"")
      assert.include(gotForm.body, "Grüße")
      assert.include(gotForm.body, "filename=\"notes.txt\"")
      assert.include(gotForm.body, "file contents")

      const parts = Stream.make("one ", "two ", "three").pipe(Stream.encodeText)
      const sentStream = yield* client.execute(
        HttpClientRequest.post(`${url}/stream`).pipe(HttpClientRequest.setBody(HttpBody.stream(parts, "text/plain")))
      )
      const gotStream = (yield* sentStream.json) as { contentType: string; body: string }
      assert.strictEqual(gotStream.contentType, "text/plain")
      assert.strictEqual(gotStream.body, "one two three")
    }))
})
