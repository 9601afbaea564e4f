import * as Platform from "@plue/testing/Platform"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Help from "../src/Help.js"
import { run } from "./plue.js"

/** Exit 2 and exactly one line, `plue: ...`, on stderr; nothing on stdout. */
const usageError = (args: ReadonlyArray<string>, pattern: RegExp, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const result = yield* run(args, env)
    assert.strictEqual(result.code, 2, `plue ${args.join(" ")}: ${result.stderr}`)
    assert.strictEqual(result.stdout, "")
    const lines = result.stderr.split("\n").filter((l) => l !== "")
    assert.strictEqual(lines.length, 1, result.stderr)
    assert.match(lines[0]!, /^plue: /)
    assert.notInclude(result.stderr, "\x1b")
    assert.match(lines[0]!, pattern)
  })

layer(Platform.layer, { timeout: 300_000 })("usage mistakes: one `plue: ` line on stderr, exit 2, saying what to type", (it) => {
  // Each case never reaches a server: no URL would start a local one, so a hang or exit 5 shows it did.
  it.effect("an unknown command", () => usageError(["session", "frobnicate"], /unknown command 'frobnicate'.*one of: create, list/))
  it.effect("an unknown top-level command", () => usageError(["sesion"], /unknown command 'sesion' for 'plue'/))
  it.effect("a group without its command", () => usageError(["session"], /needs a command: create, list/))
  it.effect("an unknown flag", () => usageError(["session", "get", "--bogus", "x"], /unknown flag '--bogus'.*plue session get --help/))
  it.effect("a missing argument", () => usageError(["session", "get"], /missing ID; usage: plue session get ID/))
  it.effect("an extra argument", () => usageError(["watch", "extra"], /unexpected argument 'extra'/))
  it.effect("a flag without its value", () => usageError(["session", "list", "--password"], /--password needs a value: --password PASSWORD/))
  it.effect("a missing required flag", () => usageError(["session", "init", "ses_abc", "--provider", "x"], /missing --model MODEL/))
  it.effect("a port that is not a number", () => usageError(["share-server", "--port", "abc"], /--port takes a whole number, not 'abc': e\.g\. --port 4500/))
  it.effect("a ttl that is not a duration", () =>
    usageError(["share-server", "--ttl", "bogus"], /--ttl: 'bogus' is not a duration; write it like --ttl "24 hours"/))
  it.effect("a malformed --url", () => usageError(["session", "list", "--url", "notaurl"], /'notaurl' is not an http\(s\) URL; write it like --url http/))
  it.effect("a malformed OPENCODE_URL", () => usageError(["session", "list"], /'ftp:\/\/x' is not an http\(s\) URL/, { OPENCODE_URL: "ftp://x" }))
  it.effect("a malformed session id", () => usageError(["session", "get", "../config"], /Invalid session id '\.\.\/config'.*like ses_/))
  it.effect("a malformed parent id", () => usageError(["session", "create", "--parent", "ses_x/../../auth"], /Invalid session id 'ses_x\/\.\.\/\.\.\/auth'/))
  it.effect("a --directory that does not exist", () =>
    usageError(["session", "list", "-d", "/nonexistent-plue-dir"], /--directory: \/nonexistent-plue-dir is not a directory/))
  it.effect("a host library that does not exist", () => usageError(["host", "/nonexistent-lib.so"], /\/nonexistent-lib\.so.*plue host --help/))
  it.effect("a switch given a value", () => usageError(["session", "list", "--json=yes"], /--json takes no value/))
})

layer(Platform.layer, { timeout: 600_000 })("help", (it) => {
  const paths = [[], ["session"], ...Help.commands.map((c) => c.path)]

  it.effect("every command's help: full usage line, flags, at most 50 lines, no escape bytes when piped", () =>
    Effect.forEach(paths, (path) =>
      Effect.gen(function*() {
        for (const env of [{}, { NO_COLOR: "1" }]) {
          const result = yield* run([...path, "--help"], env)
          const name = ["plue", ...path].join(" ")
          assert.strictEqual(result.code, 0, `${name} --help: ${result.stderr}`)
          assert.notInclude(result.stdout, "\x1b", `${name} --help prints escape codes when piped`)
          const lines = result.stdout.trimEnd().split("\n")
          assert.isAtMost(lines.length, 50, `${name} --help has ${lines.length} lines`)
          assert.match(result.stdout, new RegExp(`USAGE\\n  ${name} `))
          assert.notInclude(result.stdout, "$ get")
          assert.include(result.stdout, "-h, --help")
        }
      }), { discard: true }))

  it.effect("short flags are shown and accepted", () =>
    Effect.gen(function*() {
      const help = yield* run(["session", "list", "-h"])
      for (const flag of ["-j, --json", "-u, --url URL", "-p, --password PASSWORD", "-d, --directory DIR"]) assert.include(help.stdout, flag)
      // Accepted by the parser too: a refused connection (exit 5), not a usage error.
      const listed = yield* run(["session", "list", "-j", "-u", "http://127.0.0.1:9", "-p", "x"])
      assert.strictEqual(listed.code, 5, listed.stderr)
    }))

  it("colour only on a terminal without NO_COLOR", () => {
    assert.isTrue(Help.colorEnabled(true, {}))
    assert.isFalse(Help.colorEnabled(true, { NO_COLOR: "1" }))
    assert.isFalse(Help.colorEnabled(false, {}))
    assert.include(Help.render(["session", "get"], true), "\x1b[1m")
    assert.notInclude(Help.render(["session", "get"], false), "\x1b")
  })

  it.effect("--version and plain plue", () =>
    Effect.gen(function*() {
      const version = yield* run(["--version"])
      assert.strictEqual(version.stdout, "0.1.0\n")
      const bare = yield* run([])
      assert.strictEqual(bare.code, 0)
      assert.include(bare.stdout, "COMMANDS")
    }))
})
