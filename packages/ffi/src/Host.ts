/**
 * Runs a C host library: binds the plue API into it and calls its exported
 * `int plue_host_main(int argc, char **argv)` on a thread of its own.
 *
 * @since 0.1.0
 */
import type { SessionCache, SessionEvents } from "@plue/core"
import { SessionManager } from "@plue/core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { bind, type BindError } from "./Bridge.js"

/**
 * The host library failed to run.
 *
 * @since 0.1.0
 */
export class HostError extends Schema.TaggedError<HostError>("@plue/ffi/HostError")("HostError", {
  library: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `Cannot run ${this.library}: ${this.detail}`
  }
}

/**
 * What was left behind when the host returned.
 *
 * @since 0.1.0
 */
export interface Leaks {
  readonly strings: number
  readonly handles: ReadonlyArray<{ readonly handle: number; readonly sessionId: string }>
}

/**
 * Runs `plue_host_main(argc, argv)` of the library at `path` (argv[0] is the path) and returns its
 * exit status and what it left behind. Handles it left open are destroyed when the scope closes.
 *
 * @since 0.1.0
 */
export const run = (
  path: string,
  args: ReadonlyArray<string>
): Effect.Effect<
  { readonly status: number; readonly leaks: Leaks },
  BindError | HostError,
  SessionManager.SessionManager | SessionEvents.SessionEvents | SessionCache.SessionCache | Scope.Scope
> =>
  Effect.gen(function*() {
    const bound = yield* bind(path)
    const main = yield* Effect.try({
      try: () => bound.library.func("int plue_host_main(int argc, const char **argv)"),
      catch: () => new HostError({ library: path, detail: "it does not export int plue_host_main(int argc, char **argv)" })
    })
    const argv = [path, ...args]
    const status = yield* Effect.async<number, HostError>((resume) => {
      main.async(argv.length, argv, (error: unknown, result: number) => {
        resume(error ? Effect.fail(new HostError({ library: path, detail: String(error) })) : Effect.succeed(result))
      })
    })
    const sessions = yield* SessionManager.SessionManager
    const handles = yield* sessions.handles
    // Whatever the host left open is closed now, while the bridge is still bound.
    yield* Effect.forEach(handles, (h) => Effect.ignore(sessions.destroy(h.handle)), { discard: true })
    return {
      status,
      leaks: { strings: bound.liveStrings(), handles: handles.map((h) => ({ handle: h.handle, sessionId: h.sessionId })) }
    }
  })
