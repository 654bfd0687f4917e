// Everything one run measured, and the rows it makes.

import type { Baseline, Rate, Row, Rtt } from './figures.js'
import { rate } from './figures.js'
import type { MemoryBench } from './memory.js'
import type { VirtioBench } from './virtio.js'
import type { ClientPcieBench } from './client-pcie.js'
import type { ClientNtbBench } from './client-ntb.js'
import type { StartupBench } from './startup.js'
import { REGION_ARG } from './startup.js'
import { WINDOW } from './sizes.js'
import type { SoakBench } from './soak.js'

export interface Results {
  baselines: Map<string, Baseline>
  memory: MemoryBench
  virtio: VirtioBench[]
  bus: { up: Rate, down: Rate }
  ntbBus: { toHost1: Rate, toHost2: Rate }
  client: ClientPcieBench
  ntb: ClientNtbBench
  soak: SoakBench
  startup: Map<string, StartupBench>
}

export const virtioRate = (v: VirtioBench): Rate => rate(v.buffers / v.seconds, 'buffers/s', v.bytes / v.buffers)

/** The rows of BENCHMARKS.md, in order; ids are what goals.ts looks up. */
export function rows (r: Results): Row[] {
  const c = r.client
  const pcie = (figure: Rate | Rtt): Row['against'] => ({ label: 'the PCIe figure', figure })
  const out: Row[] = [
    { id: 'win-496', name: 'window writes, 496 B', figure: r.memory.writes, baseline: 'local-496' },
    { id: 'win-64k', name: 'window writes, 64 KiB', figure: r.memory.bigWrites, baseline: 'local-64k' },
    { id: 'doorbell', name: 'doorbell ping-pong', figure: r.memory.doorbell, baseline: 'local-rtt' },
    ...r.virtio.map((v): Row => ({ id: `virtio-${v.ring}`, name: `virtio test device, ${v.ring} ring`, figure: virtioRate(v), baseline: 'local-2k' })),
    { id: 'bus-up', name: 'rpmsg in-daemon one-way rc → ep, 496 B', figure: r.bus.up, baseline: 'local-496' },
    { id: 'bus-down', name: 'rpmsg in-daemon one-way ep → rc, 496 B', figure: r.bus.down, baseline: 'local-496' },
    ...c.modes.flatMap(({ mode, up, down }): Row[] => [
      { id: `client-${mode.id}-up`, name: `rpmsg client one-way rc → ep, 496 B, ${mode.label}`, figure: up, baseline: 'procs-496' },
      { id: `client-${mode.id}-down`, name: `rpmsg client one-way ep → rc, 496 B, ${mode.label}`, figure: down, baseline: 'procs-496' }
    ]),
    { id: 'client-rtt', name: 'rpmsg client ping-pong, 496 B', figure: c.pingPong, baseline: 'procs-rtt' },
    { id: 'ntb-bus-to-host1', name: 'rpmsg over NTB in-daemon one-way HOST2 → HOST1, 496 B', figure: r.ntbBus.toHost1, baseline: 'local-496', against: pcie(r.bus.up) },
    { id: 'ntb-bus-to-host2', name: 'rpmsg over NTB in-daemon one-way HOST1 → HOST2, 496 B', figure: r.ntbBus.toHost2, baseline: 'local-496', against: pcie(r.bus.down) },
    { id: 'ntb-client-rtt', name: 'rpmsg over NTB client ping-pong, 496 B', figure: r.ntb.pingPong, baseline: 'procs-rtt', against: pcie(c.pingPong) },
    { id: 'payload-16', name: `scaling: rpmsg client rc → ep, 16 B, ${WINDOW} in flight`, figure: c.small, baseline: 'procs-16' },
    { id: 'payload-496', name: `scaling: rpmsg client rc → ep, 496 B, ${WINDOW} in flight (the client row above)`, figure: c.windowedUp, baseline: 'procs-496' },
    { id: 'payload-4080', name: `scaling: rpmsg client rc → ep, 4080 B (4 KiB buffers), ${WINDOW} in flight`, figure: c.big, baseline: 'procs-4080' },
    ...[...c.apps].map(([n, f]): Row => ({ id: `apps-${n}`, name: `scaling: rpmsg client rc → ep, 496 B, ${n} application pair${n === 1 ? '' : 's'} (aggregate)`, figure: f, baseline: 'procs-496' })),
    ...[...r.ntb.pairs].map(([n, f]): Row => ({
      id: `ntb-pairs-${n}`,
      name: `scaling: rpmsg over NTB client HOST2 → HOST1, 496 B, ${n} host pair${n === 1 ? '' : 's'} on one board (aggregate)`,
      figure: f,
      baseline: 'procs-496',
      ...(n === 1 ? { against: pcie(c.windowedUp) } : {})
    }))
  ]
  for (const [role, s] of r.startup) {
    out.push({ id: `rss-${role}`, name: `idle RSS, soclinkd --role ${role} --region ${REGION_ARG}`, figure: s.rssMiB })
    out.push({ id: `healthz-${role}`, name: `spawn to first 200 of GET /healthz, --role ${role} --region ${REGION_ARG}`, figure: s.healthzMs })
  }
  return out
}
