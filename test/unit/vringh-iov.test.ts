// vringh_iov_pull/push over a descriptor chain's segments (vhost/vringh-iov.ts).

import t from 'tap'
import { iovPull, iovPush } from '../../daemon/src/vhost/vringh-iov.js'

function memory (size: number): { bytes: Uint8Array, writes: number[], read: (a: number, n: number) => Uint8Array, write: (a: number, b: Uint8Array) => void } {
  const bytes = new Uint8Array(size)
  const writes: number[] = []
  return {
    bytes,
    writes,
    read: (a, n) => bytes.slice(a, a + n),
    write: (a, b) => { writes.push(a); bytes.set(b, a) }
  }
}

t.test('pull joins the segments in order', async (t) => {
  const mem = memory(64)
  mem.bytes.set([1, 2, 3], 10)
  mem.bytes.set([4, 5], 40)
  t.same([...iovPull(mem, [{ addr: 10, len: 3 }, { addr: 40, len: 2 }], 5)], [1, 2, 3, 4, 5])
  t.same([...iovPull(mem, [{ addr: 40, len: 2 }], 2)], [4, 5], 'one segment')
})

t.test('push writes each piece where the segments put it, from a position', async (t) => {
  const mem = memory(64)
  const segs = [{ addr: 8, len: 3 }, { addr: 32, len: 4 }]
  iovPush(mem, segs, Uint8Array.of(1, 2))
  iovPush(mem, segs, Uint8Array.of(3, 4, 5, 6), 2)
  t.same([...mem.bytes.subarray(8, 11)], [1, 2, 3])
  t.same([...mem.bytes.subarray(32, 36)], [4, 5, 6, 0])
  t.same(mem.writes, [8, 10, 32], 'the second part starts inside the first segment')
  iovPush(mem, segs, Uint8Array.of(9, 9, 9, 9), 5)
  t.same([...mem.bytes.subarray(32, 36)], [4, 5, 9, 9], 'what does not fit is not written')
})
