// Random round trips between a SplitVirtqueue (driver) and a Vringh (device)
// over one Region, for vring-queue.test.ts. Both sides run the usual loops:
// the device disables kicks while it works and re-enables them when the ring
// is empty; the driver disables interrupts while it polls and re-enables them
// when the used ring is empty. Buffers are completed out of order. Besides
// checking contents, it records any kick or interrupt that a waiting side
// needed and was not given (a lost wakeup would stall the run).

import { Region } from '../../daemon/src/mem/region.js'
import { splitLayout } from '../../daemon/src/uapi/virtio-ring.js'
import { SplitVirtqueue, type IndirectAllocator, type Segment } from '../../daemon/src/virtio/split-virtqueue.js'
import { Vringh, type VringhDesc } from '../../daemon/src/vhost/vringh.js'
import { mulberry32 } from './loop-link.js'

const NUM = 16
const DATA = 0x10000
const SLOT = 2048
const TABLES = 0x8000
const TABLE_SLOT = 128

export interface RoundTrips { verified: number, problems: string[], vq: SplitVirtqueue<number>, dev: Vringh, tablesLive: number }

/** Fixed 128-byte table slots; refuses at random so direct chains are mixed in. */
class SlotTables implements IndirectAllocator {
  private readonly slots = Array.from({ length: NUM }, (_, i) => TABLES + TABLE_SLOT * i)
  live = 0
  constructor (private readonly rand: () => number) {}
  alloc (bytes: number): number | null {
    if (bytes > TABLE_SLOT || this.rand() < 0.1 || this.slots.length === 0) return null
    this.live++
    return this.slots.pop()!
  }

  free (addr: number): void { this.live--; this.slots.push(addr) }
}

interface Expect { out: Buffer, reply: Buffer, slot: number }

const concat = (mem: Region, segs: Segment[], limit = Infinity): Buffer => {
  const parts: Buffer[] = []
  let left = limit
  for (const s of segs) {
    const n = Math.min(s.len, left)
    parts.push(Buffer.from(mem.read(s.addr, n)))
    left -= n
  }
  return Buffer.concat(parts)
}

export function roundTrips (features: bigint, total: number, seed: number): RoundTrips {
  const rand = mulberry32(seed)
  const int = (n: number): number => Math.floor(rand() * n)
  const mem = new Region(1, 'mem', DATA + SLOT * NUM)
  const layout = splitLayout(0, NUM, 4096)
  const tables = new SlotTables(rand)
  const vq = new SplitVirtqueue<number>(mem, layout, { features, indirect: tables })
  const dev = new Vringh(mem, layout, { features })
  const problems: string[] = []
  const expected = new Map<number, Expect>()
  const slotToken: number[] = []
  const freeSlots = Array.from({ length: NUM }, (_, i) => i)
  const pending: VringhDesc[] = []
  let nextToken = 0
  let verified = 0
  let deviceWaiting = false
  let kicked = false
  let addedSinceDeviceWait = 0
  let driverWaiting = false
  let completedSinceDriverWait = 0

  const kick = (): void => {
    const k = vq.kickPrepare()
    if (deviceWaiting && !kicked && addedSinceDeviceWait > 0 && !k) problems.push(`lost kick after ${addedSinceDeviceWait} adds`)
    if (k) kicked = true
  }

  const driverAdd = (): boolean => {
    const nOut = int(4)
    const nIn = nOut === 0 ? 1 + int(3) : int(4)
    if (nextToken === total || vq.numFree === 0 || freeSlots.length === 0) return false
    const slot = freeSlots.pop()!
    let at = DATA + SLOT * slot
    const seg = (): Segment => { const s = { addr: at, len: int(200) }; at += s.len; return s }
    const out = Array.from({ length: nOut }, seg)
    const inn = Array.from({ length: nIn }, seg)
    const outBytes = Buffer.from(Array.from({ length: out.reduce((n, s) => n + s.len, 0) }, () => int(256)))
    let o = 0
    for (const s of out) { mem.write(s.addr, outBytes.subarray(o, o + s.len)); o += s.len }
    const token = nextToken
    try {
      vq.add(out, inn, token)
    } catch (err) {
      freeSlots.push(slot)
      if ((err as { code?: string }).code !== 'ERR_RING_FULL') throw err
      return false
    }
    nextToken++
    expected.set(token, { out: outBytes, reply: Buffer.alloc(0), slot })
    slotToken[slot] = token
    addedSinceDeviceWait++
    return true
  }

  const deviceWork = (): void => {
    for (let n = int(4); n > 0 && !deviceWaiting; n--) {
      const d = dev.getDesc()
      if (d === null) {
        if (dev.notifyEnable()) { deviceWaiting = true; addedSinceDeviceWait = 0 }
        continue
      }
      pending.push(d)
    }
    let completed = 0
    for (let n = int(4); n > 0 && pending.length > 0; n--) {
      const d = pending.splice(int(pending.length), 1)[0]!
      const out = concat(mem, d.readable)
      const e = expected.get(slotToken[Math.floor(((d.readable[0] ?? d.writable[0])!.addr - DATA) / SLOT)]!)
      if (e === undefined || !e.out.equals(out)) problems.push(`device read the wrong bytes for head ${d.head}`)
      const reply = Buffer.from(Array.from({ length: int(d.writableBytes + 1) }, (_, k) => (out[k % Math.max(out.length, 1)] ?? 0) ^ k))
      let w = 0
      for (const s of d.writable) {
        const n = Math.min(s.len, reply.length - w)
        mem.write(s.addr, reply.subarray(w, w + n))
        w += n
      }
      if (e !== undefined) e.reply = reply
      dev.complete(d.head, reply.length)
      completed++
    }
    if (completed === 0) return
    completedSinceDriverWait += completed
    const notify = dev.needNotify()
    if (driverWaiting && !notify) problems.push(`lost interrupt after ${completedSinceDriverWait} completions`)
    if (notify) { driverWaiting = false; vq.disableCb() }
  }

  const driverPoll = (): void => {
    for (let n = 1 + int(4); n > 0; n--) {
      const b = vq.getBuf()
      if (b === null) {
        if (vq.enableCb()) { driverWaiting = true; completedSinceDriverWait = 0 }
        return
      }
      const e = expected.get(b.token)!
      expected.delete(b.token)
      freeSlots.push(e.slot)
      const inn = concat(mem, [{ addr: DATA + SLOT * e.slot + e.out.length, len: b.len }])
      if (b.len !== e.reply.length || !inn.equals(e.reply)) problems.push(`token ${b.token}: reply of ${b.len} bytes differs`)
      verified++
    }
  }

  for (let steps = 0; (verified < total || vq.inFlight > 0) && steps < total * 100; steps++) {
    const action = rand()
    if (action < 0.4) {
      if (!driverAdd() || rand() < 0.5) kick()
    } else if (action < 0.7) {
      if (kicked && deviceWaiting) { deviceWaiting = false; dev.notifyDisable() }
      kicked = false
      if (!deviceWaiting || pending.length > 0) deviceWork()
    } else if (!driverWaiting) {
      driverPoll()
    }
  }
  return { verified, problems, vq, dev, tablesLive: tables.live }
}
