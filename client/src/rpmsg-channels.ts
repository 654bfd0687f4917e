// The daemon's rpmsg channels as the gateway reports them (proto/rpmsg.proto
// ChannelEvent, ChannelBinding, ListChannels): their shapes, their decoding,
// and how the client's table of live channels follows the reports. Kept apart
// from rpmsg-client.ts, which owns the connection and its endpoints.

import type { soclink } from '../../proto/gen/rpmsg.js'

/** A channel appearing or going away on the daemon's bus (name service). */
export interface RpmsgChannelEvent {
  name: string
  /** Its local address on the daemon's bus; 0xffffffff while unbound (virtio side, rpmsgBind kernel: no one claimed it). */
  src: number
  /** The remote address; 0xffffffff while unknown. */
  dst: number
  created: boolean
}

/** A channel on the daemon's bus as ListChannels and ChannelBinding show it. */
export interface RpmsgChannelBinding {
  name: string
  /** Local address; 0xffffffff while unbound (virtio side: no one claimed it). */
  src: number
  /** Remote address; 0xffffffff while unknown. */
  dst: number
  /** Who holds it (a driver, an application's claim, soclink_config, soclink_eager), or null. */
  driver: string | null
  /** The virtio or vhost device the bus runs on (virtio0: the kernel's virtio0.NAME.SRC.DST). */
  device: string
}

export interface ClaimChannelOptions {
  /** The channel's remote address, when two announcements share a name; default any. */
  dst?: number
  /** The driver name the channel device shows (default soclink_gateway). */
  driver?: string
}

export function channelInfo (c: soclink.rpmsg.v1.IChannelInfo): RpmsgChannelBinding {
  return { name: c.name ?? '', src: c.src ?? 0, dst: c.dst ?? 0, driver: c.driver == null || c.driver === '' ? null : c.driver, device: c.device ?? '' }
}

export function channelEvent (e: soclink.rpmsg.v1.IChannelEvent): RpmsgChannelEvent {
  return { name: e.name ?? '', src: e.src ?? 0, dst: e.dst ?? 0, created: e.created === true }
}

/** A ChannelEvent: a created channel is live, a destroyed one goes if it is the live one. */
export function noteChannelEvent (channels: Map<string, RpmsgChannelEvent>, ev: RpmsgChannelEvent): void {
  if (ev.created) channels.set(ev.name, ev)
  else if (channels.get(ev.name)?.src === ev.src) channels.delete(ev.name)
}

/** A ChannelBinding: the live channel's local address follows its binding. */
export function noteChannelBinding (channels: Map<string, RpmsgChannelEvent>, b: RpmsgChannelBinding): void {
  const known = channels.get(b.name)
  if (known !== undefined && known.dst === b.dst) channels.set(b.name, { ...known, src: b.src })
}
