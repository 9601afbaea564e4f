/**
 * Word-level three-way merge of a text field (a session title): `base` is what the local edit was
 * typed over, `local` our edit, `remote` what the server has now. Clean only when every change of
 * one side is separated from every change of the other by at least one word both left unchanged;
 * anything closer (the same word, neighbouring words, two insertions at one place) is a conflict.
 */

/** The merge's answer. */
export type MergeResult =
  | { readonly _tag: "Clean"; readonly text: string }
  | { readonly _tag: "Conflict" }

/** Words and the whitespace between them, as tokens: joining them gives the text back. */
export const tokenize = (text: string): Array<string> => text.split(/(\s+)/).filter((token) => token.length > 0)

const isWord = (token: string) => !/^\s+$/.test(token)

/** Longer inputs are not merged (the table below is quadratic): a conflict, never a wrong text. */
const MAX_TOKENS = 1000

/** The matched index pairs of a longest common subsequence of `a` and `b`, ascending. */
const commonPairs = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): Array<readonly [number, number]> => {
  const n = a.length
  const m = b.length
  const table: Array<Uint16Array> = []
  for (let i = 0; i <= n; i++) table.push(new Uint16Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] = a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!)
    }
  }
  const pairs: Array<readonly [number, number]> = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      pairs.push([i, j])
      i++
      j++
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) i++
    else j++
  }
  return pairs
}

/** One change of one side: base tokens [start, end) replaced by `tokens`. */
interface Hunk {
  readonly start: number
  readonly end: number
  readonly tokens: ReadonlyArray<string>
}

const hunks = (base: ReadonlyArray<string>, side: ReadonlyArray<string>): Array<Hunk> => {
  const out: Array<Hunk> = []
  let previousBase = -1
  let previousSide = -1
  for (const [i, j] of [...commonPairs(base, side), [base.length, side.length] as const]) {
    if (i > previousBase + 1 || j > previousSide + 1) {
      out.push({ start: previousBase + 1, end: i, tokens: side.slice(previousSide + 1, j) })
    }
    previousBase = i
    previousSide = j
  }
  return out
}

/** Whether an unchanged word lies between the two changes. */
const separated = (base: ReadonlyArray<string>, a: Hunk, b: Hunk): boolean => {
  const [first, second] = a.start <= b.start ? [a, b] : [b, a]
  if (first.end > second.start) return false
  for (let k = first.end; k < second.start; k++) if (isWord(base[k]!)) return true
  return false
}

/**
 * Merges `local` and `remote`, both edits of `base`, word by word.
 */
export const merge3 = (base: string, local: string, remote: string): MergeResult => {
  if (local === remote) return { _tag: "Clean", text: local }
  if (local === base) return { _tag: "Clean", text: remote }
  if (remote === base) return { _tag: "Clean", text: local }
  const b = tokenize(base)
  const l = tokenize(local)
  const r = tokenize(remote)
  if (b.length > MAX_TOKENS || l.length > MAX_TOKENS || r.length > MAX_TOKENS) return { _tag: "Conflict" }
  const ours = hunks(b, l)
  const theirs = hunks(b, r)
  for (const a of ours) for (const c of theirs) if (!separated(b, a, c)) return { _tag: "Conflict" }
  const all = [...ours, ...theirs].sort((x, y) => x.start - y.start || x.end - y.end)
  let text = ""
  let at = 0
  for (const hunk of all) {
    text += b.slice(at, hunk.start).join("") + hunk.tokens.join("")
    at = hunk.end
  }
  text += b.slice(at).join("")
  return { _tag: "Clean", text }
}
