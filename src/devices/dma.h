/* SPDX-License-Identifier: MIT */
/*
 * dma.h: the memory a device model may touch, as the driver names it. A
 * driver hands a device addresses (of rings, of buffers); every one of them
 * is hostile until it has been found, whole, inside one region of this map:
 * the client's memory table of a vhost-user connection, the DMA regions of a
 * sandboxed driver's window, or a test's buffer. Nothing else is reachable.
 *
 * The regions' host memory is shared with the driver, which may change it
 * at any moment: whoever reads a structure from it copies it out first
 * (dma_copy_in) and checks the copy.
 */
#ifndef SBVM_DEVICES_DMA_H
#define SBVM_DEVICES_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct dma_region {
    uint64_t addr;  /* the device-visible address of the first byte */
    uint64_t size;  /* bytes; addr + size does not overflow */
    uint8_t *host;  /* where those bytes are mapped in this process */
    uint64_t uaddr; /* another name for addr (vhost-user's user address), or 0 */
};

struct dma_map {
    struct dma_region *r;
    size_t n, alloc;
    unsigned generation; /* grows when memory goes away: ring pointers resolve again */
};

void dma_map_init(struct dma_map *m);
void dma_map_release(struct dma_map *m);
void dma_map_clear(struct dma_map *m);
/* Adds a region; -EINVAL when it is empty, wraps around, or overlaps
 * another (by either name), -ENOMEM. */
int dma_map_add(struct dma_map *m, uint64_t addr, uint64_t size, void *host, uint64_t uaddr);

/* The host address of [addr, addr + len) when all of it lies in one region,
 * else NULL. A zero length names no memory and is refused too. */
void *dma_ptr(const struct dma_map *m, uint64_t addr, uint64_t len);
/* The host address of addr and, in *avail, how many bytes of its region
 * follow it; NULL (and 0) when addr is in no region. */
void *dma_span(const struct dma_map *m, uint64_t addr, uint64_t *avail);
/* The device address of a region's other name (vhost-user rings are given
 * by the client's user address): 0 and *addr, or -EFAULT when
 * [uaddr, uaddr + len) is not inside one region. */
int dma_uaddr_to_addr(const struct dma_map *m, uint64_t uaddr, uint64_t len, uint64_t *addr);

/*
 * A copy out of memory the driver can write, that the compiler may not
 * replace by a second read of the shared bytes (the double fetch a racing
 * driver would exploit).
 */
static inline void dma_copy_in(void *dst, const void *src, size_t len)
{
    memcpy(dst, src, len);
    __asm__ __volatile__("" ::: "memory");
}

#endif
