import { Plue } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import koffi from "koffi"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Bridge from "../src/Bridge.js"
import { compileLibrary } from "./support.js"

// koffi has a fixed number of callback slots per process (8192). A host process that has them all
// in use when it binds a C library gets a BindError that says so, not a crash; once slots are free
// again, the same library binds.
const Live = Plue.layer().pipe(Layer.provideMerge(TestServer.layer()), Layer.provideMerge(Platform.layer))

const source = join(mkdtempSync(join(tmpdir(), "plue-unit-")), "unit.c")
writeFileSync(source, `#define PLUE_IMPLEMENTATION\n#include "plue.h"\nint plue_host_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }\n`)
const library = compileLibrary(source)

/** Every callback slot koffi has left, taken for the scope's life: how many. */
const takeEverySlot = Effect.acquireRelease(
  Effect.sync(() => {
    const type = koffi.pointer(koffi.proto(`void plue_test_slot_${process.pid}(void)`))
    const taken: Array<bigint> = []
    for (;;) {
      try {
        taken.push(koffi.register(() => {}, type))
      } catch {
        return taken
      }
    }
  }),
  (taken) => Effect.sync(() => taken.forEach((slot) => koffi.unregister(slot)))
)

layer(Live, { timeout: 120_000, excludeTestServices: true })("binding a C library when koffi has no callback slot left", (it) => {
  it.effect("fails with a BindError naming koffi's limit; the library binds once slots are free", () =>
    Effect.gen(function*() {
      const lib = koffi.load(library)
      const error = yield* Effect.scoped(Effect.gen(function*() {
        const taken = yield* takeEverySlot
        assert.isAbove(taken.length, 0)
        return yield* Effect.flip(Effect.scoped(Bridge.bind(lib)))
      }))
      assert.strictEqual(error._tag, "BindError")
      assert.match(error.message, /^Cannot bind the library: .*Too many callbacks are in use/)

      // The slots are back: the same library binds, and unbinds with the scope.
      yield* Effect.scoped(Bridge.bind(lib))
    }))
})
