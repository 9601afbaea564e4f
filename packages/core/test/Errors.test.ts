import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Identifier from "../src/Identifier.js"
import * as OpenCodeError from "../src/OpenCodeError.js"
import * as PlueError from "../src/PlueError.js"

const request = { method: "GET", url: "http://127.0.0.1:4096/session/ses_abc" }

describe("InvalidSessionId says why an id was refused, quoting a bounded, escaped preview", () => {
  it("each kind of bad id has its own reason", () => {
    const cases: Array<[unknown, string, string]> = [
      ["", "it is empty", `""`],
      ["ses_" + "a".repeat(65), "it is too long", `"ses_${"a".repeat(44)}…" (69 characters)`],
      ["session_abc", "it does not start with `ses_`", `"session_abc"`],
      ["ses_ab\u0000c", "it contains characters other than ASCII letters and digits", `"ses_ab\\u0000c"`],
      ["ses_a/../../auth", "it contains characters other than ASCII letters and digits", `"ses_a/../../auth"`],
      [42, "it is not a string", "42"],
      [null, "it is not a string", "null"]
    ]
    for (const [input, reason, preview] of cases) {
      const error = Effect.runSync(Effect.flip(Identifier.parseSessionId(input)))
      assert.strictEqual(error._tag, "InvalidSessionId")
      assert.strictEqual(error.reason, reason, String(input))
      assert.strictEqual(error.input, preview, String(input))
      assert.strictEqual(error.message, `Invalid session id ${preview}: ${reason}. Session ids look like ses_df557fc75ffe8uAWx0P0wTjSPl.`)
    }
    // The longest id allowed passes: `ses_` and 64 letters or digits.
    const longest = "ses_" + "Z9".repeat(32)
    assert.strictEqual(Effect.runSync(Identifier.parseSessionId(longest)), longest)
  })

  it("the SessionId schema refuses a bad id with a message that says what an id is", () => {
    const decoded = Schema.decodeUnknownEither(Identifier.SessionId)("../config")
    assert.isTrue(decoded._tag === "Left")
    if (decoded._tag === "Left") assert.include(decoded.left.message, "a session id is `ses_` followed by 1-64 ASCII letters or digits")
  })

  it("a preview of a 10 MB input stays short", () => {
    const error = Effect.runSync(Effect.flip(Identifier.parseSessionId("x".repeat(10 * 1024 * 1024))))
    assert.isBelow(error.message.length, 200)
    assert.include(error.message, `(${10 * 1024 * 1024} characters)`)
  })
})

describe("errors cross a boundary as data", () => {
  const openCodeErrors = [
    new OpenCodeError.InvalidSessionId({ input: `"../x"`, reason: "it does not start with `ses_`" }),
    new OpenCodeError.SessionNotFound({ sessionId: "ses_abc", request }),
    new OpenCodeError.Unauthorized({ request, status: 401, passwordSent: true }),
    new OpenCodeError.BadRequest({ request, status: 422, detail: "title: Expected string" }),
    new OpenCodeError.ServerError({ request, status: 500, detail: "UnknownError" }),
    new OpenCodeError.ServerError({ request, status: 500, detail: "UnknownError", attempts: 3 }),
    new OpenCodeError.Unreachable({ request, reason: "refused", detail: "ECONNREFUSED" }),
    new OpenCodeError.ProtocolError({ request, what: "the response body", detail: "title: Expected string" })
  ]

  it("every OpenCodeError survives encode, JSON and decode through the OpenCodeError schema, message and all", () => {
    for (const error of openCodeErrors) {
      const wire = JSON.parse(JSON.stringify(Schema.encodeSync(OpenCodeError.OpenCodeError)(error)))
      assert.strictEqual(wire._tag, error._tag)
      const back = Schema.decodeUnknownSync(OpenCodeError.OpenCodeError)(wire)
      assert.strictEqual(Object.getPrototypeOf(back), Object.getPrototypeOf(error), "decoded into the same class")
      assert.strictEqual(back.message, error.message)
      assert.deepStrictEqual({ ...back }, { ...error })
    }
    assert.throws(() => Schema.decodeUnknownSync(OpenCodeError.OpenCodeError)({ _tag: "Unreachable", request, reason: "moon", detail: "" }))
  })

  it("every bridge error survives encode, JSON and decode through its own schema", () => {
    const cases = [
      [PlueError.InvalidHandle, new PlueError.InvalidHandle({ handle: 7 })],
      [PlueError.SessionDeleted, new PlueError.SessionDeleted({ sessionId: "ses_abc" })],
      [PlueError.Aborted, new PlueError.Aborted({ sessionId: "ses_abc", operation: "update_title" })],
      [PlueError.ShareUnavailable, new PlueError.ShareUnavailable({ sessionId: "ses_abc", detail: "sharing is disabled" })]
    ] as const
    for (const [schema, error] of cases) {
      const wire = JSON.parse(JSON.stringify(Schema.encodeSync(schema as Schema.Schema<any, any>)(error)))
      const back = Schema.decodeUnknownSync(schema as Schema.Schema<any, any>)(wire)
      assert.strictEqual(back._tag, error._tag)
      assert.strictEqual(back.message, error.message)
    }
  })
})

describe("messages say what failed, where, and what to try", () => {
  it("the client's errors", () => {
    const unreachable = (reason: OpenCodeError.UnreachableReason, detail: string) => new OpenCodeError.Unreachable({ request, reason, detail }).message
    assert.strictEqual(
      unreachable("refused", "ECONNREFUSED"),
      "OpenCode unreachable on GET http://127.0.0.1:4096/session/ses_abc: connection refused (ECONNREFUSED). Is the server running at that address?"
    )
    assert.include(unreachable("reset", ""), ": connection reset. Is the server")
    assert.include(unreachable("timeout", "no complete answer within 10s"), "no answer in time (no complete answer within 10s)")
    assert.include(unreachable("heartbeat", ""), "the event stream went silent (no heartbeat)")
    assert.include(unreachable("transport", "socket hang up"), "transport failure (socket hang up)")
    assert.strictEqual(
      new OpenCodeError.ProtocolError({ request, what: "the JSON body", detail: "Unexpected token" }).message,
      "Unexpected answer from OpenCode to GET http://127.0.0.1:4096/session/ses_abc: could not decode the JSON body: Unexpected token"
    )
    assert.include(new OpenCodeError.Unauthorized({ request, status: 403, passwordSent: false }).message, "answered 403 to GET")
  })

  it("a detail that ends with its own full stop does not make the sentence end with two", () => {
    const server = new OpenCodeError.ServerError({ request, status: 500, detail: "database is locked. ", attempts: 3 }).message
    assert.include(server, "(sent 3 times): database is locked. OpenCode answers this while its database is locked")
    assert.notInclude(server, "..")
    // Sent once (a plain create is never retried), a 500 still names the likely cause.
    assert.include(
      new OpenCodeError.ServerError({ request, status: 500, detail: "Unexpected server error" }).message,
      "status 500: Unexpected server error. OpenCode also answers this while its database is locked by another process."
    )
    assert.notInclude(new OpenCodeError.ServerError({ request, status: 502, detail: "Bad gateway" }).message, "database")
    assert.notInclude(new OpenCodeError.Unreachable({ request, reason: "reset", detail: "socket closed." }).message, "..")
    assert.notInclude(new OpenCodeError.InvalidSessionId({ input: "x", reason: "too short." }).message, "..")
  })

  it("the bridge's errors", () => {
    assert.strictEqual(
      new PlueError.InvalidHandle({ handle: 7 }).message,
      "Invalid session handle 7: it was never opened or has been destroyed. Open or create a session to get a handle."
    )
    assert.strictEqual(
      new PlueError.SessionDeleted({ sessionId: "ses_abc" }).message,
      "Session ses_abc has been deleted. Destroy its handle; the session cannot be used any more."
    )
    assert.strictEqual(new PlueError.Aborted({ sessionId: "ses_abc", operation: "update_title" }).message, "update_title on session ses_abc was aborted.")
    assert.strictEqual(
      new PlueError.ShareUnavailable({ sessionId: "ses_abc", detail: "sharing is disabled" }).message,
      "Session ses_abc could not be shared: sharing is disabled. Configure a share service (enterprise.url), for instance `plue share-server`."
    )
  })
})
