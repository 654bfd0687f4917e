// Imports point down the layers only (see MAY_IMPORT for where this differs
// from DESIGN.md's order, and why).

import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const src = fileURLToPath(new URL('../../daemon/src/', import.meta.url))
// Which layers each layer may import (errors.ts with error-codes.ts, and uapi/, Linux's ABI, are
// open to all). The virtio and vhost cores sit below both their drivers
// (rpmsg) and their transports: a transport implements a core's config ops
// and builds its rings, as drivers/virtio/virtio_pci_*.c uses virtio_ring.c,
// and neither a core nor a driver knows which transport runs it.
const MAY_IMPORT: Record<string, string[]> = {
  link: [],
  mem: ['link'],
  hw: ['mem', 'link'],
  virtio: ['mem', 'link'],
  vhost: ['mem', 'link'],
  transport: ['virtio', 'vhost', 'hw', 'mem', 'link'],
  rpmsg: ['virtio', 'vhost', 'mem', 'link']
}

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

function layerOf (file: string): string {
  const first = relative(src, file).split('/')[0]!.replace(/\.[jt]s$/, '')
  // The error registry is part of errors.ts's layer, split out to keep one job per file.
  return first === 'error-codes' ? 'errors' : first
}

// Above the layers: the node (node.ts) and the roles (roles/) know each other
// only as role.ts describes them, and the composition root (daemon.ts) is
// the one place that imports both; the control API (api/) serves a role
// only through node.role.api, so it never imports roles/ (a role's routes
// may use api/'s helpers).
const FORBIDDEN: ReadonlyArray<[from: string, to: string]> = [
  ['api', 'roles'],
  ['node', 'roles'],
  ['roles', 'node'],
  ['role', 'roles'],
  ['role', 'node']
]

/** Whether `from` may import `to`; layers not in the table (api/, config/, roles/, bin/, node.ts) sit above all, but for FORBIDDEN. */
function allowed (from: string, to: string): boolean {
  if (FORBIDDEN.some(([f, t]) => f === from && t === to)) return false
  if (from === to || to === 'errors') return true
  if (from === 'errors') return false
  if (to === 'uapi') return true
  if (from === 'uapi') return false
  const may = MAY_IMPORT[from]
  return may === undefined ? true : may.includes(to)
}

t.test('no layer imports a layer above it or beside it', async (t) => {
  const violations: string[] = []
  let checked = 0
  for (const file of files(src)) {
    const from = layerOf(file)
    for (const m of readFileSync(file, 'utf8').matchAll(/^import[^'"]*['"](\.[^'"]+)['"]/gm)) {
      const target = resolve(dirname(file), m[1]!)
      if (!target.startsWith(src)) continue
      const to = layerOf(target)
      checked++
      if (!allowed(from, to)) violations.push(`${relative(src, file)} imports ${m[1]}`)
    }
  }
  t.ok(checked > 20, `checked ${checked} imports`)
  t.same(violations, [], 'imports point down the stack')
})

t.test('the rules above the layers hold: node.ts and roles/ apart, api/ without roles/', async (t) => {
  t.notOk(allowed('api', 'roles'), 'api/ may not import roles/')
  t.notOk(allowed('node', 'roles'), 'node.ts may not import roles/')
  t.notOk(allowed('roles', 'node'), 'roles/ may not import node.ts')
  t.ok(allowed('daemon', 'roles') && allowed('daemon', 'node'), 'the composition root imports both')
  t.ok(allowed('roles', 'api'), 'a role\'s routes use api/\'s helpers')
})
