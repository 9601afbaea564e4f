import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { merge3, tokenize } from "../src/internal/merge.js"

const word = fc.stringMatching(/^[A-Za-z0-9éü✓]{1,6}$/)
const words = fc.array(word, { minLength: 1, maxLength: 12 })
const runs = Number(process.env.PLUE_PROPERTY_RUNS ?? 200)

describe("word-level three-way merge", () => {
  it("examples", () => {
    assert.deepStrictEqual(merge3("fix the login bug", "repair the login bug", "fix the login crash"), {
      _tag: "Clean",
      text: "repair the login crash"
    })
    // The same word changed both ways.
    assert.deepStrictEqual(merge3("fix the login bug", "fix the signup bug", "fix the logout bug"), { _tag: "Conflict" })
    // Neighbouring words: no unchanged word between the two edits.
    assert.deepStrictEqual(merge3("a b c", "a X c", "a b Y"), { _tag: "Conflict" })
    // Two insertions at one place.
    assert.deepStrictEqual(merge3("a b", "a X b", "a Y b"), { _tag: "Conflict" })
    // Insertions at both ends, with words between them.
    assert.deepStrictEqual(merge3("a b", "X a b", "a b Y"), { _tag: "Clean", text: "X a b Y" })
    // Both sides the same: no question.
    assert.deepStrictEqual(merge3("a", "b", "b"), { _tag: "Clean", text: "b" })
    assert.deepStrictEqual(merge3("", "x", "y"), { _tag: "Conflict" })
  })

  it("tokens join back to the text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (text) => tokenize(text).join("") === text), { numRuns: runs })
  })

  it("one side unchanged gives the other side", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (base, edit) => {
        const a = merge3(base, edit, base)
        const b = merge3(base, base, edit)
        return a._tag === "Clean" && a.text === edit && b._tag === "Clean" && b.text === edit
      }),
      { numRuns: runs }
    )
  })

  it("is symmetric in local and remote", () => {
    fc.assert(
      fc.property(words, words, words, (base, local, remote) => {
        const a = merge3(base.join(" "), local.join(" "), remote.join(" "))
        const b = merge3(base.join(" "), remote.join(" "), local.join(" "))
        return JSON.stringify(a) === JSON.stringify(b)
      }),
      { numRuns: runs }
    )
  })

  it("edits of words two or more apart merge; of the same or neighbouring words, conflict", () => {
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 2, maxLength: 10 }).chain((base) =>
          fc.tuple(fc.constant(base), fc.nat({ max: base.length - 1 }), fc.nat({ max: base.length - 1 }))
        ),
        ([base, i, j]) => {
          const local = base.map((w, k) => (k === i ? `${w}L1` : w))
          const remote = base.map((w, k) => (k === j ? `${w}R2` : w))
          const result = merge3(base.join(" "), local.join(" "), remote.join(" "))
          if (Math.abs(i - j) >= 2) {
            const expected = base.map((w, k) => (k === i ? `${w}L1` : k === j ? `${w}R2` : w)).join(" ")
            return result._tag === "Clean" && result.text === expected
          }
          return result._tag === "Conflict"
        }
      ),
      { numRuns: runs }
    )
  })

  it("a clean merge keeps every word both sides kept, and every word either side added", () => {
    fc.assert(
      fc.property(words, words, words, (base, local, remote) => {
        const result = merge3(base.join(" "), local.join(" "), remote.join(" "))
        if (result._tag === "Conflict") return true
        const out = tokenize(result.text)
        const count = (list: ReadonlyArray<string>, w: string) => list.filter((x) => x === w).length
        for (const w of new Set([...local, ...remote])) {
          const added = Math.max(count(local, w) - count(base, w), count(remote, w) - count(base, w), 0)
          if (added > 0 && count(out, w) < added) return false
        }
        return true
      }),
      { numRuns: runs }
    )
  })
})
