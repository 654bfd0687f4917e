// The API's closed vocabularies and name bounds, which the daemon's own
// layers use too (link/faults.ts, hw/pcie/function-table.ts,
// api/bounded-strings.ts import them from here). Plain constants: no
// TypeBox, so importing them costs nothing.

/** What a fault-injecting proxy does to a link (link/faults.ts). */
export const FAULT_ACTIONS = ['close', 'reset', 'blackhole', 'delay'] as const

/**
 * The vhost-client drivers the ep role registers, by the name a function's
 * vhostDriver gives; 'none' is no client linked (unlinked in the vhost
 * configfs tree): the subsystem ids stay as configured.
 */
export const VHOST_DRIVERS = ['soclink-test', 'rpmsg', 'none'] as const

/** A node name (a peer's), as a request names it. */
export const NODE_NAME_MAX = 255
/** A region by name: NAME or NAME@PEER, 64 characters each (region-table.ts). */
export const REGION_REF_MAX = 129
