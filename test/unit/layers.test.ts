// Imports point down the stack of DESIGN.md only:
// rpmsg -> virtio/vhost -> transport -> hw -> mem -> link. errors.ts and
// uapi/ are shared by every layer; api/, config/, bin/ and node.ts sit above them all.

import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const src = fileURLToPath(new URL('../../daemon/src/', import.meta.url))
const RANK: Record<string, number> = { link: 0, mem: 1, hw: 2, transport: 3, virtio: 4, vhost: 4, rpmsg: 5 }
const TOP = 10

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

function layerOf (file: string): string {
  const first = relative(src, file).split('/')[0]!
  return first.replace(/\.[jt]s$/, '')
}

// errors.ts and uapi/ (Linux's user-space ABI: layouts and constants) serve every layer.
const rank = (layer: string): number => layer === 'errors' ? -2 : layer === 'uapi' ? -1 : RANK[layer] ?? TOP

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
      if (to === from) continue
      if (rank(to) >= rank(from) && !(rank(from) === TOP && rank(to) === TOP)) violations.push(`${relative(src, file)} imports ${m[1]}`)
    }
  }
  t.ok(checked > 20, `checked ${checked} imports`)
  t.same(violations, [], 'imports point down the stack')
})
