import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { corePath, generateHeader } from "../src/Header.js"
import { headerPath, referencePath } from "../src/generate.js"
import { generateReference } from "../src/Reference.js"
import { compileLibrary, cSource, includeDir } from "./support.js"

const which = (tool: string): boolean => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "pipe" })
    return true
  } catch {
    return false
  }
}

const unit = (extension: string, body: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), "plue-h-")), `unit.${extension}`)
  writeFileSync(path, body)
  return path
}

const implementation =
  `#define PLUE_IMPLEMENTATION\n#include "plue.h"\n#include "plue.h"\nint plue_host_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }\n`

describe("plue.h", () => {
  it("the committed header is what the generator makes (run npm run generate after changing the API)", () => {
    assert.strictEqual(readFileSync(headerPath, "utf8"), generateHeader())
  })

  it("the committed C API reference is what the generator makes", () => {
    assert.strictEqual(readFileSync(referencePath, "utf8"), generateReference())
  })

  for (const std of ["c99", "c11"]) {
    it(`its C core, c/plue.c, compiles on its own as ${std} with -Wall -Wextra -Werror -pedantic`, () => {
      const out = join(mkdtempSync(join(tmpdir(), "plue-core-")), "plue.o")
      execFileSync("cc", [`-std=${std}`, "-Wall", "-Wextra", "-Werror", "-pedantic", `-I${includeDir}`, "-c", "-o", out, corePath], { stdio: "pipe" })
    })

    it(`compiles cleanly as ${std} with -Wall -Wextra -Werror -pedantic (gcc)`, () => {
      compileLibrary(unit("c", implementation), { compiler: "gcc", std })
      // Declarations only, in a second translation unit.
      compileLibrary(unit("c", `#include "plue.h"\nint f(void) { return plue_get_last_error_code(); }\n`), { compiler: "gcc", std })
    })
  }

  it("compiles cleanly as C++ (extern \"C\")", () => {
    compileLibrary(unit("cpp", implementation), { compiler: "g++", std: "c++17" })
  })

  it.runIf(which("clang"))("compiles cleanly with clang", () => {
    compileLibrary(unit("c", implementation), { compiler: "clang", std: "c11" })
  })
})

describe("the header's C on its own", () => {
  const build = (flags: Array<string>) => {
    const out = join(mkdtempSync(join(tmpdir(), "plue-standalone-")), "standalone")
    execFileSync("gcc", [
      "-std=c11",
      "-g",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-pedantic",
      ...flags,
      `-I${includeDir}`,
      "-o",
      out,
      cSource("standalone.c"),
      "-lpthread"
    ], {
      stdio: "pipe"
    })
    return out
  }
  const run = (command: string, args: Array<string>) => execFileSync(command, args, { stdio: "pipe", encoding: "utf8" })

  it.runIf(which("valgrind"))("runs clean under valgrind (no invalid access, no definite leak)", () => {
    const output = run("valgrind", ["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite", "-q", build([])])
    assert.include(output, "0 failure(s)")
  }, 60_000)

  it("runs clean under AddressSanitizer and UndefinedBehaviorSanitizer", () => {
    assert.include(run(build(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]), []), "0 failure(s)")
  }, 60_000)

  it("runs clean under ThreadSanitizer", () => {
    assert.include(run(build(["-fsanitize=thread"]), []), "0 failure(s)")
  }, 60_000)
})
