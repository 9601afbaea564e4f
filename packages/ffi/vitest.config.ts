import { defineProject } from "vitest/config"
import { resolve } from "../../vitest.shared.js"

export default defineProject({
  resolve,
  test: {
    name: "ffi",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
