// The pcapng writer (client/src/pcapng.ts) against the numbers of the
// format's specification (draft-ietf-opsawg-pcapng: §3.1 block layout, §4.1
// SHB, §4.2 IDB, §4.3 EPB, §3.5 options), written out here as literals
// rather than taken from the writer's own constants, and against the
// example bytes a reader of any pcapng file expects.

import t from 'tap'
import { PcapngFile, enhancedPacketBlock, interfaceDescriptionBlock, sectionHeaderBlock } from '../../client/src/pcapng.js'

/** Reads a block's options (§3.5): code, length, value padded to 4, ending with code 0. */
function options (b: Buffer, from: number, to: number): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = []
  let at = from
  while (at < to) {
    const code = b.readUInt16LE(at)
    const len = b.readUInt16LE(at + 2)
    if (code === 0) { t.equal(len, 0, 'opt_endofopt has length 0'); t.equal(at + 4, to, 'opt_endofopt ends the options'); return out }
    out.push([code, b.subarray(at + 4, at + 4 + len)])
    at += 4 + Math.ceil(len / 4) * 4
  }
  t.fail('no opt_endofopt')
  return out
}

/** §3.1: type, total length (a multiple of 4), body, total length again. */
function checkFrame (b: Buffer, type: number): void {
  t.equal(b.readUInt32LE(0), type, `block type 0x${type.toString(16)}`)
  t.equal(b.readUInt32LE(4), b.length, 'Block Total Length is the whole block')
  t.equal(b.length % 4, 0, 'a multiple of 4')
  t.equal(b.readUInt32LE(b.length - 4), b.length, 'and repeated at its end')
}

t.test('Section Header Block', async (t) => {
  const b = sectionHeaderBlock('soclink capture')
  checkFrame(b, 0x0A0D0D0A)
  t.same([...b.subarray(8, 12)], [0x4D, 0x3C, 0x2B, 0x1A], 'byte-order magic 0x1A2B3C4D, written little-endian')
  t.equal(b.readUInt16LE(12), 1, 'major version 1')
  t.equal(b.readUInt16LE(14), 0, 'minor version 0')
  t.same([...b.subarray(16, 24)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'section length -1: not given')
  const o = options(b, 24, b.length - 4)
  t.same(o.map(([c, v]) => [c, v.toString()]), [[4, 'soclink capture']], 'shb_userappl (code 4)')
  t.equal(sectionHeaderBlock().length, 28, 'with no options: 28 bytes, no opt_endofopt')
})

t.test('Interface Description Block', async (t) => {
  const b = interfaceDescriptionBlock({ linkType: 147, snapLen: 262144, name: 'ep1', description: 'soclink link to ep1' })
  checkFrame(b, 0x00000001)
  t.equal(b.readUInt16LE(8), 147, 'LinkType LINKTYPE_USER0 = 147')
  t.equal(b.readUInt16LE(10), 0, 'reserved')
  t.equal(b.readUInt32LE(12), 262144, 'SnapLen')
  const o = options(b, 16, b.length - 4)
  t.same(o.map(([c, v]) => [c, c === 9 ? v[0] : v.toString()]), [[2, 'ep1'], [3, 'soclink link to ep1'], [9, 6]],
    'if_name (2), if_description (3), if_tsresol (9) = 6: microseconds')
  t.equal(o[0]![1].length, 3, 'an option\'s length is its value\'s, unpadded')
})

t.test('Enhanced Packet Block', async (t) => {
  const ts = 1_764_775_000_123_456 // µs since the epoch, above 2^32
  const data = Buffer.from([1, 2, 3, 4, 5])
  const b = enhancedPacketBlock({ interfaceId: 2, timestamp: ts, data, originalLength: 900, direction: 2, dropCount: 3 })
  checkFrame(b, 0x00000006)
  t.equal(b.readUInt32LE(8), 2, 'Interface ID')
  t.equal(b.readUInt32LE(12) * 2 ** 32 + b.readUInt32LE(16), ts, 'Timestamp (Upper), then (Lower)')
  t.equal(b.readUInt32LE(20), 5, 'Captured Packet Length')
  t.equal(b.readUInt32LE(24), 900, 'Original Packet Length')
  t.same([...b.subarray(28, 33)], [1, 2, 3, 4, 5])
  t.same([...b.subarray(33, 36)], [0, 0, 0], 'padded to 32 bits with zeros')
  const o = options(b, 36, b.length - 4)
  t.same(o.map(([c, v]) => [c, v.length, c === 2 ? v.readUInt32LE(0) : Number(v.readBigUInt64LE(0))]), [[2, 4, 0b10], [4, 8, 3]],
    'epb_flags (2, 32 bits): direction 10 = outbound; epb_dropcount (4, 64 bits)')
  const inbound = enhancedPacketBlock({ interfaceId: 0, timestamp: 1, data: Buffer.alloc(8), originalLength: 8, direction: 1 })
  t.same(options(inbound, 36, inbound.length - 4).map(([c, v]) => [c, v.readUInt32LE(0)]), [[2, 0b01]], 'inbound = 01, and no drop count when none dropped')
})

t.test('a file: the header, then each peer\'s IDB before its first packet', async (t) => {
  const f = new PcapngFile(65536)
  const blocks = [f.header()]
  const pkt = (peer: string): Buffer[] => f.packet({ peer, direction: 1, timeUs: 10, length: 4, data: Buffer.from('abcd'), dropsBefore: 0 })
  blocks.push(...pkt('rc'), ...pkt('rc'), ...pkt('ntb'), ...pkt('rc'))
  t.same(blocks.map((b) => b.readUInt32LE(0)), [0x0A0D0D0A, 1, 6, 6, 1, 6, 6])
  t.same(blocks.filter((b) => b.readUInt32LE(0) === 6).map((b) => b.readUInt32LE(8)), [0, 0, 1, 0], 'interface ids in IDB order')
  t.same(f.peers, ['rc', 'ntb'])
})
