import { assert, describe, it } from "@effect/vitest"
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as Outbox from "../src/Outbox.js"

describe("the outbox's files", () => {
  it.scoped("one file per operation; torn or undecodable files are moved aside and the rest still load", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-store-" })
      const store = yield* Outbox.makeStore(directory)
      const op: Outbox.Operation = {
        kind: "title",
        opId: "op_000000000001aaaaaaaaaaaaaa",
        sessionId: "ses_0123456789abcdefghijklmn" as Outbox.Operation["sessionId"],
        title: "new",
        base: "old",
        at: 1
      }
      yield* store.put(op)
      assert.deepStrictEqual(yield* fs.readDirectory(`${directory}/ops`), [`${op.opId}.json`])
      // A write cut short, a file of another shape, and a temporary file a crash left behind.
      yield* fs.writeFileString(`${directory}/ops/op_000000000002bbbbbbbbbbbbbb.json`, "{\"kind\":\"ti")
      yield* fs.writeFileString(`${directory}/ops/op_000000000003cccccccccccccc.json`, "{\"kind\":\"rename\"}")
      yield* fs.writeFileString(`${directory}/ops/op_000000000004dddddddddddddd.json.tmp-1-1`, "{")
      const loaded = yield* store.load
      assert.deepStrictEqual(loaded.ops, [op])
      assert.strictEqual(loaded.quarantined.length, 3)
      assert.deepStrictEqual(yield* fs.readDirectory(`${directory}/ops`), [`${op.opId}.json`])
      assert.strictEqual((yield* fs.readDirectory(`${directory}/quarantine`)).length, 3)

      yield* store.putDead({ op, error: "404", errorTag: "SessionNotFound", at: 2 })
      const again = yield* store.load
      assert.deepStrictEqual(again.ops, [])
      assert.deepStrictEqual(again.dead.map((d) => d.op), [op])
      yield* store.recordDeleted("ses_gone")
      assert.deepStrictEqual((yield* store.load).deleted, ["ses_gone"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it("the folder is named after the server URL and the project directory", () => {
    assert.strictEqual(Outbox.key("http://127.0.0.1:4096/", "/p"), Outbox.key("http://127.0.0.1:4096", "/p"))
    assert.notStrictEqual(Outbox.key("http://127.0.0.1:4096", "/p"), Outbox.key("http://127.0.0.1:4096", "/q"))
    assert.notStrictEqual(Outbox.key("http://127.0.0.1:4096", undefined), Outbox.key("http://127.0.0.1:4097", undefined))
  })

  it("a managed server's folder is named after the directory it serves, whatever its port", () => {
    const run1 = OpenCodeConnection.make({ url: "http://127.0.0.1:40001", managed: "/p" })
    const run2 = OpenCodeConnection.make({ url: "http://127.0.0.1:40002", managed: "/p" })
    assert.strictEqual(Outbox.keyOf(run1), Outbox.keyOf(run2))
    assert.strictEqual(Outbox.keyOf(run1), Outbox.key("managed:/p", undefined))
    assert.notStrictEqual(Outbox.keyOf(run1), Outbox.keyOf(OpenCodeConnection.make({ url: "http://127.0.0.1:40001", managed: "/q" })))
    assert.notStrictEqual(Outbox.keyOf(run1), Outbox.keyOf(OpenCodeConnection.make({ url: "http://127.0.0.1:40001" })))
  })
})
