/* SPDX-License-Identifier: MIT */
/* window.c: the shared window's memfd, mapping, layout, growth and integrity. */
#include "shm/window.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Offsets of the fixed part. Page 0: header and ring table (host-owned);
 * page 1: doorbells and slots; then the slots' bounce buffers; then the heap. */
static void layout_offsets(const struct window_layout *l, uint32_t page,
                           struct sbvm_window_header *h)
{
    h->rings_off = align_up(sizeof(struct sbvm_window_header), 64);
    h->max_rings = l->max_rings;
    h->ctl_off = page;
    h->slots_off = h->ctl_off + sizeof(struct sbvm_window_ctl);
    h->nslots = l->nslots;
    h->slot_size = l->slot_size;
    h->slot_data_off =
        align_up(h->slots_off + (uint64_t)l->nslots * sizeof(struct sbvm_slot), page);
    h->heap_off = align_up(h->slot_data_off + (uint64_t)l->nslots * l->slot_size, page);
    h->heap_end = h->heap_off;
}

uint64_t window_min_size(const struct window_layout *l, uint32_t page)
{
    struct sbvm_window_header h;

    memset(&h, 0, sizeof(h));
    layout_offsets(l, page, &h);
    return h.heap_off + page;
}

/* Fills the header and the private copy of the host-owned bytes. */
static int window_init_header(struct window *w, const struct window_layout *l)
{
    struct sbvm_window_header h;

    memset(&h, 0, sizeof(h));
    h.magic = SBVM_WINDOW_MAGIC;
    h.abi_major = SBVM_ABI_MAJOR;
    h.abi_minor = SBVM_ABI_MINOR;
    h.header_size = sizeof(h);
    h.size = w->size;
    h.max_size = w->max_size;
    h.page_size = w->page;
    layout_offsets(l, w->page, &h);
    w->owned_len = h.rings_off + (size_t)l->max_rings * sizeof(struct sbvm_ring_desc);
    w->owned = calloc(1, w->owned_len);
    if (!w->owned)
        return -ENOMEM;
    memcpy(w->owned, &h, sizeof(h));
    memcpy(w->base, w->owned, w->owned_len);
    return 0;
}

int window_create(struct window *w, const struct window_layout *l, uint64_t size, uint64_t max_size,
                  char *why, size_t whylen)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *res, *m;
    int e;

    memset(w, 0, sizeof(*w));
    w->memfd = -1;
    w->page = pg > 0 ? (uint32_t)pg : 4096;
    w->size = size;
    w->max_size = max_size;
    w->memfd = memfd_create("sbvm-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (w->memfd < 0) {
        e = -errno;
        snprintf(why, whylen, "creating the window (memfd_create)");
        return e;
    }
    if (ftruncate(w->memfd, (off_t)size) < 0) {
        e = -errno;
        snprintf(why, whylen, "sizing the window to %llu bytes", (unsigned long long)size);
        goto fail;
    }
    /* The host maps what the file held when it last grew it: a guest that
     * could shrink the file would turn the host's next access into SIGBUS.
     * F_SEAL_SEAL stops the guest from adding seals of its own. */
    if (fcntl(w->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
        e = -errno;
        snprintf(why, whylen, "sealing the window");
        goto fail;
    }
    /* Reserve the largest size once so that growth maps in place and every
     * pointer the host holds stays valid. */
    res = mmap(NULL, max_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED) {
        e = -errno;
        snprintf(why, whylen, "reserving %llu bytes of address space for the window",
                 (unsigned long long)max_size);
        goto fail;
    }
    m = mmap(res, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, w->memfd, 0);
    if (m == MAP_FAILED) {
        e = -errno;
        munmap(res, max_size);
        snprintf(why, whylen, "mapping the window");
        goto fail;
    }
    w->base = res;
    if ((e = window_init_header(w, l)) < 0) {
        snprintf(why, whylen, "allocating the window's private copy");
        munmap(w->base, w->max_size);
        w->base = NULL;
        goto fail;
    }
    return 0;
fail:
    close(w->memfd);
    w->memfd = -1;
    return e;
}

int window_create_private(struct window *w, const struct window_layout *l, uint64_t size)
{
    int e;

    memset(w, 0, sizeof(*w));
    w->memfd = -1;
    w->page = 4096;
    w->size = size;
    w->max_size = size;
    w->private_mem = true;
    w->base = aligned_alloc(4096, size);
    if (!w->base)
        return -ENOMEM;
    memset(w->base, 0, size);
    if ((e = window_init_header(w, l)) < 0) {
        free(w->base);
        w->base = NULL;
    }
    return e;
}

void window_destroy(struct window *w)
{
    if (w->base) {
        if (w->private_mem)
            free(w->base);
        else
            munmap(w->base, w->max_size);
    }
    if (w->memfd >= 0)
        close(w->memfd);
    free(w->owned);
    memset(w, 0, sizeof(*w));
    w->memfd = -1;
}

/* Updates one host-owned field in both copies. */
static void owned_write(struct window *w, size_t off, const void *v, size_t len)
{
    memcpy(w->owned + off, v, len);
    memcpy(w->base + off, v, len);
}

int window_grow(struct window *w, uint64_t new_size)
{
    struct stat st;
    void *m;

    if (new_size <= w->size)
        return 0;
    if (new_size > w->max_size || w->memfd < 0)
        return -ENOSPC;
    /* The guest may have made the file larger (it holds the fd): then it
     * is already big enough, and shrinking it to our size is not allowed. */
    if (fstat(w->memfd, &st) < 0)
        return -errno;
    if ((uint64_t)st.st_size < new_size && ftruncate(w->memfd, (off_t)new_size) < 0)
        return -errno;
    m = mmap(w->base + w->size, new_size - w->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
             w->memfd, (off_t)w->size);
    if (m == MAP_FAILED)
        return -errno;
    w->size = new_size;
    owned_write(w, offsetof(struct sbvm_window_header, size), &new_size, sizeof(new_size));
    return 0;
}

int64_t window_alloc(struct window *w, uint64_t len, uint64_t align)
{
    const struct sbvm_window_header *h = window_shadow(w);
    uint64_t off, end, need;
    int e;

    if (len == 0 || align == 0 || align > w->page || (align & (align - 1)))
        return -EINVAL;
    off = align_up(h->heap_end, align);
    if (ckd_add(&end, off, len) || end > w->max_size)
        return -ENOSPC;
    if (end > w->size) {
        need = align_up(end, w->page);
        if ((e = window_grow(w, need)) < 0)
            return e;
    }
    owned_write(w, offsetof(struct sbvm_window_header, heap_end), &end, sizeof(end));
    return (int64_t)off;
}

void window_set_ring(struct window *w, uint32_t id, const struct sbvm_ring_desc *d)
{
    const struct sbvm_window_header *h = window_shadow(w);
    uint32_t n = id + 1;

    owned_write(w, h->rings_off + (size_t)id * sizeof(*d), d, sizeof(*d));
    if (n > h->nrings)
        owned_write(w, offsetof(struct sbvm_window_header, nrings), &n, sizeof(n));
}

struct field {
    const char *name;
    size_t off, len;
};

#define HF(f)                                                                                      \
    {                                                                                              \
#f, offsetof(struct sbvm_window_header, f), sizeof(((struct sbvm_window_header *)0)->f)    \
    }
static const struct field header_fields[] = {
    HF(magic),         HF(abi_major), HF(abi_minor), HF(header_size), HF(size),
    HF(max_size),      HF(page_size), HF(flags),     HF(ctl_off),     HF(slots_off),
    HF(slot_data_off), HF(nslots),    HF(slot_size), HF(rings_off),   HF(max_rings),
    HF(nrings),        HF(heap_off),  HF(heap_end),  HF(reserved),
};
#undef HF

static uint64_t read_le(const uint8_t *p, size_t len)
{
    uint64_t v = 0;

    memcpy(&v, p, len < sizeof(v) ? len : sizeof(v));
    return v;
}

int window_check(const struct window *w, char *why, size_t whylen)
{
    const struct sbvm_window_header *h = window_shadow(w);
    uint8_t now[64];
    size_t i, at;

    /* One pass over the shared bytes; only on a difference do we look again,
     * and then only to say what changed (from a private copy). */
    if (memcmp(w->base, w->owned, w->owned_len) == 0)
        return 0;
    for (i = 0; i < ARRAY_SIZE(header_fields); i++) {
        const struct field *f = &header_fields[i];
        size_t len = f->len < sizeof(now) ? f->len : sizeof(now);
        memcpy(now, w->base + f->off, len);
        if (memcmp(now, w->owned + f->off, len) != 0) {
            snprintf(why, whylen,
                     "the guest overwrote the window header: field '%s' changed from %llu to %llu",
                     f->name, (unsigned long long)read_le(w->owned + f->off, len),
                     (unsigned long long)read_le(now, len));
            return -EPROTO;
        }
    }
    for (at = h->rings_off; at < w->owned_len; at += sizeof(struct sbvm_ring_desc)) {
        if (memcmp(w->base + at, w->owned + at, sizeof(struct sbvm_ring_desc)) != 0) {
            snprintf(why, whylen, "the guest overwrote the window's ring table (entry %zu)",
                     (at - h->rings_off) / sizeof(struct sbvm_ring_desc));
            return -EPROTO;
        }
    }
    /* It changed and changed back between the two passes: still a change. */
    snprintf(why, whylen, "the guest overwrote the window header");
    return -EPROTO;
}
