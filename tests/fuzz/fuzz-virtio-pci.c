/* SPDX-License-Identifier: MIT */
/*
 * fuzz-virtio-pci.c: a hostile driver at the register level. The input is a
 * program of configuration-space and BAR reads and writes (any offset,
 * width, value, BAR, slot) and writes into the driver's memory, against a
 * transitional virtio-blk and a virtio-scsi device on one synthetic bus.
 * Nothing the program does may crash the host or reach outside the memory
 * and register windows (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/devices.h"
#include "devices/pci.h"
#include "devices/virtio-pci.h"

#define MEM  (64u << 10)
#define BASE UINT64_C(0x10000)

static struct vdev dev[2];
static struct virtio_pci vp[2];
static struct pci_bus bus;
static struct dma_map map;
static uint8_t *mem;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const types[2] = { "virtio-blk", "virtio-scsi" };

    (void)argc;
    (void)argv;
    mem = malloc(MEM);
    if (!mem)
        abort();
    dma_map_init(&map);
    if (dma_map_add(&map, BASE, MEM, mem, 0) < 0)
        abort();
    pci_bus_init(&bus);
    for (int i = 0; i < 2; i++) {
        struct disk dk;
        int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 1 << 20) < 0 ||
            disk_from_fd(&dk, fd, "fuzz", false, NULL) < 0 ||
            dev_create_disks(dev_lookup(types[i]), &dk, 1, NULL, &dev[i], NULL) < 0)
            abort();
        vdev_set_memory(&dev[i], &map);
        virtio_pci_init(&vp[i], &dev[i], DEV_TRANSITIONAL);
        if (pci_bus_plug(&bus, &vp[i].pci) < 0)
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(mem, 0, MEM);
    for (int i = 0; i < 2; i++) {
        pci_cfg_write(&bus, (unsigned)i, PCI_COMMAND, 2, 0);
        vdev_reset(&dev[i]);
    }
    /* Each step: op, slot, bar, width, offset (2), value (8): 14 bytes. */
    while (size >= 14) {
        uint8_t op = data[0], slot = data[1] % 3, bar = data[2] % 7;
        unsigned width = 1u << (data[3] % 4);
        uint16_t off;
        uint64_t val, out;
        uint32_t out32;

        memcpy(&off, data + 4, 2);
        memcpy(&val, data + 6, 8);
        data += 14;
        size -= 14;
        switch (op % 5) {
        case 0:
            pci_cfg_read(&bus, slot, off % 260, width, &out32);
            break;
        case 1:
            pci_cfg_write(&bus, slot, off % 260, width, (uint32_t)val);
            break;
        case 2:
            pci_bar_read(&bus, slot, bar, off, width, &out);
            break;
        case 3:
            pci_bar_write(&bus, slot, bar, off, width, val);
            break;
        case 4:
            /* Eight bytes of the driver's memory. */
            memcpy(mem + (off % (MEM - 8)), &val, 8);
            break;
        }
    }
    return 0;
}
