// One size grammar (client/src/sizes.ts) for the daemon's settings and the
// CLI: both read the same table the same way. They used to disagree: the
// daemon took 4096ib and refused 1T, the CLI the other way round.

import t from 'tap'
import { parseSize as cliSize } from '../../client/src/cli/format.js'
import { parseSize as settingSize } from '../../daemon/src/config/settings.js'

const GOOD: Array<[string, number]> = [
  ['1', 1], ['4096', 4096], ['4096B', 4096], ['4096b', 4096], ['0x1000', 4096], ['0X1000', 4096], ['0x10K', 16384],
  ['64K', 65536], ['64k', 65536], ['64KB', 65536], ['64KiB', 65536], ['64kib', 65536],
  ['1M', 1 << 20], ['2G', 2 ** 31], ['1T', 2 ** 40], ['3tib', 3 * 2 ** 40]
]
const BAD = ['', '0', '0K', '4096ib', '4096i', '64Ki', '1.5M', 'K', '12X', '-1', ' 1', '1 K', '1KBB', '0x', '8192P', '9007199254740992', '8388608T']

t.test('the daemon and the CLI read sizes alike', async (t) => {
  for (const [text, bytes] of GOOD) {
    t.equal(cliSize(text), bytes, `CLI: ${text}`)
    t.equal(settingSize(text, '--region'), bytes, `daemon: ${text}`)
  }
  for (const text of BAD) {
    t.throws(() => cliSize(text), /size/, `CLI refuses ${JSON.stringify(text)}`)
    t.throws(() => settingSize(text, '--region'), { code: 'ERR_CONFIG', message: /^--region: size/ }, `daemon refuses ${JSON.stringify(text)}`)
  }
})
