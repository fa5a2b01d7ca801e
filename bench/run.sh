#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh: sandboxvm side by side with bare execution and its peers
# (bubblewrap, firejail), alternating A/B/A/B in one run, reporting median,
# min, max and the median of pairwise ratios to bare execution.
#
#   bench/run.sh            the full run (about 10 minutes: 10,000 crashes)
#   bench/run.sh --quick    fewer rounds (about a minute)
#
# Installs the peers Debian packages when they are missing, builds sandboxvm,
# and prints Markdown tables; a copy goes to bench/results/. Kept out of the
# test suite on purpose: timings on shared machines belong here, not in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/deps.sh bench
scripts/build.sh build
SBVM="$TOP/build/sandboxvm"
ABTIME="$TOP/build/bench/abtime"
CRASHBENCH="$TOP/build/bench/crashbench"
CRASHER="$TOP/build/tests/guests/crasher"
mkdir -p bench/results
out="bench/results/$(date +%Y%m%d-%H%M%S).md"

if [ $quick -eq 1 ]; then
    rounds=9; launches=10; crash_n=10; soak_n=300
else
    rounds=31; launches=20; crash_n=50; soak_n=10000
fi

# The same isolation for every sandbox: all namespaces, /usr read-only with
# the merged-usr symlinks, own /proc and /dev, a new session.
BWRAP="$(command -v bwrap) --unshare-all --die-with-parent --new-session --ro-bind /usr /usr \
--symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev"
FIREJAIL="$(command -v firejail || true)"

{
    echo "# sandboxvm benchmarks"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "- user: $(id -un) (uid $(id -u))"
    echo "- sandboxvm $("$SBVM" --version | cut -d' ' -f2-); $(bwrap --version); firejail $(firejail --version 2>/dev/null | head -1 | awk '{print $3}')"
    echo "- command: bench/run.sh$([ $quick -eq 1 ] && echo ' --quick'); $rounds rounds, each sample the mean of $launches launches"
    echo
    echo "## Start-up and teardown of /bin/true"
    echo
    cmds=(
        "bare=/bin/true"
        "sandboxvm=$SBVM run -q -- /bin/true"
        "bwrap=$BWRAP /bin/true"
    )
    if [ -n "$FIREJAIL" ]; then
        cmds+=("firejail-noprofile=$FIREJAIL --quiet --noprofile /bin/true")
        cmds+=("firejail-hardened=$FIREJAIL --quiet --noprofile --net=none --seccomp --caps.drop=all --nonewprivs /bin/true")
    fi
    "$ABTIME" -m -r "$rounds" -w 3 -k "$launches" "${cmds[@]}"
    echo
    echo "Ratio of sandboxvm to bwrap, pair by pair:"
    echo
    "$ABTIME" -m -r "$rounds" -w 3 -k "$launches" "bwrap=$BWRAP /bin/true" "sandboxvm=$SBVM run -q -- /bin/true" | tail -n 1
    echo
    echo "## Crash reports"
    echo
    echo "From the guest's last clock reading before its faulting store to the finished result"
    echo "(build/bench/crashbench latency, $crash_n of each, alternating):"
    echo
    "$CRASHBENCH" latency "$CRASHER" "$crash_n"
    echo
    echo "$soak_n crashing guests (NULL write, abort, fault in a thread, SIGBUS, division by zero),"
    echo "two at a time, each with a symbolised backtrace (build/bench/crashbench soak):"
    echo
    "$CRASHBENCH" soak "$CRASHER" "$soak_n"
} | tee "$out"
echo
echo "(saved in $out)"
