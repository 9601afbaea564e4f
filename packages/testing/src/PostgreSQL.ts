/**
 * A real PostgreSQL for tests: Debian's `initdb` and `pg_ctl`, run as the unprivileged `postgres`
 * user (through `runuser` when the tests run as root), in a temporary directory, on a free
 * loopback port. Scoped: the server is stopped and its directory removed when the scope closes,
 * also when the test fails.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { execFile, execFileSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./Net.js"

/**
 * Where Debian keeps the PostgreSQL programs (the newest version), if installed.
 *
 * @since 0.1.0
 */
export const binDirectory = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin")
}

/**
 * Whether a PostgreSQL can be started here.
 *
 * @since 0.1.0
 */
export const available = (): boolean => binDirectory() !== undefined

/**
 * A running PostgreSQL.
 *
 * @since 0.1.0
 */
export interface PostgreSQL {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  readonly url: string
  readonly port: number
  /** Stops the server (fast shutdown), as a database outage. */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port and data. */
  readonly start: Effect.Effect<void>
}

const asRoot = typeof process.getuid === "function" && process.getuid() === 0

const run = (program: string, args: ReadonlyArray<string>) =>
  Effect.async<string, Error>((resume) => {
    const [command, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", program, ...args]] : [program, [...args]]
    execFile(command, argv, { timeout: 120_000 }, (error, stdout, stderr) =>
      resume(error ? Effect.fail(new Error(`${program} failed: ${error.message}\n${stderr}`)) : Effect.succeed(stdout)))
  })

/**
 * Starts a PostgreSQL for the scope's life.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<PostgreSQL, Error, Scope.Scope> = Effect.gen(function*() {
  const bin = binDirectory()
  if (bin === undefined) return yield* Effect.fail(new Error("PostgreSQL is not installed: run scripts/setup-postgres.sh"))
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "plue-pg-"))
      chmodSync(dir, 0o755)
      if (asRoot) {
        chownSync(dir, postgresId("-u"), postgresId("-g"))
      }
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const data = join(root, "data")
  const port = yield* freePort
  yield* run(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`
  const start = Effect.asVoid(run(join(bin, "pg_ctl"), ["-D", data, "-l", join(root, "log"), "-o", options, "-w", "-t", "60", "start"]))
  const stop = Effect.asVoid(run(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]))
  yield* Effect.acquireRelease(start, () => Effect.ignore(run(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"])))
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, stop: Effect.orDie(stop), start: Effect.orDie(start) }
})

/** The postgres user's uid or gid. */
const postgresId = (flag: "-u" | "-g"): number => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim())
