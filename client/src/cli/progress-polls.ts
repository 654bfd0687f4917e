// What the progress line (../progress.ts) of a run the daemon does shows,
// read from the daemon's counters while the run's request waits: the test
// device's buffers (GET /v1/devices/NAME) and ntb_perf's writes, then its
// round trips (GET /v1/ntb/perf).

import type { ControlClient } from '../control-client.js'
import { BUFFERS, BYTES, PINGS, type ProgressStep } from '../progress.js'

const moved = (t: { sent: number, received: number } | null): number | null => t === null ? null : t.sent + t.received

/**
 * Buffers sent and received on `name` since now, of `total`. A device
 * without test counters (or not there) shows no line: the run's own reply
 * says what is wrong.
 */
export async function testDeviceProgress (c: ControlClient, name: string, total: number): Promise<() => Promise<ProgressStep | null>> {
  const before = await c.device(name).then((d) => moved(d.test), () => null)
  return async () => {
    if (before === null) return null
    const now = moved((await c.device(name)).test)
    return now === null ? null : { label: `${name} test buffers`, total, unit: BUFFERS, done: now - before }
  }
}

/** ntb_perf's run on this host: bytes written into the peer's window, then doorbell round trips. */
export function ntbPerfProgress (c: ControlClient): () => Promise<ProgressStep | null> {
  return async () => {
    const run = (await c.ntbPerf()).run
    if (run === null) return null
    return run.written < run.bytes
      ? { label: 'ntb perf writes', total: run.bytes, unit: BYTES, done: run.written }
      : { label: 'ntb perf round trips', total: run.pings, unit: PINGS, done: run.pinged }
  }
}
