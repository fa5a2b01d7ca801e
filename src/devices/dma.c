/* SPDX-License-Identifier: MIT */
/* dma.c: the regions of memory a device model may reach, and lookups in them. */
#include "devices/dma.h"

#include <errno.h>
#include <stdlib.h>

#include "util/array.h"
#include "util/range.h"
#include "util/util.h"

void dma_map_init(struct dma_map *m)
{
    memset(m, 0, sizeof(*m));
}

void dma_map_release(struct dma_map *m)
{
    free(m->r);
    dma_map_init(m);
}

void dma_map_clear(struct dma_map *m)
{
    m->n = 0;
    m->generation++;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

int dma_map_add(struct dma_map *m, uint64_t addr, uint64_t size, void *host, uint64_t uaddr)
{
    uint64_t end;

    if (size == 0 || !host || ckd_add(&end, addr, size) || (uaddr && ckd_add(&end, uaddr, size)))
        return -EINVAL;
    for (size_t i = 0; i < m->n; i++) {
        if (overlaps(addr, size, m->r[i].addr, m->r[i].size))
            return -EINVAL;
        if (uaddr && m->r[i].uaddr && overlaps(uaddr, size, m->r[i].uaddr, m->r[i].size))
            return -EINVAL;
    }
    if (ARRAY_GROW(m->r, m->n + 1, &m->alloc) < 0)
        return -ENOMEM;
    m->r[m->n++] = (struct dma_region){ addr, size, host, uaddr };
    /* An addition leaves every address resolved before valid: only a
     * change that removes memory (dma_map_clear, a new table) moves the
     * generation. */
    return 0;
}

void *dma_span(const struct dma_map *m, uint64_t addr, uint64_t *avail)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct dma_region *g = &m->r[i];
        if (addr >= g->addr && addr - g->addr < g->size) {
            *avail = g->size - (addr - g->addr);
            return g->host + (addr - g->addr);
        }
    }
    *avail = 0;
    return NULL;
}

void *dma_ptr(const struct dma_map *m, uint64_t addr, uint64_t len)
{
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const struct dma_region *g = &m->r[i];
        if (addr >= g->addr && range_ok(addr - g->addr, len, g->size))
            return g->host + (addr - g->addr);
    }
    return NULL;
}

int dma_uaddr_to_addr(const struct dma_map *m, uint64_t uaddr, uint64_t len, uint64_t *addr)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct dma_region *g = &m->r[i];
        if (g->uaddr && uaddr >= g->uaddr && range_ok(uaddr - g->uaddr, len, g->size)) {
            *addr = g->addr + (uaddr - g->uaddr);
            return 0;
        }
    }
    return -EFAULT;
}
