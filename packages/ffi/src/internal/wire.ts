/**
 * The sidecar's frames (layout and kinds in `Api.ts`): a fixed little-endian header, then two
 * optional UTF-8 strings.
 */
import { WIRE_HEADER_SIZE, WIRE_MAX_FRAME } from "../Api.js"

export interface Frame {
  readonly kind: number
  readonly id: number
  readonly value: number
  readonly code: number
  readonly a: string | null
  readonly b: string | null
}

const NULL_LENGTH = -1

/** One frame's bytes. */
export const encode = (kind: number, id: number, value: number, code: number, a: string | null, b: string | null): Buffer => {
  const la = a === null ? 0 : Buffer.byteLength(a)
  const lb = b === null ? 0 : Buffer.byteLength(b)
  const frame = Buffer.allocUnsafe(WIRE_HEADER_SIZE + la + lb)
  frame.writeUInt32LE(frame.length, 0)
  frame.writeUInt32LE(kind, 4)
  frame.writeUInt32LE(id % 0x1_0000_0000, 8)
  frame.writeUInt32LE(Math.floor(id / 0x1_0000_0000), 12)
  frame.writeUInt32LE(value >>> 0, 16)
  frame.writeInt32LE(Math.floor(value / 0x1_0000_0000), 20)
  frame.writeInt32LE(code, 24)
  frame.writeInt32LE(a === null ? NULL_LENGTH : la, 28)
  frame.writeInt32LE(b === null ? NULL_LENGTH : lb, 32)
  if (a !== null) frame.write(a, WIRE_HEADER_SIZE, la, "utf8")
  if (b !== null) frame.write(b, WIRE_HEADER_SIZE + la, lb, "utf8")
  return frame
}

/** The frame stream is not what the protocol says. */
export class BrokenStream extends Error {}

/** Cuts a byte stream into frames. */
export class Decoder {
  private buffer: Buffer = Buffer.alloc(0)

  /** Adds bytes; returns the frames they complete. Throws BrokenStream on a malformed frame. */
  push(chunk: Buffer): Array<Frame> {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    const frames: Array<Frame> = []
    let at = 0
    while (this.buffer.length - at >= WIRE_HEADER_SIZE) {
      const length = this.buffer.readUInt32LE(at)
      if (length < WIRE_HEADER_SIZE || length > WIRE_MAX_FRAME) throw new BrokenStream(`a frame of ${length} bytes`)
      if (this.buffer.length - at < length) break
      const la = this.buffer.readInt32LE(at + 28)
      const lb = this.buffer.readInt32LE(at + 32)
      if (WIRE_HEADER_SIZE + Math.max(la, 0) + Math.max(lb, 0) !== length) throw new BrokenStream("string lengths that do not add up")
      const start = at + WIRE_HEADER_SIZE
      frames.push({
        kind: this.buffer.readUInt32LE(at + 4),
        id: this.buffer.readUInt32LE(at + 8) + this.buffer.readUInt32LE(at + 12) * 0x1_0000_0000,
        value: this.buffer.readUInt32LE(at + 16) + this.buffer.readInt32LE(at + 20) * 0x1_0000_0000,
        code: this.buffer.readInt32LE(at + 24),
        a: la < 0 ? null : this.buffer.toString("utf8", start, start + la),
        b: lb < 0 ? null : this.buffer.toString("utf8", start + Math.max(la, 0), start + Math.max(la, 0) + lb)
      })
      at += length
    }
    this.buffer = at === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(at)
    return frames
  }
}
