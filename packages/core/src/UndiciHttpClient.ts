/**
 * An `HttpClient` on undici's `Dispatcher.request`, cheaper per request than
 * `NodeHttpClient.layerUndici` while no tracer is installed: no URL object per request, no span
 * or trace headers, no `AbortController` (interruption reaches undici through an EventEmitter
 * signal and the body stream is destroyed directly), and a response body read straight from
 * undici's stream. With a tracer installed (anything but Effect's built-in one),
 * requests take `@effect/platform`'s own path, spans and trace headers included.
 *
 * It is an ordinary `HttpClient`: `OpenCodeClient` works over any other, and this one works
 * for any request.
 *
 * @since 0.1.0
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import type * as Body from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Undici from "@effect/platform-node/Undici"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import { EventEmitter } from "node:events"

/** Effect's built-in tracer: with it, nobody collects spans. */
const builtInTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** `http://host:port/path?query` split without a URL object; `undefined` when not that simple. */
const split = (url: string): { readonly origin: string; readonly path: string } | undefined => {
  const scheme = url.startsWith("http://") ? 7 : url.startsWith("https://") ? 8 : -1
  if (scheme < 0) return undefined
  const slash = url.indexOf("/", scheme)
  const origin = slash < 0 ? url : url.slice(0, slash)
  // A character a URL object would rewrite (space, backslash, `#`, userinfo, non-ASCII): take
  // the general path.
  if (origin.length === scheme || /[@\s\\#]|[^\x21-\x7e]/.test(url)) return undefined
  return { origin, path: slash < 0 ? "/" : url.slice(slash) }
}

const convertBody = (body: Body.HttpBody): Effect.Effect<Exclude<Undici.Dispatcher.DispatchOptions["body"], undefined>> => {
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(null)
    case "Uint8Array":
    case "Raw":
      return Effect.succeed(body.body as Uint8Array)
    case "FormData": {
      // undici's request() encodes only a FormData of its own package: a global one (what
      // HttpBody.formData takes) failed with "action is not a function". Its entries are copied.
      const form = new Undici.FormData()
      for (const [name, value] of body.formData as unknown as Iterable<[string, string | Blob]>) form.append(name, value)
      return Effect.succeed(form)
    }
    case "Stream":
      return NodeStream.toReadable(body.stream)
  }
}

const send = (
  dispatcher: Undici.Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  origin: string,
  path: string,
  body: Exclude<Undici.Dispatcher.DispatchOptions["body"], undefined>
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.async((resume) => {
    // undici takes an EventEmitter as the abort signal: cheaper than an AbortController a request.
    const signal = new EventEmitter()
    let aborted = false
    dispatcher.request({
      signal,
      method: request.method,
      headers: request.headers,
      origin,
      path,
      body,
      // Deadlines are the caller's (Effect.timeout and the like).
      headersTimeout: 60 * 60 * 1000,
      bodyTimeout: 0
    }).then(
      (response) => {
        // Interrupted while the answer arrived: nobody will read the body.
        if (aborted) return response.body.destroy()
        resume(Effect.succeed(new Response(request, response)))
      },
      (cause) => resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
    )
    return Effect.sync(() => {
      aborted = true
      signal.emit("abort")
    })
  })

/**
 * A client over `dispatcher`.
 *
 * @since 0.1.0
 */
export const make = (dispatcher: Undici.Dispatcher): HttpClient.HttpClient => {
  // The general path (spans, trace headers), taken with a tracer installed or an unusual URL.
  const general = HttpClient.make((request, url, _signal, _fiber) =>
    Effect.flatMap(convertBody(request.body), (body) => send(dispatcher, request, url.origin, url.pathname + url.search + url.hash, body))
  )
  return HttpClient.makeWith(
    (effect) =>
      Effect.flatMap(effect, (request) =>
        Effect.withFiberRuntime((fiber) => {
          const traced = fiber.getFiberRef(FiberRef.currentTracerEnabled) && fiber.currentTracer !== builtInTracer
          const target = traced || Option.isSome(request.hash) ? undefined : split(request.url)
          if (target === undefined) return general.execute(request)
          const path = request.urlParams.length === 0
            ? target.path
            : `${target.path}${target.path.includes("?") ? "&" : "?"}${UrlParams.toString(request.urlParams)}`
          return request.body._tag === "Empty"
            ? send(dispatcher, request, target.origin, path, null)
            : Effect.flatMap(convertBody(request.body), (body) => send(dispatcher, request, target.origin, path, body))
        })),
    Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
  )
}

/**
 * Reads a body as text once; an interruption destroys the stream. The canceler form of
 * `Effect.async` (no `signal` parameter) spares an `AbortController` per response.
 */
const readText = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse,
  text: () => Promise<string>,
  destroy: () => void
) =>
  Effect.async<string, HttpClientError.ResponseError>((resume) => {
    text().then(
      (text) => resume(Effect.succeed(text)),
      (cause) => resume(Effect.fail(new HttpClientError.ResponseError({ request, response, reason: "Decode", cause })))
    )
    return Effect.sync(destroy)
  })

const ignore = (_: unknown) => {}

class Response extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  private textBody: Effect.Effect<string, HttpClientError.ResponseError> | undefined
  private textPromise: Promise<string> | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly source: Undici.Dispatcher.ResponseData
  ) {
    super()
    source.body.on("error", ignore)
  }

  get status() {
    return this.source.statusCode
  }

  get headers(): Headers.Headers {
    return Headers.fromInput(this.source.headers as Record<string, string | ReadonlyArray<string>>)
  }

  get cookies(): Cookies.Cookies {
    const header = this.source.headers["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(Array.isArray(header) ? header : [header as string])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return NodeStream.fromReadable(
      () => this.source.body,
      (cause) => new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
    )
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    // The body can be read once: later reads answer the first one's result.
    return this.textBody ??= readText(
      this.request,
      this,
      () => (this.textPromise ??= this.source.body.text()),
      () => this.source.body.destroy()
    )
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => (text === "" ? null : JSON.parse(text) as unknown),
        catch: (cause) => new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => this.source.body.formData() as Promise<FormData>,
      catch: (cause) => new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => this.source.body.arrayBuffer(),
      catch: (cause) => new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
    })
  }

  toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

/**
 * The undici `Dispatcher` the client sends through.
 *
 * @since 0.1.0
 */
export class Dispatcher extends Context.Tag("@plue/core/UndiciHttpClient/Dispatcher")<Dispatcher, Undici.Dispatcher>() {}

/**
 * A dispatcher (an undici `Agent`) owned by the scope: destroyed with it.
 *
 * @since 0.1.0
 */
export const makeDispatcher: Effect.Effect<Undici.Dispatcher, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => new Undici.Agent()),
  (dispatcher) => Effect.promise(() => dispatcher.destroy())
)

/**
 * The client over a dispatcher of its own (a drop-in for `NodeHttpClient.layerUndici`).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(HttpClient.HttpClient, Effect.map(makeDispatcher, make))
