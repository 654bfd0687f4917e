// The doorbell status and mask registers an NTB host keeps, with the
// semantics of include/linux/ntb.h (ntb_db_read, ntb_db_clear,
// ntb_db_set_mask, ntb_db_clear_mask): a doorbell rung sets its bit, which
// stays set until cleared; a masked bit raises no db_event, and a bit rung
// while masked raises one when it is unmasked, as hardware with a pending
// interrupt does. Bit b belongs to doorbell vector b (db_vector_mask).
// ntb_hw_epf.c instead keeps the last vector + 1 as "db_val" and its mask
// operations do nothing.

import { OutOfRangeError } from '../../errors.js'

export class DoorbellStatus {
  /** db_count, and the doorbell bits this host may use: BIT(db_count) - 1. */
  readonly count: number
  readonly validMask: number
  private bits = 0
  private mask = 0

  constructor (count: number) {
    if (!Number.isInteger(count) || count < 0 || count > 31) throw new OutOfRangeError(`doorbell count ${count} is outside 0..31`)
    this.count = count
    this.validMask = 2 ** count - 1
  }

  read (): number { return this.bits }
  readMask (): number { return this.mask }

  /** Vector `vector` rang: sets its bit; true if a db_event is due now (not masked). */
  ring (vector: number): boolean {
    const bit = this.bitOf(vector)
    this.bits = (this.bits | bit) >>> 0
    return (this.mask & bit) === 0
  }

  clear (bits: number): void {
    this.bits = (this.bits & ~this.check(bits, 'db_clear')) >>> 0
  }

  setMask (bits: number): void {
    this.mask = (this.mask | this.check(bits, 'db_set_mask')) >>> 0
  }

  /** Unmasks `bits`; returns the vectors rung while masked and still set, whose db_event is due now. */
  clearMask (bits: number): number[] {
    const unmasked = this.check(bits, 'db_clear_mask') & this.mask
    this.mask = (this.mask & ~unmasked) >>> 0
    return vectorsOf(this.bits & unmasked)
  }

  /** Whether vector's bit is set and not masked (a deferred db_event is still due). */
  due (vector: number): boolean {
    const bit = this.bitOf(vector)
    return (this.bits & bit) !== 0 && (this.mask & bit) === 0
  }

  /** Throws unless every bit is a valid doorbell bit; returns the bits. */
  check (bits: number, what: string): number { return checkDbBits(bits, this.validMask, what) }

  private bitOf (vector: number): number {
    if (!Number.isInteger(vector) || vector < 0 || vector >= this.count) throw new OutOfRangeError(`doorbell vector ${vector} is outside 0..${this.count - 1}`)
    return 2 ** vector
  }
}

/** Throws unless every bit of `bits` is in `validMask` (db_valid_mask); returns the bits. */
export function checkDbBits (bits: number, validMask: number, what: string): number {
  if (!Number.isSafeInteger(bits) || bits < 0 || bits > validMask || (bits & ~validMask) !== 0) {
    throw new OutOfRangeError(`${what}: bits 0x${bits.toString(16)} are outside the valid mask 0x${validMask.toString(16)}`)
  }
  return bits
}

/** The set bits of `bits`, lowest first. */
export function vectorsOf (bits: number): number[] {
  const out: number[] = []
  for (let b = 0; b < 32; b++) if (((bits >>> b) & 1) !== 0) out.push(b)
  return out
}
