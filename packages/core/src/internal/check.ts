import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"

const refinementOptions: SchemaAST.ParseOptions = {}

type Check = (input: unknown) => boolean

const always: Check = () => true
const isUndefined: Check = (u) => u === undefined

/**
 * The regular expression of a `Schema.pattern` refinement (its own annotation), when the
 * refinement is that and nothing else: then testing it is the refinement's whole filter.
 */
const patternOf = (ast: SchemaAST.Refinement): RegExp | undefined => {
  if (ast.annotations[SchemaAST.SchemaIdAnnotationId] !== Schema.PatternSchemaId) return undefined
  const annotation = ast.annotations[Schema.PatternSchemaId] as { readonly regex?: unknown } | undefined
  return annotation?.regex instanceof RegExp && !annotation.regex.global && !annotation.regex.sticky ? annotation.regex : undefined
}

/**
 * A predicate for the values of a schema's type, compiled once from its AST into plain closures
 * (what `compileCheck` falls back to where code generation is not allowed).
 * It covers what the wire schemas use (structs, arrays, unions, literals, primitives,
 * refinements such as patterns and brands); any other node is checked by `Schema.is` for that
 * part alone. Excess properties are allowed, as `Schema.is` allows them.
 *
 * It never says yes where `Schema.is` says no; the caller runs the full decode whenever it says
 * no, so an answer it cannot vouch for is still judged (and explained) by the schema itself.
 *
 * The common shapes get closures of their own: an optional field (`X | undefined`) is one test
 * and one call, a `Schema.pattern` is its regular expression tested directly, and a struct reads
 * each property once, asking whether it is the object's own only when it is absent or when its
 * name is also one of `Object.prototype`'s.
 */
export const compileClosures = (ast: SchemaAST.AST): Check => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string"
    case "NumberKeyword":
      return (u) => typeof u === "number"
    case "BooleanKeyword":
      return (u) => typeof u === "boolean"
    case "UndefinedKeyword":
      return isUndefined
    case "UnknownKeyword":
    case "AnyKeyword":
      return always
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "Union": {
      const others = ast.types.filter((member) => member._tag !== "UndefinedKeyword")
      const members = others.map(compileClosures)
      if (others.length === ast.types.length - 1 && members.length === 1) {
        // `Schema.optional(X)`'s type: X | undefined.
        const member = members[0]!
        return (u) => u === undefined || member(u)
      }
      if (others.length === ast.types.length && members.length === 1) return members[0]!
      const orUndefined = others.length < ast.types.length
      return (u) => {
        if (orUndefined && u === undefined) return true
        for (let i = 0; i < members.length; i++) if (members[i]!(u)) return true
        return false
      }
    }
    case "Refinement": {
      const regex = patternOf(ast)
      if (regex !== undefined && ast.from._tag === "StringKeyword") {
        return (u) => typeof u === "string" && regex.test(u)
      }
      const from = compileClosures(ast.from)
      const refinement = ast
      return (u) => from(u) && Option.isNone(refinement.filter(u, refinementOptions, refinement))
    }
    case "TupleType": {
      if (ast.elements.length === 0 && ast.rest.length === 1) {
        const element = compileClosures(ast.rest[0]!.type)
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
        const count = ast.propertySignatures.length
        const names = ast.propertySignatures.map((p) => p.name)
        const optional = ast.propertySignatures.map((p) => p.isOptional)
        const checks = ast.propertySignatures.map((p) => compileClosures(p.type))
        // A present value of a name `Object.prototype` also has may be inherited, not the
        // object's own (which `Schema.is` reads as absent): for those, always ask.
        const inheritable = names.map((name) => name in Object.prototype)
        const hasOwn = Object.prototype.hasOwnProperty
        return (u) => {
          if (typeof u !== "object" || u === null || Array.isArray(u)) return false
          const record = u as Record<PropertyKey, unknown>
          for (let i = 0; i < count; i++) {
            const name = names[i]!
            const value = record[name]
            if ((value === undefined || inheritable[i]) && !hasOwn.call(record, name)) {
              if (optional[i]) continue
              return false
            }
            if (!checks[i]!(value)) return false
          }
          return true
        }
      }
      break
    }
  }
  return Schema.is(Schema.make(ast))
}

/**
 * The same predicate as `compileClosures`, generated as the source of one function (the way
 * JSON-schema validators compile): every struct's properties are read by name and tested inline,
 * with no call per value. A listing of 100 sessions (about 2,500 values) is checked 4x faster
 * than by the closures, whose calls through one site to many different closures V8 cannot
 * inline. Only the AST's shape becomes code: property names are written as string literals
 * (`JSON.stringify`) or passed in, like every regular expression, literal value and nested
 * check, through an array of constants. Where code generation is not allowed
 * (`--disallow-code-generation-from-strings`), or for a shape it does not cover, it takes the
 * closures (`Schema.is` for a part neither covers).
 */
export const compileCheck = (ast: SchemaAST.AST): Check => {
  const constants: Array<unknown> = []
  const constant = (value: unknown): string => `c[${constants.push(value) - 1}]`
  let variables = 0
  const variable = (): string => `v${variables++}`
  const key = (name: PropertyKey): string => typeof name === "string" ? JSON.stringify(name) : constant(name)

  /** Statements that `return false` unless the value in variable `v` is of `node`'s type. */
  const emit = (node: SchemaAST.AST, v: string): string => {
    switch (node._tag) {
      case "StringKeyword":
        return `if (typeof ${v} !== "string") return false;`
      case "NumberKeyword":
        return `if (typeof ${v} !== "number") return false;`
      case "BooleanKeyword":
        return `if (typeof ${v} !== "boolean") return false;`
      case "UndefinedKeyword":
        return `if (${v} !== undefined) return false;`
      case "UnknownKeyword":
      case "AnyKeyword":
        return ""
      case "Literal":
        return `if (${v} !== ${constant(node.literal)}) return false;`
      case "Union": {
        const others = node.types.filter((member) => member._tag !== "UndefinedKeyword")
        if (others.length === 1) {
          const inner = emit(others[0]!, v)
          return others.length === node.types.length ? inner : `if (${v} !== undefined) { ${inner} }`
        }
        break
      }
      case "Refinement": {
        const regex = patternOf(node)
        if (regex !== undefined && node.from._tag === "StringKeyword") {
          return `if (typeof ${v} !== "string" || !${constant(regex)}.test(${v})) return false;`
        }
        const refinement = constant(node)
        return `${emit(node.from, v)} if (!${constant(Option.isNone)}(${refinement}.filter(${v}, ${constant(refinementOptions)}, ${refinement}))) return false;`
      }
      case "TupleType": {
        if (node.elements.length === 0 && node.rest.length === 1) {
          const i = variable()
          const element = variable()
          return `if (!Array.isArray(${v})) return false; for (let ${i} = 0; ${i} < ${v}.length; ${i}++) { const ${element} = ${v}[${i}]; ${
            emit(node.rest[0]!.type, element)
          } }`
        }
        break
      }
      case "TypeLiteral": {
        if (node.indexSignatures.length === 0) {
          let code = `if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) return false;`
          for (const property of node.propertySignatures) {
            const name = key(property.name)
            const value = variable()
            const check = emit(property.type, value)
            const own = `hasOwn.call(${v}, ${name})`
            // As in compileClosures: a present value of a name Object.prototype also has may be
            // inherited, so for those ownership is always asked.
            const absent = property.name in Object.prototype ? `!${own}` : `(${value} === undefined && !${own})`
            code += ` const ${value} = ${v}[${name}];`
            code += property.isOptional ? ` if (!${absent}) { ${check} }` : ` if (${absent}) return false; ${check}`
          }
          return code
        }
        break
      }
    }
    return `if (!${constant(compileClosures(node))}(${v})) return false;`
  }

  try {
    const body = emit(ast, "u")

    const make = new Function("c", "hasOwn", `"use strict"; return function check(u) { ${body} return true; };`) as (
      constants: ReadonlyArray<unknown>,
      hasOwn: typeof Object.prototype.hasOwnProperty
    ) => Check
    return make(constants, Object.prototype.hasOwnProperty)
  } catch {
    return compileClosures(ast)
  }
}
