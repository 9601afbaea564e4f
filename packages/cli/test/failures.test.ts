import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { BIN, run, start } from "./plue.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

/** Nothing listens on the discard port: connections are refused. */
const NOWHERE = "http://127.0.0.1:9"

const oneLine = (stderr: string) => stderr.split("\n").filter((l) => l !== "")

layer(Live, { timeout: 300_000, excludeTestServices: true })("plue never hangs and says why", (it) => {
  const refused = (args: ReadonlyArray<string>, password: string | undefined) =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const env: Record<string, string> = { OPENCODE_URL: server.url, ...(password === undefined ? {} : { OPENCODE_SERVER_PASSWORD: password }) }
      const result = yield* run(args, env, "400 seconds")
      assert.strictEqual(result.code, 4, `plue ${args.join(" ")}: ${result.stderr}`)
      const lines = oneLine(result.stderr)
      assert.strictEqual(lines.length, 1, result.stderr)
      assert.match(
        lines[0]!,
        password === undefined
          ? /^plue: OpenCode needs a password \(401 .*\); pass --password or set OPENCODE_SERVER_PASSWORD$/
          : /^plue: OpenCode refused the password \(401 .*\); check --password \/ OPENCODE_SERVER_PASSWORD$/
      )
    })
  // Any existing file will do as LIB: the password is refused before it is loaded.
  it.effect("a refused password ends host at once: exit 4 and the reason", () => refused(["host", BIN], "wrong"), 600_000)
  it.effect("a missing password ends host at once: exit 4 and the reason", () => refused(["host", BIN], undefined), 600_000)
  it.effect("a refused password ends watch at once: exit 4 and the reason", () => refused(["watch"], "wrong"), 600_000)
  it.effect("a refused password ends watch --json at once: exit 4 and the reason", () => refused(["watch", "--json"], "wrong"), 600_000)
  it.effect("a refused password ends demo: exit 4 and the reason", () => refused(["demo"], "wrong"), 600_000)

  it.effect("an unreachable server ends host with exit 5 after a bounded wait, saying what it tried", () =>
    Effect.gen(function*() {
      const result = yield* run(["host", BIN, "--url", NOWHERE], {}, "400 seconds")
      assert.strictEqual(result.code, 5, result.stderr)
      const lines = oneLine(result.stderr)
      assert.strictEqual(lines.length, 1, result.stderr)
      assert.match(lines[0]!, /^plue: OpenCode unreachable at http:\/\/127\.0\.0\.1:9: tried \d+ time\(s\) over 10 s, last: .*refused.*Check --url/)
      assert.notMatch(lines[0]!, /Is the server running.*Is the server running/, "the hint once")
    }), 600_000)

  it.scoped("watch keeps retrying an unreachable server, saying why and when it tries next", () =>
    Effect.gen(function*() {
      const watch = yield* start(["watch", "--url", NOWHERE])
      const first = yield* watch.waitFor("stderr", /plue: reconnecting: .*connection refused.*; next attempt at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n/, {
        timeout: "300 seconds"
      })
      assert.match(first, /GET http:\/\/127\.0\.0\.1:9\/event/)
      // Still retrying: a second attempt is reported, and the process has not ended.
      yield* watch.waitFor("stderr", /(plue: reconnecting: [^\n]*\n[\s\S]*){2}/, { timeout: "300 seconds" })
      assert.isTrue(watch.running(), watch.stderr())
      assert.strictEqual(watch.stdout(), "")
    }), 600_000)

  it.effect("sharing against a server with no share service says what to do (exit 1)", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "no share service" })
      const env = { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      const result = yield* run(["session", "share", session.id], env)
      assert.strictEqual(result.code, 1, result.stderr)
      const lines = oneLine(result.stderr)
      assert.strictEqual(lines.length, 1, result.stderr)
      assert.match(lines[0]!, /^plue: the server could not share ses_\w+ \(\d+: .*\): it has no share service it can reach\. Run `plue share-server`/)
    }), 600_000)

  it.effect("init with an unknown provider names the flags to fix", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "init" })
      const env = { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      const result = yield* run(["session", "init", session.id, "--provider", "nosuchprovider", "--model", "nosuchmodel"], env)
      assert.strictEqual(result.code, 1, result.stderr)
      const lines = oneLine(result.stderr)
      assert.strictEqual(lines.length, 1, result.stderr)
      assert.match(lines[0]!, /^plue: OpenCode could not run init on ses_\w+ with nosuchprovider\/nosuchmodel \(500: .*\)\. .*check --provider and --model/)
      assert.notInclude(lines[0]!, "The server log may say more")
    }), 600_000)

  it.effect("delete goes through the session manager: the session and its children", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const client = yield* OpenCodeClient.OpenCodeClient
      const parent = yield* client.create({ title: "doomed" })
      const child = yield* client.create({ title: "doomed child", parentID: parent.id })
      yield* client.create({ title: "doomed grandchild", parentID: child.id })
      const env = { OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      const result = yield* run(["session", "delete", parent.id, "-j"], env)
      assert.strictEqual(result.code, 0, result.stderr)
      assert.deepStrictEqual(JSON.parse(result.stdout), { deleted: parent.id, children: 2 })
      const gone = yield* run(["session", "get", child.id], env)
      assert.strictEqual(gone.code, 3, gone.stderr)
    }), 600_000)

  it.scoped("share-server --port 0 prints the port it really got", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const server = yield* start(["share-server", "--port", "0", "--data", box.root])
      const line = yield* server.waitFor("stderr", /listening on \S+, share URLs under \S+\/share\//, {
        timeout: "300 seconds"
      })
      const [, listening, shares] = /listening on (\S+), share URLs under (\S+)\/share\//.exec(line)!
      assert.match(listening!, /^http:\/\/127\.0\.0\.1:(?!0\b)\d+$/)
      assert.strictEqual(shares, listening)
      // It answers there.
      const answer = yield* Effect.promise(() => fetch(`${listening}/share/nothing`).then((r) => r.status))
      assert.isAbove(answer, 0)
    }), 600_000)

  it.effect("a managed server's share link says, beside the URL, that it dies with the command", () =>
    Effect.gen(function*() {
      const box = yield* TestServer.TestSandbox
      const env = { ...box.env, HOME: box.home }
      const made = yield* run(["session", "create", "--title", "shared locally", "--json"], env, "400 seconds", box.project)
      assert.strictEqual(made.code, 0, made.stderr)
      const id = (JSON.parse(made.stdout) as { id: string }).id
      const shared = yield* run(["session", "share", id], env, "400 seconds", box.project)
      assert.strictEqual(shared.code, 0, shared.stderr)
      assert.match(
        shared.stdout.split("\n")[0]!,
        /^http:\/\/127\.0\.0\.1:\d+\/share\/\S+ {2}\(served by this command: the link stops working when it exits; use plue share-server for one that lasts\)$/
      )
      const json = yield* run(["session", "share", id, "-j"], env, "400 seconds", box.project)
      assert.strictEqual(JSON.parse(json.stdout).diesWithCommand, true, json.stderr)
    }), 600_000)
})
