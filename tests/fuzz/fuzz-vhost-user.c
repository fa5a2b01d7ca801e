/* SPDX-License-Identifier: MIT */
/*
 * fuzz-vhost-user.c: a hostile vhost-user client. The input is a sequence of
 * messages (header and payload as sent on the socket); a message may carry
 * descriptors, chosen by the input from a memfd of guest memory (whose
 * contents the input also writes), an eventfd, and a pipe. Between
 * messages the input may kick a queue. The back-end must never crash,
 * leak a descriptor, or touch memory outside what it mapped (ASan).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/devices.h"
#include "devices/vhost-user.h"

#define MEMSZ (64u << 10)

static struct vdev dev;
static int memfd, efd, pipes[2];
static uint8_t *mem;
static struct vu_msg m;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct disk dk;
    int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);

    (void)argc;
    (void)argv;
    if (fd < 0 || ftruncate(fd, 1 << 20) < 0 || disk_from_fd(&dk, fd, "fuzz", false, NULL) < 0 ||
        dev_create_disks(&virtio_scsi_ops, &dk, 1, NULL, &dev, NULL) < 0)
        abort();
    memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, MEMSZ) < 0)
        abort();
    mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (mem == MAP_FAILED || efd < 0 || pipe2(pipes, O_CLOEXEC | O_NONBLOCK) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vu_conn *c = malloc(sizeof(*c));

    if (!c)
        return 0;
    memset(mem, 0, MEMSZ);
    vu_init(c, &dev);
    /* Each message: kind (1), request (1), flags (1), fds (1), size (2), payload. */
    while (size >= 6 && !c->closed) {
        uint8_t kind = data[0];
        uint16_t len;

        memcpy(&len, data + 4, 2);
        if (kind % 4 == 3) {
            /* Guest memory: len bytes at offset (request << 8 | flags). */
            size_t off = ((size_t)data[1] << 8 | data[2]) % MEMSZ;
            size_t n = len;
            data += 6;
            size -= 6;
            if (n > size)
                n = size;
            if (n > MEMSZ - off)
                n = MEMSZ - off;
            memcpy(mem + off, data, n);
            data += n;
            size -= n;
            continue;
        }
        if (kind % 4 == 2) {
            vu_kick(c, data[1] % 4);
            data += 6;
            size -= 6;
            continue;
        }
        memset(&m, 0, sizeof(m));
        m.request = data[1];
        m.flags = (data[2] & ~3u) | VU_VERSION;
        for (unsigned i = 0; i < (data[3] & 7u); i++) {
            int src = ((data[3] >> 3) + i) % 3 == 0   ? memfd
                      : ((data[3] >> 3) + i) % 3 == 1 ? efd
                                                      : pipes[1];
            m.fds[m.nfds++] = fcntl(src, F_DUPFD_CLOEXEC, 0);
        }
        data += 6;
        size -= 6;
        m.size = len < size ? len : (uint32_t)size;
        if (m.size > VU_MAX_PAYLOAD)
            m.size = VU_MAX_PAYLOAD;
        memcpy(m.payload, data, m.size);
        data += m.size;
        size -= m.size;
        vu_handle(c, &m);
    }
    vu_release(c);
    free(c);
    return 0;
}
