/* SPDX-License-Identifier: MIT */
/*
 * fuzz-shm.c: a hostile guest's window against the host channel. The input
 * is a program of operations: write arbitrary bytes anywhere a guest can
 * (the header too), put a request in a slot, move ring indices, and make
 * the host serve, read, write, wait, and answer deferred calls between
 * them. The window is private memory of exactly its size (no memfd), so
 * ASan catches any access outside it; the host must never crash, hang or
 * touch memory outside the window, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/chan.h"

static sbvm_channel_config *cfg;

static int32_t fn_echo(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                       size_t out_cap, size_t *out_len, void *ud)
{
    (void)ch, (void)id, (void)ud;
    if (in_len > out_cap)
        in_len = out_cap;
    memcpy(out, in, in_len);
    *out_len = in_len;
    return (int32_t)in_len;
}

static void fn_log(sbvm_channel *ch, unsigned level, const char *text, size_t len, void *ud)
{
    volatile char sink = 0;

    (void)ch, (void)level, (void)ud;
    for (size_t i = 0; i < len; i++)
        sink ^= text[i];
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cfg = sbvm_channel_config_new();
    if (!cfg || sbvm_channel_config_set_window(cfg, 64 << 10, 64 << 10, NULL) < 0 ||
        sbvm_channel_config_set_slots(cfg, 4, 256, NULL) < 0 ||
        sbvm_channel_config_set_rings(cfg, 6, 4096, NULL) < 0 ||
        sbvm_channel_config_add_call(cfg, 300, fn_echo, NULL, NULL) < 0 ||
        sbvm_channel_config_add_call(cfg, 301, NULL, NULL, NULL) < 0)
        abort();
    sbvm_channel_config_set_spin(cfg, 0, 0);
    sbvm_channel_config_set_log(cfg, fn_log, NULL);
    return 0;
}

struct input {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct input *in, size_t bytes)
{
    uint64_t v = 0;

    for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)in->p[0] << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size };
    static uint8_t buf[8192];
    struct sbvm_channel_call call;
    const struct sbvm_window_header *h;
    struct window *w;
    sbvm_channel *ch;
    int steps = 0;

    if (chan_new_private(cfg, &ch, NULL) < 0)
        abort();
    w = chan_window(ch);
    h = window_shadow(w);
    if (sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 256, 0, NULL) != 0 ||
        sbvm_channel_ring_add(ch, SBVM_RING_TO_GUEST, 256, 0, NULL) != 1)
        abort();
    while (in.n && steps++ < 256) {
        uint8_t op = (uint8_t)take(&in, 1);
        switch (op % 10) {
        case 0: { /* guest bytes after the header page */
            uint64_t off = h->ctl_off + take(&in, 2) % (w->size - h->ctl_off);
            size_t len = (size_t)take(&in, 1);
            if (len > w->size - off)
                len = w->size - off;
            if (len > in.n)
                len = in.n;
            memcpy(w->base + off, in.p, len);
            in.p += len;
            in.n -= len;
            break;
        }
        case 1: /* a byte anywhere, the header included */
            w->base[take(&in, 2) % w->size] = (uint8_t)take(&in, 1);
            break;
        case 2: { /* a request in a slot */
            struct sbvm_slot *s =
                (struct sbvm_slot *)(void *)(w->base + h->slots_off) + take(&in, 1) % h->nslots;
            static const uint32_t ids[] = { SBVM_CALL_HELLO,
                                            SBVM_CALL_LOG,
                                            SBVM_CALL_RING,
                                            SBVM_CALL_GROW,
                                            SBVM_CALL_REGION,
                                            300,
                                            301 };
            uint8_t k = (uint8_t)take(&in, 1);
            s->id = k < 7 * 32 ? ids[k % 7] : (uint32_t)take(&in, 4);
            s->in_len = (uint32_t)take(&in, 2);
            s->out_cap = (uint32_t)take(&in, 2);
            s->seq = take(&in, 1);
            s->state = SBVM_SLOT_REQUEST;
            break;
        }
        case 3: { /* a ring index */
            uint32_t id = (uint32_t)take(&in, 1) % 6;
            const struct sbvm_ring_desc *d = (const void *)(w->owned + h->rings_off);
            if (id < h->nrings) {
                struct sbvm_ring_ctl *c = (void *)(w->base + d[id].ctl_off);
                uint64_t v = take(&in, 1) & 1 ? take(&in, 8) : (take(&in, 2) & ~7u);
                if (d[id].dir == SBVM_RING_TO_HOST)
                    c->head = v;
                else
                    c->tail = v;
            }
            break;
        }
        case 4:
            sbvm_channel_service(ch, NULL);
            break;
        case 5: {
            int ring = (int)(take(&in, 1) % 8);
            (void)sbvm_channel_ring_read(ch, ring, buf, (size_t)take(&in, 2) % sizeof(buf), NULL,
                                         NULL);
            break;
        }
        case 6: {
            int ring = (int)(take(&in, 1) % 8);
            memset(buf, 'w', 300);
            (void)sbvm_channel_ring_write(ch, ring, buf, (size_t)take(&in, 2) % 300, 7, NULL);
            break;
        }
        case 7:
            sbvm_channel_wait(ch, 0, NULL);
            break;
        case 8:
            if (sbvm_channel_call_next(ch, &call) == 1)
                (void)sbvm_channel_call_answer(ch, &call, 1, buf, (size_t)take(&in, 2) % 512, NULL);
            break;
        case 9: {
            uint64_t off = take(&in, 3), len = take(&in, 2);
            (void)sbvm_channel_copy_from(ch, off, buf, len % sizeof(buf), NULL);
            break;
        }
        }
    }
    sbvm_channel_service(ch, NULL);
    sbvm_channel_free(ch);
    return 0;
}
