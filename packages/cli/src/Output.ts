/**
 * Output for people: safe text, aligned tables, local times. And for machines: JSON.
 *
 * @since 0.1.0
 */
import stringWidth from "string-width"

// C0 and C1 controls, DEL, and the bidirectional overrides/isolates that can reorder a line.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * Text from the server made safe for a terminal: control characters are shown as `\uXXXX`,
 * never sent raw (no escape sequences, no bells, no line breaks inside a cell).
 *
 * @since 0.1.0
 */
export const sanitize = (text: string): string => text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * Shortens `text` to at most `width` terminal columns, with an ellipsis.
 *
 * @since 0.1.0
 */
export const truncate = (text: string, width: number): string => {
  if (stringWidth(text) <= width) return text
  let out = ""
  for (const char of text) {
    if (stringWidth(out + char) > width - 1) break
    out += char
  }
  return `${out}…`
}

/**
 * Aligned columns, by display width (wide CJK and emoji count as two).
 *
 * @since 0.1.0
 */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const all = [header, ...rows]
  const widths = header.map((_, c) => Math.max(...all.map((row) => stringWidth(row[c] ?? ""))))
  return all
    .map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell + " ".repeat(widths[c]! - stringWidth(cell)))).join("  "))
    .join("\n")
}

/**
 * A timestamp (ms) as local date and time, `YYYY-MM-DD HH:MM:SS`.
 *
 * @since 0.1.0
 */
export const localTime = (ms: number): string => {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/**
 * One JSON document on stdout.
 *
 * @since 0.1.0
 */
export const json = (value: unknown): string => JSON.stringify(value, null, 2)
