// An in-memory NTB: two NtbDevice objects wired to each other, a test
// double of the hardware for unit tests (the board and ntb_hw_epf models
// join in end-to-end tests). Each host's system memory is a Region;
// mwSetTrans(0, addr, size) makes the other host's peer MW 0 a view of
// [addr, addr + size) of it; scratchpads are two arrays where the peer's
// writes land in this host's own; doorbells are bits, delivered on a later
// turn (setImmediate) as 'db' events, one vector per dbVectors-th bit; the
// link is up while both hosts have enabled it, and each change is a 'link'
// event on both, on a later turn.
//
// Test hooks: every peerDbSet's bits (rang), accesses through the peer MW
// view (counts, the highest offset touched, and refusals: accesses outside
// the translation, which never reach memory).
//
// ntbTransports() builds HOST1 (NtbVhost over a vhost bus) and HOST2
// (NtbVirtio over a virtio bus) on such a pair.

import { EventEmitter } from 'node:events'
import pino, { type Logger } from 'pino'
import { Region } from '../../daemon/src/mem/region.js'
import { u64Bytes, type MemoryAccess } from '../../daemon/src/mem/access.js'
import type { MwAlign, NtbDevice, NtbEvents, PeerMw } from '../../daemon/src/hw/ntb/ntb.js'
import { OutOfRangeError, UnavailableError } from '../../daemon/src/errors.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import type { VhostDriver } from '../../daemon/src/vhost/vhost.js'
import type { VirtioDriver, VirtioDevice } from '../../daemon/src/virtio/virtio.js'
import type { ProbeOutcome } from '../../daemon/src/virtio/bus.js'
import type { DeviceId } from '../../daemon/src/uapi/soclink-ids.js'
import { NtbVhost } from '../../daemon/src/transport/ntb-vhost.js'
import { NtbVirtio } from '../../daemon/src/transport/ntb-virtio.js'

export interface NtbPairOptions {
  /** Size of each host's system memory; default 64 MiB. */
  memorySize?: number
  /** Size of each host's peer MW 0 (the BAR the peer translates); default 4 MiB. */
  mwSize?: number
  spadCount?: number
  /** Valid doorbell bits; default 16. */
  dbBits?: number
  /** Doorbell vectors; bit b raises vector b % dbVectors; default one per bit. */
  dbVectors?: number
}

interface Translation { addr: number, size: number }

export interface MwViewCounters { reads: number, writes: number, refused: number, highest: number }

/** What one host reaches through its peer MW 0: the other host's memory, through that host's translation. */
class MwView implements MemoryAccess {
  readonly counters: MwViewCounters = { reads: 0, writes: 0, refused: 0, highest: 0 }

  constructor (private readonly owner: NtbSide, readonly size: number) {}

  read8 (o: number): number { return this.target(o, 1, false).read8(this.addr(o)) }
  read16 (o: number): number { return this.target(o, 2, false).read16(this.addr(o)) }
  read32 (o: number): number { return this.target(o, 4, false).read32(this.addr(o)) }
  read64 (o: number): number { return this.target(o, 8, false).read64(this.addr(o)) }
  read (o: number, length: number): Uint8Array { return this.target(o, length, false).read(this.addr(o), length) }
  readInto (o: number, into: Uint8Array): void { this.target(o, into.length, false).readInto(this.addr(o), into) }
  write8 (o: number, v: number): void { this.write(o, Uint8Array.of(v & 0xff)) }
  write16 (o: number, v: number): void { this.write(o, Uint8Array.of(v & 0xff, (v >>> 8) & 0xff)) }
  write32 (o: number, v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); this.write(o, b) }
  write64 (o: number, v: number): void { this.write(o, u64Bytes(v)) }
  /** Through the board: the owner of the memory sees a write from outside (origin this view). */
  write (o: number, bytes: Uint8Array): void { this.target(o, bytes.length, true).writeFrom(this.addr(o), bytes, this) }

  private addr (o: number): number { return this.owner.peer.translation!.addr + o }

  private target (o: number, length: number, write: boolean): Region {
    const t = this.owner.peer.translation
    if (t === null || !Number.isSafeInteger(o) || o < 0 || o + length > Math.min(t.size, this.size)) {
      this.counters.refused++
      if (t === null) throw new UnavailableError(`${this.owner.name}: peer MW 0 has no translation`)
      throw new OutOfRangeError(`${this.owner.name}: ${length} bytes at ${o} are outside peer MW 0 (${t.size} bytes translated)`)
    }
    if (write) this.counters.writes++
    else this.counters.reads++
    this.counters.highest = Math.max(this.counters.highest, o + length)
    return this.owner.peer.memory
  }
}

export class NtbSide extends EventEmitter<NtbEvents> implements NtbDevice {
  peer!: NtbSide
  readonly memory: Region
  readonly spads: number[]
  /** Bits of every peerDbSet, in order. */
  readonly rang: number[] = []
  /** The inbound translation of MW 0 into this host's memory. */
  translation: Translation | null = null
  enabled = false
  readonly view: MwView
  private db = 0
  private mask = 0
  private readonly validMask: number
  private readonly vectors: number

  constructor (readonly name: string, id: number, private readonly o: Required<NtbPairOptions>) {
    super()
    this.memory = new Region(id, `${name}-sysmem`, o.memorySize)
    this.spads = new Array<number>(o.spadCount).fill(0)
    this.validMask = 2 ** o.dbBits - 1
    this.vectors = o.dbVectors
    this.view = new MwView(this, o.mwSize)
  }

  linkIsUp (): boolean { return this.enabled && this.peer.enabled }

  async linkEnable (): Promise<void> { this.setEnabled(true) }
  async linkDisable (): Promise<void> { this.setEnabled(false) }

  private setEnabled (on: boolean): void {
    const before = this.linkIsUp()
    this.enabled = on
    if (this.linkIsUp() === before) return
    for (const side of [this, this.peer]) setImmediate(() => { side.emit('link') })
  }

  mwCount (): number { return 1 }
  mwGetAlign (widx: number): MwAlign {
    this.checkMw(widx)
    return { addrAlign: 4096, sizeAlign: 1, sizeMax: this.peer.o.mwSize }
  }

  async mwSetTrans (widx: number, addr: number, size: number): Promise<void> {
    this.checkMw(widx)
    if (addr % 4096 !== 0 || size > this.peer.o.mwSize || addr + size > this.memory.size) throw new OutOfRangeError(`mw_set_trans(0x${addr.toString(16)}, ${size}) does not fit`)
    this.translation = { addr, size }
  }

  async mwClearTrans (widx: number): Promise<void> {
    this.checkMw(widx)
    this.translation = null
  }

  peerMwCount (): number { return 1 }
  peerMwGetAddr (widx: number): PeerMw {
    this.checkMw(widx)
    return { base: 0xe000_0000, size: this.o.mwSize, memory: this.view }
  }

  dbValidMask (): number { return this.validMask }
  dbVectorCount (): number { return this.vectors }
  dbVectorMask (vector: number): number {
    let m = 0
    for (let b = vector; b < this.o.dbBits; b += this.vectors) m += 2 ** b
    return m
  }

  dbRead (): number { return this.db }
  dbClear (bits: number): void { this.db = (this.db & ~bits) >>> 0 }
  dbReadMask (): number { return this.mask }
  dbSetMask (bits: number): void { this.mask = (this.mask | bits) >>> 0 }
  dbClearMask (bits: number): void {
    this.mask = (this.mask & ~bits) >>> 0
    setImmediate(() => { this.raise() })
  }

  peerDbSet (bits: number): void {
    if (bits === 0 || (bits & ~this.peer.validMask) !== 0) throw new OutOfRangeError(`peer_db_set(0x${bits.toString(16)}): valid mask 0x${this.peer.validMask.toString(16)}`)
    this.rang.push(bits)
    if (!this.linkIsUp()) return
    setImmediate(() => {
      this.peer.db = (this.peer.db | bits) >>> 0
      this.peer.raise()
    })
  }

  /** A 'db' event for each vector with bits rung and not masked. */
  private raise (): void {
    const pending = this.db & ~this.mask
    for (let v = 0; v < this.vectors; v++) if ((pending & this.dbVectorMask(v)) !== 0) this.emit('db', v)
  }

  spadCount (): number { return this.spads.length }
  spadRead (idx: number): number { return this.spads[this.checkSpad(idx)]! }
  spadWrite (idx: number, value: number): void { this.spads[this.checkSpad(idx)] = value >>> 0 }
  peerSpadRead (idx: number): number { return this.peer.spads[this.checkSpad(idx)]! }
  peerSpadWrite (idx: number, value: number): void { this.peer.spads[this.checkSpad(idx)] = value >>> 0 }

  private checkSpad (idx: number): number {
    if (!Number.isInteger(idx) || idx < 0 || idx >= this.spads.length) throw new OutOfRangeError(`scratchpad ${idx} of ${this.spads.length}`)
    return idx
  }

  private checkMw (widx: number): void {
    if (widx !== 0) throw new OutOfRangeError(`memory window ${widx}: there is only 0`)
  }
}

/** HOST1 and HOST2 joined by one in-memory NTB. */
export function ntbPair (opts: NtbPairOptions = {}): { host1: NtbSide, host2: NtbSide } {
  const o: Required<NtbPairOptions> = {
    memorySize: opts.memorySize ?? 64 << 20,
    mwSize: opts.mwSize ?? 4 << 20,
    spadCount: opts.spadCount ?? 64,
    dbBits: opts.dbBits ?? 16,
    dbVectors: opts.dbVectors ?? opts.dbBits ?? 16
  }
  const host1 = new NtbSide('host1', 1, o)
  const host2 = new NtbSide('host2', 2, o)
  host1.peer = host2
  host2.peer = host1
  return { host1, host2 }
}

export const silent: Logger = pino({ level: 'silent' })

export interface NtbTransports {
  host1: NtbSide
  host2: NtbSide
  vhost: NtbVhost
  virtio: NtbVirtio
  vhostBus: VhostBus
  virtioBus: VirtioBus
  /** Where MW0 goes in HOST2's memory. */
  base: number
  /** Resolves with the next device HOST2 presents and its probe outcome. */
  nextDevice: () => Promise<{ dev: VirtioDevice, outcome: ProbeOutcome }>
  stop: () => Promise<void>
}

export interface NtbTransportsOptions extends NtbPairOptions {
  id: DeviceId
  vhostDrivers: VhostDriver[]
  virtioDrivers: VirtioDriver[]
  /** MW0's base in HOST2's memory; default 16 MiB. */
  base?: number
  /** The most MW0 may take on HOST2; default 8 MiB. */
  size?: number
}

/** Both transports on their buses, drivers registered, the vhost device registered, links not enabled yet (start()). */
export async function ntbTransports (opts: NtbTransportsOptions): Promise<NtbTransports & { start: () => Promise<void> }> {
  const { host1, host2 } = ntbPair(opts)
  const base = opts.base ?? 16 << 20
  const vhostBus = new VhostBus()
  const virtioBus = new VirtioBus()
  for (const d of opts.vhostDrivers) await vhostBus.registerDriver(d)
  for (const d of opts.virtioDrivers) await virtioBus.registerDriver(d)
  const vhost = new NtbVhost({ ntb: host1, id: opts.id, logger: silent })
  const virtio = new NtbVirtio({ ntb: host2, memory: host2.memory, base, size: opts.size ?? 8 << 20, bus: virtioBus, logger: silent })
  await vhostBus.registerDevice(vhost.device)
  const nextDevice = async (): Promise<{ dev: VirtioDevice, outcome: ProbeOutcome }> =>
    await new Promise((resolve) => { virtio.once('device', (dev, outcome) => { resolve({ dev, outcome }) }) })
  return {
    host1, host2, vhost, virtio, vhostBus, virtioBus, base, nextDevice,
    start: async () => { await Promise.all([vhost.start(), virtio.start()]) },
    stop: async () => {
      await virtio.stop()
      await vhost.stop()
      await vhostBus.unregisterDevice(vhost.device)
    }
  }
}
