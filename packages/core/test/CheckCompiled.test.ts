import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck as fc, Schema } from "effect"
import { compileCheck, compileClosures } from "../src/internal/check.js"
import { Session } from "../src/OpenCodeSchema.js"

// Both forms of the compiled check (the generated function, and the closures it falls back to
// where code generation is not allowed) against Schema.is, on the wire shapes and on shapes made
// for the corner cases: a name Object.prototype also has, a property present with `undefined`,
// literals, a general union, a refinement that is not a pattern.
const Corner = Schema.Struct({
  constructor: Schema.Number,
  toString: Schema.optional(Schema.String),
  kind: Schema.Literal("a", "b", 1, true, null),
  either: Schema.Union(Schema.String, Schema.Number, Schema.Struct({ x: Schema.Boolean })),
  positive: Schema.Number.pipe(Schema.positive()),
  maybe: Schema.optional(Schema.Number),
  nested: Schema.Array(Schema.Struct({ id: Schema.String.pipe(Schema.pattern(/^[a-z]+$/)), n: Schema.optional(Schema.Number) })),
  record: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Number }))
})
const schemas = { Session, Sessions: Schema.Array(Session), Corner }
const forms = { generated: compileCheck, closures: compileClosures }

describe("compiled checks agree with Schema.is", () => {
  for (const [form, compile] of Object.entries(forms)) {
    for (const [name, schema] of Object.entries(schemas)) {
      const check = compile(schema.ast)
      const is = Schema.is(schema as Schema.Schema<unknown, unknown>)
      it(`${form}, ${name}: every value is accepted, a changed one only if Schema.is accepts it`, () => {
        fc.assert(fc.property(Arbitrary.make(schema as Schema.Schema<unknown, unknown>), (value) => check(value)), { numRuns: 200 })
        const changed = fc.tuple(
          Arbitrary.make(schema as Schema.Schema<unknown, unknown>),
          fc.nat(),
          fc.oneof(fc.jsonValue(), fc.constant(undefined)),
          fc.boolean()
        )
          .map(([value, pick, replacement, remove]) => {
            const copy = structuredClone(value) as unknown
            const target = Array.isArray(copy) ? copy[0] : copy
            if (target !== null && typeof target === "object") {
              const keys = Object.keys(target)
              if (keys.length > 0) {
                const key = keys[pick % keys.length]!
                if (remove) delete (target as Record<string, unknown>)[key]
                else (target as Record<string, unknown>)[key] = replacement
              }
            }
            return copy
          })
        fc.assert(fc.property(fc.oneof(changed, fc.jsonValue()), (value) => check(value) === is(value)), { numRuns: 1000 })
      })
    }

    it(`${form}: an inherited name is not a present property`, () => {
      const check = compile(Corner.ast)
      const value = { toString: "t", kind: null, either: { x: true }, positive: 1, nested: [{ id: "ab" }] }
      // `constructor` is required and only inherited here: Schema.is refuses, and so must the check.
      assert.isFalse(Schema.is(Corner)(value))
      assert.isFalse(check(value))
      assert.isTrue(check({ ...value, constructor: 2 }))
      assert.isFalse(check({ ...value, constructor: 2, positive: -1 }))
      assert.isFalse(check({ ...value, constructor: 2, nested: [{ id: "AB" }] }))
      assert.isTrue(check({ ...value, constructor: 2, maybe: undefined }))
      assert.isFalse(check({ ...value, constructor: 2, record: { a: "x" } }))
    })
  }
})
