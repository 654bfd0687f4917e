// The one synchronous interface protocol code (vrings, rpmsg, register
// blocks) uses to touch memory, whether the bytes are owned here (Region) or
// replicated from a peer (Window). All values are little-endian, as PCIe
// memory and virtio 1.x rings are.

import { OutOfRangeError } from '../errors.js'

export interface MemoryAccess {
  readonly size: number
  read8 (offset: number): number
  read16 (offset: number): number
  read32 (offset: number): number
  /** A u64 as a number; throws OutOfRangeError above 2^53 - 1. */
  read64 (offset: number): number
  /** A copy of `length` bytes. */
  read (offset: number, length: number): Uint8Array
  /** Copies into `into` (its whole length) from `offset`. */
  readInto (offset: number, into: Uint8Array): void
  write8 (offset: number, value: number): void
  write16 (offset: number, value: number): void
  write32 (offset: number, value: number): void
  write64 (offset: number, value: number): void
  /** Copies `bytes` in before it returns: the caller may reuse them at once. */
  write (offset: number, bytes: Uint8Array): void
}

/** Throws OutOfRangeError unless [offset, offset + length) lies in [0, size). */
export function checkRange (what: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new OutOfRangeError(`${what}: access of ${length} bytes at offset ${offset} is outside its ${size} bytes`)
  }
}

/** Splits a u64 into 8 new little-endian bytes for the write path. */
export function u64Bytes (value: number): Uint8Array {
  checkU64(value)
  const scratch = Buffer.allocUnsafe(8)
  scratch.writeUInt32LE(value >>> 0, 0)
  scratch.writeUInt32LE(Math.floor(value / 0x1_0000_0000), 4)
  return scratch
}

/** Throws OutOfRangeError unless `value` fits a u64 as a safe non-negative integer. */
export function checkU64 (value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new OutOfRangeError(`u64 value ${value} is not a safe non-negative integer`)
}

/** Joins two little-endian u32 halves into a safe u64 number. */
export function joinU64 (low: number, high: number, what: string): number {
  if (high > 0x1f_ffff) throw new OutOfRangeError(`${what}: u64 value above 2^53`)
  return high * 0x1_0000_0000 + low
}
