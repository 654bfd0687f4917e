// The NTB endpoint function's settings (its configfs attributes: num_mws,
// mw1..mw4, db_count, spad_count) and the BAR layout pci-epf-ntb.c derives
// from them, for an endpoint controller with no BAR alignment requirement
// (epc_features->align 0) and MSI only (no MSI-X table in the config BAR):
//
//   BAR0  epf_ntb_ctrl, then this host's own scratchpads at spad_offset
//         (epf_ntb_config_spad_bar_alloc: ctrl and spad sizes rounded up to
//         powers of two, ctrl at least as large as the spads, the BAR the
//         two together, rounded up as pci_epf_alloc_space does);
//   BAR1  the other host's own scratchpads (spad_size bytes of its BAR0);
//   BAR2  db_count doorbell slots of db_entry_size (4) bytes, then MW1 at
//         mw1_offset = ALIGN(db_count * 4, mw1) (epf_ntb_db_mw_bar_init);
//   BAR3.. MW2..MW4.
// Every BAR is at least 128 bytes and a power of two (epf_ntb_alloc_peer_mem).

import { ConfigError } from '../../errors.js'
import * as R from './epf-ntb-regs.js'

export interface EpfNtbConfig {
  /** Memory windows, 1..4 (num_mws). */
  numMws: number
  /** Each window's size (mw1..mw4): a power of two, 4 KiB to 1 GiB. */
  mwSizes: number[]
  /** MSI vectors per host, the link vector included (db_count): 4..32. */
  dbCount: number
  /** Scratchpads per host (spad_count): 1..1024. */
  spadCount: number
}

export interface EpfNtbLayout {
  /** Written into each host's epf_ntb_ctrl. */
  spadOffset: number
  mw1Offset: number
  dbEntrySize: number
  /** Bytes of scratchpads (spad_count * 4, rounded up to a power of two). */
  spadSize: number
  /** BAR sizes: config, peer spad, doorbell + MW1, then MW2.. . */
  configBar: number
  peerSpadBar: number
  /** mwBars[0] is BAR2 (doorbells + MW1), mwBars[i] BAR i + 2. */
  mwBars: number[]
}

/** pci-epf-ntb.c's db_entry_size when the controller asks no alignment. */
export const DB_ENTRY_SIZE = 4
/** epf_ntb_alloc_peer_mem / pci_epf_alloc_space: no BAR below 128 bytes. */
const MIN_BAR = 128
const MIN_MW = 4096
/** BAR2 is 2 * mw1 and stays a 32-bit BAR (pci-epf-ntb.c sets PCI_BASE_ADDRESS_MEM_TYPE_32). */
const MAX_MW = 1 << 30
const MIN_DB = R.MIN_HOST_DB_COUNT + 1
const MAX_SPADS = 1024

const pow2 = (x: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, x)))
const isPow2 = (x: number): boolean => Number.isSafeInteger(x) && x > 0 && pow2(x) === x
const count = (v: unknown, what: string, lo: number, hi: number): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${what} must be an integer from ${lo} to ${hi}, not ${String(v)}`)
  return v
}

/** Checks the settings and lays out the BARs; throws ConfigError with the reason. */
export function epfNtbLayout (config: EpfNtbConfig): EpfNtbLayout {
  const numMws = count(config.numMws, 'num_mws', 1, R.MAX_MW)
  // ntb_hw_epf asks for 4..32 vectors (NTB_EPF_MIN_DB_COUNT + 1 .. NTB_EPF_MAX_DB_COUNT + 1).
  const dbCount = count(config.dbCount, 'db_count', MIN_DB, R.MAX_DB_COUNT)
  const spadCount = count(config.spadCount, 'spad_count', 1, MAX_SPADS)
  if (!Array.isArray(config.mwSizes) || config.mwSizes.length !== numMws) {
    throw new ConfigError(`mw sizes: ${numMws} window${numMws === 1 ? '' : 's'} need ${numMws} size${numMws === 1 ? '' : 's'}, not ${Array.isArray(config.mwSizes) ? config.mwSizes.length : String(config.mwSizes)}`)
  }
  config.mwSizes.forEach((s, i) => {
    if (!isPow2(s) || s < MIN_MW || s > MAX_MW) throw new ConfigError(`mw${i + 1}: size ${String(s)} is not a power of two from ${MIN_MW} to ${MAX_MW} (ALIGN() in pci-epf-ntb.c needs a power of two)`)
  })
  const spadSize = pow2(spadCount * 4)
  const ctrlSize = Math.max(pow2(R.CTRL_SIZE), spadSize)
  const mw1 = config.mwSizes[0]!
  const mw1Offset = Math.ceil(dbCount * DB_ENTRY_SIZE / mw1) * mw1
  return {
    spadOffset: ctrlSize,
    mw1Offset,
    dbEntrySize: DB_ENTRY_SIZE,
    spadSize,
    configBar: pow2(Math.max(MIN_BAR, ctrlSize + spadSize)),
    peerSpadBar: pow2(Math.max(MIN_BAR, spadSize)),
    mwBars: config.mwSizes.map((s, i) => pow2(Math.max(MIN_BAR, i === 0 ? mw1Offset + s : s)))
  }
}
