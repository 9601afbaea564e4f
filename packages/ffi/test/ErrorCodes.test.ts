import { PlueError } from "@plue/core"
import { assert, describe, it } from "@effect/vitest"
import { Code, ErrorCodes } from "../src/Api.js"
import * as Bridge from "../src/Bridge.js"

/** A session failure someone might add to the union tomorrow. */
interface NewFailure {
  readonly _tag: "NewFailure"
}

describe("the C result code of every session failure", () => {
  it("is an exhaustive record: an error added to the union does not compile until it is mapped", () => {
    // The mapping as it is covers today's union.
    const today: Bridge.ErrorCodeMap<PlueError.SessionError> = Bridge.errorCodes
    // @ts-expect-error NewFailure has no result code: the record is missing a key.
    const tomorrow: Bridge.ErrorCodeMap<PlueError.SessionError | NewFailure> = Bridge.errorCodes
    assert.strictEqual(today, tomorrow)
  })

  it("maps each failure to a defined failure code (never PLUE_OK)", () => {
    const names = new Set<string>(ErrorCodes.map((c) => c.name))
    for (const [tag, name] of Object.entries(Bridge.errorCodes)) {
      assert.isTrue(names.has(name), `${tag} -> ${name}`)
      assert.notStrictEqual(name, "PLUE_OK", tag)
    }
    assert.strictEqual(Bridge.errorCode(new PlueError.InvalidHandle({ handle: 7 })), Code.PLUE_ERR_INVALID_HANDLE)
    assert.strictEqual(Bridge.errorCode(new PlueError.SessionDeleted({ sessionId: "ses_x" })), Code.PLUE_ERR_DELETED)
  })
})
