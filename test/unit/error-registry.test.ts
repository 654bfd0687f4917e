// The error registry (daemon/src/error-codes.ts) is the one place a code is
// defined: every code has an HTTP status and valid gateway and link
// mappings; every code thrown anywhere in the daemon is in it, defined once;
// every error class's code is in it; and no route keeps a table of its own.
// The documented responses of each route are walked in
// test/integration/error-docs.test.ts.

import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { soclink } from '../../proto/gen/link.js'
import type { BatchErrorCode } from '../../proto/rpmsg-batch.js'
import * as coreErrors from '../../daemon/src/errors.js'
import * as apiErrors from '../../daemon/src/api/errors.js'
import { ERRORS, SoclinkError, closeCodeOf, httpStatusOf, isErrorCode, type ErrorCode, type ErrorSpec } from '../../daemon/src/errors.js'
import { RingError } from '../../daemon/src/uapi/ring-error.js'
import { RpmsgError } from '../../daemon/src/rpmsg/wire.js'
import { VirtioError } from '../../daemon/src/virtio/virtio.js'
import { VhostError } from '../../daemon/src/vhost/vhost.js'
import { NotNtbError } from '../../daemon/src/roles/ntb-views.js'
import { FaultPlanError } from '../../daemon/src/link/faults.js'
import { ReplayOverflowError } from '../../daemon/src/link/session.js'
import { NtbCommandTimeoutError } from '../../daemon/src/hw/ntb/ntb-command.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const codes = Object.keys(ERRORS) as ErrorCode[]

// Compile-time: the gateway's batch codes (proto/, which cannot import the daemon) are registry codes.
const batchCodes: Record<BatchErrorCode, ErrorCode> = { ERR_RPMSG_FORMAT: 'ERR_RPMSG_FORMAT', ERR_RPMSG_VERSION: 'ERR_RPMSG_VERSION', ERR_RPMSG_BATCH_SIZE: 'ERR_RPMSG_BATCH_SIZE' }

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (f === 'gen' || f === 'node_modules') return []
    return statSync(p).isDirectory() ? files(p) : /\.(ts|proto)$/.test(p) && !p.endsWith('.d.ts') ? [p] : []
  })
}

t.test('every code has an HTTP error status, and valid gateway and link mappings', async (t) => {
  t.ok(codes.length > 60, `${codes.length} codes`)
  const statuses = new Set(Object.keys(soclink.link.v1.Status))
  const goodbyes = new Set(Object.keys(soclink.link.v1.Goodbye.Code))
  for (const code of codes) {
    const spec: ErrorSpec = ERRORS[code]
    t.match(code, /^ERR_[A-Z0-9_]+$/, `${code}: a stable name`)
    t.ok(Number.isInteger(spec.http) && spec.http >= 400 && spec.http <= 599, `${code}: HTTP ${spec.http}`)
    t.ok(spec.doc.length > 0, `${code}: documented`)
    if (spec.close !== undefined) t.ok([1008, 1009, 1011].includes(spec.close), `${code}: close ${spec.close}`)
    if (spec.linkStatus !== undefined) t.ok(statuses.has(spec.linkStatus), `${code}: link.proto has Status ${spec.linkStatus}`)
    if (spec.goodbye !== undefined) t.ok(goodbyes.has(spec.goodbye), `${code}: link.proto has Goodbye ${spec.goodbye}`)
    t.equal(httpStatusOf(code), spec.http)
    t.ok(isErrorCode(code))
  }
  t.equal(httpStatusOf('ERR_INTERNAL'), 500, 'ERR_INTERNAL is the daemon fault')
  t.same(codes.filter((c) => httpStatusOf(c) === 500), ['ERR_INTERNAL'], 'no other code hides behind a 500')
  t.equal(closeCodeOf('ERR_RPMSG_BATCH_SIZE'), 1009, 'a batch too big closes with Message Too Big')
  t.equal(closeCodeOf('ERR_RPMSG_FORMAT'), 1008)
  t.notOk(isErrorCode('ERR_NOPE'))
  t.equal(httpStatusOf('ERR_NOPE' as ErrorCode), 500, 'a code forced past the types is a daemon fault, not a crash')
  t.notOk(isErrorCode('toString'), 'no inherited names')
  for (const code of Object.values(batchCodes)) t.ok(isErrorCode(code), `${code}: a batch code`)
  // The link's completion statuses each name one code, so a completion and its error agree both ways.
  const byStatus = codes.filter((c) => (ERRORS[c] as ErrorSpec).linkStatus !== undefined).map((c) => (ERRORS[c] as ErrorSpec).linkStatus)
  t.equal(new Set(byStatus).size, byStatus.length, 'one code per link Status')
})

t.test('no code is defined twice: the registry has each key once, and no other file keeps a table of codes', async (t) => {
  const registry = readFileSync(join(root, 'daemon/src/error-codes.ts'), 'utf8')
  const keys = [...registry.matchAll(/^ {2}(ERR_[A-Z0-9_]+):/gm)].map((m) => m[1]!)
  t.same([...keys].sort(), [...codes].sort(), 'the keys in the source are the registry')
  t.equal(new Set(keys).size, keys.length, 'each once')
  const tables: string[] = []
  for (const file of files(join(root, 'daemon/src'))) {
    if (file.endsWith('error-codes.ts')) continue
    // A code as an object key with a number (ERR_X: 409) is a status table outside the registry.
    if (/\bERR_[A-Z0-9_]+['"]?\s*:\s*\d{3}\b/.test(readFileSync(file, 'utf8'))) tables.push(file.slice(root.length))
  }
  t.same(tables, [], 'no status table outside the registry')
})

t.test('every ERR_ code the daemon and proto/ name, in code or in a comment, is in the registry', async (t) => {
  // Node's own codes the daemon compares against (TLS, OpenSSL, HTTP parser) are not ours.
  const node = /^ERR_(SSL_|TLS_|OSSL_|HTTP_)/
  const unknown = new Set<string>()
  let seen = 0
  for (const file of [...files(join(root, 'daemon/src')), ...files(join(root, 'proto'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\b(ERR_[A-Z0-9_]*[A-Z0-9])\b/g)) {
      seen++
      const code = m[1]!
      if (!node.test(code) && !isErrorCode(code)) unknown.add(`${code} (${file.slice(root.length)})`)
    }
  }
  t.ok(seen > 100, `${seen} codes named`)
  t.same([...unknown], [], 'none outside the registry')
})

t.test('every error class makes a registry code', async (t) => {
  type ErrorClass = new (...args: string[]) => SoclinkError
  const exported: unknown[] = [...Object.values(coreErrors), ...Object.values(apiErrors), NotNtbError, FaultPlanError, ReplayOverflowError, NtbCommandTimeoutError]
  const classes = exported.filter((v): v is ErrorClass => typeof v === 'function' && v.prototype instanceof SoclinkError)
  t.ok(classes.length >= 20, `${classes.length} classes`)
  for (const C of classes) {
    const e = new C('a', 'b')
    t.ok(isErrorCode(e.code), `${C.name}: ${e.code}`)
  }
  // Domain classes take a closed set: their codes are the registry's, by prefix.
  const domains: Array<[string, (code: ErrorCode) => SoclinkError]> = [
    ['ERR_RPMSG_', (c) => new RpmsgError(c as never, 'x')],
    ['ERR_VIRTIO_', (c) => new VirtioError(c as never, 'x')],
    ['ERR_VHOST_', (c) => new VhostError(c as never, 'x')],
    ['ERR_RING', (c) => new RingError(c as never, 'x')]
  ]
  for (const [prefix, make] of domains) {
    const own = codes.filter((c) => c.startsWith(prefix))
    t.ok(own.length > 0, `${prefix}*: ${own.length} codes`)
    for (const c of own) t.equal(make(c).code, c)
  }
  t.notOk(isErrorCode('ERR_RING_IDX'), 'ERR_RING_IDX is ERR_RING_AVAIL now, apart from ERR_RING_INDEX')
  t.ok(isErrorCode('ERR_RING_AVAIL'))
  const command = new coreErrors.CommandError('refused', 3)
  t.match(command, { code: 'ERR_COMMAND', command: 3 }, 'one class makes ERR_COMMAND')
})

t.test('README\'s error table has every code with its status and gateway or link mapping', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  for (const code of codes) {
    const spec: ErrorSpec = ERRORS[code]
    const row = new RegExp(`^\\| \`${code}\` \\| ${spec.http} \\| ([^|]*) \\|`, 'm').exec(readme)
    if (row === null) { t.fail(`${code}: no row with status ${spec.http}`); continue }
    const mapped = [spec.close !== undefined ? `close ${spec.close}` : '', spec.linkStatus ?? '', spec.goodbye !== undefined ? `Goodbye ${spec.goodbye}` : ''].filter(Boolean).join('; ')
    t.equal(row[1], mapped === '' ? '-' : mapped, `${code}: ${row[1]!}`)
  }
})
