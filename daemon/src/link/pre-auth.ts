// What a link connection may send before it has authenticated: one
// WebSocket frame, the Hello, whole (FIN) and at most maxPreAuthBytes, and
// at most a close frame besides. Read from the raw bytes, ahead of ws, as
// they arrive (RFC 6455 §5.2 frame header): a large frame is refused from
// its header, before ws has buffered any of it, and a ping, a fragment or a
// second message is refused before ws answers or holds it.
// Pure: fed bytes, it says why the connection must be cut off, or null.

/** Opcodes (RFC 6455 §5.2). */
const CONTINUATION = 0x0
const TEXT = 0x1
const BINARY = 0x2
const CLOSE = 0x8
/** The most a close frame adds besides the one frame: a 14-byte header room and 125 bytes of body. */
const SLACK = 256

export class PreAuthFrames {
  private readonly header = Buffer.alloc(14)
  private have = 0
  /** Header bytes of the frame being read; 2 until its length field says more. */
  private need = 2
  /** Payload bytes of the current frame still to skip. */
  private payloadLeft = 0
  private messages = 0
  private bytes = 0

  constructor (private readonly maxBytes: number) {}

  /** Feeds the next bytes from the socket; returns why to cut the connection off, or null. */
  feed (chunk: Buffer): string | null {
    let at = 0
    while (at < chunk.length) {
      if (this.payloadLeft > 0) {
        const skip = Math.min(this.payloadLeft, chunk.length - at)
        this.payloadLeft -= skip
        at += skip
        continue
      }
      this.header[this.have++] = chunk[at++]!
      if (this.have === 2) {
        const len7 = this.header[1]! & 0x7f
        this.need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((this.header[1]! & 0x80) !== 0 ? 4 : 0)
      }
      if (this.have < this.need) continue
      const why = this.frame()
      if (why !== null) return why
      this.have = 0
      this.need = 2
    }
    // After the frames: a chunk that brings a frame too large says so rather than only that it is many bytes.
    this.bytes += chunk.length
    return this.bytes > this.maxBytes + SLACK ? `sent over ${this.maxBytes} bytes before authenticating` : null
  }

  /** A whole frame header is in: whether the frame may come, and its payload to skip. */
  private frame (): string | null {
    const h = this.header
    const fin = (h[0]! & 0x80) !== 0
    const opcode = h[0]! & 0x0f
    const len7 = h[1]! & 0x7f
    const length = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7
    if (opcode === TEXT || opcode === BINARY) {
      if (this.messages > 0) return 'a second frame before authenticating: only the Hello may come'
      if (!fin) return 'a fragmented message before authenticating: the Hello comes in one frame'
      if (length > this.maxBytes) return `a frame of ${length} bytes before authenticating: at most ${this.maxBytes} (maxPreAuthBytes)`
      this.messages++
    } else if (opcode === CONTINUATION) {
      return 'a second frame before authenticating: only the Hello may come'
    } else if (opcode !== CLOSE) {
      return `a control frame (opcode ${opcode}) before authenticating: only the Hello may come`
    }
    this.payloadLeft = length
    return null
  }
}
