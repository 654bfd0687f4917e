// rpmsg wire layouts checked against bytes written by hand from the structs:
// rpmsg_hdr {src @0, dst @4, reserved @8, len @12 (u16), flags @14 (u16)},
// rpmsg_ns_msg {name @0, addr @32, flags @36}, rpmsg_as_msg {name @0,
// dst @32, src @36, flags @40}, all little-endian.

import t from 'tap'
import {
  RPMSG_ADDR_ANY, RPMSG_AS_ADDR, RPMSG_AS_ANNOUNCE, RPMSG_AS_ASSIGN, RPMSG_AS_FREE, RPMSG_AS_MSG_SIZE, RPMSG_BUF_SIZE, RPMSG_BUFS_PER_DIRECTION,
  RPMSG_HDR_SIZE, RPMSG_MAX_PAYLOAD, RPMSG_NS_ADDR, RPMSG_NS_CREATE, RPMSG_NS_DESTROY, RPMSG_NS_MSG_SIZE, RPMSG_NUM_BUFS, RPMSG_RESERVED_ADDRESSES,
  RpmsgError, VIRTIO_RPMSG_F_AS, VIRTIO_RPMSG_F_NS, decodeAsMsg, decodeHeader, decodeMessage, decodeName, decodeNsMsg, encodeAsMsg, encodeHeader,
  encodeMessage, encodeName, encodeNsMsg
} from '../../daemon/src/rpmsg/wire.js'
import { SoclinkError } from '../../daemon/src/errors.js'

const name32 = (s: string): number[] => { const a = Array.from(s, (c) => c.charCodeAt(0)); return [...a, ...new Array<number>(32 - a.length).fill(0)] }

t.test('constants', async (t) => {
  t.equal(RPMSG_ADDR_ANY, 0xffffffff)
  t.equal(RPMSG_RESERVED_ADDRESSES, 1024)
  t.equal(RPMSG_NS_ADDR, 53)
  t.equal(RPMSG_AS_ADDR, 54)
  t.same([RPMSG_NS_CREATE, RPMSG_NS_DESTROY, RPMSG_AS_ANNOUNCE], [0, 1, 2])
  t.same([RPMSG_AS_ASSIGN, RPMSG_AS_FREE], [1, 2])
  t.same([VIRTIO_RPMSG_F_NS, VIRTIO_RPMSG_F_AS], [0, 1])
  t.same([RPMSG_HDR_SIZE, RPMSG_NS_MSG_SIZE, RPMSG_AS_MSG_SIZE], [16, 40, 44])
  t.same([RPMSG_BUF_SIZE, RPMSG_MAX_PAYLOAD, RPMSG_NUM_BUFS, RPMSG_BUFS_PER_DIRECTION], [512, 496, 512, 256])
})

t.test('rpmsg_hdr: 16 bytes, little-endian, at offsets 0, 4, 8, 12, 14', async (t) => {
  const h = encodeHeader({ src: 0x04030201, dst: 0x0807_0605, reserved: 0x0c0b0a09, len: 0x0e0d, flags: 0x100f })
  t.same([...h], [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10])
  t.same(decodeHeader(h), { src: 0x04030201, dst: 0x08070605, reserved: 0x0c0b0a09, len: 0x0e0d, flags: 0x100f })
  t.throws(() => encodeHeader({ src: -1, dst: 0, reserved: 0, len: 0, flags: 0 }), { code: 'ERR_RPMSG_FORMAT' })
  t.throws(() => encodeHeader({ src: 0, dst: 0, reserved: 0, len: 0x10000, flags: 0 }), { code: 'ERR_RPMSG_FORMAT' })
})

t.test('messages: header then payload; sizes checked both ways', async (t) => {
  const m = encodeMessage(1024, 53, Uint8Array.of(0xaa, 0xbb, 0xcc))
  t.same([...m], [0x00, 0x04, 0, 0, 53, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0xaa, 0xbb, 0xcc])
  t.same(decodeMessage(m), { src: 1024, dst: 53, flags: 0, payload: Uint8Array.of(0xaa, 0xbb, 0xcc) })
  t.equal(encodeMessage(1, 2, new Uint8Array(496)).length, 512, 'a full buffer')
  const big = (): Uint8Array => encodeMessage(1, 2, new Uint8Array(497))
  t.throws(big, { code: 'ERR_RPMSG_SIZE' })
  try {
    big()
  } catch (err) {
    t.ok(err instanceof RpmsgError && err instanceof SoclinkError, 'an RpmsgError, a SoclinkError')
  }
  // A used length longer than the buffer, a truncated header, a len past the bytes received.
  t.throws(() => decodeMessage(new Uint8Array(513)), { code: 'ERR_RPMSG_SIZE' })
  t.throws(() => decodeMessage(new Uint8Array(15)), { code: 'ERR_RPMSG_FORMAT' })
  const lying = encodeMessage(1, 2, new Uint8Array(10)).subarray(0, 20)
  t.throws(() => decodeMessage(lying), { code: 'ERR_RPMSG_FORMAT' })
  const huge = new Uint8Array(512)
  huge.set(encodeHeader({ src: 1, dst: 2, reserved: 0, len: 497, flags: 0 }))
  t.throws(() => decodeMessage(huge), { code: 'ERR_RPMSG_FORMAT' }, 'len > buffer - 16')
  t.equal(decodeMessage(m.subarray(0, 19)).payload.length, 3)
  const padded = new Uint8Array(40)
  padded.set(m)
  t.same(decodeMessage(padded).payload, Uint8Array.of(0xaa, 0xbb, 0xcc), 'bytes past len are ignored')
})

t.test('names: NUL-padded, at most 31 bytes', async (t) => {
  t.same([...encodeName('rpmsg-client-sample')], name32('rpmsg-client-sample'))
  t.equal(decodeName(encodeName('a'.repeat(31))), 'a'.repeat(31))
  t.throws(() => encodeName('a'.repeat(32)), { code: 'ERR_RPMSG_FORMAT' })
  t.throws(() => encodeName(''), { code: 'ERR_RPMSG_FORMAT' })
  t.throws(() => encodeName('a\0b'), { code: 'ERR_RPMSG_FORMAT' })
  t.throws(() => decodeName(new Uint8Array(32).fill(0x41)), { code: 'ERR_RPMSG_FORMAT' }, 'no NUL')
  t.throws(() => decodeName(Uint8Array.from([0x41, 0, 0x42, ...new Array<number>(29).fill(0)])), { code: 'ERR_RPMSG_FORMAT' }, 'garbage after NUL')
  t.throws(() => decodeName(new Uint8Array(32)), { code: 'ERR_RPMSG_FORMAT' }, 'empty')
  t.throws(() => decodeName(new Uint8Array(31)), { code: 'ERR_RPMSG_FORMAT' }, 'short')
})

t.test('rpmsg_ns_msg: name @0, addr @32, flags @36', async (t) => {
  const b = encodeNsMsg({ name: 'rpmsg-client-sample', addr: 0x0400, flags: RPMSG_NS_CREATE | RPMSG_AS_ANNOUNCE })
  t.same([...b], [...name32('rpmsg-client-sample'), 0x00, 0x04, 0, 0, 0x02, 0, 0, 0])
  t.same(decodeNsMsg(b), { name: 'rpmsg-client-sample', addr: 1024, flags: 2 })
  t.throws(() => decodeNsMsg(b.subarray(0, 39)), { code: 'ERR_RPMSG_FORMAT' })
  t.throws(() => decodeNsMsg(Uint8Array.from([...b, 0])), { code: 'ERR_RPMSG_FORMAT' })
})

t.test('rpmsg_as_msg: name @0, dst @32, src @36, flags @40', async (t) => {
  const b = encodeAsMsg({ name: 'x', dst: 0x0401, src: 0x12345678, flags: RPMSG_AS_ASSIGN })
  t.same([...b], [...name32('x'), 0x01, 0x04, 0, 0, 0x78, 0x56, 0x34, 0x12, 0x01, 0, 0, 0])
  t.same(decodeAsMsg(b), { name: 'x', dst: 1025, src: 0x12345678, flags: 1 })
  t.throws(() => decodeAsMsg(b.subarray(0, 43)), { code: 'ERR_RPMSG_FORMAT' })
  t.throws(() => decodeAsMsg(new Uint8Array(44)), { code: 'ERR_RPMSG_FORMAT' }, 'empty name')
  t.throws(() => encodeAsMsg({ name: 'x', dst: 2 ** 32, src: 0, flags: 0 }), { code: 'ERR_RPMSG_FORMAT' })
})
