// Pure formatting and parsing for the soclink command: hexdumps, hex
// strings, sizes and numbers, plain-text tables. No I/O.

/** `hexdump -C` layout; offsets start at `base`. */
export function hexdump (bytes: Uint8Array, base = 0): string {
  const lines: string[] = []
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16)
    const hex: string[] = []
    for (let k = 0; k < 16; k++) {
      hex.push(k < row.length ? row[k]!.toString(16).padStart(2, '0') : '  ')
      if (k === 7) hex.push('')
    }
    const ascii = [...row].map((b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.').join('')
    lines.push(`${(base + i).toString(16).padStart(8, '0')}  ${hex.join(' ')}  |${ascii}|`)
  }
  lines.push((base + bytes.length).toString(16).padStart(8, '0'))
  return lines.join('\n')
}

/** Bytes from hex text: `deadbeef`, `de ad be ef`, `0xdeadbeef`. */
export function parseHex (text: string): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '')
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(clean)) {
    throw new Error(`${JSON.stringify(text)} is not an even number of hex digits`)
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'))
}

/** A non-negative integer, decimal or 0x hex. */
export function parseNumber (text: string, what = 'number'): number {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) throw new Error(`${what} ${JSON.stringify(text)} is not a decimal or 0x hex integer`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`${what} ${text} is too large`)
  return n
}

/** A size: 4096, 0x1000, 64K, 1M, 2G (powers of 1024). */
export function parseSize (text: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([kmg])?i?b?$/i.exec(text)
  if (m === null) throw new Error(`size ${JSON.stringify(text)} is not like 4096, 0x1000, 64K or 1M`)
  const n = Number(m[1]) * 1024 ** (m[2] === undefined ? 0 : 'kmg'.indexOf(m[2].toLowerCase()) + 1)
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`size ${text} is out of range`)
  return n
}

/** Left-aligned columns separated by two spaces, with an upper-case header. */
export function table (header: string[], rows: Array<Array<string | number | null>>): string {
  const cells = [header.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => c === null ? '-' : String(c)))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)))
  return cells.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}
