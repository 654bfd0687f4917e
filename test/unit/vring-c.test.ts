// An independent check of the split ring bytes: our driver writes a ring
// (num 8, align 4096) with two buffers, and test/c/vring_layout.c, compiled
// with `cc` against the kernel's <linux/virtio_ring.h>, reads the image with
// vring_init() and the kernel's structs and prints it.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Region } from '../../daemon/src/mem/region.js'
import { splitLayout } from '../../daemon/src/uapi/virtio-ring.js'
import { SplitVirtqueue } from '../../daemon/src/virtio/split-virtqueue.js'

const source = fileURLToPath(new URL('../c/vring_layout.c', import.meta.url))
const ccMissing = (spawnSync('cc', ['--version']).error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'

// What the driver was asked to write, as the kernel's structs show it.
const EXPECTED = `vring_size(8, 4096) = 4166
desc = 0
avail = 128
used = 4096
used_event = 148
avail_event = 4164
avail.flags = 0
avail.idx = 2
avail.ring[0] = 0
desc[0] addr=0x8000 len=16 flags=1 next=1
desc[1] addr=0x9000 len=512 flags=2 next=2
avail.ring[1] = 2
desc[2] addr=0xa000 len=1 flags=1 next=3
desc[3] addr=0x123456780 len=2 flags=1 next=4
desc[4] addr=0xb000 len=4660 flags=2 next=5
`

t.test('the kernel reads our ring as we meant it', { skip: ccMissing ? 'no C compiler: `cc` is not installed' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-vring-c-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

  const mem = new Region(1, 'mem', 0x10000)
  const layout = splitLayout(0, 8, 4096)
  const vq = new SplitVirtqueue<string>(mem, layout)
  vq.add([{ addr: 0x8000, len: 16 }], [{ addr: 0x9000, len: 512 }], 'first')
  vq.add([{ addr: 0xa000, len: 1 }, { addr: 0x1_2345_6780, len: 2 }], [{ addr: 0xb000, len: 0x1234 }], 'second')
  const image = join(dir, 'ring.img')
  writeFileSync(image, mem.read(0, layout.size))

  const exe = join(dir, 'vring_layout')
  const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', exe, source], { encoding: 'utf8' })
  t.equal(cc.status, 0, 'cc compiles test/c/vring_layout.c', { stderr: cc.stderr })
  const run = spawnSync(exe, [image], { encoding: 'utf8' })
  t.equal(run.status, 0, 'vring_layout reads the image', { stderr: run.stderr })
  t.equal(run.stdout, EXPECTED)
})
