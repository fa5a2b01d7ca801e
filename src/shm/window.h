/* SPDX-License-Identifier: MIT */
/*
 * window.h: the host's side of the shared window: a sealed memfd mapped into
 * a reservation of its largest size (so growing never moves it), its layout,
 * a bump allocator for rings and regions, and the private copy of the
 * host-owned first page the integrity check compares against.
 */
#ifndef SBVM_SHM_WINDOW_H
#define SBVM_SHM_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/guest.h"

struct window {
    int memfd;         /* -1 for a private (fuzzing) window */
    uint8_t *base;     /* start of the reservation and of the window */
    uint64_t size;     /* mapped bytes, the memfd's size */
    uint64_t max_size; /* reserved bytes, the growth limit */
    uint32_t page;
    /* The host-owned bytes (header + ring table) as the host wrote them;
     * the window's copy is only ever compared against this one. */
    uint8_t *owned;
    size_t owned_len;
    bool private_mem; /* base came from malloc, not mmap */
};

/* The layout's parameters (validated by the config). */
struct window_layout {
    uint32_t nslots, slot_size, max_rings;
};

/* The smallest window that holds a layout's fixed part plus one page. */
uint64_t window_min_size(const struct window_layout *l, uint32_t page);

/*
 * Creates the memfd (sealed against shrinking), reserves max_size of address
 * space, maps size bytes and writes the header. 0 or -errno.
 */
int window_create(struct window *w, const struct window_layout *l, uint64_t size, uint64_t max_size,
                  char *why, size_t whylen);
/* The same over private memory (no memfd, no growth): for fuzzing. */
int window_create_private(struct window *w, const struct window_layout *l, uint64_t size);
void window_destroy(struct window *w);

static inline struct sbvm_window_header *window_hdr(const struct window *w)
{
    return (struct sbvm_window_header *)(void *)w->base;
}
/* The host's copy of the header: the truth about the layout. */
static inline const struct sbvm_window_header *window_shadow(const struct window *w)
{
    return (const struct sbvm_window_header *)(const void *)w->owned;
}

/* Grows the memfd and the mapping to new_size (page multiple, <= max_size). */
int window_grow(struct window *w, uint64_t new_size);

/*
 * Hands out `len` bytes (rounded up to `align`, a power of two <= page) at the
 * heap's end, growing the window when needed and allowed. The offset, or
 * -ENOSPC.
 */
int64_t window_alloc(struct window *w, uint64_t len, uint64_t align);

/* Writes a ring descriptor (host-owned) to the window and the private copy. */
void window_set_ring(struct window *w, uint32_t id, const struct sbvm_ring_desc *d);

/*
 * Compares the window's host-owned bytes with the private copy: 0 when they
 * match; else -EPROTO and `why` names the first field that differs and its
 * two values.
 */
int window_check(const struct window *w, char *why, size_t whylen);

/* Whether [off, off+len) lies inside the mapped window. */
static inline bool window_has(const struct window *w, uint64_t off, uint64_t len)
{
    return off <= w->size && len <= w->size - off;
}

#endif
