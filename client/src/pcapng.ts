// pcapng (draft-ietf-opsawg-pcapng, "PCAP Next Generation Dump File
// Format"): the blocks `soclink capture` writes. Pure: values in, bytes
// out; the caller writes them. Little-endian, as the Section Header Block's
// byte-order magic says; every block and option padded to 32 bits.
//
// A file is one section: a Section Header Block, then an Interface
// Description Block for each peer link (before its first packet), then an
// Enhanced Packet Block per packet, naming its interface by the order the
// IDBs came in (0, 1, ...).

/** Block types (§4.1, §4.2, §4.3). */
export const BLOCK_SHB = 0x0a0d0d0a
export const BLOCK_IDB = 0x00000001
export const BLOCK_EPB = 0x00000006
const BYTE_ORDER_MAGIC = 0x1a2b3c4d

/**
 * LINKTYPE_USER0 (147, tcpdump.org link-layer types: "reserved for private
 * use"): soclink's link packets have no link type of their own; the Lua
 * dissector (proto/wireshark/soclink.lua) claims USER0 (wtap encapsulation
 * USER0 in Wireshark).
 */
export const LINKTYPE_USER0 = 147

/** Option codes: opt_endofopt and shb_userappl (§4.1), if_name and if_tsresol (§4.2), epb_flags and epb_dropcount (§4.3). */
const OPT_END = 0
const OPT_SHB_USERAPPL = 4
const OPT_IF_NAME = 2
const OPT_IF_DESCRIPTION = 3
const OPT_IF_TSRESOL = 9
const OPT_EPB_FLAGS = 2
const OPT_EPB_DROPCOUNT = 4

/** if_tsresol 6: timestamps count 10^-6 s, microseconds (also the default when the option is absent). */
export const TSRESOL_MICROSECONDS = 6

/** epb_flags bits 0-1 (§4.3.1): 01 inbound, 10 outbound. */
export const Direction = { INBOUND: 1, OUTBOUND: 2 } as const
export type Direction = typeof Direction[keyof typeof Direction]

const pad4 = (n: number): number => (n + 3) & ~3
const TWO_32 = 0x1_0000_0000

interface Option { code: number, value: Buffer }

function optionsBytes (options: Option[]): number {
  if (options.length === 0) return 0
  return options.reduce((n, o) => n + 4 + pad4(o.value.length), 0) + 4
}

/** A block: type, total length, body, options, total length again (§3.1). */
function block (type: number, body: Buffer, options: Option[]): Buffer {
  const total = 12 + pad4(body.length) + optionsBytes(options)
  const out = Buffer.alloc(total)
  out.writeUInt32LE(type, 0)
  out.writeUInt32LE(total, 4)
  body.copy(out, 8)
  let at = 8 + pad4(body.length)
  if (options.length > 0) {
    for (const o of options) {
      out.writeUInt16LE(o.code, at)
      out.writeUInt16LE(o.value.length, at + 2)
      o.value.copy(out, at + 4)
      at += 4 + pad4(o.value.length)
    }
    out.writeUInt16LE(OPT_END, at)
    out.writeUInt16LE(0, at + 2)
    at += 4
  }
  out.writeUInt32LE(total, at)
  return out
}

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b }
const u64 = (n: number): Buffer => { const b = Buffer.alloc(8); b.writeUInt32LE(n % TWO_32); b.writeUInt32LE(Math.floor(n / TWO_32), 4); return b }

/** The Section Header Block (§4.1): version 1.0, section length unknown (-1). */
export function sectionHeaderBlock (application?: string): Buffer {
  const body = Buffer.alloc(16)
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0)
  body.writeUInt16LE(1, 4)
  body.writeUInt16LE(0, 6)
  body.writeBigInt64LE(-1n, 8)
  return block(BLOCK_SHB, body, application !== undefined ? [{ code: OPT_SHB_USERAPPL, value: Buffer.from(application) }] : [])
}

export interface InterfaceDescription {
  linkType: number
  snapLen: number
  /** if_name: the peer link's name. */
  name: string
  description?: string
  /** if_tsresol as a power of ten (6: microseconds). */
  tsresol?: number
}

/** An Interface Description Block (§4.2). */
export function interfaceDescriptionBlock (i: InterfaceDescription): Buffer {
  const body = Buffer.alloc(8)
  body.writeUInt16LE(i.linkType, 0)
  body.writeUInt16LE(0, 2)
  body.writeUInt32LE(i.snapLen, 4)
  const options: Option[] = [{ code: OPT_IF_NAME, value: Buffer.from(i.name) }]
  if (i.description !== undefined) options.push({ code: OPT_IF_DESCRIPTION, value: Buffer.from(i.description) })
  options.push({ code: OPT_IF_TSRESOL, value: Buffer.from([i.tsresol ?? TSRESOL_MICROSECONDS]) })
  return block(BLOCK_IDB, body, options)
}

export interface EnhancedPacket {
  interfaceId: number
  /** In units of the interface's if_tsresol since the Unix epoch (microseconds by default); below 2^53. */
  timestamp: number
  data: Uint8Array
  /** The packet's length on the wire (data may be cut shorter). */
  originalLength: number
  direction?: Direction
  /** Packets lost between this one and the one before (epb_dropcount). */
  dropCount?: number
}

/** An Enhanced Packet Block (§4.3). */
export function enhancedPacketBlock (p: EnhancedPacket): Buffer {
  const body = Buffer.alloc(20 + p.data.length)
  body.writeUInt32LE(p.interfaceId, 0)
  body.writeUInt32LE(Math.floor(p.timestamp / TWO_32), 4)
  body.writeUInt32LE(p.timestamp % TWO_32, 8)
  body.writeUInt32LE(p.data.length, 12)
  body.writeUInt32LE(p.originalLength, 16)
  body.set(p.data, 20)
  const options: Option[] = []
  if (p.direction !== undefined) options.push({ code: OPT_EPB_FLAGS, value: u32(p.direction) })
  if (p.dropCount !== undefined && p.dropCount > 0) options.push({ code: OPT_EPB_DROPCOUNT, value: u64(p.dropCount) })
  return block(BLOCK_EPB, body, options)
}

/** The packet of one peer link, as the capture gives it. */
export interface LinkPacket {
  peer: string
  direction: Direction
  timeUs: number
  length: number
  data: Uint8Array
  dropsBefore: number
}

/**
 * A capture file's blocks in order: the header first, then per packet its
 * interface's IDB when the peer is new, and its EPB.
 */
export class PcapngFile {
  private readonly interfaces = new Map<string, number>()

  /** `local`: the capturing daemon's name, for each interface's if_description (the dissector's Source and Destination). */
  constructor (private readonly snapLen: number, private readonly local: string | null = null, private readonly application = 'soclink capture') {}

  header (): Buffer { return sectionHeaderBlock(this.application) }

  /** The blocks of one packet. */
  packet (p: LinkPacket): Buffer[] {
    const out: Buffer[] = []
    let id = this.interfaces.get(p.peer)
    if (id === undefined) {
      id = this.interfaces.size
      this.interfaces.set(p.peer, id)
      out.push(interfaceDescriptionBlock({ linkType: LINKTYPE_USER0, snapLen: this.snapLen, name: p.peer, description: this.local !== null ? `soclink link of ${this.local} to ${p.peer}` : `soclink link to ${p.peer}` }))
    }
    out.push(enhancedPacketBlock({ interfaceId: id, timestamp: p.timeUs, data: p.data, originalLength: p.length, direction: p.direction, dropCount: p.dropsBefore }))
    return out
  }

  /** Peer links seen so far, in interface order. */
  get peers (): string[] { return [...this.interfaces.keys()] }
}
