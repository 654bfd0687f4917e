// What a daemon without an rpmsg bus answers (404): when one will come, by
// role. A new user who asks the ep for channels before any rc has linked
// should read that the ep waits for the rc, not only that there is no bus.

import type { Settings } from '../config/settings.js'
import { SoclinkError } from '../errors.js'

const WHEN: Record<Settings['role'], string> = {
  ep: 'an ep\'s bus comes once an rc has linked, enumerated its PCIe function and brought the rpmsg device up (is an rc linked? soclink peers)',
  rc: 'an rc\'s bus comes once an ep has linked and the rc has probed its rpmsg device (is an ep linked? soclink peers, soclink devices)',
  'ntb-virtio': 'a host\'s bus comes once the NTB board has paired it with an ntb-vhost host and the link is up (soclink peers, soclink ntb)',
  'ntb-vhost': 'a host\'s bus comes once the NTB board has paired it with an ntb-virtio host and that host has brought the rpmsg device up (soclink peers, soclink ntb)',
  ntb: 'the NTB board carries no rpmsg itself: ask its hosts (ntb-virtio, ntb-vhost)'
}

export function noRpmsgBus (s: Pick<Settings, 'name' | 'role' | 'vhostDriver'>, what = 'rpmsg bus'): SoclinkError {
  const when = s.role === 'ep' && s.vhostDriver !== 'rpmsg'
    ? `this ep's functions run ${s.vhostDriver}, not rpmsg (vhostDriver)`
    : WHEN[s.role]
  return new SoclinkError('ERR_NOT_FOUND', `no ${what} on ${JSON.stringify(s.name)} yet: ${when}`)
}
