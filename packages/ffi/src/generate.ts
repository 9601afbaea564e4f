/**
 * `npm run generate`: writes `include/plue.h` (from the API description and `c/plue.c`) and `docs/c-api.md`.
 */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { generateHeader } from "./Header.js"
import { generateReference } from "./Reference.js"

/** Where the committed header lives. */
export const headerPath = fileURLToPath(
  new URL("../include/plue.h", import.meta.url)
)

/** Where the generated C API reference lives. */
export const referencePath = fileURLToPath(
  new URL("../../../docs/c-api.md", import.meta.url)
)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(headerPath, generateHeader())
  writeFileSync(referencePath, generateReference())
  console.log(`wrote ${headerPath} and ${referencePath}`)
}
