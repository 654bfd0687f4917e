// An independent check of the packed ring bytes: our driver and device write
// a ring (num 5, EVENT_IDX) with used and available descriptors in both laps,
// and a small C program, compiled with `cc` against the kernel's
// <linux/virtio_ring.h>, reads the image through struct vring_packed_desc,
// struct vring_packed_desc_event and the VRING_PACKED_* macros.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Region } from '../../daemon/src/mem/region.js'
import { VIRTIO_RING_F_EVENT_IDX, features } from '../../daemon/src/uapi/virtio-config.js'
import { packedLayout } from '../../daemon/src/uapi/virtio-packed.js'
import { PackedVirtqueue } from '../../daemon/src/virtio/packed-virtqueue.js'
import { VringhPacked } from '../../daemon/src/vhost/vringh-packed.js'

const ccMissing = (spawnSync('cc', ['--version']).error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'

const SOURCE = String.raw`#define _DEFAULT_SOURCE
#include <endian.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/virtio_ring.h>

_Alignas(16) static unsigned char image[1 << 16];

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	unsigned num = (unsigned)atoi(argv[2]);
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return 1;
	size_t n = fread(image, 1, sizeof(image), f);
	fclose(f);
	if (n != num * sizeof(struct vring_packed_desc) + 2 * sizeof(struct vring_packed_desc_event))
		return 1;
	printf("desc %zu bytes: len at %zu, id at %zu, flags at %zu\n", sizeof(struct vring_packed_desc),
	       offsetof(struct vring_packed_desc, len), offsetof(struct vring_packed_desc, id),
	       offsetof(struct vring_packed_desc, flags));
	printf("event %zu bytes: flags at %zu\n", sizeof(struct vring_packed_desc_event),
	       offsetof(struct vring_packed_desc_event, flags));
	const struct vring_packed_desc *desc = (const void *)image;
	for (unsigned i = 0; i < num; i++) {
		unsigned flags = le16toh(desc[i].flags);
		printf("desc[%u] addr=0x%llx len=%u id=%u flags=0x%x avail=%d used=%d\n", i,
		       (unsigned long long)le64toh(desc[i].addr), le32toh(desc[i].len), le16toh(desc[i].id), flags,
		       !!(flags & (1 << VRING_PACKED_DESC_F_AVAIL)), !!(flags & (1 << VRING_PACKED_DESC_F_USED)));
	}
	const struct vring_packed_desc_event *ev = (const void *)(desc + num);
	for (int k = 0; k < 2; k++) {
		unsigned ow = le16toh(ev[k].off_wrap), fl = le16toh(ev[k].flags);
		printf("%s off=%u wrap=%u desc=%d\n", k ? "device" : "driver", ow & ~(1u << VRING_PACKED_EVENT_F_WRAP_CTR),
		       ow >> VRING_PACKED_EVENT_F_WRAP_CTR, fl == VRING_PACKED_EVENT_FLAG_DESC);
	}
	return 0;
}
`

// What the two sides were asked to write, as the kernel's structs show it.
const EXPECTED = `desc 16 bytes: len at 8, id at 12, flags at 14
event 4 bytes: flags at 2
desc[0] addr=0xc000 len=3 id=2 flags=0x8000 avail=0 used=1
desc[1] addr=0x9000 len=512 id=0 flags=0x82 avail=1 used=0
desc[2] addr=0xa000 len=0 id=0 flags=0x8080 avail=1 used=1
desc[3] addr=0xb000 len=4660 id=1 flags=0x82 avail=1 used=0
desc[4] addr=0x123456780 len=2 id=1 flags=0x80 avail=1 used=0
driver off=2 wrap=1 desc=1
device off=4 wrap=1 desc=1
`

t.test('the kernel reads our packed ring as we meant it', { skip: ccMissing ? 'no C compiler: `cc` is not installed' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-packed-c-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

  const mem = new Region(1, 'mem', 0x10000)
  const layout = packedLayout(0, 5)
  const opts = { features: features(VIRTIO_RING_F_EVENT_IDX) }
  const vq = new PackedVirtqueue<string>(mem, layout, opts)
  const dev = new VringhPacked(mem, layout, opts)
  vq.add([{ addr: 0x8000, len: 16 }], [{ addr: 0x9000, len: 512 }], 'a') // slots 0-1, id 0
  vq.add([{ addr: 0xa000, len: 1 }], [{ addr: 0xb000, len: 0x1234 }], 'b') // slots 2-3, id 1
  dev.getDesc()
  dev.getDesc()
  dev.complete(1, 16) // b used in slot 0
  t.equal(vq.getBuf()?.token, 'b')
  dev.complete(0, 0) // a used in slot 2, no WRITE
  vq.add([{ addr: 0x1_2345_6780, len: 2 }], [], 'c') // slot 4, id 1 again, last of lap 1
  vq.add([{ addr: 0xc000, len: 3 }], [], 'd') // slot 0 of lap 0, id 2
  vq.disableCb()
  t.equal(vq.enableCb(), false, 'a is waiting in slot 2')
  t.equal(dev.notifyEnable(), false, 'c is waiting in slot 4')
  const image = join(dir, 'ring.img')
  writeFileSync(image, mem.read(0, layout.size))

  const src = join(dir, 'packed_layout.c')
  writeFileSync(src, SOURCE)
  const exe = join(dir, 'packed_layout')
  const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', exe, src], { encoding: 'utf8' })
  t.equal(cc.status, 0, 'cc compiles the reader', { stderr: cc.stderr })
  const run = spawnSync(exe, [image, '5'], { encoding: 'utf8' })
  t.equal(run.status, 0, 'the reader reads the image', { stderr: run.stderr })
  t.equal(run.stdout, EXPECTED)
})
