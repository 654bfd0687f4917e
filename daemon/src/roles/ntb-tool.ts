// ntb_tool on an NTB host (drivers/ntb/test/ntb_tool.c: link, db, mask,
// peer_db, spad, peer_spad, mw_trans, peer_mw_trans), and who owns what of
// the NTB device. Linux binds one client per NTB device, so ntb_tool never
// shares one with ntb_transport. Here the tool shares the device with the
// virtio/vhost transport and ntb_perf, so what they own is refused with
// ERR_BUSY, naming the owner, unless the caller says force: MW0; doorbell
// bits 0..MAX_VQS-1 (queue notifications, whichever queues a session sets
// up) and CONFIG_DB; scratchpads 0..22 (ntb_virtio.h) and 23..31 (device
// config: room for 36 bytes, soclink's devices use 8), on both hosts; the
// link's disabling; and ntb_perf's MW1 and two doorbell bits. The role owns
// this policy, so every caller (the REST routes, or code in process) is
// refused alike.

import type { NtbHwEpf } from '../hw/ntb/ntb-hw-epf.js'
import { checkDbBits } from '../hw/ntb/doorbell-status.js'
import { PERF_MW, type NtbPerf } from '../transport/ntb-perf.js'
import type { NtbVirtio } from '../transport/ntb-virtio.js'
import type { NtbVhost } from '../transport/ntb-vhost.js'
import { configDbBit, MAX_VQS, Spad } from '../transport/ntb-spads.js'
import { BusyError, OutOfRangeError, UnavailableError } from '../errors.js'

/** Spads 0..22 are ntb_virtio.h's table; the device config follows, given room up to here. */
export const TRANSPORT_SPADS = 32

/** What ntb_tool needs of the host role: its device and the clients sharing it. */
export interface NtbToolHost {
  readonly device: NtbHwEpf | null
  readonly virtio: NtbVirtio | null
  readonly vhost: NtbVhost | null
  readonly perf: NtbPerf | null
  readonly lastError: string
}

export interface DbOwner { bit: number, owner: string }
export interface SpadOwner { from: number, to: number, owner: string }
export interface DbView { bits: number, mask: number, validMask: number, vectorCount: number, owned: DbOwner[] }
export interface WindowView { widx: number, addrAlign: number, sizeAlign: number, sizeMax: number, translation: { addr: number, size: number } | null, owner: string | null }
export interface DbWrite { clear?: number, mask?: number, unmask?: number, force?: boolean }

const refuse = (what: string, owner: string): BusyError => new BusyError(`${what} belongs to ${owner}; force: true (soclink ntb ... --force) does it anyway`)

export class NtbTool {
  constructor (private readonly host: NtbToolHost) {}

  /** The bound and initialised NTB device; 503 ERR_UNAVAILABLE without one. */
  device (): NtbHwEpf {
    const dev = this.host.device
    if (dev === null) {
      throw new UnavailableError(`no NTB device on this host now: the board's NTB function is not enumerated${this.host.lastError !== '' ? ` (last error: ${this.host.lastError})` : ''}`)
    }
    if (!dev.ready) throw new UnavailableError(`${dev.name} is still initialising`)
    return dev
  }

  /** ntb_perf on the device; 503 ERR_UNAVAILABLE before the transport started. */
  perf (): NtbPerf {
    this.device()
    if (this.host.perf === null) throw new UnavailableError('ntb_perf is not running: the transport has not started on this NTB device yet')
    return this.host.perf
  }

  /** link_enable or link_disable; disabling ends the transport's session, so it is the transport's unless forced. */
  async setLink (up: boolean, force?: boolean): Promise<{ enabled: boolean, link: boolean }> {
    const dev = this.device()
    const t = this.transportName()
    if (!up && force !== true && t !== null) throw refuse('the link', `${t} (its session ends when the link goes down)`)
    await (up ? dev.linkEnable() : dev.linkDisable())
    return { enabled: up, link: dev.linkIsUp() }
  }

  db (): DbView {
    const dev = this.device()
    return { bits: dev.dbRead(), mask: dev.dbReadMask(), validMask: dev.dbValidMask(), vectorCount: dev.dbVectorCount(), owned: this.dbOwners(dev) }
  }

  /** db_clear, db_set_mask, db_clear_mask, in that order; all checked before any is done. */
  writeDb (w: DbWrite): DbView {
    const dev = this.device()
    const ops: Array<[number | undefined, string, (bits: number) => void]> = [
      [w.clear, 'db_clear', (b) => { dev.dbClear(b) }],
      [w.mask, 'db_set_mask', (b) => { dev.dbSetMask(b) }],
      [w.unmask, 'db_clear_mask', (b) => { dev.dbClearMask(b) }]
    ]
    for (const [bits, what] of ops) {
      if (bits === undefined) continue
      checkDbBits(bits, dev.dbValidMask(), what)
      this.guardBits(dev, bits, what, w.force)
    }
    for (const [bits, , apply] of ops) if (bits !== undefined) apply(bits)
    return this.db()
  }

  /** peer_db_set: rings doorbell bits on the other host. */
  peerDb (bits: number, force?: boolean): { rang: number } {
    const dev = this.device()
    checkDbBits(bits, dev.dbValidMask(), 'peer_db_set')
    if (bits === 0) throw new OutOfRangeError('peer_db_set: no bits to ring')
    this.guardBits(dev, bits, 'peer_db_set', force)
    dev.peerDbSet(bits)
    return { rang: bits }
  }

  spads (): { count: number, spads: number[], peerSpads: number[], owned: SpadOwner[] } {
    const st = this.device().state()
    return { count: st.spadCount, spads: st.spads, peerSpads: st.peerSpads, owned: this.spadOwners(st.spadCount) }
  }

  /** spad_write (this host's, `peer` false) or peer_spad_write. */
  writeSpad (idx: number, value: number, peer: boolean, force?: boolean): { idx: number, value: number } {
    const dev = this.device()
    if (force !== true) {
      const hit = this.spadOwners(dev.spadCount()).find((r) => idx >= r.from && idx <= r.to)
      if (hit !== undefined) throw refuse(`${peer ? 'peer_spad_write: scratchpad' : 'spad_write: scratchpad'} ${idx}`, hit.owner)
    }
    if (peer) dev.peerSpadWrite(idx, value)
    else dev.spadWrite(idx, value)
    return { idx, value: peer ? dev.peerSpadRead(idx) : dev.spadRead(idx) }
  }

  windows (): { count: number, windows: WindowView[], peerWindows: Array<{ widx: number, base: number, size: number }> } {
    const dev = this.device()
    return {
      count: dev.mwCount(),
      windows: Array.from({ length: dev.mwCount() }, (_, w) => this.windowView(dev, w)),
      peerWindows: Array.from({ length: dev.peerMwCount() }, (_, w) => {
        const p = dev.peerMwGetAddr(w)
        return { widx: w, base: p.base, size: p.size }
      })
    }
  }

  /** mw_set_trans: the peer's writes to window widx land at [addr, addr + size) of this host's memory. */
  async setTranslation (widx: number, addr: number, size: number, force?: boolean): Promise<WindowView> {
    const dev = this.device()
    this.guardWindow(widx, force)
    await dev.mwSetTrans(widx, addr, size)
    return this.windowView(dev, widx)
  }

  /** mw_clear_trans. */
  async clearTranslation (widx: number, force?: boolean): Promise<WindowView> {
    const dev = this.device()
    this.guardWindow(widx, force)
    await dev.mwClearTrans(widx)
    return this.windowView(dev, widx)
  }

  private transportName (): string | null {
    return this.host.virtio !== null ? 'the ntb-virtio transport' : this.host.vhost !== null ? 'the ntb-vhost transport' : null
  }

  /** Doorbell bits in use, lowest first. */
  private dbOwners (dev: NtbHwEpf): DbOwner[] {
    const out: DbOwner[] = []
    const valid = dev.dbValidMask()
    const t = this.transportName()
    if (t !== null) {
      for (let b = 0; b < MAX_VQS; b++) if (((valid >>> b) & 1) !== 0) out.push({ bit: b, owner: `${t} (queue notifications: vq k rings bit k)` })
    }
    const bits = this.host.perf?.ownedBits ?? null
    if (bits !== null) out.push({ bit: bits.answer, owner: 'ntb_perf (answers)' }, { bit: bits.request, owner: 'ntb_perf (requests)' })
    const config = configDbBit(valid)
    if (t !== null && config >= 0) out.push({ bit: config, owner: `${t} (CONFIG_DB)` })
    return out
  }

  private spadOwners (count: number): SpadOwner[] {
    const t = this.transportName()
    if (t === null) return []
    const ranges = [
      { from: 0, to: Spad.VHOST_DEVICE_CFG_SPACE - 1, owner: `${t} (ntb_virtio.h scratchpads)` },
      { from: Spad.VHOST_DEVICE_CFG_SPACE, to: TRANSPORT_SPADS - 1, owner: `${t} (device config)` }
    ]
    return ranges.filter((r) => r.from < count).map((r) => ({ ...r, to: Math.min(r.to, count - 1) }))
  }

  private mwOwner (widx: number): string | null {
    const t = this.transportName()
    if (widx === 0 && t !== null) return `${t} (MW0: rings and buffers)`
    const perf = this.host.perf
    if (widx === PERF_MW && perf !== null && perf.state !== 'unavailable') return 'ntb_perf (its buffer)'
    return null
  }

  private guardBits (dev: NtbHwEpf, bits: number, what: string, force: boolean | undefined): void {
    if (force === true) return
    const hit = this.dbOwners(dev).find((o) => ((bits >>> o.bit) & 1) !== 0)
    if (hit !== undefined) throw refuse(`${what}: doorbell bit ${hit.bit}`, hit.owner)
  }

  private guardWindow (widx: number, force: boolean | undefined): void {
    const owner = this.mwOwner(widx)
    if (owner !== null && force !== true) throw refuse(`memory window ${widx}`, owner)
  }

  private windowView (dev: NtbHwEpf, widx: number): WindowView {
    const a = dev.mwGetAlign(widx)
    const tr = dev.state().translations.find((t) => t.widx === widx)
    return { widx, addrAlign: a.addrAlign, sizeAlign: a.sizeAlign, sizeMax: a.sizeMax, translation: tr === undefined ? null : { addr: tr.addr, size: tr.size }, owner: this.mwOwner(widx) }
  }
}
