// Human and JSON text for the rpmsg commands (pure): channels and endpoints
// tables, one line per message (text when printable, else hex), and ping(8)
// style round-trip lines and summary.

import type { RpmsgBusInfo, RpmsgChannelInfo, RpmsgEndpointInfo, RpmsgEndpointList } from '../../../proto/api/index.js'
import { table, type Cell } from './format.js'

export function channelsTable (channels: RpmsgChannelInfo[]): string {
  if (channels.length === 0) return 'no channels'
  return table(['name', 'src', 'dst', 'side', 'device', 'driver'], channels.map((c) => [c.name, c.src, c.dst, c.side, c.device, c.driver]))
}

const ENDPOINT_COLUMNS = ['addr', 'side', 'device', 'channel', 'service']

/**
 * Scalar fields after the known columns, nested objects flattened one level
 * (`counters.sent` shows as `sent`): the endpoint view may carry counters
 * this client does not know by name, and the table shows them all the same.
 */
function extraFields (e: RpmsgEndpointInfo): Array<[string, Cell]> {
  const out: Array<[string, Cell]> = []
  for (const [k, v] of Object.entries(e as unknown as Record<string, unknown>)) {
    if (ENDPOINT_COLUMNS.includes(k)) continue
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) if (isCell(v2)) out.push([k2, v2])
    } else if (isCell(v)) {
      out.push([k, v])
    }
  }
  return out
}

/** A camelCase field name as a column header: `serviceErrors` is `service errors`. */
export const words = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()

const isCell = (v: unknown): v is Cell => v === null || ['string', 'number', 'boolean'].includes(typeof v)

export function endpointsTable (endpoints: RpmsgEndpointInfo[]): string {
  if (endpoints.length === 0) return 'no endpoints'
  const extras = endpoints.map((e) => new Map(extraFields(e)))
  const names = [...new Set(extras.flatMap((m) => [...m.keys()]))]
  return table([...ENDPOINT_COLUMNS, ...names.map(words)], endpoints.map((e, i) =>
    [e.addr, e.side, e.device, e.channel, e.service, ...names.map((n) => extras[i]!.get(n))]))
}

export function busesTable (buses: RpmsgBusInfo[]): string {
  if (buses.length === 0) return 'no buses'
  const names = [...new Set(buses.flatMap((b) => Object.keys(b.counters) as Array<keyof RpmsgBusInfo['counters']>))]
  return table(['device', 'side', ...names.map(words)], buses.map((b) => [b.device, b.side, ...names.map((n) => b.counters[n])]))
}

export function endpointsText (list: RpmsgEndpointList): string {
  return `${endpointsTable(list.endpoints)}\n\n${busesTable(list.buses)}`
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The payload as text when it is UTF-8 with no control characters but tab, CR and LF; else null. */
export function printableText (payload: Uint8Array): string | null {
  let text: string
  try {
    text = utf8.decode(payload)
  } catch {
    return null
  }
  for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) return null
  return text
}

/** C0 controls but tab, LF and CR; DEL; C1 controls. */
const isControl = (c: number): boolean => (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)

export const hexOf = (payload: Uint8Array): string => Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('hex')

/** `"text"` (JSON-quoted, so spaces and newlines show) when printable, else `hex 0a1b...`. */
export function payloadText (payload: Uint8Array): string {
  const text = printableText(payload)
  return text !== null ? JSON.stringify(text) : `hex ${hexOf(payload)}`
}

export const bytesText = (n: number): string => `${n} byte${n === 1 ? '' : 's'}`

/** One received message: `from 1024 (5 bytes): "hello"`. */
export function messageText (src: number, payload: Uint8Array): string {
  return `from ${src} (${bytesText(payload.length)}): ${payloadText(payload)}`
}

export interface MessageRecord { type: string, src: number, length: number, hex: string, text?: string }

/** One received message as a JSON line's object; `text` only when printable. */
export function messageRecord (type: string, src: number, payload: Uint8Array): MessageRecord {
  const text = printableText(payload)
  return { type, src, length: payload.length, hex: hexOf(payload), ...(text !== null && { text }) }
}

/**
 * A ping's payload: its sequence number in decimal and a space, then
 * `abc...z` over and over, cut to `size`. Printable, so `rpmsg echo` shows
 * it as text; different for each ping, so a late reply is not taken for
 * the current one.
 */
export function pingPayload (seq: number, size: number): Uint8Array {
  const out = new Uint8Array(size)
  const head = Buffer.from(`${seq} `)
  for (let k = 0; k < size; k++) out[k] = k < head.length ? head[k]! : 0x61 + (k - head.length) % 26
  return out
}

export interface RttSummary {
  sent: number
  received: number
  /** Percent of pings with no reply, to one decimal. */
  lossPercent: number
  /** Round trips in milliseconds; null when nothing came back. */
  rttMs: { min: number, avg: number, max: number, mdev: number } | null
}

/**
 * Round-trip times as ping(8) keeps them: how many, the least and the
 * greatest, and running sums of t and t². A ping that runs for weeks holds
 * these five numbers, never the samples.
 */
export class RttStats {
  count = 0
  min = Infinity
  max = -Infinity
  sum = 0
  sumOfSquares = 0

  static of (rttsMs: Iterable<number>): RttStats {
    const s = new RttStats()
    for (const t of rttsMs) s.add(t)
    return s
  }

  add (rttMs: number): void {
    this.count++
    if (rttMs < this.min) this.min = rttMs
    if (rttMs > this.max) this.max = rttMs
    this.sum += rttMs
    this.sumOfSquares += rttMs * rttMs
  }
}

/** ping(8)'s statistics: mdev is the standard deviation, sqrt(mean(t²) - mean(t)²). */
export function rttSummary (rtts: RttStats, sent: number): RttSummary {
  const received = rtts.count
  const lossPercent = sent === 0 ? 0 : Math.round((sent - received) * 1000 / sent) / 10
  if (received === 0) return { sent, received, lossPercent, rttMs: null }
  const avg = rtts.sum / received
  const avg2 = rtts.sumOfSquares / received
  return { sent, received, lossPercent, rttMs: { min: rtts.min, avg, max: rtts.max, mdev: Math.sqrt(Math.max(0, avg2 - avg * avg)) } }
}

const ms = (n: number): string => n.toFixed(3)

export function pingHeader (dst: number, channel: string | undefined, src: number, size: number): string {
  return `PING rpmsg ${dst}${channel !== undefined ? ` (channel ${channel})` : ''} from ${src}: ${bytesText(size)} of payload`
}

export function pingReplyText (src: number, size: number, seq: number, rttMs: number): string {
  return `${bytesText(size)} from ${src}: seq=${seq} time=${ms(rttMs)} ms`
}

/** The lines after the last reply, as ping(8) prints them. */
export function pingSummaryText (dst: number, s: RttSummary, elapsedMs: number): string {
  const lines = [
    `--- rpmsg ${dst} ping statistics ---`,
    `${s.sent} sent, ${s.received} received, ${s.lossPercent}% loss, time ${Math.round(elapsedMs)} ms`
  ]
  if (s.rttMs !== null) {
    const r = s.rttMs
    lines.push(`rtt min/avg/max/mdev = ${ms(r.min)}/${ms(r.avg)}/${ms(r.max)}/${ms(r.mdev)} ms`)
  }
  return lines.join('\n')
}
