import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"

const refinementOptions: SchemaAST.ParseOptions = {}

/**
 * A predicate for the values of a schema's type, compiled once from its AST into plain closures.
 * It covers what the wire schemas use (structs, arrays, unions, literals, primitives,
 * refinements such as patterns and brands); any other node is checked by `Schema.is` for that
 * part alone. Excess properties are allowed, as `Schema.is` allows them.
 *
 * It never says yes where `Schema.is` says no; the caller runs the full decode whenever it says
 * no, so an answer it cannot vouch for is still judged (and explained) by the schema itself.
 */
export const compileCheck = (ast: SchemaAST.AST): (input: unknown) => boolean => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string"
    case "NumberKeyword":
      return (u) => typeof u === "number"
    case "BooleanKeyword":
      return (u) => typeof u === "boolean"
    case "UndefinedKeyword":
      return (u) => u === undefined
    case "UnknownKeyword":
    case "AnyKeyword":
      return () => true
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "Union": {
      const members = ast.types.map(compileCheck)
      return (u) => {
        for (const member of members) if (member(u)) return true
        return false
      }
    }
    case "Refinement": {
      const from = compileCheck(ast.from)
      const refinement = ast
      return (u) => from(u) && Option.isNone(refinement.filter(u, refinementOptions, refinement))
    }
    case "TupleType": {
      if (ast.elements.length === 0 && ast.rest.length === 1) {
        const element = compileCheck(ast.rest[0]!.type)
        return (u) => {
          if (!Array.isArray(u)) return false
          for (let i = 0; i < u.length; i++) if (!element(u[i])) return false
          return true
        }
      }
      break
    }
    case "TypeLiteral": {
      if (ast.indexSignatures.length === 0) {
        const properties = ast.propertySignatures.map((p) => ({ name: p.name, optional: p.isOptional, check: compileCheck(p.type) }))
        return (u) => {
          if (typeof u !== "object" || u === null || Array.isArray(u)) return false
          const record = u as Record<PropertyKey, unknown>
          for (const property of properties) {
            if (!Object.prototype.hasOwnProperty.call(record, property.name)) {
              if (property.optional) continue
              return false
            }
            if (!property.check(record[property.name])) return false
          }
          return true
        }
      }
      break
    }
  }
  return Schema.is(Schema.make(ast))
}
