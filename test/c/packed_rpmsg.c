/*
 * Reads an rpmsg tx ring that soclink's virtio side laid out as a packed
 * ring (VIRTIO_F_RING_PACKED), from an image of memory that starts at bus
 * address BASE,
 * through the kernel's own definitions in <linux/virtio_ring.h>: struct
 * vring_packed_desc, struct vring_packed_desc_event, VRING_PACKED_DESC_F_AVAIL
 * and _USED, VRING_DESC_F_WRITE. For each descriptor the device has used in
 * the ring's first lap it prints the rpmsg message its buffer holds (struct
 * rpmsg_hdr of drivers/rpmsg/rpmsg_internal.h, which no uapi header has: 16
 * bytes, little-endian with VIRTIO_F_VERSION_1). test/integration/
 * rpmsg-packed.test.ts compiles and runs it.
 *
 * Usage: packed_rpmsg IMAGE BASE DESC NUM DRIVER_AREA DEVICE_AREA (bus addresses)
 */
#define _DEFAULT_SOURCE
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/virtio_ring.h>

struct rpmsg_hdr {
	uint32_t src;
	uint32_t dst;
	uint32_t reserved;
	uint16_t len;
	uint16_t flags;
	uint8_t data[];
} __attribute__((packed));

_Static_assert(sizeof(struct vring_packed_desc) == 16, "struct vring_packed_desc is 16 bytes");
_Static_assert(sizeof(struct vring_packed_desc_event) == 4, "struct vring_packed_desc_event is 4 bytes");
_Static_assert(sizeof(struct rpmsg_hdr) == 16, "struct rpmsg_hdr is 16 bytes");

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s IMAGE BASE DESC NUM DRIVER_AREA DEVICE_AREA\n", argv[0]);
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (f == NULL)
		return 1;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *mem = malloc((size_t)size);
	if (mem == NULL || fread(mem, 1, (size_t)size, f) != (size_t)size)
		return 1;
	fclose(f);
	unsigned long base = strtoul(argv[2], NULL, 0);
	unsigned long desc_at = strtoul(argv[3], NULL, 0) - base;
	unsigned num = (unsigned)strtoul(argv[4], NULL, 0);
	unsigned long driver_at = strtoul(argv[5], NULL, 0) - base;
	unsigned long device_at = strtoul(argv[6], NULL, 0) - base;
	if (desc_at + num * sizeof(struct vring_packed_desc) > (unsigned long)size || driver_at + 4 > (unsigned long)size || device_at + 4 > (unsigned long)size) {
		fprintf(stderr, "the ring is not in the image\n");
		return 1;
	}

	const struct vring_packed_desc *desc = (const void *)(mem + desc_at);
	const struct vring_packed_desc_event *driver = (const void *)(mem + driver_at);
	const struct vring_packed_desc_event *device = (const void *)(mem + device_at);
	printf("driver event: off_wrap=%u flags=%u\n", le16toh(driver->off_wrap), le16toh(driver->flags));
	printf("device event: off_wrap=%u flags=%u\n", le16toh(device->off_wrap), le16toh(device->flags));
	for (unsigned i = 0; i < num; i++) {
		uint16_t flags = le16toh(desc[i].flags);
		int avail = !!(flags & (1 << VRING_PACKED_DESC_F_AVAIL));
		int used = !!(flags & (1 << VRING_PACKED_DESC_F_USED));
		/* Used in the first lap (wrap counter 1): AVAIL = USED = 1. */
		if (!(avail && used))
			continue;
		uint64_t addr = le64toh(desc[i].addr) - base;
		if (addr + sizeof(struct rpmsg_hdr) > (uint64_t)size) {
			printf("desc[%u] addr outside the image\n", i);
			continue;
		}
		const struct rpmsg_hdr *h = (const void *)(mem + addr);
		uint16_t len = le16toh(h->len);
		if (addr + sizeof(struct rpmsg_hdr) + len > (uint64_t)size)
			len = 0;
		printf("desc[%u] id=%u write=%d hdr src=%u dst=%u reserved=%u len=%u flags=%u data=",
		       i, le16toh(desc[i].id), !!(flags & VRING_DESC_F_WRITE),
		       le32toh(h->src), le32toh(h->dst), le32toh(h->reserved), len, le16toh(h->flags));
		for (uint16_t b = 0; b < len; b++)
			printf("%02x", h->data[b]);
		printf("\n");
	}
	free(mem);
	return 0;
}
