import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { compileCheck, compileClosures } from "../src/internal/check.js"

// A property whose only value is `undefined` (Schema.Undefined alone, not `optional`): both forms
// of the compiled check (the generated function, and the closures it falls back to where code
// generation is not allowed) accept exactly what Schema.is accepts.
const Shape = Schema.Struct({ name: Schema.String, nothing: Schema.Undefined, list: Schema.Array(Schema.Undefined) })
const is = Schema.is(Shape)
const values: ReadonlyArray<unknown> = [
  { name: "a", nothing: undefined, list: [] },
  { name: "a", nothing: undefined, list: [undefined, undefined] },
  { name: "a", list: [] },
  { name: "a", nothing: null, list: [] },
  { name: "a", nothing: 0, list: [] },
  { name: "a", nothing: "", list: [] },
  { name: "a", nothing: undefined, list: [null] },
  { name: "a", nothing: undefined, list: [undefined, 1] },
  { name: 1, nothing: undefined, list: [] },
  undefined,
  null
]

describe("compiled checks of a property that can only be undefined", () => {
  for (const [form, compile] of Object.entries({ generated: compileCheck, closures: compileClosures })) {
    it(`${form}: the same answer as Schema.is for each value`, () => {
      const check = compile(Shape.ast)
      for (const value of values) assert.strictEqual(check(value), is(value), JSON.stringify(value) ?? "undefined")
      assert.isTrue(check({ name: "a", nothing: undefined, list: [undefined] }))
      assert.isFalse(check({ name: "a", nothing: null, list: [] }))
    })
  }
})
