import { HttpClient } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"

// `response.json` of UndiciHttpClient, as any user of the HttpClient layer reads it: a JSON body
// is parsed, an empty one is null, and a body that is not JSON is a typed ResponseError (Decode)
// carrying the parser's error, never a defect. A plain loopback server answers (as in
// UndiciResponse.test.ts): OpenCode's own routes answer JSON.

const bodies: Record<string, string> = {
  "/json": "{\"ok\":true,\"n\":[1,2]}",
  "/empty": "",
  "/html": "<!doctype html><title>not json</title>"
}

const serve = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly close: () => void }>((resume) => {
    const server = createServer((req, res) => res.end(bodies[req.url ?? ""] ?? ""))
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })))
  }),
  ({ close }) => Effect.sync(close)
)

layer(UndiciHttpClient.layer, { timeout: 60_000 })("UndiciHttpClient's json", (it) => {
  it.scoped("parses JSON, reads an empty body as null, and fails a body that is not JSON with ResponseError (Decode)", () =>
    Effect.gen(function*() {
      const { url } = yield* serve
      const http = yield* HttpClient.HttpClient
      assert.deepStrictEqual(yield* (yield* http.get(`${url}/json`)).json, { ok: true, n: [1, 2] })
      assert.isNull(yield* (yield* http.get(`${url}/empty`)).json)

      const html = yield* http.get(`${url}/html`)
      const error = yield* Effect.flip(html.json)
      assert.strictEqual(error._tag, "ResponseError")
      assert.strictEqual(error.reason, "Decode")
      assert.strictEqual(error.response.status, 200)
      assert.instanceOf(error.cause, SyntaxError)
      // The body was read once: its text is still there for whoever wants to say what came.
      assert.strictEqual(yield* html.text, bodies["/html"])
    }))
})
