#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkparts.py IMAGE SIZE_MB gpt|mbr N [--corrupt-gpt]: a disk image with N
equal partitions in a GPT (behind a protective MBR) or an MBR, and a marker
string at the start of each ("partition I of a GPT disk"), for the partition
driver's tests. --corrupt-gpt breaks the GPT header's CRC (the driver must
then fall back to the protective MBR, which has no usable partition)."""
import struct
import sys
import uuid
import zlib


def main():
    path, size_mb, kind, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    corrupt = "--corrupt-gpt" in sys.argv
    sectors = size_mb * 2048
    first, last = 2048, sectors - 34
    per = (last - first + 1) // n
    parts = [(first + i * per, first + (i + 1) * per - 1) for i in range(n)]
    img = bytearray(sectors * 512)
    if kind == "mbr":
        for i, (a, b) in enumerate(parts[:4]):
            e = 0x1BE + 16 * i
            img[e + 4] = 0x83
            struct.pack_into("<II", img, e + 8, a, b - a + 1)
    else:
        # Protective MBR, then the header at LBA 1 and 128 entries at LBA 2.
        img[0x1BE + 4] = 0xEE
        struct.pack_into("<II", img, 0x1BE + 8, 1, min(sectors - 1, 0xFFFFFFFF))
        ents = bytearray(128 * 128)
        for i, (a, b) in enumerate(parts):
            o = 128 * i
            ents[o:o + 16] = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4").bytes_le
            ents[o + 16:o + 32] = uuid.uuid4().bytes_le
            struct.pack_into("<QQ", ents, o + 32, a, b)
        hdr = bytearray(92)
        hdr[0:8] = b"EFI PART"
        struct.pack_into("<IIIIQQQQ", hdr, 8, 0x00010000, 92, 0, 0, 1, sectors - 1, 34, sectors - 34)
        hdr[56:72] = uuid.uuid4().bytes_le
        struct.pack_into("<QIII", hdr, 72, 2, 128, 128, zlib.crc32(ents) & 0xFFFFFFFF)
        struct.pack_into("<I", hdr, 16, zlib.crc32(hdr) & 0xFFFFFFFF)
        if corrupt:
            hdr[16] ^= 0xFF
        img[512:512 + 92] = hdr
        img[1024:1024 + len(ents)] = ents
    img[510:512] = b"\x55\xaa"
    for i, (a, _) in enumerate(parts):
        marker = b"partition %d of a %s disk\0" % (i, kind.upper().encode())
        img[a * 512:a * 512 + len(marker)] = marker
    with open(path, "wb") as f:
        f.write(img)


if __name__ == "__main__":
    main()
