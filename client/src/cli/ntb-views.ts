// Human text for `soclink ntb`: the board's pairs, a host's NTB device and
// transport, and ntb_tool's and ntb_perf's answers (pure; tables from
// format.ts). Doorbell bits and scratchpads in hex, as ntb_tool prints them.

import type { NtbBoard, NtbDoorbells, NtbHost, NtbPerfResult, NtbSpads, NtbWindow, NtbWindows } from '../../../proto/api/index.js'
import { formatSize, table } from './format.js'

/** A u32 as 0x and eight hex digits. */
export const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`
const hex = (n: number): string => `0x${n.toString(16)}`
const yesNo = (b: boolean): string => b ? 'yes' : 'no'

/** A translation as ADDR+SIZE. */
export const span = (t: { addr: number, size: number } | null): string | null => t === null ? null : `${hex(t.addr)}+${formatSize(t.size)}`

export function boardText (b: NtbBoard): string {
  const c = b.config
  const head = `NTB board: ${c.numMws} memory window(s) of ${c.mwSizes.map(formatSize).join('/')}, ${c.dbCount} vectors, ${c.spadCount} scratchpads per host; ` +
    `${b.autoPairing ? 'hosts paired in link order' : 'pairs configured'}`
  const unpaired = b.unpaired.length > 0 ? `\nunpaired: ${b.unpaired.join(', ')}` : ''
  if (b.pairs.length === 0) return `${head}${unpaired}\nno pairs`
  const rows = b.pairs.flatMap((p) => p.interfaces.map((i) => [
    p.name, i.side, i.host, i.peer, yesNo(i.started), i.linkStatus ? 'up' : 'down', i.doorbells.count,
    i.memoryWindows.map((m) => `${m.idx}:${span(m.translation) ?? '-'}`).join(' '), i.lastError
  ]))
  return `${head}${unpaired}\n` + table(['pair', 'side', 'host', 'peer', 'started', 'link', 'doorbells', 'translations (into the peer)', 'last error'], rows)
}

/** Non-zero scratchpads as IDX=VALUE, or "all 0". */
export function spadList (values: number[]): string {
  const set = values.map((v, i) => [i, v] as const).filter(([, v]) => v !== 0)
  return set.length === 0 ? 'all 0' : set.map(([i, v]) => `${i}=${hex(v)}`).join(' ')
}

export function hostText (h: NtbHost): string {
  const lines = [`${h.role} on board ${h.board ?? '-'}, system memory ${formatSize(h.memorySize)}${h.lastError !== '' ? `; last error: ${h.lastError}` : ''}`]
  const d = h.device
  if (d === null) {
    lines.push('no NTB device (the board\'s function is not enumerated)')
    return lines.join('\n')
  }
  lines.push(`device ${d.name}: ${d.ready ? 'ready' : 'initialising'}, link ${d.link ? 'up' : 'down'}, ${d.vectors} vectors`)
  lines.push(`doorbells: valid ${hex32(d.dbValidMask)}, rung ${hex32(d.dbBits)}, masked ${hex32(d.dbMask)}`)
  const t = h.transport
  if (t === null) lines.push('transport: none')
  else {
    const dev = t.device === null ? 'no device' : `device ${t.device.name} ${[hex(t.device.status), ...t.device.statusBits].join(' ')}, driver ${t.device.driver ?? '-'}`
    lines.push(`transport ${t.transport}: ${t.state}, peer ${t.peerType}, ${dev}, ${t.queues.length} queue(s)${t.lastError !== '' ? `; last error: ${t.lastError}` : ''}`)
  }
  lines.push(`scratchpads (${d.spadCount}): own ${spadList(d.spads)}; peer ${spadList(d.peerSpads)}`)
  const widxs = Array.from({ length: d.mwCount }, (_, w) => w)
  lines.push(table(['mw', 'translation (inbound)', 'peer base', 'peer size'], widxs.map((w) => {
    const p = d.peerMws.find((m) => m.widx === w)
    return [w, span(d.translations.find((x) => x.widx === w) ?? null), p === undefined ? null : hex(p.base), p === undefined ? null : formatSize(p.size)]
  })))
  return lines.join('\n')
}

export function linkText (r: { enabled: boolean, link: boolean }): string {
  return `link ${r.enabled ? 'enabled' : 'disabled'}; link is ${r.link ? 'up' : r.enabled ? 'down (until the other host enables it)' : 'down'}`
}

export function doorbellsText (db: NtbDoorbells): string {
  const bits = Math.round(Math.log2(db.validMask + 1))
  const head = `valid ${hex32(db.validMask)} (${bits} bits, ${db.vectorCount} vectors)\nrung  ${hex32(db.bits)}\nmask  ${hex32(db.mask)}`
  if (db.owned.length === 0) return head
  return `${head}\n${table(['bits', 'owner'], ownerRanges(db.owned).map((r) => [r.from === r.to ? String(r.from) : `${r.from}-${r.to}`, r.owner]))}`
}

/** Consecutive bits with one owner, as ranges. */
export function ownerRanges (owned: Array<{ bit: number, owner: string }>): Array<{ from: number, to: number, owner: string }> {
  const out: Array<{ from: number, to: number, owner: string }> = []
  for (const o of [...owned].sort((a, b) => a.bit - b.bit)) {
    const last = out[out.length - 1]
    if (last !== undefined && last.owner === o.owner && last.to === o.bit - 1) last.to = o.bit
    else out.push({ from: o.bit, to: o.bit, owner: o.owner })
  }
  return out
}

export function spadsTable (s: NtbSpads): string {
  if (s.count === 0) return 'no scratchpads'
  const owner = (i: number): string | null => s.owned.find((r) => i >= r.from && i <= r.to)?.owner ?? null
  return table(['idx', 'own', 'peer', 'owner'], s.spads.map((v, i) => [i, hex32(v), s.peerSpads[i] === undefined ? null : hex32(s.peerSpads[i]), owner(i)]))
}

export function windowRow (w: NtbWindow): Array<string | number | null> {
  return [w.widx, span(w.translation), hex(w.addrAlign), formatSize(w.sizeMax), w.owner]
}

const WINDOW_HEADER = ['mw', 'translation', 'addr align', 'size max', 'owner']

export function windowText (w: NtbWindow): string { return table(WINDOW_HEADER, [windowRow(w)]) }

export function windowsText (m: NtbWindows): string {
  if (m.count === 0) return 'no memory windows'
  return `${table(WINDOW_HEADER, m.windows.map(windowRow))}\n\n` +
    table(['peer mw', 'base', 'size'], m.peerWindows.map((p) => [p.widx, hex(p.base), formatSize(p.size)]))
}

/** Microseconds to one decimal. */
const us = (n: number): string => n.toFixed(1)

/** ntb_perf's result as a table: the write, then the doorbell round trips. */
export function perfTable (r: NtbPerfResult): string {
  return table(['size', 'chunk', 'time s', 'MB/s', 'pings', 'rtt min us', 'rtt avg us', 'rtt p99 us'],
    [[formatSize(r.bytes), formatSize(r.chunk), r.seconds.toFixed(3), r.mbps.toFixed(1), r.pings, us(r.rtt.min), us(r.rtt.avg), us(r.rtt.p99)]])
}
