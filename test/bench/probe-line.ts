// What loop-probe.ts writes and soak.ts reads: one line per second on a
// probed daemon's stderr, this prefix and then JSON.

export const PROBE_PREFIX = 'soak-probe '
