import { NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"
import * as Indicator from "../src/Indicator.js"

// `plue session init` against a real server whose model is the stub (20 chunks 100 ms apart: a
// turn of a few seconds, far past the indicator's 300 ms delay), run through a real
// pseudo-terminal (util-linux `script`) and with redirected output.
const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const Stub = StubLlm.layer({ pace: "100 millis", chunks: 20 }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig }))).pipe(
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

const ESC = "\x1b"
const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`

/** Whether util-linux `script` is here (it is on this machine; the tests say so if it is not). */
const hasScript = (() => {
  try {
    return /util-linux/.test(execFileSync("script", ["--version"], { encoding: "utf8" }))
  } catch {
    return false
  }
})()

/** The environment of a CLI run against the test server. */
const serverEnv = Effect.map(OpenCodeServer.OpenCodeServer, (server) => ({
  OPENCODE_URL: server.url,
  OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
}))

/** `plue args...` with its stdout and stderr on a pseudo-terminal; what the terminal showed. */
const onTerminal = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  // A pty made by `script` says it has 0 columns: give it a width, so lines are not cut.
  Spawn.run("script", ["-qfec", `stty cols 200 rows 50; ${[process.execPath, BIN, ...args].map(quote).join(" ")}`, "/dev/null"], {
    env: { TERM: "xterm-256color", ...env }
  })

/** `plue args...` with stdout and stderr redirected to pipes. */
const redirected = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Spawn.run(process.execPath, [BIN, ...args], { env: { TERM: "xterm-256color", ...env } })

const initArgs = Effect.gen(function*() {
  const client = yield* OpenCodeClient.OpenCodeClient
  const stub = yield* StubLlm.StubLlm
  const session = yield* client.create({ title: "progress on a terminal" })
  return { id: session.id, args: ["session", "init", session.id, "--provider", stub.providerID, "--model", stub.modelID] }
})

describe("Indicator.style", () => {
  it("off unless stderr is a terminal; lines under --json, ACCESSIBLE or TERM=dumb; else a spinner", () => {
    assert.strictEqual(Indicator.style(false, {}, false), "off")
    assert.strictEqual(Indicator.style(false, { ACCESSIBLE: "1" }, true), "off")
    assert.strictEqual(Indicator.style(true, { TERM: "xterm" }, false), "spinner")
    assert.strictEqual(Indicator.style(true, { TERM: "xterm", NO_COLOR: "1" }, false), "spinner")
    assert.strictEqual(Indicator.style(true, { TERM: "xterm" }, true), "lines")
    assert.strictEqual(Indicator.style(true, { ACCESSIBLE: "1" }, false), "lines")
    assert.strictEqual(Indicator.style(true, { ACCESSIBLE: "0" }, false), "spinner")
    assert.strictEqual(Indicator.style(true, { TERM: "dumb" }, false), "lines")
    assert.isFalse(Indicator.colorEnabled({ NO_COLOR: "1" }))
    assert.isTrue(Indicator.colorEnabled({ NO_COLOR: "" }))
  })
})

layer(Live, { timeout: 300_000, excludeTestServices: true })("plue session init: progress on stderr", (it) => {
  it.effect("util-linux script is here to give the CLI a real terminal", () =>
    Effect.sync(() => assert.isTrue(hasScript, "script (util-linux) is needed for the terminal tests")))

  it.effect("on a terminal: a coloured spinner with the phase, erased at the end; NO_COLOR: the spinner without colour", () =>
    Effect.gen(function*() {
      const env = yield* serverEnv
      const { args, id } = yield* initArgs
      const shown = yield* onTerminal(args, env)
      assert.strictEqual(shown.code, 0, shown.stdout + shown.stderr)
      const screen = shown.stdout
      assert.include(screen, `${ESC}[2K`, "the spinner redraws its line")
      // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
      assert.match(screen, /\x1b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\x1b\[39m initializing ses_\w+ with stub\/slow-model/)
      assert.include(screen, "waiting for the model", "OpenCode's busy status reached the indicator")
      // The last thing before the result line is the erased spinner line.
      assert.match(screen, new RegExp(`\\r\\x1b\\[2Kinitialized ${id} with stub/slow-model\\r?\\n$`))

      const plain = yield* onTerminal((yield* initArgs).args, { ...env, NO_COLOR: "1" })
      assert.strictEqual(plain.code, 0, plain.stdout)
      assert.include(plain.stdout, `${ESC}[2K`)
      assert.match(plain.stdout, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] initializing ses_\w+/)
      // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
      assert.notMatch(plain.stdout, /\x1b\[\d*m/, "no colour under NO_COLOR")
    }), { timeout: 240_000 })

  it.effect("ACCESSIBLE=1 and TERM=dumb: a plain line per phase, no escape byte", () =>
    Effect.gen(function*() {
      const env = yield* serverEnv
      for (const extra of [{ ACCESSIBLE: "1" }, { TERM: "dumb" }]) {
        const { args, id } = yield* initArgs
        const shown = yield* onTerminal(args, { ...env, ...extra })
        assert.strictEqual(shown.code, 0, shown.stdout)
        assert.notInclude(shown.stdout, ESC, `no escape byte with ${JSON.stringify(extra)}`)
        const lines = shown.stdout.split(/\r?\n/)
        assert.include(lines, `plue: initializing ${id} with stub/slow-model: waiting for the model`, shown.stdout)
        assert.strictEqual(new Set(lines).size, lines.length, "each phase once")
        assert.strictEqual(lines.filter((l) => l.startsWith("initialized ")).length, 1)
      }
    }), { timeout: 240_000 })

  it.effect("--json on a terminal: plain lines at most, no escape byte; the JSON is intact", () =>
    Effect.gen(function*() {
      const env = yield* serverEnv
      const { args, id } = yield* initArgs
      const shown = yield* onTerminal([...args, "--json"], env)
      assert.strictEqual(shown.code, 0, shown.stdout)
      assert.notInclude(shown.stdout, ESC)
      const json = shown.stdout.split(/\r?\n/).filter((l) => !l.startsWith("plue: ")).join("\n")
      assert.deepStrictEqual(JSON.parse(json), { initialized: id })
    }), { timeout: 120_000 })

  it.effect("redirected: no progress at all and zero escape bytes, with and without --json", () =>
    Effect.gen(function*() {
      const env = yield* serverEnv
      for (const json of [false, true]) {
        const { args, id } = yield* initArgs
        const ran = yield* redirected(json ? [...args, "--json"] : args, env)
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.strictEqual(ran.stderr, "", "nothing on a redirected stderr")
        assert.notInclude(ran.stdout + ran.stderr, ESC)
        assert.strictEqual(ran.stdout, json ? `${JSON.stringify({ initialized: id }, null, 2)}\n` : `initialized ${id} with stub/slow-model\n`)
      }
    }), { timeout: 240_000 })

  it.scoped("a local server starting: the spinner on a terminal, nothing when redirected", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const env = { ...box.env, HOME: `${box.home}` }
      const shown = yield* Spawn.run("script", [
        "-qfec",
        `stty cols 200 rows 50; ${[process.execPath, BIN, "session", "list", "--roots"].map(quote).join(" ")}`,
        "/dev/null"
      ], {
        env: { TERM: "xterm-256color", ...env },
        cwd: box.project
      })
      assert.strictEqual(shown.code, 0, shown.stdout)
      // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
      assert.match(shown.stdout, /\x1b\[2K\x1b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\x1b\[39m starting a local OpenCode server/)
      const ran = yield* Spawn.run(process.execPath, [BIN, "session", "list", "--roots"], { env, cwd: box.project })
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.notInclude(ran.stdout + ran.stderr, ESC)
      assert.notInclude(ran.stderr, "starting a local OpenCode server")
    }), { timeout: 300_000 })
})
