/**
 * A managed local OpenCode server: the pinned `opencode serve` started on a free loopback port
 * with a fresh random password, owned by a Scope. Closing the scope (or interrupting the program)
 * ends the server and everything it started.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { findExecutable, OPENCODE_VERSION, pdeathsigAvailable, resolveOpencodeBinary } from "./internal/binary.js"
import { OutputTail } from "./internal/outputTail.js"
import { makePipeline } from "./internal/request.js"
import * as OpenCodeConnection from "./OpenCodeConnection.js"
import { ShareGrants } from "./ShareGrants.js"
import { resolve as resolvePath } from "node:path"

/**
 * Why a managed server did not start.
 *
 * @since 0.1.0
 */
export const ServerStartFailure = Schema.Literal("BinaryNotFound", "SpawnFailed", "ExitedEarly", "StartTimeout")

/**
 * The managed OpenCode server could not be started. `output` holds the last lines it printed.
 *
 * @since 0.1.0
 */
export class ServerStartError extends Schema.TaggedError<ServerStartError>("@plue/core/ServerStartError")(
  "ServerStartError",
  { reason: ServerStartFailure, binary: Schema.String, detail: Schema.String, output: Schema.String }
) {
  override get message(): string {
    const hint = {
      // opencode-ai is optional (a program that connects to an existing server does not need
      // it): say how to get it.
      BinaryNotFound: `a managed server needs the OpenCode server: install it with \`npm install opencode-ai@${OPENCODE_VERSION}\` ` +
        "(or set PLUE_OPENCODE_BIN to an opencode binary), or connect to a running server instead",
      SpawnFailed: "check that the binary is executable",
      ExitedEarly: "its output above says why",
      StartTimeout: "the machine may be overloaded; try again or raise the start timeout"
    }[this.reason]
    const output = this.output.trim() ? `\n--- server output ---\n${this.output.trimEnd()}` : " (it printed nothing)"
    return `The managed OpenCode server (${this.binary}) did not start: ${this.detail}; ${hint}.${output}`
  }
}

/**
 * Options of a managed server.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The `opencode` executable; default: `PLUE_OPENCODE_BIN`, else the pinned `opencode-ai` package. */
  readonly binary?: string | undefined
  /** The project directory the server serves (its working directory); default: the current one. */
  readonly cwd?: string | undefined
  /**
   * Inline OpenCode configuration (`OPENCODE_CONFIG_CONTENT`): a share service URL, a provider...
   * With no `enterprise.url` here, a share service of this process (`ShareGrants` in the context,
   * e.g. from `@plue/share`) becomes the server's share service.
   */
  readonly config?: Record<string, unknown> | undefined
  /** Extra environment for the server (for instance its own `HOME` and `XDG_*` folders). */
  readonly env?: Record<string, string> | undefined
  /** How long start-up may take, up to a healthy `/global/health`. Default 60 seconds. */
  readonly startTimeout?: Duration.DurationInput | undefined
  /** The server's password. Default: 192 fresh random bits. */
  readonly password?: Redacted.Redacted<string> | undefined
  /** The port to listen on. Default 0: a free one. */
  readonly port?: number | undefined
  /** Skip external plugins (`--pure`). Default true: a bridge needs none. */
  readonly pure?: boolean | undefined
  /** Settings for the connection handed to the client (timeouts, retries). */
  readonly connection?: Omit<OpenCodeConnection.Options, "url" | "password"> | undefined
  /**
   * What `layer` does when the server exits on its own: restart it on the same port with the
   * same password (so connections and handles stay valid), after a backoff that doubles from
   * `backoff` (default 500 ms, capped at 10 s), at most `limit` times (default 5). `false`: never.
   */
  readonly restart?: { readonly limit?: number | undefined; readonly backoff?: Duration.DurationInput | undefined } | false | undefined
}

/**
 * What the running managed server is.
 *
 * @since 0.1.0
 */
export interface Info {
  readonly url: string
  readonly password: Redacted.Redacted<string>
  readonly pid: number
  readonly binary: string
  /** The last lines the server printed on stdout and stderr. */
  readonly output: Effect.Effect<string>
  /** Completes with the exit code when the server process ends. */
  readonly exited: Effect.Effect<number>
  /** How many times `layer` restarted the server after it exited on its own. */
  readonly restarts: Effect.Effect<number>
}

/**
 * The running managed server.
 *
 * @since 0.1.0
 */
export class OpenCodeServer extends Context.Tag("@plue/core/OpenCodeServer")<OpenCodeServer, Info>() {}

/**
 * The configuration with OpenCode's share service set to plue's own (`ShareGrants.url`), unless
 * the configuration names one itself.
 */
const withShareService = (
  config: Record<string, unknown> | undefined,
  url: string | undefined
): Record<string, unknown> | undefined => {
  if (url === undefined) return config
  const enterprise = (config?.enterprise ?? {}) as Record<string, unknown>
  if (typeof enterprise.url === "string") return config
  return { ...config, enterprise: { ...enterprise, url } }
}

const LISTENING = /listening on (https?:\/\/[^\s]+)/

const randomPassword = (): string => {
  const bytes = new Uint8Array(24)
  globalThis.crypto.getRandomValues(bytes)
  return Buffer.from(bytes).toString("base64url")
}

/**
 * Starts the server in the current scope and returns where it listens once it is healthy.
 *
 * @since 0.1.0
 */
export const start = (
  options: Options = {}
): Effect.Effect<Info, ServerStartError, CommandExecutor.CommandExecutor | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const binary = options.binary ?? resolveOpencodeBinary()
    const startTimeout = Duration.decode(options.startTimeout ?? Duration.seconds(60))
    const password = options.password ? Redacted.value(options.password) : randomPassword()
    const tail = new OutputTail(200)
    const fail = (reason: typeof ServerStartFailure.Type, detail: string) => new ServerStartError({ reason, binary, detail, output: tail.text() })

    const executable = findExecutable(binary)
    if (executable === undefined) {
      return yield* fail("BinaryNotFound", `no executable file at ${binary}`)
    }
    const args = ["serve", "--port", String(options.port ?? 0), "--hostname", "127.0.0.1", ...(options.pure === false ? [] : ["--pure"])]
    // On Linux, ask the kernel to stop the server if this process dies without running its
    // finalizers (SIGKILL, a crash): no orphan even then.
    const [command, ...rest] = process.platform === "linux" && pdeathsigAvailable()
      ? ["setpriv", "--pdeathsig", "TERM", "--", executable, ...args]
      : [executable, ...args]
    const config = withShareService(options.config, (yield* ShareGrants).url)
    const env: Record<string, string> = {
      OPENCODE_SERVER_PASSWORD: password,
      ...(config ? { OPENCODE_CONFIG_CONTENT: JSON.stringify(config) } : {}),
      ...options.env
    }
    let cmd = Command.make(command!, ...rest).pipe(Command.env(env))
    if (options.cwd) cmd = Command.workingDirectory(cmd, options.cwd)

    const proc = yield* Command.start(cmd).pipe(
      Effect.mapError((error) =>
        (error as { reason?: string }).reason === "NotFound" || /ENOENT/.test(String(error.message))
          ? fail("BinaryNotFound", `cannot run ${binary}: ${error.message}`)
          : fail("SpawnFailed", error.message)
      )
    )
    // Runs before the executor's own release (finalizers run in reverse): ask politely, then
    // insist, so a server that ignores SIGTERM cannot hold the scope open. Finalizers are
    // uninterruptible, so each wait is made interruptible for its timeout to take effect.
    const killWithin = (signal: "SIGTERM" | "SIGKILL", within: Duration.DurationInput) =>
      proc.kill(signal).pipe(Effect.interruptible, Effect.timeoutFail({ duration: within, onTimeout: () => signal }))
    yield* Effect.addFinalizer(() =>
      killWithin("SIGTERM", Duration.seconds(3)).pipe(
        Effect.catchAll(() => killWithin("SIGKILL", Duration.seconds(5))),
        Effect.ignore
      )
    )

    const announced = yield* Deferred.make<string>()
    const drain = (stream: Stream.Stream<Uint8Array, unknown>) =>
      stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEach((line) => {
          tail.push(line)
          const match = LISTENING.exec(line)
          return match ? Deferred.succeed(announced, match[1]!.replace(/\/+$/, "")) : Effect.void
        }),
        Effect.ignore
      )
    // The pipes are drained for the server's whole life, so it can never block on a full pipe.
    yield* Effect.forkScoped(drain(proc.stdout))
    yield* Effect.forkScoped(drain(proc.stderr))

    const exited = proc.exitCode.pipe(
      Effect.flatMap((code) =>
        // Let the drains take in the last lines before they are quoted.
        Effect.zipRight(Effect.sleep(Duration.millis(50)), Effect.fail(fail("ExitedEarly", `it exited with code ${code}`)))
      ),
      Effect.catchTag("SystemError", "BadArgument", (error) => Effect.fail(fail("SpawnFailed", error.message)))
    )

    const url = yield* Deferred.await(announced).pipe(
      Effect.raceFirst(exited),
      Effect.timeoutFail({ duration: startTimeout, onTimeout: () => fail("StartTimeout", `no listening line within ${Duration.format(startTimeout)}`) })
    )

    // Probe health with short, separate timeouts: a request sent while the server is still
    // starting can hang with no answer.
    const settings = OpenCodeConnection.make({
      url,
      password: Redacted.make(password),
      requestTimeout: Duration.seconds(2),
      retries: 0
    })
    const { run } = makePipeline(settings, yield* HttpClient.HttpClient)
    yield* run({ method: "GET", path: "/global/health", idempotent: true, decode: Schema.Struct({ healthy: Schema.Literal(true) }) }).pipe(
      Effect.tapError(() => Effect.sleep(Duration.millis(100))),
      Effect.eventually,
      Effect.raceFirst(exited),
      Effect.timeoutFail({ duration: startTimeout, onTimeout: () => fail("StartTimeout", `${url}/global/health never answered healthy`) })
    )

    return {
      url,
      password: Redacted.make(password),
      pid: proc.pid,
      binary,
      output: Effect.sync(() => tail.text()),
      exited: proc.exitCode.pipe(Effect.map(Number), Effect.orElseSucceed(() => -1)),
      restarts: Effect.succeed(0)
    } satisfies Info
  })

/**
 * A managed server for the Layer's lifetime, provided both as `OpenCodeServer` and as the
 * `OpenCodeConnection` the client uses. Swap it for `OpenCodeConnection.layer({ url })` to use an
 * existing server instead: nothing else changes.
 *
 * @example
 * ```ts
 * import { NodeContext, NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { OpenCodeClient, OpenCodeServer } from "@plue/core"
 *
 * const Live = OpenCodeClient.layer.pipe(
 *   Layer.provideMerge(OpenCodeServer.layer({ cwd: "/tmp/project" })),
 *   Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici])
 * )
 *
 * Effect.gen(function*() {
 *   const client = yield* OpenCodeClient.OpenCodeClient
 *   const session = yield* client.create({ title: "hello" })
 *   yield* Effect.log(session.id)
 * }).pipe(Effect.provide(Live))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  OpenCodeServer | OpenCodeConnection.OpenCodeConnection,
  ServerStartError,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient
> =>
  Layer.scopedContext(Effect.map(supervise(options), (info) =>
    Context.make(OpenCodeServer, info).pipe(
      Context.add(
        OpenCodeConnection.OpenCodeConnection,
        // Managed: the outbox is keyed by the directory served, not by this run's port.
        OpenCodeConnection.make({ ...options.connection, url: info.url, password: info.password, managed: resolvePath(options.cwd ?? process.cwd()) })
      )
    )))

/**
 * Starts the server and, unless `options.restart` is `false`, restarts it on the same port and
 * password when it exits on its own (bounded backoff, bounded count). The returned `Info` follows
 * the current process.
 *
 * @since 0.1.0
 */
export const supervise = (
  options: Options = {}
): Effect.Effect<Info, ServerStartError, CommandExecutor.CommandExecutor | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    // Every incarnation lives in `processes`, made before the supervisor fiber, so closing the
    // layer stops the supervisor first and only then the server: no restart during shutdown.
    const processes = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const incarnation = (port: number | undefined, password: Redacted.Redacted<string> | undefined) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(processes, ExecutionStrategy.sequential)
        const info = yield* start({ ...options, port, password }).pipe(
          Scope.extend(scope),
          Effect.onError(() => Scope.close(scope, Exit.void))
        )
        return { info, scope }
      })
    let current = yield* incarnation(options.port, options.password)
    const port = Number(new URL(current.info.url).port)
    const password = current.info.password
    let restarts = 0
    const policy = options.restart === false ? undefined : options.restart ?? {}
    if (policy !== undefined) {
      const limit = policy.limit ?? 5
      const base = Duration.toMillis(Duration.decode(policy.backoff ?? Duration.millis(500)))
      yield* Effect.forkScoped(Effect.gen(function*() {
        for (;;) {
          const code = yield* current.info.exited
          const output = yield* current.info.output
          yield* Scope.close(current.scope, Exit.void)
          let started = false
          while (!started) {
            if (restarts >= limit) {
              return yield* Effect.logError(
                `the managed OpenCode server exited (code ${code}) and was restarted ${restarts} times already; giving up. Last output:\n${output}`
              )
            }
            restarts++
            yield* Effect.logWarning(`the managed OpenCode server exited (code ${code}); restarting it (${restarts}/${limit})`)
            yield* Effect.sleep(Duration.millis(Math.min(base * 2 ** (restarts - 1), 10_000)))
            // What the dead server started may hold the port for a moment: one restart attempt
            // retries binding it for a few seconds before it counts as failed.
            const next = yield* Effect.either(
              incarnation(port, password).pipe(
                Effect.tapError((error) => Effect.logDebug(`a restart attempt failed: ${error.message}`)),
                Effect.retry({ times: 12, schedule: Schedule.spaced(Duration.millis(300)) })
              )
            )
            if (next._tag === "Right") {
              current = next.right
              started = true
            } else {
              yield* Effect.logWarning(`restarting the managed OpenCode server failed: ${next.left.message}`)
            }
          }
        }
      }))
    }
    return {
      url: current.info.url,
      password,
      get pid() {
        return current.info.pid
      },
      binary: current.info.binary,
      output: Effect.suspend(() => current.info.output),
      exited: Effect.suspend(() => current.info.exited),
      restarts: Effect.sync(() => restarts)
    } satisfies Info
  })
