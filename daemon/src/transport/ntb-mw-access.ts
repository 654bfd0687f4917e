// The virtio host's memory window 0 as ntb_vhost reaches it: by the virtio
// host's own physical addresses, [virtio_addr, virtio_addr + size), which
// is what descriptors hold (ntb_virtio hands out buffers from a pool over
// its MW0 block). An address maps to offset addr - virtio_addr of the peer
// window, as ntb_vhost_read/ntb_vhost_write compute it; anything else is
// refused before it reaches the window. The RFC checks only reads and
// writes of buffers, with unsigned arithmetic that lets an address below
// virtio_addr wrap; here every access is checked, rings included.

import type { MemoryAccess } from '../mem/access.js'
import { OutOfRangeError } from '../errors.js'

export class VirtioMwAccess implements MemoryAccess {
  /** Addresses below virtioAddr are refused too; size is the end of the block. */
  readonly size: number

  /** `window`: this host's access to peer MW 0, offsets from 0. */
  constructor (readonly window: MemoryAccess, readonly virtioAddr: number) {
    if (!Number.isSafeInteger(virtioAddr) || virtioAddr < 0 || virtioAddr + window.size > Number.MAX_SAFE_INTEGER) {
      throw new OutOfRangeError(`virtio MW0 address ${virtioAddr} cannot hold a ${window.size}-byte window`)
    }
    this.size = virtioAddr + window.size
  }

  /** Whether [addr, addr + length) lies inside the block. */
  contains (addr: number, length: number): boolean {
    return Number.isSafeInteger(addr) && Number.isSafeInteger(length) && length >= 0 && addr >= this.virtioAddr && addr + length <= this.size
  }

  read8 (addr: number): number { return this.window.read8(this.at(addr, 1)) }
  read16 (addr: number): number { return this.window.read16(this.at(addr, 2)) }
  read32 (addr: number): number { return this.window.read32(this.at(addr, 4)) }
  read64 (addr: number): number { return this.window.read64(this.at(addr, 8)) }
  read (addr: number, length: number): Uint8Array { return this.window.read(this.at(addr, length), length) }
  readInto (addr: number, into: Uint8Array): void { this.window.readInto(this.at(addr, into.length), into) }
  write8 (addr: number, value: number): void { this.window.write8(this.at(addr, 1), value) }
  write16 (addr: number, value: number): void { this.window.write16(this.at(addr, 2), value) }
  write32 (addr: number, value: number): void { this.window.write32(this.at(addr, 4), value) }
  write64 (addr: number, value: number): void { this.window.write64(this.at(addr, 8), value) }
  write (addr: number, bytes: Uint8Array): void { this.window.write(this.at(addr, bytes.length), bytes) }

  private at (addr: number, length: number): number {
    if (!this.contains(addr, length)) {
      throw new OutOfRangeError(`${length} bytes at 0x${addr.toString(16)} are outside the virtio host's MW0 [0x${this.virtioAddr.toString(16)}, 0x${this.size.toString(16)})`)
    }
    return addr - this.virtioAddr
  }
}
