// Commander argument parsers over format.ts: a bad value is a usage error
// (exit 2) that carries the parser's own message.

import { InvalidArgumentError } from 'commander'
import { parseApiUrl, parseHex, parseNumber, parseSize } from './format.js'

function usage<T> (parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
  }
}

export const asNumber = (what: string): (text: string) => number => usage((text) => parseNumber(text, what))

export const asCount = (what: string): (text: string) => number => usage((text) => {
  const n = parseNumber(text, what)
  if (n === 0) throw new Error(`${what} must be at least 1`)
  return n
})

export const asSize = usage(parseSize)
export const asHex = usage(parseHex)
export const asApiUrl = usage(parseApiUrl)

/** A region on a peer, as the owner reads it: digits are an id, anything else a name. */
export const asRegionRef = (text: string): string | number => /^\d+$/.test(text) ? Number(text) : text
