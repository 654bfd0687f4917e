// The one size grammar of soclink, read by the daemon's settings (flags,
// SOCLINK_* variables, config files) and by the CLI alike: a decimal or 0x
// hex integer, then optionally a unit K, M, G or T (powers of 1024, any
// case, also written KB or KiB) or a bare B. So 4096, 4096B, 0x1000, 64K,
// 64KiB, 1M, 2G and 1T are sizes; 4096ib, 1.5M and K are not.
//
// It lives in the client because the client is the package's entry that
// must install and run with no daemon code (package.json "main"); the
// daemon ships in the same build and imports it from here, never the
// other way round. Pure: no I/O.

/** The units, each 1024 times the one before it. */
export const SIZE_UNITS = 'KMGT'

/** A size refused; the caller says where it was written. */
export class SizeSyntaxError extends Error {}

/** A size in bytes, at least 1 and at most 2^53 - 1. */
export function parseSize (text: string): number {
  const m = /^(0x[0-9a-f]+|\d+)(?:([kmgt])(?:i?b)?|b)?$/i.exec(text)
  if (m === null) throw new SizeSyntaxError(`size ${JSON.stringify(text)} is not like 4096, 0x1000, 64K, 1M or 1T`)
  const n = Number(m[1]) * 1024 ** (m[2] === undefined ? 0 : SIZE_UNITS.indexOf(m[2].toUpperCase()) + 1)
  if (n === 0) throw new SizeSyntaxError('size must be at least 1 byte')
  if (!Number.isSafeInteger(n)) throw new SizeSyntaxError(`size ${text} is above 2^53 - 1 bytes`)
  return n
}

/** A size the way parseSize reads it back: the largest unit that divides it exactly. */
export function formatSize (n: number): string {
  for (let u = SIZE_UNITS.length; u > 0; u--) {
    const unit = 1024 ** u
    if (n >= unit && n % unit === 0) return `${n / unit}${SIZE_UNITS[u - 1]}`
  }
  return String(n)
}
