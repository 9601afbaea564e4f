import type { Identifier, SessionEvents } from "@plue/core"
import { assert, describe, it } from "@effect/vitest"
import { describe as line } from "../src/commands/watch.js"

// Every kind of event `plue watch` can print, as people see it (`--json` prints the event object
// itself). The kinds the server's stream carries are also printed end to end against the real
// server (watch.test.ts, watchLost.test.ts, share.test.ts); the others are events of the watching
// process's own bridge (its outbox with PLUE_OUTBOX=1, its operations' progress), shown here.

const ID = "ses_df557fc75ffe8uAWx0P0wTjSPl" as Identifier.SessionId
const session = {
  id: ID,
  slug: "s",
  projectID: "p",
  directory: "/work",
  title: "a\u001b[31m title",
  version: "1",
  time: { created: 1, updated: 2 }
} as unknown as Extract<SessionEvents.Delivery, { _tag: "Created" }>["session"]

const cases: ReadonlyArray<readonly [SessionEvents.Delivery | SessionEvents.Snapshot, string]> = [
  [{ _tag: "Snapshot", sessions: [session] }, `snapshot  1 session at connect, newest update first\n          ${ID}  a\\u001b[31m title`],
  [{ _tag: "Snapshot", sessions: [] }, "snapshot  0 sessions at connect, newest update first"],
  [{ _tag: "Created", session, origin: "remote" }, `created   ${ID}  a\\u001b[31m title`],
  [{ _tag: "Updated", session, changes: ["title", "time"], origin: "local" }, `updated   ${ID}  title, time: a\\u001b[31m title`],
  [{ _tag: "Deleted", sessionId: ID, origin: "remote" }, `deleted   ${ID}`],
  [{ _tag: "Shared", session, url: "https://share.example/s/1", origin: "local" }, `shared    ${ID}  https://share.example/s/1`],
  [{ _tag: "Unshared", session, origin: "local" }, `unshared  ${ID}`],
  [{ _tag: "Aborted", sessionId: ID, origin: "local" }, `aborted   ${ID}`],
  [{ _tag: "Status", sessionId: ID, status: { type: "busy" } }, `status    ${ID}  busy`],
  [{ _tag: "Error", sessionId: ID, error: { name: "APIError" } }, `error     ${ID}  {"name":"APIError"}`],
  [{ _tag: "Error", error: { name: "UnknownError" } }, `error     -  {"name":"UnknownError"}`],
  [{ _tag: "Queued", opId: "op_1", sessionId: ID, kind: "create" }, `queued    ${ID}  create op_1`],
  [{ _tag: "Confirmed", opId: "op_1", sessionId: ID, kind: "title" }, `confirmed ${ID}  title op_1`],
  [{ _tag: "RolledBack", opId: "op_1", sessionId: ID, kind: "delete", error: "not found" }, `rolledback ${ID}  delete op_1: not found`],
  [{ _tag: "Cancelled", opId: "op_1", sessionId: ID, kind: "title", by: "op_2" }, `cancelled ${ID}  title op_1 by op_2`],
  [
    { _tag: "Conflict", opId: "op_1", sessionId: ID, field: "title", base: "a", local: "b", remote: "c" },
    `conflict  ${ID}  op_1: base "a", local "b", remote "c"`
  ],
  [{ _tag: "Overwritten", opId: "op_1", sessionId: ID, remote: "theirs" }, `overwritten ${ID}  op_1 by "theirs"`],
  [{ _tag: "DeadLettered", opId: "op_1", sessionId: ID, kind: "create", error: "400\u0007" }, `dead      ${ID}  create op_1: 400\\u0007`],
  [{ _tag: "BulkProgress", batch: 3, done: 5, failed: 1, total: 8 }, "progress  batch 3: 5 of 8 done, 1 failed"],
  [{ _tag: "Progress", opId: 7, sessionId: ID, kind: "initialize", phase: "waiting" }, `progress  ${ID}  initialize #7 waiting`],
  [
    { _tag: "Progress", opId: 8, kind: "create", phase: "retrying", attempt: 2, reason: "connection reset" },
    "progress  -  create #8 retrying (retry 2): connection reset"
  ],
  [{ _tag: "Lagged", missed: 12 }, "lagged    12 events were dropped; run plue session list to resynchronise"]
]

describe("plue watch: one line per event for people", () => {
  it("every kind of event, control characters escaped", () => {
    for (const [event, expected] of cases) assert.strictEqual(line(event), expected, event._tag)
    // Every kind a subscriber can get (and the snapshot) has its line here.
    const tags = new Set<string>(cases.map(([event]) => event._tag))
    for (
      const tag of [
        "Snapshot",
        "Created",
        "Updated",
        "Deleted",
        "Shared",
        "Unshared",
        "Aborted",
        "Status",
        "Error",
        "Queued",
        "Confirmed",
        "RolledBack",
        "Cancelled",
        "Conflict",
        "Overwritten",
        "DeadLettered",
        "BulkProgress",
        "Progress",
        "Lagged"
      ]
    ) assert.isTrue(tags.has(tag), tag)
  })
})
