import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Outbox from "../src/Outbox.js"

describe("an outbox folder that cannot be made", () => {
  it.scoped("fails with OutboxError naming the operation and the path, and says what to check", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const temp = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-unwritable-" })
      // A file where the outbox's folder should go: no folder can be made under it (as root too).
      yield* fs.writeFileString(`${temp}/state`, "not a folder\n")
      const error = yield* Effect.flip(Outbox.makeStore(`${temp}/state/plue/outbox/key`))
      assert.strictEqual(error._tag, "OutboxError")
      assert.strictEqual(error.operation, "create")
      assert.strictEqual(error.path, `${temp}/state/plue/outbox/key/ops`)
      assert.match(
        error.message,
        new RegExp(`^The outbox could not create ${temp}/state/plue/outbox/key/ops: .+\\. Check that the folder is writable and the disk not full\\.$`)
      )
    }).pipe(Effect.provide(NodeContext.layer)))
})
