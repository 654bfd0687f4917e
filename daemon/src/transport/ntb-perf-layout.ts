// Where ntb_perf (ntb-perf.ts, after drivers/ntb/test/ntb_perf.c) puts its
// perf buffer and which doorbell bits it takes: pure arithmetic on the
// board's memory windows and doorbell mask.
//
// Layout of a host's system memory (the same on both sides):
//   [0, MW0_BASE)                     low memory, never a buffer
//   [MW0_BASE, MW0_BASE + MW0 max)    MW0: the virtio host's rings and buffers
//   [perf base, perf base + MW1 max)  the perf buffer: base is MW0's largest
//                                     end rounded up to MW1's address alignment;
//                                     size is MW1's size_max (the board's mw2)
// A buffer that does not fit memorySize leaves perf unavailable, with a
// reason; so does a board with one memory window, or too few doorbell bits.
//
// Doorbell bits: the transport owns bits 0..MAX_VQS-1 (a kick per queue) and
// the highest valid bit (CONFIG_DB, ntb-spads.ts). ntb_perf takes the two
// below CONFIG_DB: the second-highest is the request, the third-highest the
// answer. ntb_perf.c has one client per device and its own scratchpad
// protocol; here two bits keep the two directions apart, so both hosts may
// run at once, and nothing else of the transport's is touched.

import { OutOfRangeError } from '../errors.js'
import { configDbBit, MAX_VQS } from './ntb-spads.js'

export interface PerfBits { request: number, answer: number }

/** The request and answer bits: the two below CONFIG_DB, both above the queues' bits; null if there are none. */
export function perfBits (validMask: number): PerfBits | null {
  const config = configDbBit(validMask)
  const answer = config - 2
  if (answer < MAX_VQS) return null
  return { request: config - 1, answer }
}

export interface PerfBuffer { addr: number, size: number }

export interface PerfLayoutInput {
  memorySize: number
  /** Where MW0 starts in system memory. */
  mw0Base: number
  /** MW0's largest size (its size_max). */
  mw0Max: number
  /** MW1's translation alignment and largest size. */
  mw1Align: number
  mw1Max: number
}

/** Where the perf buffer goes (see the header); OutOfRangeError if it does not fit. */
export function perfBuffer (l: PerfLayoutInput): PerfBuffer {
  const align = Math.max(1, l.mw1Align)
  const addr = Math.ceil((l.mw0Base + l.mw0Max) / align) * align
  if (addr + l.mw1Max > l.memorySize) {
    throw new OutOfRangeError(`the perf buffer [0x${addr.toString(16)}, 0x${(addr + l.mw1Max).toString(16)}) (MW1's ${l.mw1Max} bytes, after MW0) ` +
      `does not fit system memory of ${l.memorySize} bytes: raise memorySize or lower the board's ntbMwSize`)
  }
  return { addr, size: l.mw1Max }
}
