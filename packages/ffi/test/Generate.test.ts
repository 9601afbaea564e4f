// `npm run generate` (node dist/generate.js) run as a process, writing to a temporary directory:
// what it writes is the committed header and C API reference, byte for byte.
import { childEnv } from "@plue/testing/ChildEnv"
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { headerPath, referencePath, write } from "../src/generate.js"

const generator = fileURLToPath(new URL("../dist/generate.js", import.meta.url))

describe("the generator", () => {
  it("node dist/generate.js HEADER REFERENCE writes the committed plue.h and docs/c-api.md", () => {
    const dir = mkdtempSync(join(tmpdir(), "plue-gen-"))
    const header = join(dir, "plue.h")
    const reference = join(dir, "c-api.md")
    const said = execFileSync(process.execPath, [generator, header, reference], { env: childEnv(), encoding: "utf8" })
    assert.strictEqual(said, `wrote ${header} and ${reference}\n`)
    assert.strictEqual(readFileSync(header, "utf8"), readFileSync(headerPath, "utf8"))
    assert.strictEqual(readFileSync(reference, "utf8"), readFileSync(referencePath, "utf8"))
  })

  it("write(header, reference) in this process does the same", () => {
    const dir = mkdtempSync(join(tmpdir(), "plue-gen-"))
    const header = join(dir, "plue.h")
    const reference = join(dir, "c-api.md")
    assert.strictEqual(write(header, reference), `wrote ${header} and ${reference}`)
    assert.strictEqual(readFileSync(header, "utf8"), readFileSync(headerPath, "utf8"))
    assert.strictEqual(readFileSync(reference, "utf8"), readFileSync(referencePath, "utf8"))
  })
})
