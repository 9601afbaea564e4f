import koffi from "koffi"
import type * as Koffi from "koffi"
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs"
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

/** Compiles a plain C program (its own main) the way a user would: `cc app.c -lpthread`. */
export const compileProgram = (source: string, extra: Array<string> = []): string => {
  const out = join(mkdtempSync(join(tmpdir(), "plue-app-")), "app")
  execFileSync("cc", ["-std=c11", ...strictFlags, "-g", `-I${includeDir}`, ...extra, "-o", out, source, "-lpthread"], { stdio: "pipe" })
  return out
}

/**
 * A `plue` command for PLUE_COMMAND: a small script running the built CLI with this Node, as the
 * sidecar lookup would find an installed `plue` on PATH.
 */
export const plueCommand = (): string => {
  const path = join(mkdtempSync(join(tmpdir(), "plue-cmd-")), "plue")
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${cliBin}" "$@"\n`)
  chmodSync(path, 0o755)
  return path
}

/** What a program printed and how it ended. */
export interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a program to its end; killed (SIGKILL) if the caller stops waiting. */
export const runProgram = (
  program: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>
): Promise<Ran> & { readonly kill: () => void } => {
  const child = spawn(program, args, { env, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d) => (stdout += d))
  child.stderr.on("data", (d) => (stderr += d))
  const done = new Promise<Ran>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })))
  return Object.assign(done, { kill: () => void child.kill("SIGKILL") })
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
