// The virtio register block that the pci-epf-vhost endpoint function exposes
// in BAR0 and the virtio-pci-epf driver on the root complex uses: struct
// epf_vhost_reg of drivers/pci/endpoint/functions/pci-epf-vhost.c (the RFC,
// __packed, sizeof 0x9C) and the offsets of drivers/virtio/virtio_pci_epf.c.
// Little-endian always (soclink's choice; the RFC is native-endian legacy).

/** struct epf_vhost_reg. */
export const HOST_FEATURES = 0x00 // u64, written by the endpoint (vhost set_features)
export const GUEST_FEATURES = 0x08 // u64, written by the root complex before FINALIZE_FEATURES
export const MSIX_CONFIG = 0x10 // u16
export const NUM_QUEUES = 0x12 // u16 (soclink: the endpoint writes how many queues it created)
export const DEVICE_STATUS = 0x14 // u8, written by the root complex before SET_STATUS
export const CONFIG_GENERATION = 0x15 // u8
export const ISR = 0x16 // u32, set by the endpoint before INTx (the RFC never sets it)
export const HOST_CMD = 0x1a // u8
export const HOST_CMD_STATUS = 0x1b // u8
export const QUEUE_BASE = 0x1c
/** struct epf_vhost_reg_queue: 16 bytes per queue. */
export const QUEUE_STRIDE = 16
export const MAX_VQS = 8
export const REG_SIZE = QUEUE_BASE + MAX_VQS * QUEUE_STRIDE // 0x9c
/** Where the root complex reads and writes device config (virtio_pci_epf.c DEVICE_CFG_SPACE). */
export const DEVICE_CFG_SPACE = 0x110
/** VHOST_DEVICE_CONFIG_SIZE. */
export const DEVICE_CFG_SIZE = 1024
/** BAR0 size: the register block, config space and room for MSI-X, as a power of two. */
export const BAR0_SIZE = 4096

/** Offsets inside queue n's struct epf_vhost_reg_queue. */
export const queueReg = (n: number): { cmd: number, cmdStatus: number, status: number, numBuffers: number, msixVector: number, addr: number } => {
  const base = QUEUE_BASE + n * QUEUE_STRIDE
  return { cmd: base, cmdStatus: base + 1, status: base + 2, numBuffers: base + 4, msixVector: base + 6, addr: base + 8 }
}

/** HOST_CMD values. */
export const HostCmd = { NONE: 0, SET_STATUS: 1, FINALIZE_FEATURES: 2, RESET: 3 } as const
/** QUEUE_CMD values. */
export const QueueCmd = { NONE: 0, ACTIVATE: 1, DEACTIVATE: 2, NOTIFY: 3 } as const
/** HOST_CMD_STATUS and QUEUE_CMD_STATUS values. */
export const CmdStatus = { NONE: 0, OKAY: 1, ERROR: 2 } as const
/** QUEUE_STATUS bit 0: the queue is active (VHOST_QUEUE_STATUS_ENABLE). */
export const QUEUE_STATUS_ACTIVE = 1
/** ISR bits, as virtio-pci's: a queue interrupt, a config change. */
export const ISR_QUEUE = 1
export const ISR_CONFIG = 2
/** VIRTIO_MSI_NO_VECTOR. */
export const NO_VECTOR = 0xffff
/** COMMAND_TIMEOUT of the RFC, ms. */
export const COMMAND_TIMEOUT_MS = 1000
/** Vring alignment the RFC uses (vring_create_virtqueue(..., 4096, ...)). */
export const VRING_ALIGN = 4096

/** The RC driver's PCI ids (virtio_pci_epf.c): TI DRA74x, DRA72x, J721E. */
export const TI_VENDOR_ID = 0x104c
export const EPF_DEVICE_IDS = [0xb500, 0xb501, 0xb00d] as const
