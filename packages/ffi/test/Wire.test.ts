// The sidecar's frame codec (internal/wire.ts) on its own: what the header's C side writes and
// reads (docs/c-api.md, "Operations and the sidecar's wire format"), cut anywhere, and malformed
// frames refused with BrokenStream rather than misread.
import { assert, describe, it } from "@effect/vitest"
import { Wire, WIRE_HEADER_SIZE, WIRE_MAX_FRAME } from "../src/Api.js"
import { BrokenStream, Decoder, encode } from "../src/internal/wire.js"

const header = (length: number, la: number, lb: number) => {
  const frame = Buffer.alloc(WIRE_HEADER_SIZE)
  frame.writeUInt32LE(length, 0)
  frame.writeUInt32LE(Wire.CALL, 4)
  frame.writeInt32LE(la, 28)
  frame.writeInt32LE(lb, 32)
  return frame
}

describe("the sidecar's frames", () => {
  it("round-trip: 64-bit ids and values, negative values, NULL and empty and non-ASCII strings, in the documented layout", () => {
    const frames = [
      { kind: Wire.CALL, id: 2 ** 40 + 7, value: 2 ** 41 + 3, code: 5, a: "ses_abc", b: "titre: été ✓ 日本" },
      { kind: Wire.COMPLETE, id: 1, value: -1, code: -9, a: null, b: "" },
      { kind: Wire.EVENT, id: 0, value: 0, code: 0, a: "{}", b: null }
    ]
    const bytes = encode(frames[0]!.kind, frames[0]!.id, frames[0]!.value, frames[0]!.code, frames[0]!.a, frames[0]!.b)
    assert.strictEqual(bytes.readUInt32LE(0), bytes.length)
    assert.strictEqual(bytes.readUInt32LE(4), Wire.CALL)
    assert.strictEqual(bytes.readBigUInt64LE(8), BigInt(2 ** 40 + 7))
    assert.strictEqual(bytes.readBigInt64LE(16), BigInt(2 ** 41 + 3))
    assert.strictEqual(bytes.readInt32LE(24), 5)
    assert.strictEqual(bytes.readInt32LE(28), 7)
    assert.strictEqual(bytes.readInt32LE(32), Buffer.byteLength(frames[0]!.b!))
    assert.strictEqual(encode(Wire.COMPLETE, 1, -1, -9, null, "").readBigInt64LE(16), -1n)
    assert.strictEqual(encode(Wire.COMPLETE, 1, -1, -9, null, "").readInt32LE(28), -1)

    const all = Buffer.concat(frames.map((f) => encode(f.kind, f.id, f.value, f.code, f.a, f.b)))
    assert.deepStrictEqual(new Decoder().push(all), frames)
    // Cut into single bytes: the same frames, each once complete.
    const decoder = new Decoder()
    const got = []
    for (let i = 0; i < all.length; i++) got.push(...decoder.push(all.subarray(i, i + 1)))
    assert.deepStrictEqual(got, frames)
  })

  it("a frame shorter than its header, longer than the maximum, or whose strings do not add up is a BrokenStream", () => {
    assert.throws(() => new Decoder().push(header(5, -1, -1)), BrokenStream, "a frame of 5 bytes")
    assert.throws(() => new Decoder().push(header(WIRE_MAX_FRAME + 1, -1, -1)), BrokenStream, `a frame of ${WIRE_MAX_FRAME + 1} bytes`)
    assert.throws(
      () => new Decoder().push(Buffer.concat([header(WIRE_HEADER_SIZE + 4, 3, -1), Buffer.from("abcd")])),
      BrokenStream,
      "string lengths that do not add up"
    )
    // A whole header whose frame is still incomplete waits for the rest.
    const partial = new Decoder()
    assert.deepStrictEqual(partial.push(header(WIRE_HEADER_SIZE + 2, 2, -1)), [])
    assert.deepStrictEqual(partial.push(Buffer.from("ok")).map((f) => f.a), ["ok"])
  })
})
