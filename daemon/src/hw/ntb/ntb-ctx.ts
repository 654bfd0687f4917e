// ntb_set_ctx()/ntb_clear_ctx() and ntb_link_is_up() of include/linux/ntb.h
// as every NTB client here (ntb_virtio, ntb_vhost, ntb_perf) uses them:
// the client's link_event and db_event hooked to the device's events, and
// the link's state read where a device that cannot answer counts as down.
// Unlike ntb.h, which allows one context per device, several clients may
// listen at once (ntb_perf beside the transport, on the same device).

import type { NtbDevice } from './ntb.js'

/** struct ntb_ctx_ops: what a client is told. */
export interface NtbCtxOps {
  linkEvent: () => void
  dbEvent: (vector: number) => void
}

/** ntb_set_ctx: `ops` hears the device's link and doorbell events; returns ntb_clear_ctx. */
export function ntbSetCtx (ntb: NtbDevice, ops: NtbCtxOps): () => void {
  const onLink = (): void => { ops.linkEvent() }
  const onDb = (vector: number): void => { ops.dbEvent(vector) }
  ntb.on('link', onLink)
  ntb.on('db', onDb)
  return () => {
    ntb.off('link', onLink)
    ntb.off('db', onDb)
  }
}

/**
 * ntb_link_is_up. A device whose registers cannot be read (its board went
 * away, its config window closed) has no link to offer: that is down, and
 * the device's own events say when it comes back.
 */
export function ntbLinkIsUp (ntb: NtbDevice): boolean {
  try {
    return ntb.linkIsUp()
  } catch {
    return false
  }
}
