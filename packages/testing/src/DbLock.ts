/**
 * Write-locks a test server's SQLite database, as another process holding `BEGIN IMMEDIATE` does:
 * OpenCode's writes then wait out its busy timeout (about 5 s) and answer a generic 500, while
 * its reads go on. The lock is held by the `sqlite3` command-line shell (Debian's `sqlite3`
 * package), started through `Spawn`, so the test's scope ends it (and the lock with it) when the
 * test ends early, passes or fails.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Spawn from "./Spawn.js"
import type { Sandbox } from "./TestServer.js"
import type * as Wait from "./Wait.js"

/**
 * The OpenCode database of a test server's sandbox: `$XDG_DATA_HOME/opencode/opencode.db`.
 *
 * @since 0.1.0
 */
export const databaseOf = (sandbox: Sandbox): string => `${sandbox.env.XDG_DATA_HOME}/opencode/opencode.db`

/**
 * A held lock.
 *
 * @since 0.1.0
 */
export interface Lock {
  /** When the lock was taken, ms since the epoch (wall clock). */
  readonly since: number
  /** Whether the lock is still held (its process still runs). */
  readonly held: () => boolean
  /** Waits until the lock is released (its time is up and the shell committed and ended). */
  readonly released: Effect.Effect<void>
}

/**
 * Takes the write lock of `database` and holds it for `duration`, returning once it is held. The
 * lock ends after `duration` or when the current scope closes, whichever comes first. Waits up to
 * 30 s for a writer in progress to finish before taking it.
 *
 * @since 0.1.0
 */
export const hold = (
  database: string,
  duration: Duration.DurationInput
): Effect.Effect<Lock, PlatformError | Wait.WaitTimeout | Spawn.ChildEnded, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const seconds = (Duration.toMillis(Duration.decode(duration)) / 1000).toFixed(3)
    // `-bail`: if BEGIN IMMEDIATE fails, the shell exits without saying "locked". The `echo` and
    // the `sleep` run through `.system`, so "locked" reaches the pipe at once (not buffered) and
    // the transaction stays open while the shell waits for the sleep.
    const child = yield* Spawn.spawn("sqlite3", [
      "-bail",
      "-cmd",
      ".timeout 30000",
      "-cmd",
      "BEGIN IMMEDIATE",
      "-cmd",
      ".system echo locked",
      "-cmd",
      `.system sleep ${seconds}`,
      database,
      "COMMIT"
    ], { grace: Duration.millis(500) })
    yield* child.waitFor("stdout", /locked/, { timeout: Duration.seconds(40) })
    const since = Date.now()
    return {
      since,
      held: child.running,
      released: Effect.asVoid(child.result)
    }
  })
