/**
 * `npm run generate`: writes `include/plue.h` (from the API description and `c/plue.c`) and
 * `docs/c-api.md`. `node dist/generate.js HEADER REFERENCE` writes them elsewhere (the test
 * compares what it writes with the committed files).
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

/** Writes the header and the reference (by default over the committed ones); says where. */
export const write = (header: string = headerPath, reference: string = referencePath): string => {
  writeFileSync(header, generateHeader())
  writeFileSync(reference, generateReference())
  return `wrote ${header} and ${reference}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(write(process.argv[2], process.argv[3]))
}
