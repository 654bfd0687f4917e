// --rpmsg-sample, on any daemon that runs rpmsg: `modprobe
// rpmsg_client_sample` (register the driver, so it probes every
// "rpmsg-client-sample" channel the other side announces), and on the vhost
// side also `mkdir rpmsg/channel/rpmsg-client-sample/c1` and, whenever a
// vhost rpmsg device appears while c1 is unlinked, `ln -s` that item into
// rpmsg/virtproc/<device>, which creates and announces the channel.

import type { Logger } from 'pino'
import type { RpmsgDriverTable } from '../rpmsg/driver.js'
import { RpmsgClientSample, SAMPLE_ID } from '../rpmsg/sample.js'

export const SAMPLE_ITEM = 'c1'

export function loadRpmsgSample (table: RpmsgDriverTable, logger: Logger): void {
  table.register(new RpmsgClientSample(logger.child({ layer: 'rpmsg-sample' })))
  table.on('attached', (_bus, parent) => {
    if (parent.side !== 'vhost') return
    const group = table.channelGroups().find((g) => g.name === SAMPLE_ID)
    if (group === undefined) return
    if (!group.items.some((i) => i.name === SAMPLE_ITEM)) table.makeItem(SAMPLE_ID, SAMPLE_ITEM)
    if (group.items.find((i) => i.name === SAMPLE_ITEM)?.link != null) return
    try {
      table.link(parent.device, SAMPLE_ID, SAMPLE_ITEM)
    } catch (err) {
      logger.warn({ err: (err as Error).message, device: parent.device }, 'rpmsg sample channel not linked')
    }
  })
}
