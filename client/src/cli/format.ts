// Pure formatting and parsing for the soclink command: hexdumps, hex
// strings, numbers and sizes (the one grammar of ../sizes.ts), API URLs,
// plain-text tables. No I/O.

export { formatSize, parseSize } from '../sizes.js'

const offsetText = (n: number): string => n.toString(16).padStart(8, '0')

function hexLine (offset: number, row: Uint8Array): string {
  const hex: string[] = []
  for (let k = 0; k < 16; k++) {
    hex.push(k < row.length ? row[k]!.toString(16).padStart(2, '0') : '  ')
    if (k === 7) hex.push('')
  }
  const ascii = Array.from(row, (b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.').join('')
  return `${offsetText(offset)}  ${hex.join(' ')}  |${ascii}|`
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/**
 * `hexdump -C` layout, offsets starting at `base`: full lines equal to the
 * one before collapse to a single `*` (sparse regions are mostly zeros), and
 * a last line gives the end offset. Empty input gives the empty string.
 */
export function hexdump (bytes: Uint8Array, base = 0): string {
  if (bytes.length === 0) return ''
  const lines: string[] = []
  let previous: Uint8Array | null = null
  let squeezed = false
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16)
    if (row.length === 16 && previous !== null && sameBytes(row, previous)) {
      if (!squeezed) lines.push('*')
      squeezed = true
      continue
    }
    squeezed = false
    previous = row
    lines.push(hexLine(base + i, row))
  }
  lines.push(offsetText(base + bytes.length))
  return lines.join('\n')
}

/** Bytes from hex text: `deadbeef`, `de ad be ef`, `de:ad:be:ef`, `0xdeadbeef`. */
export function parseHex (text: string): Uint8Array {
  const clean = text.trim().replace(/^0x/i, '').replace(/[\s:]/g, '')
  if (clean.length === 0) throw new Error(`hex ${JSON.stringify(text)} holds no bytes`)
  const bad = /[^0-9a-f]/i.exec(clean)
  if (bad !== null) throw new Error(`hex ${JSON.stringify(text)} has a character that is not a hex digit: ${JSON.stringify(bad[0])}`)
  if (clean.length % 2 !== 0) throw new Error(`hex ${JSON.stringify(text)} has an odd number of hex digits (${clean.length}); write each byte as two digits`)
  const out = new Uint8Array(clean.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** A non-negative integer, decimal or 0x hex. */
export function parseNumber (text: string, what = 'number'): number {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) throw new Error(`${what} ${JSON.stringify(text)} is not a decimal or 0x hex integer`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`${what} ${text} is above 2^53 - 1`)
  return n
}

/** A control API URL: http(s)://HOST:PORT, or HOST:PORT (taken as http). */
export function parseApiUrl (text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new Error(`API URL ${JSON.stringify(text)} is not a URL like http://127.0.0.1:7401`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`API URL ${text} must be http:// or https://`)
  return withScheme.replace(/\/+$/, '')
}

export type Cell = string | number | boolean | null | undefined

const cellText = (c: Cell): string => c === null || c === undefined || c === '' ? '-' : String(c)

/**
 * Columns separated by two spaces under an upper-case header. A column whose
 * cells are all numbers is right-aligned; others are left-aligned. Empty
 * cells show as `-`. No trailing spaces.
 */
export function table (header: string[], rows: Cell[][]): string {
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'))
  const cells = [header.map((h) => h.toUpperCase()), ...rows.map((r) => header.map((_, i) => cellText(r[i])))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)))
  return cells.map((r) => r.map((c, i) => numeric[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}
