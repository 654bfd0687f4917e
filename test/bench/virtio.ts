// The PCIe test device pair in one process over loopback: buffers per second
// through virtio-pci-epf and pci-epf-vhost, split and packed rings.

import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import { VIRTIO_CONFIG_S_DRIVER_OK } from '../../daemon/src/uapi/virtio-config.js'

export interface VirtioBench { ring: 'split' | 'packed', buffers: number, seconds: number, bytes: number }

export async function benchVirtio (ring: 'split' | 'packed', count: number): Promise<VirtioBench> {
  const rc = await startNode('bench-rc', ['--role', 'rc', '--ring', ring])
  const ep = await startNode('bench-ep', ['--role', 'ep', '--vhost-driver', 'soclink-test', '--peer', linkUrl(rc)])
  try {
    const role = rc.pcieRc!
    const dev = await until('DRIVER_OK', () => {
      const d = role.transports.get('bench-ep')?.device
      return d !== undefined && (d.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 ? d : undefined
    })
    const t0 = performance.now()
    const c = await role.testDriver.run(count, dev)
    const seconds = (performance.now() - t0) / 1000
    if (c.errors !== 0) throw new Error(`test device saw ${c.errors} errors`)
    return { ring, buffers: 2 * count, seconds, bytes: c.bytes }
  } finally {
    await ep.stop('bench')
    await rc.stop('bench')
  }
}
