/**
 * A real OpenCode server for tests: the pinned binary on a free loopback port, with a password,
 * its own temporary `HOME` and `XDG_*` folders and a `git init`'d project directory, so tests
 * never touch a user's sessions. Everything is removed when the Layer's scope closes.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import type * as OpenCodeConnection from "@plue/core/OpenCodeConnection"
import * as OpenCodeServer from "@plue/core/OpenCodeServer"

/**
 * The folders of a test server.
 *
 * @since 0.1.0
 */
export interface Sandbox {
  readonly root: string
  readonly home: string
  /** The project directory the server serves. */
  readonly project: string
  /** Environment that points HOME and every XDG folder into the sandbox. */
  readonly env: Record<string, string>
}

/**
 * The sandbox of the running test server.
 *
 * @since 0.1.0
 */
export class TestSandbox extends Context.Tag("@plue/testing/TestSandbox")<TestSandbox, Sandbox>() {}

/**
 * Makes a scoped sandbox: temp folders and a git repository with one commit.
 *
 * @since 0.1.0
 */
export const makeSandbox: Effect.Effect<
  Sandbox,
  never,
  FileSystem.FileSystem | CommandExecutor.CommandExecutor | import("effect/Scope").Scope
> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "plue-test-" })
  const dir = (name: string) => `${root}/${name}`
  for (const name of ["home", "data", "config", "state", "cache", "project"]) {
    yield* fs.makeDirectory(dir(name), { recursive: true })
  }
  const env = {
    HOME: dir("home"),
    XDG_DATA_HOME: dir("data"),
    XDG_CONFIG_HOME: dir("config"),
    XDG_STATE_HOME: dir("state"),
    XDG_CACHE_HOME: dir("cache"),
    // No telemetry, update checks or model list downloads: the network is closed here anyway.
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    OPENCODE_DISABLE_LSP_DOWNLOAD: "1"
  }
  const git = (...args: Array<string>) =>
    Command.make("git", ...args).pipe(
      Command.workingDirectory(dir("project")),
      Command.env({ ...env, GIT_AUTHOR_NAME: "plue", GIT_AUTHOR_EMAIL: "plue@localhost", GIT_COMMITTER_NAME: "plue", GIT_COMMITTER_EMAIL: "plue@localhost" }),
      Command.exitCode
    )
  yield* git("init", "-q")
  yield* fs.writeFileString(`${dir("project")}/README.md`, "# plue test project\n")
  yield* git("add", ".")
  yield* git("commit", "-q", "-m", "init")
  return { root, home: dir("home"), project: dir("project"), env }
}).pipe(Effect.orDie)

/**
 * Options of a test server.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Inline OpenCode config, for instance `StubLlm`'s provider or a share service URL. */
  readonly config?: Record<string, unknown> | undefined
  /**
   * Settings of the client's connection. The request timeout defaults to a minute here (not the
   * library's 10 s): on a saturated machine the real server can take that long, and tests that
   * check timeouts make connections of their own.
   */
  readonly connection?: OpenCodeServer.Options["connection"]
  /** More environment for the server (for instance `OPENCODE_DISABLE_SHARE`). */
  readonly env?: Record<string, string> | undefined
}

/**
 * A sandboxed real OpenCode server with a client for it.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  | TestSandbox
  | OpenCodeServer.OpenCodeServer
  | OpenCodeConnection.OpenCodeConnection
  | OpenCodeClient.OpenCodeClient,
  OpenCodeServer.ServerStartError,
  FileSystem.FileSystem | CommandExecutor.CommandExecutor | HttpClient.HttpClient
> => {
  const sandbox = Layer.scoped(TestSandbox, makeSandbox)
  const server = Layer.unwrapEffect(Effect.map(TestSandbox, (box) =>
    OpenCodeServer.layer({
      cwd: box.project,
      env: { ...box.env, ...options.env },
      config: { autoupdate: false, share: "manual", ...options.config },
      connection: { requestTimeout: "60 seconds", ...options.connection }
    })))
  return OpenCodeClient.layer.pipe(
    Layer.provideMerge(server),
    Layer.provideMerge(sandbox)
  )
}
