import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** Text documents by key: what the one-machine stores are built on. */
export interface Documents {
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, PlatformError>
  readonly set: (key: string, value: string) => Effect.Effect<void, PlatformError>
  /** `false` when there was no such document. */
  readonly remove: (key: string) => Effect.Effect<boolean, PlatformError>
  readonly keys: Effect.Effect<ReadonlyArray<string>, PlatformError>
}

/**
 * One file per key in `directory`. A write goes to a temporary file that is then renamed over the
 * old one, so a crash mid-write leaves the previous value whole.
 */
export const files = (directory: string): Effect.Effect<Documents, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(directory, { recursive: true })
    const file = (key: string) => `${directory}/${encodeURIComponent(key)}`
    const missing = <A>(effect: Effect.Effect<A, PlatformError>) =>
      effect.pipe(
        Effect.map(Option.some),
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(Option.none<A>()))
      )
    let counter = 0
    return {
      get: (key) => missing(fs.readFileString(file(key))),
      set: (key, value) =>
        Effect.gen(function*() {
          const temporary = `${file(key)}.tmp-${process.pid}-${++counter}`
          yield* fs.writeFileString(temporary, value)
          yield* fs.rename(temporary, file(key))
        }),
      remove: (key) => Effect.map(missing(fs.remove(file(key))), Option.isSome),
      keys: Effect.map(
        fs.readDirectory(directory),
        (names) => names.filter((n) => !n.includes(".tmp-")).map((n) => decodeURIComponent(n))
      )
    }
  })

/** Documents in memory. */
export const memory = (): Documents => {
  const map = new Map<string, string>()
  return {
    get: (key) => Effect.sync(() => Option.fromNullable(map.get(key))),
    set: (key, value) => Effect.sync(() => void map.set(key, value)),
    remove: (key) => Effect.sync(() => map.delete(key)),
    keys: Effect.sync(() => [...map.keys()])
  }
}
