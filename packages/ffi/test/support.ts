import koffi from "koffi"
import type * as Koffi from "koffi"
import { execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const includeDir = fileURLToPath(new URL("../include", import.meta.url))
export const cSource = (name: string) => fileURLToPath(new URL(`./c/${name}`, import.meta.url))
export const cliBin = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url))

export const strictFlags = ["-Wall", "-Wextra", "-Werror", "-pedantic"]

/** Compiles C (or C++) sources into a shared library with the machine's compiler. */
export const compileLibrary = (source: string, options: { compiler?: string; std?: string; extra?: Array<string> } = {}): string => {
  const out = join(mkdtempSync(join(tmpdir(), "plue-c-")), "lib.so")
  execFileSync(options.compiler ?? "cc", [
    `-std=${options.std ?? "c11"}`,
    ...strictFlags,
    "-fPIC",
    "-shared",
    "-g",
    `-I${includeDir}`,
    "-o",
    out,
    source,
    "-lpthread",
    ...(options.extra ?? [])
  ], { stdio: "pipe" })
  return out
}

let probe: Koffi.TypeObject | undefined

/**
 * How many more JS callbacks koffi could register now. koffi has a fixed number of callback
 * slots, so a callback that was registered and never released shows up as one slot fewer.
 */
export const freeCallbackSlots = (): number => {
  probe ??= koffi.pointer(koffi.proto("int plue_test_probe_fn(void)"))
  const taken: Array<bigint> = []
  try {
    for (;;) taken.push(koffi.register(() => 0, probe))
  } catch {
    // every slot is taken
  } finally {
    for (const pointer of taken) koffi.unregister(pointer)
  }
  return taken.length
}
