// Regression tests for bugs found while the unit tests were written; each
// failed against the code as it was then.

import t from 'tap'
import { loadSettings, type Settings } from '../../daemon/src/config/settings.js'
import { Region } from '../../daemon/src/mem/region.js'
import { OutOfRangeError } from '../../daemon/src/errors.js'
import { MemNode, connect } from '../support/mem-node.js'
import { settle } from '../support/loop-link.js'

function load (argv: string[], fileMap: Record<string, string> = {}): Settings {
  const readFile = (path: string): string => {
    const text = fileMap[path]
    if (text === undefined) throw new Error(`ENOENT: ${path}`)
    return text
  }
  const loaded = loadSettings({ argv, env: {}, readFile })
  if (loaded.kind !== 'run') throw new Error('expected settings')
  return loaded.settings
}

t.test('settings: secretFile in the config file is accepted and read', async (t) => {
  // settings.ts: readConfigFile keeps secretFile in the mapping (line 168), then
  // the unknown-key check (lines 123-125) refuses it because it is not in SETTINGS.
  const s = load(['--config', 'c.yaml'], { 'c.yaml': 'secretFile: /run/s\n', '/run/s': 'from-file\n' })
  t.equal(s.secret, 'from-file')
})

t.test('settings: a peer URL with another scheme is refused, not mangled', async (t) => {
  // settings.ts normalizePeerUrl (line 252): 'http://x:1' gets 'ws://' put in
  // front and parses as host "http": the result is 'ws://http//x:1'.
  t.throws(() => load(['--peer', 'http://x:1']), { name: 'ConfigError', code: 'ERR_CONFIG' })
})

t.test('settings: sizes in the config file are checked as on the command line', async (t) => {
  // settings.ts fromFile 'regions' (lines 195-196) and parseWindow (line 244)
  // accept any safe integer size; --region refuses sizes <= 0 (parseSize).
  t.throws(() => load(['--config', 'c.yaml'], { 'c.yaml': 'regions:\n  - {name: n, size: -1}\n' }), { code: 'ERR_CONFIG' }, 'region size -1')
  t.throws(() => load(['--config', 'c.yaml'], { 'c.yaml': 'regions:\n  - {name: n, size: 0}\n' }), { code: 'ERR_CONFIG' }, 'region size 0')
  t.throws(() => load(['--config', 'c.yaml'], { 'c.yaml': 'windows:\n  - {peer: p, region: r, size: -4}\n' }), { code: 'ERR_CONFIG' }, 'window size -4')
})

t.test('settings: integers beyond 2^53 from flags are refused', async (t) => {
  // settings.ts parseInteger (lines 208-211) checks digits only; fromFile checks isSafeInteger.
  t.throws(() => load(['--dead-after-ms', '99999999999999999999']), { code: 'ERR_CONFIG' })
})

t.test('memory: read() checks its length before allocating', async (t) => {
  // paged-memory.ts read (line 74): Buffer.allocUnsafe(length) runs before the
  // range check, so -1 throws Node's RangeError and 1.5 is truncated to 1 byte.
  const r = new Region(1, 'r', 100)
  t.throws(() => r.read(10, -1), OutOfRangeError, 'negative length')
  t.throws(() => r.read(0, 1.5), OutOfRangeError, 'fractional length')
  t.throws(() => r.read(99, 1.5), OutOfRangeError, 'fractional length at the end')
})

t.test('memory: observers get the bytes of their own write even when an observer writes', async (t) => {
  // access.ts u64Bytes (line 33 ff.) returns one module-wide scratch buffer, and
  // paged-memory.ts write8/16/32 (lines 112-125) pass a subarray of the memory's
  // own scratch; Region.writeFrom hands that same view to every observer in
  // turn. An observer that writes (another region, or this one) overwrites it,
  // so later observers are told bytes that were never written there.
  const a = new Region(1, 'a', 64)
  const b = new Region(2, 'b', 64)
  const seen: string[] = []
  a.observe(() => { b.write64(0, 0x0102030405) })
  a.observe((offset, length) => { seen.push(`${offset}:${Buffer.from(a.read(offset, length)).toString('hex')}`) })
  a.write64(8, 0x1122334455)
  t.same(seen, ['8:5544332211000000'], 'write64, observer writes another region')

  const c = new Region(3, 'c', 64)
  const seenC: string[] = []
  c.observe((offset) => { if (offset === 0) c.write32(32, 0xdeadbeef) })
  c.observe((offset, length) => { seenC.push(`${offset}:${Buffer.from(c.read(offset, length)).toString('hex')}`) })
  c.write32(0, 0x11223344)
  t.ok(seenC.includes('0:44332211'), `write32, observer writes the same region (saw ${seenC.join(', ')})`)
})

t.test('memory: a replica stays equal to its owner when a region observer writes', async (t) => {
  // The same aliasing seen end to end: the completer forwards the clobbered
  // bytes as the Update, and the replica diverges for good.
  const o = new MemNode('o')
  const w = new MemNode('w')
  const region = o.regions.create('mem', 4096)
  const other = o.regions.create('other', 64)
  region.observe((offset) => { if (offset === 0) other.write64(0, 0x0a0b0c0d) }) // e.g. a register block reacting
  const ends = connect(o, w)
  const win = w.requester.open({ peer: 'o', region: 'mem', offset: 0, size: 4096, replica: true })
  await w.requester.opened(win)
  region.write64(0, 0x1122334455)
  await settle(ends)
  t.equal(Buffer.from(win.read(0, 8)).toString('hex'), Buffer.from(region.read(0, 8)).toString('hex'))
})

t.test('requester: opened() on a window that has already failed rejects at once with the refusal', async (t) => {
  // requester.ts opened (lines 57-72) only checks state 'open' up front; for a
  // window already 'failed' it waits for a 'window' event that never comes and
  // rejects with TimeoutError after timeoutMs instead.
  const o = new MemNode('o')
  const w = new MemNode('w')
  o.regions.create('mem', 4096)
  const ends = connect(o, w)
  const win = w.requester.open({ peer: 'o', region: 'missing', offset: 0, size: 16, replica: false })
  await settle(ends)
  t.equal(win.state, 'failed')
  await t.rejects(w.requester.opened(win, 2000), { code: 'ERR_UNSUPPORTED_REQUEST' })
})
