import { Cookies, HttpClient, UrlParams } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"

// The response members of UndiciHttpClient that plue's own client does not read (it reads status,
// headers, text, json, stream), as any other user of the HttpClient layer would: cookies,
// url-encoded params, bytes, a form body, its remote address and its JSON form. The real OpenCode server
// sends none of these, so a plain loopback server answers (as in Robustness.test.ts).

const serve = (answer: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly close: () => void }>((resume) => {
      const server = createServer(answer)
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

const routes = (req: IncomingMessage, res: ServerResponse) => {
  switch (req.url) {
    case "/cookies":
      res.setHeader("set-cookie", ["a=1; Path=/", "b=two; HttpOnly"])
      return res.end("ok")
    case "/cookie":
      res.setHeader("set-cookie", "only=3")
      return res.end("ok")
    case "/params":
      return res.end("x=1&y=hello%20world&x=2")
    case "/form": {
      const boundary = "plueboundary"
      res.setHeader("content-type", `multipart/form-data; boundary=${boundary}`)
      return res.end(`--${boundary}\r\ncontent-disposition: form-data; name="field"\r\n\r\nvalue\r\n--${boundary}--\r\n`)
    }
    case "/bytes":
      return res.end(Buffer.from([0, 1, 2, 255]))
    case "/cut":
      // Promises 100 bytes, sends 3, then drops the connection.
      res.writeHead(200, { "content-length": "100" })
      res.write("abc")
      return setTimeout(() => req.socket.destroy(), 50)
    default:
      return res.end("plain")
  }
}

layer(UndiciHttpClient.layer, { timeout: 60_000 })("UndiciHttpClient responses", (it) => {
  it.scoped("cookies (one or several set-cookie headers, or none), url-encoded params, bytes", () =>
    Effect.gen(function*() {
      const { url } = yield* serve(routes)
      const http = yield* HttpClient.HttpClient
      const several = yield* http.get(`${url}/cookies`)
      assert.deepStrictEqual(Object.keys(several.cookies.cookies).sort(), ["a", "b"])
      assert.strictEqual(Option.getOrThrow(Cookies.get(several.cookies, "b")).value, "two")
      assert.strictEqual(yield* several.text, "ok")
      const one = yield* http.get(`${url}/cookie`)
      assert.strictEqual(Option.getOrThrow(Cookies.get(one.cookies, "only")).value, "3")
      yield* one.text
      const none = yield* http.get(`${url}/plain`)
      assert.isTrue(Cookies.isEmpty(none.cookies))
      assert.isTrue(Option.isNone(none.remoteAddress))
      const json = none.toJSON() as { _id: string; status: number }
      assert.strictEqual(json._id, "@effect/platform/HttpClientResponse")
      assert.strictEqual(json.status, 200)
      yield* none.text

      const params = yield* (yield* http.get(`${url}/params`)).urlParamsBody
      assert.deepStrictEqual(UrlParams.getAll(params, "x"), ["1", "2"])
      assert.deepStrictEqual(UrlParams.getFirst(params, "y"), Option.some("hello world"))

      const bytes = yield* (yield* http.get(`${url}/bytes`)).arrayBuffer
      assert.deepStrictEqual([...new Uint8Array(bytes)], [0, 1, 2, 255])
    }))

  // undici's response body has no formData() (it throws NotSupportedError, even for a valid
  // multipart body): this client's formData always fails, as a typed ResponseError.
  it.scoped("formData (not supported by undici's body), a body cut short: a ResponseError (Decode), not a defect", () =>
    Effect.gen(function*() {
      const { url } = yield* serve(routes)
      const http = yield* HttpClient.HttpClient
      const form = yield* Effect.either((yield* http.get(`${url}/form`)).formData)
      assert.isTrue(Either.isLeft(form))
      assert.strictEqual(Either.getLeft(form).pipe(Option.getOrThrow).reason, "Decode")
      const notForm = yield* Effect.either((yield* http.get(`${url}/plain`)).formData)
      assert.isTrue(Either.isLeft(notForm))
      assert.strictEqual(Either.getLeft(notForm).pipe(Option.getOrThrow).reason, "Decode")
      const cut = yield* Effect.either((yield* http.get(`${url}/cut`)).arrayBuffer)
      assert.isTrue(Either.isLeft(cut))
      assert.strictEqual(Either.getLeft(cut).pipe(Option.getOrThrow).reason, "Decode")
    }))
})
