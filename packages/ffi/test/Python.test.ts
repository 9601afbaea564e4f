// Python through ctypes as a C host: plue.h built into a shared library the documented way, loaded
// by `python3` with ctypes.CDLL, in the sidecar mode (plue_init starts `plue serve`, which talks to
// the test's real OpenCode server). The script is the one docs/c-api.md shows.
import { OpenCodeServer } from "@plue/core"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Code } from "../src/Api.js"
import { referencePath } from "../src/generate.js"
import { pythonExamplePaths } from "../src/Reference.js"
import { includeDir, plueCommand } from "./support.js"

const { implementation, script } = pythonExamplePaths
const pythonDir = dirname(script)

/** The interpreter: `python3` on PATH, or the one PLUE_TEST_PYTHON names (to try another version). */
const interpreter = process.env.PLUE_TEST_PYTHON ?? "python3"

/** `python3 --version`, or why there is no usable python3. */
const python = ((): { readonly version: string } | { readonly missing: string } => {
  try {
    return { version: execFileSync(interpreter, ["--version"], { stdio: "pipe", encoding: "utf8" }).trim() }
  } catch (error) {
    return { missing: `\`${interpreter} --version\` failed, so there is no Python to run (${String(error).split("\n")[0]})` }
  }
})()

/** Builds libplue.so with the documented command line, from the documented plue_impl.c. */
const buildLibrary = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "plue-py-"))
  execFileSync("cc", ["-std=c11", "-fPIC", "-shared", "-I", includeDir, "-o", "libplue.so", implementation, "-lpthread"], {
    cwd: dir,
    stdio: "pipe"
  })
  return join(dir, "libplue.so")
}

/** Alive = a process that exists and is not a zombie. */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

if ("missing" in python) {
  describe("Python through ctypes", () => {
    it.skip(`skipped: ${python.missing}`, () => {})
  })
} else {
  layer(Live, { timeout: 240_000, excludeTestServices: true })(`Python (${python.version}) through ctypes, in the sidecar mode`, (it) => {
    it.scoped(
      "the documented script: create, get_info, title, list, an event in the Python callback, error codes, destroy, shutdown reaps the sidecar",
      () =>
        Effect.gen(function*() {
          const server = yield* OpenCodeServer.OpenCodeServer
          const library = buildLibrary()
          const child = yield* Spawn.spawn(interpreter, [script], {
            cwd: pythonDir,
            env: {
              PLUE_LIBRARY: library,
              PLUE_COMMAND: plueCommand(),
              OPENCODE_URL: server.url,
              OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
            }
          })
          const ran = yield* child.result
          const out = ran.stdout
          const explain = `exit ${ran.code}\nstdout:\n${out}\nstderr:\n${ran.stderr}`
          assert.strictEqual(ran.code, 0, explain)

          const sidecar = out.match(/^sidecar: \[(\d+)\]$/m)
          assert.isNotNull(sidecar, `plue_init started exactly one child, the sidecar\n${explain}`)
          const id = out.match(/^created: (ses_[0-9A-Za-z]+) title='New session/m)?.[1]
          assert.isDefined(id, `get_info's JSON was parsed in Python\n${explain}`)
          assert.match(out, /^title: 'From Python'$/m, explain)
          assert.match(out, /^listed: True of \d+$/m, explain)
          // The callback ran on a thread Python did not start (plue's dispatcher thread).
          assert.match(out, /^event: Updated title='From Python' on Dummy-\d+$/m, explain)
          assert.match(out, /^event received: True$/m, explain)
          assert.match(
            out,
            new RegExp(`^bad id: result=None code=${Code.PLUE_ERR_NOT_FOUND} message=Session ses_0000000000000notthere not found`, "m"),
            explain
          )
          assert.match(
            out,
            new RegExp(
              `^None title: result=${Code.PLUE_ERR_INVALID_ARGUMENT} code=${Code.PLUE_ERR_INVALID_ARGUMENT} message=plue_session_update_title: title is NULL$`,
              "m"
            ),
            explain
          )
          assert.match(out, /^destroyed: code=0$/m, explain)
          assert.match(out, new RegExp(`^after destroy: result=None code=${Code.PLUE_ERR_INVALID_HANDLE}$`, "m"), explain)
          assert.match(out, /^shutdown: 0$/m, explain)
          assert.match(out, /^children after shutdown: \[\]$/m, `plue_shutdown reaped the sidecar\n${explain}`)
          assert.isFalse(alive(Number(sidecar![1])), `the sidecar ${sidecar![1]} is gone`)
          assert.notMatch(ran.stderr, /Traceback|Exception ignored/, explain)

          // The real server has the session under its new title.
          const other = yield* OtherClient.make
          const session = yield* other<{ id: string; title: string }>("GET", `/session/${id}`)
          assert.strictEqual(session.title, "From Python")
        }),
      { timeout: 240_000 }
    )

    it.scoped(
      "Python threads: a blocking call releases the GIL, 4 threads call at once and each reads its own last error, an exception in the callback stops nothing",
      () =>
        Effect.gen(function*() {
          const server = yield* OpenCodeServer.OpenCodeServer
          const child = yield* Spawn.spawn(interpreter, [join(pythonDir, "plue_threads.py")], {
            cwd: pythonDir,
            env: {
              PLUE_LIBRARY: buildLibrary(),
              PLUE_COMMAND: plueCommand(),
              OPENCODE_URL: server.url,
              OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
            }
          })
          const ran = yield* child.result
          const explain = `exit ${ran.code}\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`
          assert.strictEqual(ran.code, 0, explain)
          assert.match(ran.stdout, /^plue_init took [\d.]+ s; the ticker ran \d+ times meanwhile$/m, explain)
          assert.match(ran.stdout, /^done: 0 failure\(s\)$/m, explain)
          // ctypes reported the callback's exception and dropped it; later events still arrived.
          assert.include(ran.stderr, "Exception ignored on calling ctypes callback function", explain)
          assert.include(ran.stderr, "ValueError: raised in the callback on purpose", explain)
        }),
      { timeout: 240_000 }
    )

    it("the example in docs/c-api.md is this script and this plue_impl.c, byte for byte", () => {
      const reference = readFileSync(referencePath, "utf8")
      assert.include(reference, `\`\`\`python\n${readFileSync(script, "utf8")}\`\`\``)
      assert.include(reference, `\`\`\`c\n${readFileSync(implementation, "utf8")}\`\`\``)
    })
  })
}
