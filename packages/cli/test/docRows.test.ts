// Rows of docs/cli.md that no other test exercised (docs/coverage-of-docs.md maps every row to
// its test): real `plue` processes against a real OpenCode server.
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Spawn from "@plue/testing/Spawn"
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { BIN, run, start } from "./plue.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

/** `plue args...` against the test server. */
const plue = (...args: Array<string>) =>
  Effect.flatMap(OpenCodeServer.OpenCodeServer, (server) => run(args, { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }))

const lines = (text: string) => text.split("\n").filter((l) => l !== "")

layer(Live, { timeout: 600_000, excludeTestServices: true })("docs/cli.md, row by row (real server, real processes)", (it) => {
  it.effect("short flags -t, -j, -r, -m, -v are accepted", () =>
    Effect.gen(function*() {
      const made = yield* plue("session", "create", "-t", "short flags", "-j")
      assert.strictEqual(made.code, 0, made.stderr)
      const session = JSON.parse(made.stdout) as { id: string; title: string }
      assert.strictEqual(session.title, "short flags")
      const roots = yield* plue("session", "list", "-r", "-j")
      assert.strictEqual(roots.code, 0, roots.stderr)
      assert.isTrue((JSON.parse(roots.stdout) as Array<{ id: string }>).some((s) => s.id === session.id))
      // -m parses: the server refuses the unknown model (exit 1), not the command line (exit 2).
      const init = yield* plue("session", "init", session.id, "--provider", "nosuchprovider", "-m", "nosuchmodel")
      assert.strictEqual(init.code, 1, init.stderr)
      const version = yield* run(["-v"])
      assert.strictEqual(version.stdout, "0.1.0\n")
    }), 300_000)

  it.effect("title, unshare and init print what the table says, for people and with --json", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "before" })
      const titled = yield* plue("session", "title", session.id, "after", "--json")
      assert.strictEqual(titled.code, 0, titled.stderr)
      assert.deepInclude(JSON.parse(titled.stdout), { id: session.id, title: "after" })
      const text = yield* plue("session", "title", session.id, "again")
      assert.strictEqual(text.stdout, `titled ${session.id}  again\n`)
      const unshared = yield* plue("session", "unshare", session.id, "--json")
      assert.strictEqual(unshared.code, 0, unshared.stderr)
      assert.strictEqual((JSON.parse(unshared.stdout) as { id: string }).id, session.id)
      const aborted = yield* plue("session", "abort", session.id)
      assert.strictEqual(aborted.stdout, `aborted ${session.id}\n`)
    }), 300_000)

  it.effect("list: newest update first, the server's own order; UPDATED in local time", () =>
    Effect.gen(function*() {
      const client = yield* OpenCodeClient.OpenCodeClient
      const older = yield* client.create({ title: "older" })
      yield* client.create({ title: "newer" })
      const listed = yield* plue("session", "list", "--json")
      const sessions = JSON.parse(listed.stdout) as Array<{ id: string; time: { updated: number } }>
      const server = yield* client.list()
      assert.deepStrictEqual(sessions.map((s) => s.id), server.map((s) => s.id))
      const times = sessions.map((s) => s.time.updated)
      assert.deepStrictEqual(times, [...times].sort((a, b) => b - a), "newest update first")
      const updated = server.find((s) => s.id === older.id)!.time.updated
      // Local time of the process: with TZ=Asia/Kolkata (UTC+05:30, no daylight saving time).
      const env = yield* Effect.map(OpenCodeServer.OpenCodeServer, (s) => ({
        OPENCODE_URL: s.url,
        OPENCODE_SERVER_PASSWORD: Redacted.value(s.password),
        TZ: "Asia/Kolkata"
      }))
      const table = yield* run(["session", "list"], env)
      const row = lines(table.stdout).find((l) => l.startsWith(older.id))!
      const local = new Date(updated + 5.5 * 3600_000).toISOString().slice(0, 19).replace("T", " ")
      assert.include(row, local, table.stdout)
    }), 300_000)

  it.effect("a session of another directory is renamed and deleted by id, without --directory", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const elsewhere = mkdtempSync(join(box.root, "elsewhere-"))
      const made = yield* plue("session", "create", "-d", elsewhere, "--json")
      const id = (JSON.parse(made.stdout) as { id: string }).id
      const titled = yield* plue("session", "title", id, "renamed from here")
      assert.strictEqual(titled.code, 0, titled.stderr)
      const deleted = yield* plue("session", "delete", id)
      assert.strictEqual(deleted.code, 0, deleted.stderr)
      assert.strictEqual((yield* plue("session", "get", id)).code, 3)
      // OPENCODE_DIRECTORY is the default of --directory.
      const again = yield* plue("session", "create", "-d", elsewhere, "--json")
      const againId = (JSON.parse(again.stdout) as { id: string }).id
      const there = yield* Effect.flatMap(OpenCodeServer.OpenCodeServer, (server) =>
        run(["session", "list", "--json"], {
          OPENCODE_URL: server.url,
          OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
          OPENCODE_DIRECTORY: elsewhere
        }))
      assert.deepStrictEqual((JSON.parse(there.stdout) as Array<{ id: string }>).map((s) => s.id), [againId])
    }), 300_000)

  it.scoped("with no --url, PLUE_SHARE_URL names the share service the managed server shares through", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const service = yield* start(["share-server", "--port", "0", "--data", mkdtempSync(join(tmpdir(), "plue-shares-"))])
      const line = yield* service.waitFor("stderr", /listening on \S+/, { timeout: "300 seconds" })
      const base = line.replace("listening on ", "").replace(/,$/, "")
      const env = { ...box.env, HOME: box.home, PLUE_SHARE_URL: base }
      const made = yield* run(["session", "create", "--json"], env, "400 seconds", box.project)
      assert.strictEqual(made.code, 0, made.stderr)
      const id = (JSON.parse(made.stdout) as { id: string }).id
      const shared = yield* run(["session", "share", id, "--json"], env, "400 seconds", box.project)
      assert.strictEqual(shared.code, 0, shared.stderr)
      const value = JSON.parse(shared.stdout) as { url: string; diesWithCommand?: boolean }
      assert.isTrue(value.url.startsWith(`${base}/share/`), `${value.url} is not under ${base}`)
      assert.notStrictEqual(value.diesWithCommand, true, "the link lives with the share-server, not the command")
      // The link still answers after the command ended: the share-server holds it.
      const status = yield* Effect.promise(() => fetch(value.url).then((r) => r.status))
      assert.strictEqual(status, 200)
    }), 600_000)

  it.effect("plue session --help lists the commands; --completions prints a script for each shell", () =>
    Effect.gen(function*() {
      const help = yield* run(["session", "--help"])
      assert.strictEqual(help.code, 0, help.stderr)
      for (const command of ["create", "list", "get", "title", "init", "delete", "abort", "share", "unshare"]) {
        assert.match(help.stdout, new RegExp(`^\\s+${command}\\b`, "m"), command)
      }
      for (const shell of ["bash", "zsh", "fish", "sh"]) {
        const script = yield* run(["--completions", shell])
        assert.strictEqual(script.code, 0, `${shell}: ${script.stderr}`)
        assert.include(script.stdout, "plue", shell)
        assert.isAbove(lines(script.stdout).length, 5, shell)
      }
    }), 300_000)

  it("help has bold headings on a terminal, none with NO_COLOR", () => {
    // `script` gives the CLI a pseudo-terminal as stdout.
    const onTerminal = (env: Record<string, string>) =>
      execFileSync("script", ["-qec", `"${process.execPath}" "${BIN}" session get --help`, "/dev/null"], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", TERM: "xterm", ...env }
      })
    assert.include(onTerminal({}), "\x1b[1m")
    assert.notInclude(onTerminal({ NO_COLOR: "1" }), "\x1b[")
  }, 120_000)

  it.effect("a host library that exists but cannot be loaded is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const result = yield* plue("host", "/etc/hostname")
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(lines(result.stderr).length, 1, result.stderr)
      assert.match(result.stderr, /^plue: /)
    }), 300_000)

  it.effect("a PLUE_* variable that does not parse is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const result = yield* run(["share-server", "--port", "0"], { PLUE_SHARE_STORE: "mysql://db/x" })
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /^plue: .*postgres/)
    }), 300_000)

  it.effect("bin/plue.js: a missing bundle is reported with exit 1; PLUE_COMPILE_CACHE=0 still runs", () =>
    Effect.gen(function*() {
      const bin = fileURLToPath(new URL("../bin/plue.js", import.meta.url))
      const uncached = yield* Spawn.run(process.execPath, [bin, "--version"], { env: { PLUE_COMPILE_CACHE: "0" } })
      assert.strictEqual(uncached.stdout, "0.1.0\n", uncached.stderr)
      // The same bin in a package folder with no dist/.
      const unbuilt = join(mkdtempSync(join(tmpdir(), "plue-unbuilt-")), "bin")
      mkdirSync(unbuilt)
      copyFileSync(bin, join(unbuilt, "plue.js"))
      const missing = yield* Spawn.run(process.execPath, [join(unbuilt, "plue.js"), "--version"])
      assert.strictEqual(missing.code, 1)
      assert.match(missing.stderr, /^plue: the CLI is not built: run `npm run build`/)
    }), 120_000)
})
