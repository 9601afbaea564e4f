// Rows of docs/c-api.md about failures and events that need a server doing something particular
// (docs/coverage-of-docs.md maps every row to its test): PLUE_ERR_PROTOCOL (a proxy in front of
// the real server answers one session with what is not a Session), PLUE_ERR_SHARE_UNAVAILABLE (the
// real server with sharing disabled, OPENCODE_DISABLE_SHARE=1), an `Error` event (the stub model
// refuses the session's prompt) and the C queue's own `Lagged` (a callback slower than the queue)
// at a C callback. Each C mode (c/error_rows.c) runs through plue_init and the sidecar, and under
// `plue host` (koffi). Then the library and the program built with a header of another bridge
// protocol, and libraries `plue host` cannot run: each refused with a clear error.
import { NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeServer, Plue } from "@plue/core"
import * as Loopback from "@plue/testing/Loopback"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as StubLlm from "@plue/testing/StubLlm"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import koffi from "koffi"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer, request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { API_VERSION, Code } from "../src/Api.js"
import * as Bridge from "../src/Bridge.js"
import * as Host from "../src/Host.js"
import { cliBin, compileLibrary, compileProgram, cSource, includeDir, plueCommand } from "./support.js"

// A prompt containing this text is refused by the stub model: OpenCode reports a `session.error`.
const REFUSE = "plue-stub-refuse"
const Stub = StubLlm.layer({ refuse: REFUSE }).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
// Sharing disabled on the real server: it answers a share without a URL.
const Live = Plue.layer().pipe(
  Layer.provideMerge(
    Layer.unwrapEffect(Effect.map(StubLlm.StubLlm, (stub) => TestServer.layer({ config: stub.opencodeConfig, env: { OPENCODE_DISABLE_SHARE: "1" } })))
  ),
  Layer.provideMerge(Stub),
  Layer.provideMerge(Platform.layer)
)

const source = cSource("error_rows.c")
const program = compileProgram(source)
const library = compileLibrary(source)
const command = plueCommand()

/** The two ways to run a mode: the program through plue_init and the sidecar, the library under `plue host`. */
const ways = [
  { name: "sidecar", argv: (args: ReadonlyArray<string>) => [program, [...args]] as const },
  { name: "plue host", argv: (args: ReadonlyArray<string>) => [process.execPath, [cliBin, "host", library, ...args]] as const }
]

/** Starts a mode against `url` (the test server's, by default); ended with the test's scope. */
const start = (way: (typeof ways)[number], args: ReadonlyArray<string>, url?: string) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const [path, argv] = way.argv(args)
    return yield* Spawn.spawn(path, argv, {
      env: { PLUE_COMMAND: command, OPENCODE_URL: url ?? server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
    })
  })

const finish = (child: Spawn.Child) =>
  Effect.map(child.result, (ran) => {
    assert.strictEqual(ran.code, 0, `exit ${ran.code}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`)
    assert.include(ran.stdout, "done: 0 failure(s)")
    return ran
  })

/** What the proxy answers instead of a Session: JSON, but not of that shape. */
const GARBLED = JSON.stringify({ id: 42, title: ["not", "a", "title"] })

/**
 * A proxy in front of the real server that answers requests for `garbledId`, and renames to
 * "plue-garble", with GARBLED; everything else (the event stream too) goes to the server.
 */
const garblingProxy = (target: string, garbledId: string) =>
  Loopback.serve((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      const path = req.url ?? "/"
      if (path.includes(garbledId) || (req.method === "PATCH" && body.includes("plue-garble"))) {
        res.writeHead(200, { "content-type": "application/json" })
        return res.end(GARBLED)
      }
      const upstream = request(`${target}${path}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      upstream.on("error", () => res.destroy())
      res.on("close", () => upstream.destroy())
      upstream.end(body)
    })
  })

layer(Live, { timeout: 300_000, excludeTestServices: true })("docs/c-api.md: failure codes and events a C host sees", (it) => {
  for (const way of ways) {
    it.scoped(
      `${way.name}: PLUE_ERR_PROTOCOL when the server answers what does not decode (open, a rename); the handle still works`,
      () =>
        Effect.gen(function*() {
          const server = yield* OpenCodeServer.OpenCodeServer
          const garbledId = "ses_0garbled0000000000000000000"
          const proxy = yield* garblingProxy(server.url, garbledId)
          const ran = yield* finish(yield* start(way, ["protocol", garbledId], proxy.url))
          const lines = ran.stdout.split("\n")
          const open = lines.find((l) => l.startsWith("open "))!
          const title = lines.find((l) => l.startsWith("title "))!
          assert.match(open, new RegExp(`^open ${Code.PLUE_ERR_PROTOCOL} \\S`), "a message says what failed")
          assert.match(title, new RegExp(`^title ${Code.PLUE_ERR_PROTOCOL} \\S`))
        }),
      { timeout: 300_000 }
    )

    it.scoped(`${way.name}: PLUE_ERR_SHARE_UNAVAILABLE when the server shares without a URL (sharing disabled)`, () =>
      Effect.gen(function*() {
        const ran = yield* finish(yield* start(way, ["share"]))
        const line = ran.stdout.split("\n").find((l) => l.startsWith("share "))!
        assert.match(line, new RegExp(`^share ${Code.PLUE_ERR_SHARE_UNAVAILABLE} .*share URL`))
      }), { timeout: 300_000 })

    it.scoped(`${way.name}: an Error event (the model refused the session's prompt) reaches a C callback with OpenCode's error`, () =>
      Effect.gen(function*() {
        const client = yield* OpenCodeClient.OpenCodeClient
        const stub = yield* StubLlm.StubLlm
        const child = yield* start(way, ["error-event"])
        const id = (yield* child.waitFor("stdout", /session (ses_\w+)/, { timeout: "120 seconds" })).split(" ")[1]!
        yield* client.promptAsync(id, { text: REFUSE, model: { providerID: stub.providerID, modelID: stub.modelID } })
        const ran = yield* finish(child)
        const event = JSON.parse(ran.stdout.split("\n").find((l) => l.startsWith("event "))!.slice(6))
        assert.strictEqual(event._tag, "Error")
        assert.strictEqual(event.sessionId, id)
        assert.strictEqual(event.error.name, "APIError")
      }), { timeout: 300_000 })

    it.scoped(
      `${way.name}: a callback slower than the C queue: every subscriber gets one Lagged with the count dropped, then the events after`,
      () =>
        Effect.gen(function*() {
          const ran = yield* finish(yield* start(way, ["lagged", "80"]))
          const line = ran.stdout.split("\n").find((l) => l.startsWith("lagged "))!
          const missed = Number(/slow-missed (\d+)/.exec(line)![1])
          assert.isAbove(missed, 0, line)
          assert.match(line, /^lagged \{"_tag":"Lagged","missed":\d+\}/)
        }),
      { timeout: 300_000 }
    )
  }

  it.effect("a program built with a header of another bridge protocol: plue_init fails, naming both protocols", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const ran = yield* Spawn.run(compileProgram(otherProtocol.program), [], {
        env: { PLUE_COMMAND: command, OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) }
      })
      assert.strictEqual(ran.code, 0, `${ran.stdout}\n${ran.stderr}`)
      assert.include(ran.stdout, `init ${Code.PLUE_ERR_INTERNAL} `)
      assert.include(ran.stdout, `plue.h speaks bridge protocol ${API_VERSION - 1}, this plue ${API_VERSION}`)
    }), { timeout: 120_000 })

  it.effect(
    "plue host refuses, each with a clear error: a missing library, one without PLUE_IMPLEMENTATION, one of another bridge protocol, one without plue_host_main",
    () =>
      Effect.gen(function*() {
        const refused = (path: string) =>
          Effect.scoped(Host.run(path, [])).pipe(
            Effect.exit,
            Effect.map((exit) => {
              assert.isTrue(Exit.isFailure(exit), path)
              return String(Exit.isFailure(exit) ? exit.cause : "")
            })
          )
        const missing = yield* refused("/nonexistent/libhost.so")
        assert.include(missing, "Cannot bind /nonexistent/libhost.so")
        assert.include(missing, "define PLUE_IMPLEMENTATION")

        // plue.h without PLUE_IMPLEMENTATION anywhere: the plue functions it calls are undefined...
        const calling = compileLibrary(
          unit(`#include "plue.h"\nint plue_host_main(int argc, char **argv) { (void)argc; (void)argv; return plue_get_last_error_code(); }\n`)
        )
        const undefinedSymbol = yield* refused(calling)
        assert.include(undefinedSymbol, "plue_get_last_error_code")
        assert.include(undefinedSymbol, "define PLUE_IMPLEMENTATION")
        // ...and a library that calls none of them lacks the bridge's entry points.
        const declarationsOnly = compileLibrary(unit(`#include "plue.h"\nint plue_host_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }\n`))
        assert.include(yield* refused(declarationsOnly), `it does not export the plue bridge functions of protocol ${API_VERSION}`)

        const older = compileLibrary(otherProtocol.library)
        assert.include(yield* refused(older), `its plue.h speaks bridge protocol other than ${API_VERSION}; rebuild it with this plue's header`)

        // A library koffi already loaded is bound the same way, and refused the same way.
        const loaded = yield* Effect.scoped(Bridge.bind(koffi.load(declarationsOnly))).pipe(Effect.flip)
        assert.strictEqual(loaded._tag, "BindError")
        assert.match(loaded.message, /^Cannot bind the library: it does not export the plue bridge functions/)

        const noMain = compileLibrary(unit(`#define PLUE_IMPLEMENTATION\n#include "plue.h"\nint not_the_main(void) { return 0; }\n`))
        assert.include(yield* refused(noMain), "it does not export int plue_host_main(int argc, char **argv)")
      }),
    { timeout: 120_000 }
  )
})

const unit = (body: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), "plue-unit-")), "unit.c")
  writeFileSync(path, body)
  return path
}

/**
 * The committed header with the bridge protocol one lower, as a program or library built with
 * another plue would have it (included by its path), and a program and a library using it.
 */
const otherProtocol = (() => {
  const header = join(mkdtempSync(join(tmpdir(), "plue-old-h-")), "plue.h")
  const committed = readFileSync(join(includeDir, "plue.h"), "utf8")
  const changed = committed.replace(/^#define PLUE__API_VERSION \d+$/m, `#define PLUE__API_VERSION ${API_VERSION - 1}`)
  assert.notStrictEqual(changed, committed)
  writeFileSync(header, changed)
  const implementation = `#include <stdio.h>\n#define PLUE_IMPLEMENTATION\n#include "${header}"\n`
  return {
    program: unit(
      implementation +
        `int main(void) { int rc = plue_init(NULL); printf("init %d %s\\n", rc, plue_get_last_error()); if (rc == 0) plue_shutdown(); return 0; }\n`
    ),
    library: unit(implementation + `int plue_host_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }\n`)
  }
})()
