// Numbers that arrive as text (query values, path ids): the schema already
// checked the digits; here they become safe integers or a 400.

import { ValidationError } from './errors.js'

/** Decimal or 0x hex text to a safe integer. */
export function parseNumber (name: string, text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new ValidationError(`${name} ${text} is above 2^53 - 1`)
  return n
}

/** An optional query value; undefined when absent. */
export function parseOptionalNumber (name: string, text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseNumber(name, text)
}
