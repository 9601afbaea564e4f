import { FileSystem } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer } from "effect"
import * as PlatformLayer from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import { SessionManager } from "../src/SessionManager.js"

// With the outbox off (no Outbox in the context, or `Outbox.layerConfig` without PLUE_OUTBOX),
// the manager writes straight to the server, keeps no queue, and touches no file.
const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))

/** The error a manager with the outbox off answers `drop` and `resolve` with, and what a user reads. */
const assertOff = (exit: Exit.Exit<void, Outbox.OperationNotFound | Outbox.OutboxError>, opId: string) => {
  assert.isTrue(Exit.isFailure(exit))
  if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
    const error = exit.cause.error
    assert.strictEqual(error._tag, "OperationNotFound")
    assert.strictEqual(error.message, `No outbox operation ${opId} exists: the outbox is off. \`plue outbox list\` shows what is queued.`)
  } else assert.fail(`expected a failure, got ${String(exit)}`)
}

layer(Live, { timeout: 120_000, excludeTestServices: true })("the outbox off", (it) => {
  it.scoped("a manager without the outbox has nothing queued: drop and resolve name no operation, and say the outbox is off", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Plue.layer())
      const sessions = Context.get(context, SessionManager)
      assert.isFalse(sessions.outbox.enabled)
      const handle = yield* sessions.create({ title: "written straight through" })
      const info = yield* sessions.info(handle)
      assert.deepStrictEqual(sessions.outbox.pending(info.id), [])
      assert.deepStrictEqual(yield* sessions.outbox.list, [])
      assert.deepStrictEqual(yield* sessions.outbox.flush, [])
      assertOff(yield* Effect.exit(sessions.outbox.drop("op_000000000001aaaaaaaaaaaaaa")), "op_000000000001aaaaaaaaaaaaaa")
      assertOff(yield* Effect.exit(sessions.outbox.resolve("op_000000000002bbbbbbbbbbbbbb", "local")), "op_000000000002bbbbbbbbbbbbbb")
      yield* sessions.destroy(handle)
    }))

  it.scoped("Outbox.layerConfig without PLUE_OUTBOX: a disabled outbox with the configured policy, whose store touches no file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-off-" })
      const provider = ConfigProvider.fromMap(new Map([["XDG_STATE_HOME", stateHome], ["PLUE_OUTBOX_POLICY", "server"]]))
      const context = yield* Layer.build(
        Plue.layer().pipe(Layer.provideMerge(Outbox.layerConfig), Layer.provide(Layer.setConfigProvider(provider)))
      )
      const settings = Context.get(context, Outbox.Outbox)
      assert.isFalse(settings.enabled)
      assert.strictEqual(settings.policy, "server")

      // The manager's writes go to the server: no folder appears under the state home.
      const sessions = Context.get(context, SessionManager)
      assert.isFalse(sessions.outbox.enabled)
      const handle = yield* sessions.create({ title: "no outbox" })
      const info = yield* sessions.updateTitle(handle, "still no outbox")
      assert.strictEqual(info.title, "still no outbox")
      assert.strictEqual(yield* sessions.delete(handle), 1)

      // The store it carries (public through the Outbox tag) is inert: it loads nothing and
      // every write succeeds without touching the disk.
      const { store } = settings
      assert.strictEqual(store.directory, "")
      const op: Outbox.Operation = { kind: "delete", opId: "op_000000000003cccccccccccccc", sessionId: info.id, at: 1 }
      yield* store.put(op)
      yield* store.putDead({ op, error: "gone", errorTag: "SessionNotFound", at: 2 })
      yield* store.recordDeleted(info.id)
      yield* store.remove(op.opId)
      yield* store.removeDead(op.opId)
      assert.deepStrictEqual(yield* store.load, { ops: [], dead: [], deleted: [], quarantined: [] })
      assert.deepStrictEqual(yield* fs.readDirectory(stateHome), [])
    }))
})
