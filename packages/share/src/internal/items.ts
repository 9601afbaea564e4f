/**
 * How synced items are kept: the latest of each kind, by key, and which of two versions of one
 * item is the newer.
 */

/** One synced item, as OpenCode sends it. */
export interface Item {
  readonly type: string
  readonly data: unknown
}

/** The key an item is kept under: one per session, message, part; the latest diff and model. */
export const itemKey = (item: Item): string => {
  const id = (item.data as { id?: unknown } | null)?.id
  return (item.type === "message" || item.type === "part") && typeof id === "string" ? `${item.type}/${id}` : item.type
}

/**
 * The item's own clock, when it carries one: a session's `time.updated`, a message's
 * `time.completed` (else `time.created`), a part's `time.end` (else `time.start`). `null` when it
 * has none: then the later write wins.
 */
export const itemClock = (item: Item): number | null => {
  const time = (item.data as { time?: Record<string, unknown> } | null)?.time
  if (time === null || typeof time !== "object") return null
  const pick = (...names: Array<string>) => {
    for (const name of names) if (typeof time[name] === "number") return time[name] as number
    return null
  }
  switch (item.type) {
    case "session":
      return pick("updated", "created")
    case "message":
      return pick("completed", "created")
    case "part":
      return pick("end", "start")
    default:
      return null
  }
}

/** Whether `next` may replace `previous`: a late, older version never overwrites a newer one. */
export const supersedes = (next: number | null, previous: number | null): boolean => next === null || previous === null || next >= previous
