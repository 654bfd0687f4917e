// Random round trips between a PackedVirtqueue (driver) and a VringhPacked
// (device) over one Region, for packed-queue.test.ts, in the manner of
// vring-random.ts: the device disables kicks while it works and re-enables
// them when the ring is empty; the driver disables interrupts while it polls
// and re-enables them when no used descriptor waits. Buffers complete in
// order or out of order (packed rings allow both through buffer ids).
// Besides contents, it records any kick or interrupt that a waiting side
// needed and was not given, and counts how often each wrap counter flipped.

import { Region } from '../../daemon/src/mem/region.js'
import { packedLayout } from '../../daemon/src/uapi/virtio-packed.js'
import { PackedVirtqueue, type IndirectAllocator, type Segment } from '../../daemon/src/virtio/packed-virtqueue.js'
import { VringhPacked, type VringhPackedDesc } from '../../daemon/src/vhost/vringh-packed.js'
import { mulberry32 } from './loop-link.js'

const DATA = 0x10000
const SLOT = 2048
const TABLES = 0x8000
const TABLE_SLOT = 128

export interface PackedRunOptions { num: number, inOrder: boolean }
export interface Flips { driverAvail: number, driverUsed: number, deviceAvail: number, deviceUsed: number }
export interface PackedRoundTrips {
  verified: number
  problems: string[]
  vq: PackedVirtqueue<number>
  dev: VringhPacked
  tablesLive: number
  flips: Flips
}

/** Fixed 128-byte table slots; refuses at random so direct chains are mixed in. */
class SlotTables implements IndirectAllocator {
  private readonly slots: number[]
  live = 0
  constructor (num: number, private readonly rand: () => number) {
    this.slots = Array.from({ length: num }, (_, i) => TABLES + TABLE_SLOT * i)
  }

  alloc (bytes: number): number | null {
    if (bytes > TABLE_SLOT || this.rand() < 0.1 || this.slots.length === 0) return null
    this.live++
    return this.slots.pop()!
  }

  free (addr: number): void { this.live--; this.slots.push(addr) }
}

interface Expect { out: Buffer, reply: Buffer, slot: number }

const concat = (mem: Region, segs: Segment[]): Buffer => Buffer.concat(segs.map((s) => Buffer.from(mem.read(s.addr, s.len))))

export function packedRoundTrips (features: bigint, total: number, seed: number, { num, inOrder }: PackedRunOptions): PackedRoundTrips {
  const rand = mulberry32(seed)
  const int = (n: number): number => Math.floor(rand() * n)
  const mem = new Region(1, 'mem', DATA + SLOT * num)
  const layout = packedLayout(0, num)
  const tables = new SlotTables(num, rand)
  const vq = new PackedVirtqueue<number>(mem, layout, { features, indirect: tables })
  const dev = new VringhPacked(mem, layout, { features })
  const problems: string[] = []
  /** The first 20 are enough to tell what went wrong. */
  const problem = (what: string): void => { if (problems.length < 20) problems.push(what) }
  const flips: Flips = { driverAvail: 0, driverUsed: 0, deviceAvail: 0, deviceUsed: 0 }
  const expected = new Map<number, Expect>()
  const slotToken: number[] = []
  const freeSlots = Array.from({ length: num }, (_, i) => i)
  const pending: VringhPackedDesc[] = []
  let nextToken = 0
  let verified = 0
  let deviceWaiting = false
  let kicked = false
  let addedSinceDeviceWait = 0
  let driverWaiting = false
  let completedSinceDriverWait = 0

  const kick = (): void => {
    const k = vq.kickPrepare()
    if (deviceWaiting && !kicked && addedSinceDeviceWait > 0 && !k) problem(`lost kick after ${addedSinceDeviceWait} adds`)
    if (k) kicked = true
  }

  const driverAdd = (): boolean => {
    const nOut = int(4)
    const nIn = nOut === 0 ? 1 + int(3) : int(4)
    if (nextToken === total || vq.numFree === 0 || freeSlots.length === 0 || nOut + nIn > num) return false
    const slot = freeSlots.pop()!
    let at = DATA + SLOT * slot
    const seg = (): Segment => { const s = { addr: at, len: int(200) }; at += s.len; return s }
    const out = Array.from({ length: nOut }, seg)
    const inn = Array.from({ length: nIn }, seg)
    const outBytes = Buffer.from(Array.from({ length: out.reduce((n, s) => n + s.len, 0) }, () => int(256)))
    let o = 0
    for (const s of out) { mem.write(s.addr, outBytes.subarray(o, o + s.len)); o += s.len }
    const token = nextToken
    const wrap = vq.availWrap
    try {
      vq.add(out, inn, token)
    } catch (err) {
      freeSlots.push(slot)
      if ((err as { code?: string }).code !== 'ERR_RING_FULL') throw err
      return false
    }
    if (vq.availWrap !== wrap) flips.driverAvail++
    nextToken++
    expected.set(token, { out: outBytes, reply: Buffer.alloc(0), slot })
    slotToken[slot] = token
    addedSinceDeviceWait++
    return true
  }

  const deviceWork = (): void => {
    for (let n = int(4); n > 0 && !deviceWaiting; n--) {
      const wrap = dev.availWrap
      const d = dev.getDesc()
      if (dev.availWrap !== wrap) flips.deviceAvail++
      if (d === null) {
        if (dev.notifyEnable()) { deviceWaiting = true; addedSinceDeviceWait = 0 }
        continue
      }
      pending.push(d)
    }
    let completed = 0
    for (let n = int(4); n > 0 && pending.length > 0; n--) {
      const d = pending.splice(inOrder ? 0 : int(pending.length), 1)[0]!
      const out = concat(mem, d.readable)
      const e = expected.get(slotToken[Math.floor(((d.readable[0] ?? d.writable[0])!.addr - DATA) / SLOT)]!)
      if (e === undefined || !e.out.equals(out)) problem(`device read the wrong bytes for id ${d.id}`)
      const reply = Buffer.from(Array.from({ length: int(d.writableBytes + 1) }, (_, k) => (out[k % Math.max(out.length, 1)] ?? 0) ^ k))
      let w = 0
      for (const s of d.writable) {
        const n = Math.min(s.len, reply.length - w)
        mem.write(s.addr, reply.subarray(w, w + n))
        w += n
      }
      if (e !== undefined) e.reply = reply
      const wrap = dev.usedWrap
      dev.complete(d.id, reply.length)
      if (dev.usedWrap !== wrap) flips.deviceUsed++
      completed++
    }
    if (completed === 0) return
    completedSinceDriverWait += completed
    const notify = dev.needNotify()
    if (driverWaiting && !notify) problem(`lost interrupt after ${completedSinceDriverWait} completions`)
    if (notify) { driverWaiting = false; vq.disableCb() }
  }

  const driverPoll = (): void => {
    for (let n = 1 + int(4); n > 0; n--) {
      const wrap = vq.usedWrap
      const b = vq.getBuf()
      if (vq.usedWrap !== wrap) flips.driverUsed++
      if (b === null) {
        if (vq.enableCb()) { driverWaiting = true; completedSinceDriverWait = 0 }
        return
      }
      const e = expected.get(b.token)!
      expected.delete(b.token)
      freeSlots.push(e.slot)
      const inn = Buffer.from(mem.read(DATA + SLOT * e.slot + e.out.length, b.len))
      if (b.len !== e.reply.length || !inn.equals(e.reply)) problem(`token ${b.token}: reply of ${b.len} bytes differs`)
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
  return { verified, problems, vq, dev, tablesLive: tables.live, flips }
}
