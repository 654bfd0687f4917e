// Hostile rings against a live ep daemon, which stays up. The ep is a real
// soclinkd process; the rc is an in-process node whose virtio test driver
// brings the device to DRIVER_OK, after which the test breaks a split ring in
// rc system memory and kicks through the real BAR0 register block. For each
// broken rule: the ep process keeps running and answers /healthz, the device
// sets DEVICE_NEEDS_RESET (seen in the rc's BAR0 replica), the rc's virtio bus
// re-probes it, the ep's log names the ring error code, and the test device
// still moves buffers both ways afterwards.
//
// Needs the built daemon: `npm run build` first.

import t, { type Test } from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { HostileRing, bar0Of, driverOk, watchDeviceStatus } from '../support/hostile-rc.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import type { VirtioDevice } from '../../daemon/src/virtio/virtio.js'
import type { RingErrorCode } from '../../daemon/src/uapi/ring-error.js'
import { DEVICE_STATUS } from '../../daemon/src/transport/epf-vhost-regs.js'
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE
} from '../../daemon/src/uapi/virtio-config.js'

/** rc system memory (the default, 16 MiB): both sides are told, the ep sizes its outbound window by it. */
const MEMORY_SIZE = 16 * 1024 * 1024
/** A place in rc memory no ring or pool buffer is near (the pool hands out from the bottom). */
const SCRATCH = MEMORY_SIZE - 0x10000
/** ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, from the spec's numbers (virtio 1.x 2.1). */
const LIVE = 1 | 2 | 8 | 4

interface Case {
  name: string
  /** Which queue to break: 0 tx (the device reads), 1 rx (the device writes). */
  queue: number
  code: RingErrorCode
  /** rc memory for this case, if not MEMORY_SIZE. */
  memorySize?: number
  /** Breaks the ring in rc memory; the test kicks after. */
  corrupt: (r: HostileRing) => void
}

const cases: Case[] = [
  {
    name: 'a descriptor chain that loops (desc.next back to itself with NEXT)',
    queue: 0,
    code: 'ERR_RING_LOOP',
    corrupt: (r) => {
      r.desc(0, { addr: SCRATCH, len: 64, flags: VRING_DESC_F_NEXT, next: 0 })
      r.publish(0)
    }
  },
  {
    name: 'a chain longer than the ring (every descriptor chained, the last back to the first)',
    queue: 0,
    code: 'ERR_RING_LOOP',
    corrupt: (r) => {
      for (let i = 0; i < r.num; i++) r.desc(i, { addr: SCRATCH, len: 16, flags: VRING_DESC_F_NEXT, next: (i + 1) % r.num })
      r.publish(0)
    }
  },
  {
    name: 'a descriptor address outside rc memory',
    queue: 0,
    code: 'ERR_RING_ADDRESS',
    corrupt: (r) => {
      r.desc(0, { addr: MEMORY_SIZE + 0x1000, len: 64, flags: 0 })
      r.publish(0)
    }
  },
  {
    name: 'a length overflow (two readable descriptors of 0xffffffff)',
    queue: 0,
    // Each descriptor alone is also outside 16 MiB of memory; the device
    // stops at the first rule broken, which here is the address of the
    // first descriptor (its length alone, 2^32 - 1, is still a u32).
    code: 'ERR_RING_ADDRESS',
    corrupt: (r) => {
      r.desc(0, { addr: 0, len: 0xffff_ffff, flags: VRING_DESC_F_NEXT, next: 1 })
      r.desc(1, { addr: 0, len: 0xffff_ffff, flags: 0 })
      r.publish(0)
    }
  },
  {
    name: 'a length overflow with both descriptors inside rc memory (8 GiB, sparse)',
    queue: 0,
    memorySize: 8 * 1024 * 1024 * 1024,
    code: 'ERR_RING_LENGTH',
    corrupt: (r) => {
      r.desc(0, { addr: 0x1_0000_0000, len: 0xffff_ffff, flags: VRING_DESC_F_NEXT, next: 1 })
      r.desc(1, { addr: 0x1_0000_0000, len: 0xffff_ffff, flags: 0 })
      r.publish(0)
    }
  },
  {
    name: 'a readable descriptor after a writable one',
    queue: 1,
    code: 'ERR_RING_ORDER',
    corrupt: (r) => {
      r.desc(0, { addr: SCRATCH, len: 64, flags: VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, next: 1 })
      r.desc(1, { addr: SCRATCH + 64, len: 64, flags: 0 })
      r.publish(0)
    }
  },
  {
    name: 'avail->idx jumping more than num ahead',
    queue: 0,
    code: 'ERR_RING_AVAIL',
    corrupt: (r) => {
      r.desc(0, { addr: SCRATCH, len: 64, flags: 0 })
      r.setAvailIdx(r.availIdx + r.num + 1)
    }
  }
]

t.equal(LIVE, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, 'DRIVER_OK status is 15')

async function pair (t: Test, memorySize = MEMORY_SIZE, rcArgs: string[] = []): Promise<{ rc: SoclinkNode, ep: Daemon }> {
  const rc = await startNode('rc', ['--role', 'rc', '--memory-size', String(memorySize), ...rcArgs])
  t.teardown(async () => { await rc.stop('test') })
  const ep = await startDaemon('ep', ['--role', 'ep', '--vhost-driver', 'soclink-test', '--peer', linkUrl(rc), '--memory-size', String(memorySize)])
  t.teardown(async () => { await ep.stop() })
  return { rc, ep }
}

async function healthz (ep: Daemon): Promise<number> {
  const res = await fetch(`${ep.api}/healthz`)
  await res.arrayBuffer()
  return res.status
}

/** The bus's answer to NEEDS_RESET: bound again (DRIVER_OK) or failed (FAILED, with the reason). */
async function reprobed (rc: SoclinkNode, dev: VirtioDevice): Promise<'bound' | 'failed'> {
  const bus = rc.pcieRc!.virtioBus
  return await new Promise((resolve) => {
    const off = (): void => { bus.off('bound', onBound); bus.off('failed', onFailed) }
    const onBound = (d: VirtioDevice): void => { if (d === dev) { off(); resolve('bound') } }
    const onFailed = (d: VirtioDevice): void => { if (d === dev && d.failed) { off(); resolve('failed') } }
    bus.on('bound', onBound)
    bus.on('failed', onFailed)
  })
}

/** Breaks a ring of a device at DRIVER_OK, kicks, and checks everything the ep and the rc do about it. */
async function breakAndRecover (t: Test, rc: SoclinkNode, ep: Daemon, c: Case): Promise<void> {
  const transport = await driverOk(rc)
  const dev = transport.device
  t.equal(dev.status, LIVE, 'the device starts at DRIVER_OK')
  t.equal(await healthz(ep), 200, 'the ep answers before')

  const bar0 = bar0Of(rc)
  const status = watchDeviceStatus(bar0)
  const bus = rc.pcieRc!.virtioBus
  let needsReset = 0
  const onNeedsReset = (d: VirtioDevice): void => { if (d === dev) needsReset++ }
  bus.on('needs-reset', onNeedsReset)
  const outcome = reprobed(rc, dev)
  const logsBefore = ep.logs.length

  try {
    const ring = new HostileRing(rc, transport, c.queue)
    c.corrupt(ring)
    ring.kick()

    // DEVICE_NEEDS_RESET in BAR0, as the rc's replica saw it (before the re-probe reset it).
    await until('DEVICE_NEEDS_RESET in BAR0', () => status.seen.some((s) => (s & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0) ? true : undefined)
    t.ok(status.seen.some((s) => s === (LIVE | VIRTIO_CONFIG_S_NEEDS_RESET)), `DEVICE_STATUS went from 0x${LIVE.toString(16)} to 0x${(LIVE | VIRTIO_CONFIG_S_NEEDS_RESET).toString(16)} (saw ${status.seen.map((s) => '0x' + s.toString(16)).join(', ')})`)

    // The bus re-probes: NEEDS_RESET is reported, and the device ends bound at DRIVER_OK.
    const result = await outcome
    t.ok(needsReset >= 1, 'the virtio bus saw needs-reset')
    t.ok(result === 'bound' || result === 'failed', `re-probe ended ${result}`)
    if (result === 'failed') {
      t.ok((dev.status & VIRTIO_CONFIG_S_FAILED) !== 0, 'a failed re-probe leaves FAILED')
      t.ok(dev.lastError !== null && dev.lastError.message !== '', `with a reason: ${dev.lastError?.message ?? '(none)'}`)
    }
    t.equal(result, 'bound', 'the re-probe binds the test driver again')
  } finally {
    status.stop()
    bus.off('needs-reset', onNeedsReset)
  }
  const again = await driverOk(rc)
  t.equal(again, transport, 'the same function and transport, not a re-enumeration')
  t.equal(dev.status, LIVE, 'DRIVER_OK again, NEEDS_RESET gone')
  t.equal(bar0.read8(DEVICE_STATUS), LIVE, 'BAR0 DEVICE_STATUS reads DRIVER_OK again')
  t.equal(dev.lastError?.code, 'ERR_VIRTIO_NEEDS_RESET', 'the bus kept why it reset the device')
  t.not(dev.lastError?.message ?? '', '', 'with a message')

  // The ep process is up, serving, and said what the ring broke.
  t.equal(ep.proc.exitCode, null, 'the ep process is alive')
  t.equal(ep.proc.signalCode, null, 'and was not killed')
  t.equal(await healthz(ep), 200, 'the ep still answers /healthz')
  const logged = await until(`${c.code} in the ep log`, () => ep.logs.slice(logsBefore).find((l) => l.includes(c.code)))
  const rec = JSON.parse(logged) as { code?: string, queue?: number, msg?: string }
  t.equal(rec.code, c.code, `the ep logged ${c.code}`)
  t.equal(rec.queue, c.queue, `for queue ${c.queue}`)
  t.equal(rec.msg, 'device needs reset')

  // And the device still works, both ways, contents checked on both sides.
  const counters = await within(rc.pcieRc!.testDriver.run(100, dev), '100 buffers each way after the re-probe')
  t.equal(counters.errors, 0, 'no bad buffer came back')
  t.ok(counters.verified >= 100, `verified ${counters.verified} received buffers`)
  t.ok(counters.sent >= 100, `sent ${counters.sent} buffers`)
  t.equal(ep.proc.exitCode, null, 'the ep is still alive after the traffic')
}

for (const c of cases) {
  t.test(c.name, async (t) => {
    const { rc, ep } = await pair(t, c.memorySize)
    await breakAndRecover(t, rc, ep, c)
  })
}

// With INTx the rc reads ISR from its BAR0 replica and then writes 0 to clear
// it: not atomic against the ep setting ISR again for a second queue. The rc's
// own unordered clear overlays the ep's later ISR update, the second assert
// reads ISR 0 and services nothing, and the ep's copy is zeroed when the
// clear lands: a used-buffer interrupt is lost and run(100) stalls (it does
// right after DRIVER_OK too, without any hostile ring). Correct behaviour is
// asserted here; see virtio-pci-epf.ts intx() and pci-epf-vhost.ts interrupt().
t.test('INTx instead of MSI: the config interrupt comes as ISR bit 1', async (t) => {
  const { rc, ep } = await pair(t, MEMORY_SIZE, ['--interrupts', 'intx'])
  await breakAndRecover(t, rc, ep, cases[0]!)
})

t.test('every case in turn on one pair: each re-probe leaves a device that can be broken and recovered again', async (t) => {
  const { rc, ep } = await pair(t)
  for (const c of cases) {
    if (c.memorySize !== undefined) continue
    await t.test(c.name, async (t) => { await breakAndRecover(t, rc, ep, c) })
  }
})
