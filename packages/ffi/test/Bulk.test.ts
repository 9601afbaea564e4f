import { OpenCodeClient, OpenCodeServer, Plue, SessionSync } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Code } from "../src/Api.js"
import * as Host from "../src/Host.js"
import { compileLibrary, compileProgram, cSource, plueCommand, runProgram } from "./support.js"

// plue_bulk from a real C program, both ways: under `plue host` (koffi) and through plue_init
// (the sidecar), against the real server.
const Live = Plue.layer().pipe(
  Layer.provideMerge(TestServer.layer()),
  Layer.provideMerge(Platform.layer)
)

const plugin = compileLibrary(cSource("bulk.c"))
const program = compileProgram(cSource("bulk.c"), ["-DPLUE_BULK_MAIN"])
const command = plueCommand()

interface CResult {
  readonly status: "ok" | "failed" | "skipped" | "cancelled"
  readonly index: number
  readonly op: { readonly op: string; readonly session?: string; readonly title?: string }
  readonly session?: { readonly id: string; readonly title: string }
  readonly deleted?: number
  readonly code?: number
  readonly message?: string
  readonly error?: { readonly _tag: string }
  readonly reason?: string
  readonly duplicateOf?: number
}

/** A batch: 12 sessions made on the server, every 7th item an id no server has, a rename and a duplicate. */
const prepare = Effect.gen(function*() {
  yield* (yield* SessionSync.SessionSync).awaitConnected
  const client = yield* OpenCodeClient.OpenCodeClient
  const made = yield* Effect.forEach(Array.from({ length: 12 }, (_, i) => i), (i) => client.create({ title: `c bulk ${i}` }), {
    concurrency: 4
  })
  let next = 0
  const ids = Array.from({ length: 14 }, (_, i) => (i % 7 === 6 ? `ses_0000000000000nothere${i}` : made[next++]!.id))
  const ops = [
    ...ids.map((session) => ({ op: "delete", session })),
    { op: "delete", session: ids[13]! },
    { op: "title", session: ids[12]!, title: "never: deleted before" },
    { op: "create", title: "made from C" }
  ]
  const dir = mkdtempSync(join(tmpdir(), "plue-bulk-"))
  writeFileSync(join(dir, "ops.json"), JSON.stringify({ operations: ops, concurrency: 4 }))
  return { made, ids, opsFile: join(dir, "ops.json"), outFile: join(dir, "out.txt") }
})

/** Checks what the C program wrote and what the server now holds. */
const verify = (report: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const client = yield* OpenCodeClient.OpenCodeClient
    assert.include(report, "done: 0 failure(s)", report)
    const results = JSON.parse(report.split("\n")[0]!) as ReadonlyArray<CResult>
    assert.strictEqual(results.length, 17)
    results.forEach((r, i) => assert.strictEqual(r.index, i))
    for (let i = 0; i < 14; i++) {
      const r = results[i]!
      if (i % 7 === 6) {
        assert.strictEqual(r.status, "failed", JSON.stringify(r))
        assert.strictEqual(r.code, Code.PLUE_ERR_NOT_FOUND)
        assert.strictEqual(r.error?._tag, "SessionNotFound")
        assert.match(r.message ?? "", /not found/)
      } else {
        assert.strictEqual(r.status, "ok", JSON.stringify(r))
        assert.strictEqual(r.session?.id, ids[i])
        assert.strictEqual(r.deleted, 1)
        const gone = yield* Effect.either(client.get(ids[i]!))
        assert.isTrue(Either.isLeft(gone) && gone.left._tag === "SessionNotFound", `${ids[i]} is gone from the server`)
      }
    }
    assert.deepStrictEqual([results[14]!.status, results[14]!.reason, results[14]!.duplicateOf], ["skipped", "duplicate", 13])
    assert.strictEqual(results[15]!.status, "failed")
    assert.include(["SessionDeleted", "SessionNotFound"], results[15]!.error?._tag)
    assert.strictEqual(results[16]!.status, "ok")
    assert.strictEqual((yield* client.get(results[16]!.session!.id)).title, "made from C")
    for (const name of ["NULL", "empty", "text", "an unknown op", "an unknown field", "invalid UTF-8"]) {
      assert.match(report, new RegExp(`^invalid ${name}: null=1 code=${Code.PLUE_ERR_INVALID_ARGUMENT} message=\\S`, "m"))
    }
    assert.match(report, /^invalid an unknown op: .*Invalid batch of operations/m)
    const progress = /^progress events=(\d+) final=1$/m.exec(report)
    assert.isNotNull(progress, "the C subscriber saw the final BulkProgress")
    assert.isAtLeast(Number(progress![1]), 2)
  })

layer(Live, { timeout: 240_000, excludeTestServices: true })("plue_bulk from C against the real server", (it) => {
  it.effect("under plue host: every 7th id fails (PLUE_ERR_NOT_FOUND), the rest are gone; bad input gives NULL", () =>
    Effect.gen(function*() {
      const { ids, opsFile, outFile } = yield* prepare
      const { leaks, status } = yield* Effect.scoped(Host.run(plugin, [opsFile, outFile]))
      const report = readFileSync(outFile, "utf8")
      assert.strictEqual(status, 0, report)
      assert.strictEqual(leaks.strings, 0)
      assert.deepStrictEqual(leaks.handles, [], "the batch closes every handle it opened")
      yield* verify(report, ids)
    }), { timeout: 180_000 })

  it.effect("plue_shutdown during a batch: what started finishes, the rest is cancelled and untouched; the call returns", () =>
    Effect.gen(function*() {
      yield* (yield* SessionSync.SessionSync).awaitConnected
      const client = yield* OpenCodeClient.OpenCodeClient
      const server = yield* OpenCodeServer.OpenCodeServer
      const made = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => client.create({ title: `c shutdown ${i}` }), {
        concurrency: 4
      })
      const dir = mkdtempSync(join(tmpdir(), "plue-bulk-"))
      const opsFile = join(dir, "ops.json")
      const outFile = join(dir, "out.txt")
      writeFileSync(opsFile, JSON.stringify({ operations: made.map((s) => ({ op: "delete", session: s.id })), concurrency: 1 }))
      const ran = yield* Effect.acquireUseRelease(
        Effect.sync(() =>
          runProgram(program, [opsFile, outFile, "shutdown"], {
            PATH: process.env.PATH ?? "",
            PLUE_COMMAND: command,
            OPENCODE_URL: server.url,
            OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
          })
        ),
        (ran) => Effect.promise(() => ran),
        (ran) => Effect.sync(() => ran.kill())
      )
      const report = readFileSync(outFile, "utf8")
      assert.strictEqual(ran.code, 0, `${report}\n${ran.stderr}`)
      const results = JSON.parse(report.split("\n")[0]!) as ReadonlyArray<CResult>
      assert.strictEqual(results.length, 40)
      const ok = results.filter((r) => r.status === "ok").length
      assert.isAtLeast(ok, 1)
      assert.isTrue(results.some((r) => r.status === "cancelled"), "the shutdown cancelled what had not started")
      // In input order (concurrency 1): done ones first, then the cancelled ones; nothing failed.
      assert.deepStrictEqual(results.map((r) => r.status), [...Array(ok).fill("ok"), ...Array(40 - ok).fill("cancelled")])
      for (let i = 0; i < 40; i++) {
        const there = Either.isRight(yield* Effect.either(client.get(made[i]!.id)))
        assert.strictEqual(there, i >= ok, `session ${i}: ${results[i]!.status}`)
      }
    }), { timeout: 180_000 })

  it.effect("through plue_init and the sidecar: the same batch, the same results", () =>
    Effect.gen(function*() {
      const { ids, opsFile, outFile } = yield* prepare
      const server = yield* OpenCodeServer.OpenCodeServer
      const ran = yield* Effect.acquireUseRelease(
        Effect.sync(() =>
          runProgram(program, [opsFile, outFile], {
            PATH: process.env.PATH ?? "",
            PLUE_COMMAND: command,
            OPENCODE_URL: server.url,
            OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
          })
        ),
        (ran) => Effect.promise(() => ran),
        (ran) => Effect.sync(() => ran.kill())
      )
      const report = readFileSync(outFile, "utf8")
      assert.strictEqual(ran.code, 0, `${report}\n${ran.stderr}`)
      yield* verify(report, ids)
    }), { timeout: 180_000 })
})
