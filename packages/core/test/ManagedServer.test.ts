import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import { resolveOpencodeBinary } from "../src/internal/binary.js"
import { makeSandbox } from "@plue/testing/TestServer"
import { freePort } from "@plue/testing/Net"

const Platform = Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)

/** Sets an environment variable for the scope of the test, restoring the old value after. */
const withEnv = (name: string, value: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const before = process.env[name]
      process.env[name] = value
      return before
    }),
    (before) => Effect.sync(() => before === undefined ? delete process.env[name] : void (process.env[name] = before))
  )

describe("the managed server's options", () => {
  it.live("port, password, inline config and pure reach `opencode serve`; PLUE_OPENCODE_BIN names the binary", () =>
    Effect.gen(function*() {
      const box = yield* makeSandbox
      // A link to the pinned binary under another name: the one the server must be started from.
      const link = join(mkdtempSync(join(tmpdir(), "plue-bin-")), "opencode-from-env")
      symlinkSync(resolveOpencodeBinary(), link)
      yield* withEnv("PLUE_OPENCODE_BIN", link)
      const port = yield* freePort
      const info = yield* OpenCodeServer.start({
        cwd: box.project,
        env: box.env,
        port,
        password: Redacted.make("a-given-password"),
        pure: false,
        config: { autoupdate: false, username: "plue-config-check" }
      })
      assert.strictEqual(info.binary, link)
      assert.strictEqual(info.url, `http://127.0.0.1:${port}`)
      assert.strictEqual(Redacted.value(info.password), "a-given-password")

      const argv = readFileSync(`/proc/${info.pid}/cmdline`, "utf8").split("\0").filter(Boolean)
      assert.deepStrictEqual(argv.slice(1), ["serve", "--port", String(port), "--hostname", "127.0.0.1"], "no --pure with pure: false")

      const get = (path: string, password: string) =>
        Effect.promise(() => fetch(`${info.url}${path}`, { headers: { authorization: `Basic ${Buffer.from(`opencode:${password}`).toString("base64")}` } }))
      const config = yield* get("/config", "a-given-password")
      assert.strictEqual(config.status, 200)
      assert.strictEqual(((yield* Effect.promise(() => config.json())) as { username?: string }).username, "plue-config-check")
      assert.strictEqual((yield* get("/config", "another-password")).status, 401, "the server takes only the given password")
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 120_000 })

  it.live("by default the server runs with --pure and a fresh random password on a port of its own", () =>
    Effect.gen(function*() {
      const box = yield* makeSandbox
      const info = yield* OpenCodeServer.start({ cwd: box.project, env: box.env })
      const argv = readFileSync(`/proc/${info.pid}/cmdline`, "utf8").split("\0").filter(Boolean)
      assert.deepStrictEqual(argv.slice(1), ["serve", "--port", "0", "--hostname", "127.0.0.1", "--pure"])
      assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      // 24 random bytes, base64url: 192 bits.
      assert.match(Redacted.value(info.password), /^[A-Za-z0-9_-]{32}$/)
    }).pipe(Effect.scoped, Effect.provide(Platform)), { timeout: 120_000 })
})

describe("start-up failures", () => {
  it.live("a server that says it listens but never answers healthy is StartTimeout, quoting its output, and is stopped", () =>
    Effect.gen(function*() {
      const port = yield* freePort // closed: every health probe is refused
      const dir = mkdtempSync(join(tmpdir(), "plue-fake-bin-"))
      const binary = join(dir, "opencode")
      const pidFile = join(dir, "pid")
      writeFileSync(binary, `#!/bin/sh\necho $$ > ${pidFile}\necho "opencode server listening on http://127.0.0.1:${port}"\nexec sleep 30\n`)
      chmodSync(binary, 0o755)
      const error = yield* Effect.flip(Effect.scoped(OpenCodeServer.start({ binary, startTimeout: "1 second" })))
      assert.strictEqual(error.reason, "StartTimeout")
      assert.include(error.message, `http://127.0.0.1:${port}/global/health never answered healthy`)
      assert.include(error.message, "listening on")
      const pid = Number(readFileSync(pidFile, "utf8"))
      let alive = true
      for (let i = 0; i < 200 && alive; i++) {
        try {
          process.kill(pid, 0)
          yield* Effect.sleep("50 millis")
        } catch {
          alive = false
        }
      }
      assert.isFalse(alive, "the process was stopped")
    }).pipe(Effect.provide(Platform)))
})

describe("finding the binary", () => {
  const dir = mkdtempSync(join(tmpdir(), "plue-not-bin-"))
  const plainFile = join(dir, "opencode")
  writeFileSync(plainFile, "#!/bin/sh\nexit 0\n")
  chmodSync(plainFile, 0o644)
  const directory = join(dir, "a-directory")
  mkdirSync(directory)

  it.live("a name is looked up on PATH; a missing name, a file that is not executable and a directory are BinaryNotFound", () =>
    Effect.gen(function*() {
      for (const binary of ["plue-no-such-opencode", plainFile, directory]) {
        const error = yield* Effect.flip(Effect.scoped(OpenCodeServer.start({ binary })))
        assert.strictEqual(error._tag, "ServerStartError")
        assert.strictEqual(error.reason, "BinaryNotFound", binary)
        assert.strictEqual(error.binary, binary)
        assert.include(error.message, `no executable file at ${binary}`)
        assert.include(error.message, "install it with `npm install opencode-ai@")
        assert.include(error.message, "set PLUE_OPENCODE_BIN")
      }
      // `true` is found on PATH and run: it exits at once, having printed nothing.
      const quiet = yield* Effect.flip(Effect.scoped(OpenCodeServer.start({ binary: "true" })))
      assert.strictEqual(quiet.reason, "ExitedEarly")
      assert.include(quiet.message, "it exited with code 0")
      assert.include(quiet.message, "(it printed nothing)")
    }).pipe(Effect.provide(Platform)))
})
