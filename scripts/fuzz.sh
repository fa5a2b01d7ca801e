#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz.sh: build the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and
# run each for a while, from the seed corpus in tests/fuzz/corpus/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default: 30 s each, every target
#
# New inputs the fuzzer finds go to build-fuzz/corpus/TARGET (not the
# repository's seeds); a crash stops the run with the input saved as
# build-fuzz/crash-* and a non-zero exit. Longer runs and what they found
# are recorded in docs/SECURITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
secs="${1:-30}"
shift || true
case "$secs" in
'' | *[!0-9]*)
    echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2
    exit 2
    ;;
esac

scripts/deps.sh fuzz
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=true -Dbench=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz-records fuzz-report fuzz-escape fuzz-procscan fuzz-cli fuzz-broker fuzz-profile fuzz-bpf fuzz-shm fuzz-oci fuzz-calls-elf fuzz-elfdyn fuzz-serve)
    # The device models' four targets share one target's time (CI time);
    # named on the command line, each gets all of it.
    targets+=(fuzz-virtio-blk fuzz-virtio-scsi fuzz-virtio-pci fuzz-vhost-user)
    share_device_time=1
fi
# Only what fuzzing needs: the targets, the records' seed writer and the
# library-call fixtures that seed the ELF reader (not the suites).
ninja -C build-fuzz tests/fuzz/seed-records tests/calls/libbuggy.so tests/calls/libcallsdep.so \
    "${targets[@]/#/tests/fuzz/}" >/dev/null
mkdir -p build-fuzz/seeds/fuzz-records
build-fuzz/tests/fuzz/seed-records build-fuzz/seeds/fuzz-records
# Real shared objects (the library-call fixtures) seed the ELF reader.
mkdir -p build-fuzz/seeds/fuzz-calls-elf
cp build-fuzz/tests/calls/lib*.so build-fuzz/seeds/fuzz-calls-elf/
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
for t in "${targets[@]}"; do
    corpus="build-fuzz/corpus/$t"
    mkdir -p "$corpus"
    log="build-fuzz/$t.log"
    printf '%-14s ' "$t"
    # The CLI prints its errors and help: keep them out of the log.
    extra=()
    [ "$t" = fuzz-cli ] && extra=(-close_fd_mask=3)
    tsecs="$secs"
    if [ -n "${share_device_time:-}" ]; then
        case "$t" in
        fuzz-virtio-* | fuzz-vhost-user) tsecs=$(((secs + 3) / 4)) ;;
        esac
    fi
    if "build-fuzz/tests/fuzz/$t" -max_total_time="$tsecs" -max_len=65536 -timeout=10 "${extra[@]}" \
        -artifact_prefix="build-fuzz/crash-$t-" -print_final_stats=1 \
        "$corpus" $([ -d "tests/fuzz/corpus/$t" ] && echo "tests/fuzz/corpus/$t") \
        $([ -d "build-fuzz/seeds/$t" ] && echo "build-fuzz/seeds/$t") \
        >"$log" 2>&1; then
        execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}')
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
        echo "ok: ${execs:-?} executions in ${tsecs} s, coverage ${cov:-?} edges"
    else
        echo "FAILED: see $log"
        grep -m5 -E 'ERROR|SUMMARY|Test unit written' "$log" || true
        status=1
    fi
done
exit $status
