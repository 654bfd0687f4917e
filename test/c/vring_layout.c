/*
 * Reads a split ring image (num 8, align 4096, base 0) that soclink's
 * TypeScript driver wrote, and prints it through the kernel's own
 * definitions: struct vring, vring_init(), vring_size(), vring_used_event()
 * and vring_avail_event() from <linux/virtio_ring.h>. test/unit/vring-c.test.ts
 * compiles and runs it and compares the output with what the driver wrote.
 *
 * Usage: vring_layout IMAGE
 */
#define _DEFAULT_SOURCE
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ring.h>

#define NUM 8
#define ALIGN 4096

_Static_assert(sizeof(struct vring_desc) == 16, "struct vring_desc is 16 bytes");
_Static_assert(sizeof(struct vring_used_elem) == 8, "struct vring_used_elem is 8 bytes");

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
		return 2;
	}
	size_t size = vring_size(NUM, ALIGN);
	void *p;
	if (posix_memalign(&p, ALIGN, size) != 0)
		return 1;
	memset(p, 0, size);
	FILE *f = fopen(argv[1], "rb");
	if (f == NULL || fread(p, 1, size, f) != size) {
		fprintf(stderr, "cannot read %zu bytes from %s\n", size, argv[1]);
		return 1;
	}
	fclose(f);

	struct vring vr;
	vring_init(&vr, NUM, p, ALIGN);
	char *base = p;
	printf("vring_size(%d, %d) = %zu\n", NUM, ALIGN, size);
	printf("desc = %td\n", (char *)vr.desc - base);
	printf("avail = %td\n", (char *)vr.avail - base);
	printf("used = %td\n", (char *)vr.used - base);
	printf("used_event = %td\n", (char *)&vring_used_event(&vr) - base);
	printf("avail_event = %td\n", (char *)&vring_avail_event(&vr) - base);
	printf("avail.flags = %u\n", le16toh(vr.avail->flags));
	unsigned idx = le16toh(vr.avail->idx);
	printf("avail.idx = %u\n", idx);
	for (unsigned a = 0; a < idx && a < NUM; a++) {
		unsigned head = le16toh(vr.avail->ring[a]);
		printf("avail.ring[%u] = %u\n", a, head);
		/* Walk the chain, at most NUM descriptors. */
		for (unsigned i = head, n = 0; i < NUM && n < NUM; n++) {
			struct vring_desc *d = &vr.desc[i];
			unsigned flags = le16toh(d->flags);
			printf("desc[%u] addr=0x%llx len=%u flags=%u next=%u\n", i,
			       (unsigned long long)le64toh(d->addr), le32toh(d->len), flags, le16toh(d->next));
			if (!(flags & VRING_DESC_F_NEXT))
				break;
			i = le16toh(d->next);
		}
	}
	free(p);
	return 0;
}
