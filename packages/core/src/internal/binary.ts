import { accessSync, constants, existsSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { delimiter, dirname, join } from "node:path"

const require = createRequire(import.meta.url)

/**
 * The OpenCode release plue is tested with: `opencode-ai` is an optional peer dependency of
 * @plue/core and @plue/cli (only a managed server needs it), pinned to this version.
 */
export const OPENCODE_VERSION = "1.18.33"

/**
 * The pinned OpenCode binary: `PLUE_OPENCODE_BIN` when set, else the native binary of the
 * `opencode-ai` package (its postinstall links it to `bin/opencode.exe`), else the platform
 * package itself, else `opencode` on the PATH. The native binary is run directly, never through
 * a wrapper script, so that stopping it stops the server and nothing is left behind.
 */
export const resolveOpencodeBinary = (): string => {
  const fromEnv = process.env.PLUE_OPENCODE_BIN
  if (fromEnv) return fromEnv
  const candidates: Array<() => string> = [
    () => join(dirname(require.resolve("opencode-ai/package.json")), "bin", "opencode.exe"),
    () => join(dirname(require.resolve(`opencode-${process.platform}-${process.arch}/package.json`)), "bin", "opencode")
  ]
  for (const candidate of candidates) {
    try {
      const path = candidate()
      if (existsSync(path)) return path
    } catch {
      // package not installed: try the next one
    }
  }
  return "opencode"
}

let pdeathsig: boolean | undefined

/** Whether util-linux `setpriv` is there to set a parent-death signal on the server. */
export const pdeathsigAvailable = (): boolean => {
  pdeathsig ??= ["/usr/bin/setpriv", "/bin/setpriv"].some((path) => existsSync(path))
  return pdeathsig
}

/** The executable `binary` names (a path, or a name looked up on PATH), or undefined. */
export const findExecutable = (binary: string): string | undefined => {
  const candidates = binary.includes("/")
    ? [binary]
    : (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, binary))
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK)
      return statSync(path).isFile()
    } catch {
      return false
    }
  })
}
