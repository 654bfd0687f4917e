// The register interface between the NTB endpoint function on the board
// (drivers/pci/endpoint/functions/pci-epf-ntb.c) and the host driver
// (drivers/ntb/hw/epf/ntb_hw_epf.c): struct epf_ntb_ctrl, __packed, at the
// start of each host's config BAR, with the offsets ntb_hw_epf.c #defines.
// Little-endian, as PCIe memory is.

/** struct epf_ntb_ctrl offsets (NTB_EPF_*). */
export const COMMAND = 0x00 // u32, written by the host
export const ARGUMENT = 0x04 // u32, written by the host before COMMAND
export const CMD_STATUS = 0x08 // u16, set by the board, cleared by the host
export const LINK_STATUS = 0x0a // u16, bit 0: the peer's link is up
export const TOPOLOGY = 0x0c // u32, never used by either side
export const LOWER_ADDR = 0x10 // u64 addr: CONFIGURE_MW's translation address
export const UPPER_ADDR = 0x14
export const LOWER_SIZE = 0x18 // u64 size: CONFIGURE_MW's size
export const UPPER_SIZE = 0x1c
export const MW_COUNT = 0x20 // u32 num_mws
export const MW1_OFFSET = 0x24 // u32: where MW1 starts in the doorbell BAR
export const SPAD_OFFSET = 0x28 // u32: where this host's own scratchpads start in the config BAR
export const SPAD_COUNT = 0x2c // u32
export const DB_ENTRY_SIZE = 0x30 // u32: bytes per doorbell slot in the doorbell BAR
export const DB_DATA = (n: number): number => 0x34 + n * 4 // u32 db_data[32]
export const DB_OFFSET = (n: number): number => 0xb4 + n * 4 // u32 db_offset[32]
/** sizeof(struct epf_ntb_ctrl). */
export const CTRL_SIZE = 0x134

/** Commands (CMD_*). */
export const CMD_CONFIGURE_DOORBELL = 1
export const CMD_TEARDOWN_DOORBELL = 2
export const CMD_CONFIGURE_MW = 3
export const CMD_TEARDOWN_MW = 4
export const CMD_LINK_UP = 5
export const CMD_LINK_DOWN = 6

/** CMD_STATUS values. */
export const COMMAND_STATUS_OK = 1
export const COMMAND_STATUS_ERROR = 2

/** LINK_STATUS bit. */
export const LINK_STATUS_UP = 1 << 0
/** CONFIGURE_DOORBELL's argument: the vector count in bits 15:0, MSI-X in bit 16. */
export const DB_COUNT_MASK = 0xffff
export const MSIX_ENABLE = 1 << 16

/** pci-epf-ntb.c MAX_DB_COUNT, MAX_MW; ntb_hw_epf.c NTB_EPF_MIN_DB_COUNT, NTB_EPF_MAX_DB_COUNT. */
export const MAX_DB_COUNT = 32
export const MAX_MW = 4
export const MIN_HOST_DB_COUNT = 3
export const MAX_HOST_DB_COUNT = 31
/** ntb_hw_epf.c NTB_EPF_COMMAND_TIMEOUT (ms). */
export const COMMAND_TIMEOUT_MS = 1000

/** enum epf_ntb_bar as the BARs fall by default (pci-ntb-function.rst). */
export const BAR_CONFIG = 0 // epf_ntb_ctrl, then this host's own scratchpads
export const BAR_PEER_SPAD = 1 // the other host's own scratchpads
export const BAR_DB_MW1 = 2 // doorbell slots, then MW1 at MW1_OFFSET
/** MW n (0-based) is in BAR n + 2 (MW1 after the doorbell slots, in BAR2). */
export const mwBar = (widx: number): number => BAR_DB_MW1 + widx

/** ntb_hw_epf.c: PCI_VENDOR_ID_TI, PCI_DEVICE_ID_TI_J721E. */
export const NTB_EPF_VENDOR_ID = 0x104c
export const NTB_EPF_DEVICE_ID = 0xb00d
/** PCI_CLASS_MEMORY_RAM << 8, as ntb_hw_epf's id table matches it. */
export const NTB_EPF_CLASS = 0x050000

/** mw_get_align: 4 KiB address alignment (ntb_epf_mw_get_align). */
export const MW_ADDR_ALIGN = 4096
