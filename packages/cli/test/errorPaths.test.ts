import * as Loopback from "@plue/testing/Loopback"
import * as Platform from "@plue/testing/Platform"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { ServerResponse } from "node:http"
import { run } from "./plue.js"

// Exit codes of docs/cli.md that the real server cannot produce on demand: an answer that does
// not decode (a loopback server answers it), and an environment variable that does not parse.

const ID = "ses_df557fc75ffe8uAWx0P0wTjSPl"
const NOWHERE = "http://127.0.0.1:9"

const json = (res: ServerResponse, body: string) => res.writeHead(200, { "content-type": "application/json" }).end(body)

/** Exit `code`, nothing on stdout, one `plue: ` line on stderr, which is returned. */
const oneLine = (result: { code: number | null; stdout: string; stderr: string }, code: number) => {
  assert.strictEqual(result.code, code, result.stderr)
  assert.strictEqual(result.stdout, "")
  const lines = result.stderr.split("\n").filter((l) => l !== "")
  assert.strictEqual(lines.length, 1, result.stderr)
  assert.match(lines[0]!, /^plue: /)
  return lines[0]!
}

layer(Platform.layer, { timeout: 300_000 })("exit codes the real server cannot show", (it) => {
  it.scoped("1: an answer that does not decode, saying which field and why (for people and with --json)", () =>
    Effect.gen(function*() {
      let list = "not json{"
      const server = yield* Loopback.serve((req, res) =>
        req.url?.startsWith("/session/")
          ? json(res, JSON.stringify({ id: 42, slug: "s", projectID: "p", directory: "/", title: "t", version: "1", time: { created: 1, updated: 2 } }))
          : json(res, list)
      )
      for (const args of [["session", "get", ID], ["session", "get", ID, "--json"]]) {
        const line = oneLine(yield* run([...args, "--url", server.url], {}, "120 seconds"), 1)
        assert.include(line, `GET ${server.url}/session/${ID}`)
        // The bad field and why, not the schema's whole type.
        assert.match(line, /could not decode the response body: id: Expected .*, actual 42$/)
      }
      const line = oneLine(yield* run(["session", "list", "--url", server.url], {}, "120 seconds"), 1)
      assert.match(line, /could not decode the JSON body: .*; body starts "not json\{"$/)
      // Many bad fields: the first eight, then how many more.
      list = "[{}, {}]"
      const many = oneLine(yield* run(["session", "list", "--url", server.url], {}, "120 seconds"), 1)
      assert.match(many, /could not decode the response body: 0\.id: is missing; 0\.slug: is missing; (?:[^;]+; ){6}and 6 more$/)
      // Not even the right shape: the body itself.
      list = "42"
      const shape = oneLine(yield* run(["session", "list", "--url", server.url], {}, "120 seconds"), 1)
      assert.match(shape, /could not decode the response body: the body: Expected ReadonlyArray<.*>, actual 42$/)
    }))

  it.effect("2: a PLUE_* or OPENCODE_* variable that does not parse names it, before anything is sent", () =>
    Effect.gen(function*() {
      for (
        const [env, says] of [
          [{ PLUE_OUTBOX: "maybe" }, /^plue: environment: .*PLUE_OUTBOX.*"maybe".*; fix or unset that variable$/],
          [{ PLUE_OUTBOX: "1", PLUE_OUTBOX_POLICY: "bogus" }, /^plue: environment: .*PLUE_OUTBOX_POLICY.*merge, server, local.*; fix or unset that variable$/],
          [{ OPENCODE_RETRIES: "many" }, /^plue: environment: .*OPENCODE_RETRIES.*; fix or unset that variable$/]
        ] as const
      ) {
        // Nothing listens at NOWHERE: had anything been sent, it would be exit 5 (or a retry forever).
        const line = oneLine(yield* run(["watch", "--url", NOWHERE], env, "120 seconds"), 2)
        assert.match(line, says)
      }
    }))
})
