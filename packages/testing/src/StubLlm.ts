/**
 * A small OpenAI-compatible model server for tests: the one fake plue's tests allow, since an
 * LLM cannot run here. It streams `chat.completion.chunk`s at a configurable pace and counts
 * streams that finished and streams the client cut off (an abort reaching the model).
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

/**
 * Options of the stub model.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Time between two chunks. Default 20 ms. */
  readonly pace?: Duration.DurationInput | undefined
  /** Number of content chunks in each answer. Default 2. */
  readonly chunks?: number | undefined
  /** The text of each chunk, or of chunk `index` (from 0) when a function. Default `"stub "`. */
  readonly text?: string | ((index: number) => string) | undefined
  /**
   * A request whose body contains this text is refused with a 400 (an OpenAI-style error that
   * OpenCode does not retry): the run fails and OpenCode reports a `session.error`.
   */
  readonly refuse?: string | undefined
  /**
   * The first this many requests are answered `429 Too Many Requests` with `retry-after-ms: 200`
   * (OpenCode retries them, reporting a `session.status` of type `retry`). Default 0.
   */
  readonly busyFirst?: number | undefined
}

/**
 * Counts of what the stub served.
 *
 * @since 0.1.0
 */
export interface Stats {
  readonly requests: number
  readonly streaming: number
  readonly completed: number
  readonly cut: number
  /** Requests refused (see `Options.refuse` and `Options.busyFirst`). */
  readonly refused: number
}

/**
 * The running stub: its base URL (ending in `/v1`), the OpenCode config that points a provider
 * at it, and its counters.
 *
 * @since 0.1.0
 */
export interface Service {
  readonly baseUrl: string
  readonly providerID: "stub"
  readonly modelID: "slow-model"
  /** Inline OpenCode config that makes `stub/slow-model` the model. */
  readonly opencodeConfig: Record<string, unknown>
  readonly stats: Effect.Effect<Stats>
}

/**
 * The stub model service.
 *
 * @since 0.1.0
 */
export class StubLlm extends Context.Tag("@plue/core/testing/StubLlm")<StubLlm, Service>() {}

const encoder = new TextEncoder()
const sse = (data: unknown) => encoder.encode(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)

const chunk = (id: string, delta: Record<string, unknown>, finish: string | null) => ({
  id,
  object: "chat.completion.chunk",
  created: Math.floor(Date.now() / 1000),
  model: "slow-model",
  choices: [{ index: 0, delta, finish_reason: finish }]
})

/**
 * Serves the stub on the ambient `HttpServer` for the Layer's lifetime.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<StubLlm, never, HttpServer.HttpServer> =>
  Layer.scoped(
    StubLlm,
    Effect.gen(function*() {
      const pace = Duration.decode(options.pace ?? Duration.millis(20))
      const chunks = options.chunks ?? 2
      const textOption = options.text ?? "stub "
      const text = typeof textOption === "string" ? () => textOption : textOption
      const counts = { requests: 0, streaming: 0, completed: 0, cut: 0, refused: 0 }
      let next = 0

      const completions = Effect.gen(function*() {
        counts.requests++
        const request = yield* HttpServerRequest.HttpServerRequest
        const body = yield* Effect.orElseSucceed(request.json, () => ({}))
        if (counts.requests <= (options.busyFirst ?? 0)) {
          counts.refused++
          return HttpServerResponse.unsafeJson(
            { error: { message: "the stub model is busy, try again", type: "rate_limit_error", code: "rate_limit_exceeded" } },
            { status: 429, headers: { "retry-after-ms": "200" } }
          )
        }
        if (options.refuse !== undefined && JSON.stringify(body).includes(options.refuse)) {
          counts.refused++
          return HttpServerResponse.unsafeJson(
            { error: { message: "the stub model refuses this prompt", type: "invalid_request_error", code: "stub_refused" } },
            { status: 400 }
          )
        }
        const stream = typeof body === "object" && body !== null && (body as { stream?: unknown }).stream === true
        const id = `chatcmpl-${++next}`
        if (!stream) {
          counts.completed++
          return HttpServerResponse.unsafeJson({
            id,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model: "slow-model",
            choices: [{ index: 0, message: { role: "assistant", content: Array.from({ length: chunks }, (_, i) => text(i)).join("") }, finish_reason: "stop" }],
            usage: { prompt_tokens: 1, completion_tokens: chunks, total_tokens: chunks + 1 }
          })
        }
        counts.streaming++
        let finished = false
        const body$ = Stream.concat(
          Stream.make(sse(chunk(id, { role: "assistant", content: "" }, null))),
          Stream.fromSchedule(Schedule.spaced(pace)).pipe(
            Stream.take(chunks),
            Stream.zipWithIndex,
            Stream.map(([, index]) => sse(chunk(id, { content: text(index) }, null)))
          )
        ).pipe(
          Stream.concat(Stream.suspend(() => {
            finished = true
            return Stream.make(
              sse({ ...chunk(id, {}, "stop"), usage: { prompt_tokens: 1, completion_tokens: chunks, total_tokens: chunks + 1 } }),
              sse("[DONE]")
            )
          })),
          Stream.ensuring(Effect.sync(() => {
            if (finished) counts.completed++
            else counts.cut++
          }))
        )
        return HttpServerResponse.stream(body$, { contentType: "text/event-stream", headers: { "cache-control": "no-cache" } })
      })

      const app = HttpRouter.empty.pipe(
        HttpRouter.post("/v1/chat/completions", completions),
        HttpRouter.get("/v1/models", HttpServerResponse.unsafeJson({ object: "list", data: [{ id: "slow-model", object: "model" }] }))
      )
      yield* HttpServer.serveEffect(app)
      const baseUrl = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/v1`))
      return {
        baseUrl,
        providerID: "stub",
        modelID: "slow-model",
        opencodeConfig: {
          provider: {
            stub: {
              npm: "@ai-sdk/openai-compatible",
              name: "Stub",
              options: { baseURL: baseUrl, apiKey: "x" },
              models: { "slow-model": { name: "Slow" } }
            }
          },
          model: "stub/slow-model",
          small_model: "stub/slow-model"
        },
        stats: Effect.sync(() => ({ ...counts }))
      } satisfies Service
    })
  )
