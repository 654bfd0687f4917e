// Payload sizes and send windows the rows share.

/** The most a 512-byte rpmsg buffer carries. */
export const RPMSG_PAYLOAD = 496
/** The most a 4 KiB rpmsg buffer carries (rpmsgBufSize 4096). */
export const RPMSG_BIG_PAYLOAD = 4080
export const SMALL_PAYLOAD = 16
/** What the virtio test device's payloads average (1..4096 bytes). */
export const TEST_DEVICE_AVERAGE = 2048
export const BIG_WRITE = 64 << 10
/** Sends in flight at once in the windowed client rows, per application. */
export const WINDOW = 256
/** Messages sent untimed before a part's first timed run. */
export const WARM_UP = 2000
