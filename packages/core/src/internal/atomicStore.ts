import * as FileSystem from "@effect/platform/FileSystem"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type { PlatformError } from "@effect/platform/Error"

/**
 * A KeyValueStore of one file per key in `directory`. A write goes to a temporary file that is
 * then renamed over the old one, so a crash mid-write leaves the previous value whole: nothing
 * already acknowledged is lost.
 */
export const layer = (directory: string): Layer.Layer<KeyValueStore.KeyValueStore, PlatformError, FileSystem.FileSystem> =>
  Layer.effect(
    KeyValueStore.KeyValueStore,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      yield* fs.makeDirectory(directory, { recursive: true })
      const file = (key: string) => `${directory}/${encodeURIComponent(key)}`
      const missing = <A>(effect: Effect.Effect<A, PlatformError>) =>
        effect.pipe(
          Effect.map(Option.some),
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(Option.none<A>()))
        )
      const keys = Effect.map(fs.readDirectory(directory), (names) => names.filter((n) => !n.includes(".tmp-")))
      return KeyValueStore.make({
        get: (key) => missing(fs.readFileString(file(key))),
        getUint8Array: (key) => missing(fs.readFile(file(key))),
        set: (key, value) =>
          Effect.gen(function*() {
            const unique = yield* Random.nextIntBetween(0, Number.MAX_SAFE_INTEGER)
            const temporary = `${file(key)}.tmp-${process.pid}-${unique.toString(36)}`
            yield* typeof value === "string" ? fs.writeFileString(temporary, value) : fs.writeFile(temporary, value)
            yield* fs.rename(temporary, file(key))
          }),
        remove: (key) => Effect.asVoid(missing(fs.remove(file(key)))),
        clear: Effect.flatMap(keys, (names) => Effect.forEach(names, (n) => fs.remove(`${directory}/${n}`), { discard: true })),
        size: Effect.map(keys, (names) => names.length)
      })
    })
  )
