// What the API shows of the NTB roles: the board's pairs with each host's
// interface of the NTB function (pci-epf-ntb.c: link, doorbells and the
// MSIs they raised, memory windows and where they are translated,
// scratchpads), and a host's NTB device (ntb_hw_epf as include/linux/ntb.h
// reports it) with the transport above it. Plain objects of the
// contracts' types (proto/api/ntb.ts).

import { SoclinkError } from '../errors.js'
import type { NtbBoardRole, NtbPairView } from './ntb-board.js'
import { MW0_BASE, type NtbHostRole } from './ntb-host.js'
import type { NtbHwEpfState } from '../hw/ntb/ntb-hw-epf.js'
import * as R from '../hw/ntb/epf-ntb-regs.js'
import { Spad, TYPE_VHOST, TYPE_VIRTIO } from '../transport/ntb-spads.js'
import type { RingAddrs } from '../uapi/ring-addrs.js'
import { VIRTIO_CONFIG_S_DRIVER_OK } from '../uapi/virtio-config.js'
import { statusBits, tryRead } from '../api/pcie-views.js'
import type { NtbBoard, NtbDeviceState, NtbHost, NtbInterface, NtbPair, NtbQueue, NtbTransportState } from '../../../proto/api/index.js'

/** A route for an NTB role this daemon does not have. */
export class NotNtbError extends SoclinkError {
  constructor (what: string, role: string) {
    super('ERR_NOT_FOUND', `this daemon is not an NTB ${what} (role ${role})`)
  }
}

// ------------------------------------------------------------ board

export type MemoryWindowView = NtbInterface['memoryWindows'][number]

export type InterfaceView = NtbInterface

export type PairView = NtbPair

export function pairView (p: NtbPairView): PairView {
  const f = p.function
  const ifaces = f.interfaces
  return {
    name: p.name,
    a: p.a,
    b: p.b,
    configured: p.configured,
    layout: f.layout,
    interfaces: ifaces.map((i) => {
      const other = ifaces.find((x) => x !== i)
      return {
        side: i.side,
        host: i.host,
        controller: i.controller,
        started: i.started,
        linkup: i.linkup,
        linkStatus: i.linkStatus,
        doorbells: i.doorbells,
        msi: i.msi,
        spads: i.spads,
        peerSpadBacked: i.peerSpadBacked,
        lastError: i.lastError,
        counters: i.counters,
        peer: other?.host ?? (i.host === p.a ? p.b : p.a),
        memoryWindows: f.config.mwSizes.map((size, idx) => {
          const tr = other?.mws.find((m) => m.idx === idx)
          return {
            idx,
            bar: R.mwBar(idx),
            offset: idx === 0 ? f.layout.mw1Offset : 0,
            size,
            translation: tr === undefined ? null : { addr: tr.addr, size: tr.size, state: tr.state, attached: tr.attached }
          }
        })
      }
    })
  }
}

export function boardView (role: NtbBoardRole): NtbBoard {
  const v = role.view()
  return { role: 'ntb', autoPairing: v.autoPairing, config: v.config, pairs: v.pairs.map(pairView), unpaired: v.unpaired }
}

// ------------------------------------------------------------ host

export type QueueView = NtbQueue

type Read16 = (addr: number) => number

/** Split rings' indices, read where this side reads them; null for packed rings or while unreachable. */
function indices (a: RingAddrs | undefined, read16: Read16 | null): { availIdx: number | null, usedIdx: number | null } {
  if (a === undefined || a.layout !== 'split' || read16 === null) return { availIdx: null, usedIdx: null }
  return { availIdx: tryRead(() => read16(a.driver + 2), null), usedIdx: tryRead(() => read16(a.device + 2), null) }
}

const addrsOf = (a: RingAddrs | undefined): Pick<QueueView, 'layout' | 'desc' | 'driverArea' | 'deviceArea'> =>
  ({ layout: a?.layout ?? null, desc: a?.desc ?? null, driverArea: a?.driver ?? null, deviceArea: a?.device ?? null })

const PEER_TYPES: Record<number, string> = { 0: 'none', [TYPE_VIRTIO]: 'virtio', [TYPE_VHOST]: 'vhost' }

function transportView (role: NtbHostRole): NtbTransportState | null {
  const v = role.virtio
  const h = role.vhost
  const ntb = v?.ntb ?? h?.ntb
  if (ntb === undefined) return null
  // Spad 0 is where the other side writes its TYPE (ntb_virtio.h VIRTIO_TYPE).
  const type = tryRead(() => ntb.spadRead(Spad.VIRTIO_TYPE), 0)
  const base = { peerType: PEER_TYPES[type] ?? `unknown (${type})`, lastError: (v ?? h)!.lastError?.message ?? '' }
  if (v !== null) {
    const d = v.device
    const status = d === null ? 0 : tryRead(() => d.status, 0)
    return {
      transport: 'ntb-virtio',
      state: v.state,
      ...base,
      virtioAddr: v.state === 'up' ? MW0_BASE : null,
      mwSize: v.mwSize,
      device: d === null ? null : { name: d.name, deviceId: d.id.device, vendorId: d.id.vendor, status, statusBits: statusBits(status), features: `0x${d.features.toString(16)}`, driver: d.driver?.name ?? null },
      queues: v.vqs.map((vq) => ({
        index: vq.index, name: vq.name, size: vq.num, ...addrsOf(vq.addrs), ...indices(vq.addrs, (addr) => role.rc.sysmem.read16(addr)),
        ready: (status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 && !vq.broken,
        counters: { kicks: vq.counters.kicks, interrupts: vq.interrupts, buffers: vq.counters.used }
      })),
      counters: { ...v.counters }
    }
  }
  const t = h!
  const d = t.device
  const status = tryRead(() => d.getStatus(), 0)
  // The vhost side reads ring indices through the transport: the virtio host's MW0, by its addresses.
  const read16: Read16 | null = t.state === 'up' ? (addr) => { const b = t.read(addr, 2); return b[0]! | (b[1]! << 8) } : null
  return {
    transport: 'ntb-vhost',
    state: t.state,
    ...base,
    virtioAddr: t.virtioAddr,
    mwSize: tryRead(() => ntb.peerMwGetAddr(0).size, null),
    device: { name: d.name, deviceId: d.id.device, vendorId: d.id.vendor, status, statusBits: statusBits(status), features: `0x${d.features.toString(16)}`, driver: d.driver?.name ?? null },
    queues: t.vqs.map((vq) => ({
      index: vq.index, name: vq.name, size: vq.num, ...addrsOf(t.addrs[vq.index]), ...indices(vq.ready ? t.addrs[vq.index] : undefined, read16),
      ready: vq.ready,
      counters: { kicks: vq.counters.kicks, interrupts: vq.counters.interrupts, buffers: vq.counters.buffers }
    })),
    counters: { ...t.counters }
  }
}

function deviceView (role: NtbHostRole): NtbDeviceState | null {
  const dev = role.device
  if (dev === null) return null
  const s: NtbHwEpfState = dev.state()
  const align = s.ready ? tryRead(() => dev.mwGetAlign(0), null) : null
  return { ...s, mwAlign: align === null ? null : { addrAlign: align.addrAlign, sizeAlign: align.sizeAlign } }
}

export function hostView (role: NtbHostRole): NtbHost {
  return {
    // The host's role follows from its side (an ntb-virtio host's role has side virtio).
    role: role.side === 'virtio' ? 'ntb-virtio' : 'ntb-vhost',
    side: role.side,
    board: role.board,
    memorySize: role.rc.sysmem.size,
    lastError: role.lastError,
    retrying: role.retry.pending,
    device: deviceView(role),
    transport: transportView(role)
  }
}
