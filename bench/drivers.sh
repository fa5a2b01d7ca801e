#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/drivers.sh: reads through the sandboxed driver path (test program ->
# driver -> virtqueue -> device model -> image) against pread(2) on the same
# image from one process, side by side, alternating in one run: 4 KiB
# random and 64 KiB sequential reads at queue depth 1 and 32. The sandboxed
# path three ways: requests resubmitted one by one, in batches (one device
# notification per batch), and in batches from DMA buffers (no copy in the
# guest). Medians of the rounds, and the median of each round's ratio.
#
#   bench/drivers.sh            5 rounds of 3 s per case (about 6 minutes)
#   bench/drivers.sh --quick    1 round of 2 s
#
# The image (1 GiB of random bytes) is read once first, so that every case
# reads from the page cache. Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
rounds=5
secs=3
case "${1:-}" in
--quick)
    rounds=1
    secs=2
    ;;
"") ;;
*)
    echo "bench/drivers.sh: unknown option '$1' (try --quick)" >&2
    exit 2
    ;;
esac

scripts/build.sh build >/dev/null
B="$TOP/build"
work="$(mktemp -d /tmp/drvbench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
img="$work/disk.img"
head -c $((1 << 30)) /dev/urandom >"$img"
cat "$img" >/dev/null

cases=("rand 4096 1" "rand 4096 32" "seq 65536 1" "seq 65536 32")
out="$work/raw.txt"
: >"$out"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= rounds; r++)); do
    for c in "${cases[@]}"; do
        set -- $c
        "$B/bench/preadbench" "$img" "$1" "$2" "$3" "$secs" | sed "s/^/$r direct /" >>"$out"
        [ "$3" != 1 ] &&
            "$B/bench/preadbench" "$img" "$1" "$2" 1 "$secs" |
            sed "s/^/$r direct1 /; s/qd=1:/qd=$3:/" >>"$out"
        for mode in plain batch dma,batch; do
            "$B/sandboxvm" run -q --no-tag --device "virtio-blk,disk=$img,ro" \
                -r "$B/tests/drivers/virtio-blk.so" -t "$B/tests/drivers/drvtest" \
                bench virtio-blk 0 "$1" "$2" "$3" "$secs" "$mode" 2>/dev/null |
                grep '^bench' | sed "s/^/$r ${mode/,/+} /" >>"$out" || true
        done
    done
done
load="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$load" "$rounds" "$secs" <<'EOF' | tee "bench/results/drivers-$(date +%Y%m%d-%H%M%S).md"
import re, statistics, sys
path, load, rounds, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rx = re.compile(r"^(\d+) (\S+) bench \S+ (\w+) bs=(\d+) qd=(\d+)[^:]*: \d+ requests in [\d.]+ s: "
                r"([\d.]+) IOPS, ([\d.]+) MB/s, mean latency ([\d.]+) us")
data = {}
for line in open(path):
    m = rx.match(line)
    if not m:
        continue
    r, mode, pat, bs, qd, iops, mbs, lat = m.groups()
    data.setdefault((pat, int(bs), int(qd)), {}).setdefault(mode, {})[int(r)] = (
        float(iops), float(mbs), float(lat))
print(f"Reads from a 1 GiB image in the page cache; {rounds} round(s) of {secs} s per case; "
      f"load average after: {load}.\n")
print("pread: one process, QD threads each with one read in flight (and one thread, for QD32). "
      "Sandboxed: drvtest -> virtio-blk driver -> virtqueue -> device model, QD requests in flight; "
      "*batch*: completed requests resubmitted together (SBVM_IO_F_MORE, one notification); "
      "*DMA*: the test's buffers from sbvm_dma_alloc (no copy in the guest). Ratios: to pread with "
      "QD threads, median of the rounds' ratios.\n")
print("| case | pread | pread, 1 thread | sandboxed | ratio | batch | ratio | batch + DMA | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for key in sorted(data, key=lambda k: (k[1], k[0], k[2])):
    pat, bs, qd = key
    d = data[key]
    def med(mode, i):
        v = [x[i] for x in d.get(mode, {}).values()]
        return statistics.median(v) if v else float("nan")
    def ratio(mode):
        rs = [d[mode][r][0] / d["direct"][r][0] for r in d.get(mode, {}) if r in d.get("direct", {})]
        return statistics.median(rs) if rs else float("nan")
    def cell(mode):
        if mode not in d:
            return "-"
        return f"{med(mode,0):,.0f} IOPS, {med(mode,1):,.0f} MB/s, {med(mode,2):,.1f} us"
    name = f"{'4 KiB random' if bs == 4096 else '64 KiB sequential'}, QD{qd}"
    print(f"| {name} | {cell('direct')} | {cell('direct1')} | {cell('plain')} | {ratio('plain'):.2f}x | "
          f"{cell('batch')} | {ratio('batch'):.2f}x | {cell('dma+batch')} | {ratio('dma+batch'):.2f}x |")
print("\nLatency: the mean time from sending a request to seeing it complete; at QD1 it is "
      "the cost of one request's round trip through the sandboxed path.")
EOF
