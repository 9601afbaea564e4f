import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as DbLock from "@plue/testing/DbLock"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { progressText } from "../src/commands/bulk.js"
import { flushText } from "../src/commands/outbox.js"
import * as Plue from "./plue.js"

// Progress of a batch (`plue session delete ID...`) and of `plue outbox flush` on stderr: through
// a real pseudo-terminal (util-linux `script`, as progress.test.ts) and with redirected output.
// The server's database is write-locked while the command starts, so its first write waits:
// the command lasts until the test, having seen the progress line, lets the lock go.
const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

const ESC = "\x1b"
const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`

const serverEnv = Effect.map(OpenCodeServer.OpenCodeServer, (server) => ({
  OPENCODE_URL: server.url,
  OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
}))

/** Starts `plue args...` with stdout and stderr on a pseudo-terminal (200 columns). */
const onTerminal = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Spawn.spawn("script", ["-qfec", `stty cols 200 rows 50; ${[process.execPath, Plue.BIN, ...args].map(quote).join(" ")}`, "/dev/null"], {
    env: { TERM: "xterm-256color", ...env }
  })

/** Starts the command while the database is locked; the lock goes once `shown` appeared; its result. */
const lockedUntil = <E, R>(start: Effect.Effect<Spawn.Child, E, R>, shown: RegExp) =>
  Effect.gen(function*() {
    const box = yield* TestServer.TestSandbox
    const lock = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(lock, Exit.void))
    yield* Scope.extend(DbLock.hold(DbLock.databaseOf(box), "60 seconds"), lock)
    const child = yield* start
    yield* child.waitFor("stdout", shown, { timeout: "3 minutes" })
    yield* Scope.close(lock, Exit.void)
    return yield* child.result
  })

const makeSessions = (n: number, title: string) =>
  Effect.flatMap(
    OpenCodeClient.OpenCodeClient,
    (client) => Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.create({ title: `${title} ${i}` }), { concurrency: 4 })
  )

describe("the progress lines' text", () => {
  it("a batch: `deleting: 12 of 64 done, 1 failed` (the failed count once one has), a verb per operation; a flush the same way", () => {
    assert.strictEqual(progressText("delete", 12, 1, 64), "deleting: 12 of 64 done, 1 failed")
    assert.strictEqual(progressText("delete", 0, 0, 64), "deleting: 0 of 64 done")
    assert.deepStrictEqual(
      (["title", "abort", "share", "unshare"] as const).map((verb) => progressText(verb, 1, 0, 2)),
      ["titling: 1 of 2 done", "aborting: 1 of 2 done", "sharing: 1 of 2 done", "unsharing: 1 of 2 done"]
    )
    assert.strictEqual(flushText(3, 1, 10), "flushing the outbox: 3 of 10 done, 1 failed")
    assert.strictEqual(flushText(0, 0, 2), "flushing the outbox: 0 of 2 done")
  })
})

layer(Live, { timeout: 600_000, excludeTestServices: true })("progress of batches and flushes on stderr", (it) => {
  it.scoped(
    "a batch on a terminal: a coloured spinner `deleting: 0 of 3 done`, each line printed above it, never on its line; NO_COLOR: no colour",
    () =>
      Effect.gen(function*() {
        const env = yield* serverEnv
        const ids = (yield* makeSessions(3, "progress batch")).map((s) => s.id)
        const shown = yield* lockedUntil(
          onTerminal(["session", "delete", ...ids, "--concurrency", "1"], env),
          /deleting: 0 of 3 done/
        )
        assert.strictEqual(shown.code, 0, shown.stdout)
        const screen = shown.stdout
        // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
        assert.match(screen, /\r\x1b\[2K\x1b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\x1b\[39m deleting: 0 of 3 done/)
        for (const id of ids) {
          // Each result line starts on an erased line (or a fresh one), never after the spinner's text.
          assert.match(screen, new RegExp(`(\\r\\x1b\\[2K|\\n)deleted ${id}\\r?\\n`), id)
        }
        // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
        assert.match(screen, /(\r\x1b\[2K|\n)deleted 3 of 3\r?\n$/)

        // NO_COLOR: the same spinner, without colour.
        const more = (yield* makeSessions(2, "progress batch no colour")).map((s) => s.id)
        const plain = yield* lockedUntil(onTerminal(["session", "delete", ...more], { ...env, NO_COLOR: "1" }), /deleting: 0 of 2 done/)
        assert.strictEqual(plain.code, 0, plain.stdout)
        assert.match(plain.stdout, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] deleting: 0 of 2 done/)
        // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
        assert.notMatch(plain.stdout, /\x1b\[\d*m/, "no colour under NO_COLOR")
      }),
    { timeout: 400_000 }
  )

  it.scoped(
    "a batch under ACCESSIBLE=1, TERM=dumb or with --json on a terminal: plain `plue: deleting: ...` lines, no escape byte",
    () =>
      Effect.gen(function*() {
        const env = yield* serverEnv
        for (const extra of [{ ACCESSIBLE: "1" }, { TERM: "dumb" }, { json: "1" }]) {
          const ids = (yield* makeSessions(2, "progress lines")).map((s) => s.id)
          const json = "json" in extra
          const shown = yield* lockedUntil(
            onTerminal(["session", "delete", ...ids, ...(json ? ["--json"] : [])], { ...env, ...(json ? {} : extra) }),
            /plue: deleting: 0 of 2 done\r?\n/
          )
          assert.strictEqual(shown.code, 0, shown.stdout)
          assert.notInclude(shown.stdout, ESC, JSON.stringify(extra))
          const lines = shown.stdout.split(/\r?\n/)
          assert.include(lines, "plue: deleting: 0 of 2 done")
          const rest = lines.filter((l) => !l.startsWith("plue: ")).join("\n")
          if (json) assert.deepStrictEqual((JSON.parse(rest) as Array<{ status: string }>).map((r) => r.status), ["ok", "ok"])
          else assert.strictEqual(rest.trim(), `deleted ${ids[0]}\ndeleted ${ids[1]}\ndeleted 2 of 2`)
        }
      }),
    { timeout: 400_000 }
  )

  it.scoped("a batch with stderr redirected: nothing on stderr, zero escape bytes, with and without --json", () =>
    Effect.gen(function*() {
      const env = { TERM: "xterm-256color", ...(yield* serverEnv) }
      const box = yield* TestServer.TestSandbox
      for (const json of [false, true]) {
        const ids = (yield* makeSessions(2, "progress redirected")).map((s) => s.id)
        const ran = yield* Effect.scoped(Effect.gen(function*() {
          // The first delete waits for the lock, so the batch outlasts the indicator's delay.
          yield* DbLock.hold(DbLock.databaseOf(box), "2 seconds")
          return yield* Plue.run(["session", "delete", ...ids, ...(json ? ["--json"] : [])], env)
        }))
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.strictEqual(ran.stderr, "")
        assert.notInclude(ran.stdout, ESC)
        if (!json) assert.strictEqual(ran.stdout, `deleted ${ids[0]}\ndeleted ${ids[1]}\ndeleted 2 of 2\n`)
      }
    }), { timeout: 300_000 })

  it.scoped("outbox flush: `flushing the outbox: 0 of 2 done` on a terminal; redirected, nothing on stderr and no escape byte", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const proxy = yield* Proxy.start(server.url)
      const env = {
        OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
        XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "plue-cli-flush-progress-"))
      }
      const url = ["--url", proxy.url]
      const queue = (title: string) =>
        Effect.gen(function*() {
          proxy.setMode("drop")
          const queued = yield* Plue.run(["session", "create", "--queue", "--title", title, ...url], env)
          assert.strictEqual(queued.code, 0, queued.stderr)
          proxy.setMode("pass")
        })
      yield* queue("flushed one")
      yield* queue("flushed two")
      const shown = yield* lockedUntil(onTerminal(["outbox", "flush", ...url], env), /flushing the outbox: 0 of 2 done/)
      assert.strictEqual(shown.code, 0, shown.stdout)
      // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
      assert.match(shown.stdout, /\x1b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\x1b\[39m flushing the outbox: 0 of 2 done/)
      // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
      assert.match(shown.stdout, /\r\x1b\[2Keverything applied\r?\n$/)

      yield* queue("flushed three")
      const box = yield* TestServer.TestSandbox
      const ran = yield* Effect.scoped(Effect.gen(function*() {
        yield* DbLock.hold(DbLock.databaseOf(box), "2 seconds")
        return yield* Plue.run(["outbox", "flush", ...url], { TERM: "xterm-256color", ...env })
      }))
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.strictEqual(ran.stderr, "")
      assert.strictEqual(ran.stdout, "everything applied\n")
    }), { timeout: 400_000 })
})
