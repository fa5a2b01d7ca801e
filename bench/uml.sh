#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/uml.sh: Linux in User-Mode Linux reading and writing a disk through
# sandboxvm's vhost-user virtio-blk back-end (device serve), against UML's
# own ubd driver on the same image, in the same run: dd (sequential read of
# 256 MiB, sequential write of 128 MiB with fsync) and a small random-read
# loop (preadbench: 4 KiB at queue depth 1 and 4, page cache dropped first).
# Reported, not targeted: UML itself is slow.
#
#   bench/uml.sh [ROUNDS]     default 2 rounds, alternating the two
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
rounds="${1:-2}"
command -v linux >/dev/null || { echo "bench/uml.sh: needs user-mode-linux" >&2; exit 2; }
scripts/build.sh build >/dev/null
B="$TOP/build"
work="$(mktemp -d /tmp/umlbench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
img="$work/disk.img"
head -c $((512 << 20)) /dev/urandom >"$img"

cat >"$work/init" <<EOF
#!/bin/busybox sh
B=/bin/busybox
\$B mount -t proc proc /proc
\$B mount -t sysfs sys /sys
K=/usr/lib/uml/modules/\$(\$B uname -r)/kernel
[ "\$MODE" = vhost ] && \$B insmod \$K/drivers/block/virtio_blk.ko
D=/dev/vda
[ "\$MODE" = ubd ] && D=/dev/ubda
for i in \$(\$B seq 100); do [ -b \$D ] && break; \$B sleep 0.1; done
# Milliseconds since boot (busybox's date has no %N); /proc/uptime has 10 ms steps.
t() { \$B awk '{ printf "%d\\n", \$1 * 1000 }' /proc/uptime; }
ms() { d=\$((\$2 - \$1)); [ \$d -gt 0 ] || d=1; echo \$d; }
drop() { \$B sync; echo 3 >/proc/sys/vm/drop_caches; }
drop; s=\$(t); \$B dd if=\$D of=/dev/null bs=1M count=256 2>/dev/null; e=\$(t)
echo "RESULT \$MODE read \$(( 256 * 1000 / \$(ms \$s \$e) ))"
s=\$(t); \$B dd if=/dev/zero of=\$D bs=1M count=128 conv=fsync 2>/dev/null; e=\$(t)
echo "RESULT \$MODE write \$(( 128 * 1000 / \$(ms \$s \$e) ))"
for qd in 1 4; do
    drop
    $B/bench/preadbench \$D rand 4096 \$qd 3 | \$B sed "s/^/RESULT \$MODE /"
done
\$B poweroff -f
EOF
chmod 755 "$work/init"

boot() {
    local mode="$1" dev=()
    if [ "$mode" = vhost ]; then
        "$B/sandboxvm" device serve virtio-blk --disk "$img" --socket "$work/blk.sock" --once \
            -q &
        for _ in $(seq 50); do [ -S "$work/blk.sock" ] && break; sleep 0.1; done
        dev=("virtio_uml.device=$work/blk.sock:2")
    else
        dev=("ubd0=$img")
    fi
    TMPDIR="$work" timeout -s KILL 300 linux mem=128M root=/dev/root rootfstype=hostfs \
        rootflags=/ ro init="$work/init" con=null con0=fd:0,fd:1 uml_dir="$work" "${dev[@]}" \
        MODE="$mode" </dev/null 2>&1 | grep '^RESULT' || true
    wait 2>/dev/null || true
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= rounds; r++)); do
    boot vhost
    boot ubd
done | tee "$work/raw.txt" >&2
python3 - "$work/raw.txt" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF' | tee "bench/results/uml-$(date +%Y%m%d-%H%M%S).md"
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 4 and f[2] in ("read", "write"):
        rows.setdefault((f[1], f[2] + " MB/s"), []).append(float(f[3]))
    m = re.search(r"RESULT (\w+) bench pread rand bs=4096 qd=(\d+): .* ([\d.]+) IOPS", line)
    if m:
        rows.setdefault((m.group(1), f"4 KiB random reads, QD{m.group(2)}, IOPS"), []).append(float(m.group(3)))
print(f"Linux 6.1 in User-Mode Linux (mem=128M), a 512 MiB image; load average after: {sys.argv[2]}.\n")
print("| measure | vhost-user virtio-blk (sandboxvm device serve) | UML ubd | ratio |")
print("|---|---|---|---|")
for what in sorted({k[1] for k in rows}):
    v, u = rows.get(("vhost", what), []), rows.get(("ubd", what), [])
    mv = statistics.median(v) if v else float("nan")
    mu = statistics.median(u) if u else float("nan")
    print(f"| {what} | {mv:,.0f} | {mu:,.0f} | {mv / mu:.2f}x |")
EOF
