import { describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck as fc, Schema } from "effect"
import { compileCheck } from "../src/internal/check.js"
import { Session, SessionStatusMap } from "../src/OpenCodeSchema.js"

// The compiled check that stands in for Schema.is on the decode path: it must accept every value
// of the schema and never accept one Schema.is refuses.
const schemas = { Session, Sessions: Schema.Array(Session), SessionStatusMap }

describe("compileCheck agrees with Schema.is", () => {
  for (const [name, schema] of Object.entries(schemas)) {
    const compiled = compileCheck(schema.ast)
    const is = Schema.is(schema as Schema.Schema<unknown, unknown>)
    it(`${name}: every value of the schema is accepted`, () => {
      fc.assert(fc.property(Arbitrary.make(schema as Schema.Schema<unknown, unknown>), (value) => compiled(value)), { numRuns: 300 })
    })
    it(`${name}: a value with one property replaced is accepted only if Schema.is accepts it`, () => {
      const mutated = fc.tuple(Arbitrary.make(schema as Schema.Schema<unknown, unknown>), fc.string(), fc.jsonValue()).map(([value, key, replacement]) => {
        const copy = JSON.parse(JSON.stringify(value)) as unknown
        const target = Array.isArray(copy) ? copy[0] : copy
        if (target !== null && typeof target === "object") {
          const keys = Object.keys(target)
          const k = keys.length > 0 ? keys[key.length % keys.length]! : key
          ;(target as Record<string, unknown>)[k] = replacement
        }
        return copy
      })
      fc.assert(fc.property(fc.oneof(mutated, fc.jsonValue()), (value) => !compiled(value) || is(value)), { numRuns: 1000 })
    })
  }
})
