// The layout a host reads from struct epf_ntb_ctrl at init (the reads of
// ntb_epf_init_dev in drivers/ntb/hw/epf/ntb_hw_epf.c), the checks that it
// fits the function's BARs, and where each memory window sits in them. Kept
// apart from ntb-hw-epf.ts so the driver holds the behaviour (commands,
// interrupts, doorbells) and this file the arithmetic over the BARs.

import type { Window } from '../../mem/window.js'
import type { EnumeratedBar } from '../pcie/root-complex.js'
import { OutOfRangeError, UnavailableError } from '../../errors.js'
import * as R from './epf-ntb-regs.js'

/** What init() reads from struct epf_ntb_ctrl. */
export interface CtrlInfo {
  mwCount: number
  mw1Offset: number
  spadOffset: number
  spadCount: number
  dbEntrySize: number
  vectors: number
}

export type CtrlLayout = Omit<CtrlInfo, 'vectors'>

/** Finds BAR `index` of the function, or throws. */
export type BarLookup = (index: number) => EnumeratedBar

export function readCtrlLayout (c: Window): CtrlLayout {
  return {
    mwCount: c.read32(R.MW_COUNT),
    mw1Offset: c.read32(R.MW1_OFFSET),
    spadOffset: c.read32(R.SPAD_OFFSET),
    spadCount: c.read32(R.SPAD_COUNT),
    dbEntrySize: c.read32(R.DB_ENTRY_SIZE)
  }
}

/** Refuses a layout that does not fit the BARs the function implements. */
export function checkCtrlLayout (l: CtrlLayout, bar: BarLookup, name: string): void {
  const bar0 = bar(R.BAR_CONFIG)
  if (l.mwCount > R.MAX_MW) throw new UnavailableError(`${name}: MW_COUNT ${l.mwCount} is above ${R.MAX_MW}`)
  if (l.spadOffset < R.CTRL_SIZE || l.spadOffset + 4 * l.spadCount > bar0.size) {
    throw new UnavailableError(`${name}: ${l.spadCount} scratchpads at 0x${l.spadOffset.toString(16)} do not fit BAR0 after the ctrl block`)
  }
  if (l.dbEntrySize < 4) throw new UnavailableError(`${name}: DB_ENTRY_SIZE ${l.dbEntrySize} is below 4`)
  bar(R.BAR_PEER_SPAD)
  const db = bar(R.BAR_DB_MW1)
  for (let w = 0; w < l.mwCount; w++) bar(R.mwBar(w))
  if (l.mwCount > 0 && (l.mw1Offset === 0 || l.mw1Offset >= db.size)) {
    throw new UnavailableError(`${name}: MW1_OFFSET 0x${l.mw1Offset.toString(16)} leaves no doorbell slots or no MW1 in BAR2 (${db.size} bytes)`)
  }
}

/** Where MW widx is: BAR widx + 2, MW1 after the doorbell slots. */
export function mwSpanOf (l: CtrlLayout, widx: number, bar: BarLookup): { bar: EnumeratedBar, offset: number, size: number } {
  const { mwCount, mw1Offset } = l
  if (!Number.isInteger(widx) || widx < 0 || widx >= mwCount) throw new OutOfRangeError(`memory window ${widx} is outside 0..${mwCount - 1}`)
  const b = bar(R.mwBar(widx))
  const offset = widx === 0 ? mw1Offset : 0
  return { bar: b, offset, size: b.size - offset }
}

export function checkIndex (idx: number, count: number, what: string): void {
  if (!Number.isInteger(idx) || idx < 0 || idx >= count) throw new OutOfRangeError(`${what}: scratchpad ${idx} is outside 0..${count - 1}`)
}

export function u32 (value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new OutOfRangeError(`${what}: ${value} is not a u32`)
  return value
}
