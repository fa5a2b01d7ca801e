#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/oci.sh: sandboxvm as an OCI runtime (docs/OCI.md) against runc and
# crun, through the engines that call them: `podman run --rm IMAGE true`,
# then `ctr run --rm ... IMAGE ID true` through a containerd of its own.
# The runtimes alternate within each round (A B C A B C ...); per runtime the
# median, p10 and p90 of one container's wall time, and the median of the
# rounds' ratios to runc. A runtime that cannot run here (crun refuses
# hybrid cgroups) is left out with its reason.
#
#   bench/oci.sh               20 rounds per engine (about a minute)
#   bench/oci.sh --quick       5 rounds
#   bench/oci.sh --rounds N    N rounds
#   bench/oci.sh --no-save     print only (bench/run.sh --only oci saves itself)
#
# Root, podman, runc (scripts/deps.sh oci); crun and containerd where
# installed. The image is made here from busybox-static, nothing is pulled;
# podman's storage, containerd's root, state and socket live in a scratch
# directory removed at the end, with whatever the runs made.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
rounds=20
save=1
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) rounds=5 ;;
    --rounds)
        rounds="${2:-}"
        [[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench/oci.sh: --rounds needs a number" >&2; exit 2; }
        shift
        ;;
    --no-save) save=0 ;;
    -h | --help)
        sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "bench/oci.sh: unknown option '$1' (try --quick, --rounds N, --no-save or --help)" >&2
        exit 2
        ;;
    esac
    shift
done

# What cannot run here is said, not failed: bench/run.sh runs every section.
skip() {
    printf '## OCI runtime: podman and ctr against runc and crun\n\nNot measured: %s.\n' "$1"
    exit 0
}
[ "$(id -u)" = 0 ] || skip "podman and containerd run as root here (uid $(id -u))"
for c in podman runc; do
    command -v "$c" >/dev/null || skip "$c is not installed (scripts/deps.sh oci)"
done
BUSYBOX="$(command -v busybox || true)"
if [ -z "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
    skip "busybox-static is not installed (the image is made of it)"
fi

scripts/build.sh build >/dev/null
SBVM_OCI="$TOP/build/sandboxvm-oci"
RUNC="$(command -v runc)"
CRUN="$(command -v crun || true)"

# Not named sbvm-*: the test suites count such names in /tmp as what
# sandboxvm left, and may be running beside this on a shared machine.
W="$(mktemp -d /tmp/ocibench.XXXXXX)"
CTD=""
[ -d /run/containerd ] && run_ctd_existed=1 || run_ctd_existed=0
P=(podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/tmp" --storage-driver vfs
    --cgroup-manager cgroupfs --events-backend none)
C=(ctr -a "$W/c.sock" -n sbvm-bench)
cleanup() {
    local t
    "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
    "${P[@]}" rmi -af >/dev/null 2>&1 || true
    if [ -n "$CTD" ]; then
        for t in $("${C[@]}" task ls -q 2>/dev/null); do "${C[@]}" task kill -s KILL "$t" >/dev/null 2>&1; done
        for t in $("${C[@]}" task ls -q 2>/dev/null); do "${C[@]}" task rm -f "$t" >/dev/null 2>&1; done
        for t in $("${C[@]}" c ls -q 2>/dev/null); do "${C[@]}" c rm "$t" >/dev/null 2>&1; done
        kill "$CTD" 2>/dev/null && wait "$CTD" 2>/dev/null || true
        # The shims' sockets are under /run/containerd whatever the config.
        [ "$run_ctd_existed" = 1 ] || rm -rf /run/containerd
    fi
    rm -rf "$W"
}
trap cleanup EXIT

# The image: a busybox-static root filesystem, imported into the scratch
# storage (and, for containerd, saved as an OCI archive and imported there).
mkdir -p "$W/img/bin" "$W/img/proc" "$W/img/dev" "$W/img/sys" "$W/img/tmp" "$W/img/etc"
cp "$BUSYBOX" "$W/img/bin/busybox"
for c in sh true; do ln -s busybox "$W/img/bin/$c"; done
tar -C "$W/img" -cf "$W/img.tar" .
IMAGE=localhost/sbvm-bench:oci
"${P[@]}" import -q "$W/img.tar" "$IMAGE" >/dev/null

# As oci.bats does: root may lack CAP_SYS_RESOURCE, so ask for the hard
# limits it has (runc fails the same way otherwise).
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ]; then nofile=1048576; fi
PRUN="run --rm --network none --ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc $IMAGE true"

# Which runtimes run here: NAME=PATH for those whose trial run succeeds,
# and a note for the others.
notes=()
usable() {
    local engine="$1" name="$2" out
    shift 2
    if out="$("$@" 2>&1)"; then return 0; fi
    notes+=("$engine with $name: left out, its trial run failed: $(printf '%s' "$out" | tail -1 | cut -c1-200)")
    return 1
}

# time_rounds LABEL NAME=CMD...: the harness. Each CMD is split on spaces
# ({n} becomes a number unique to the run, for container IDs); one warm-up
# round, then $rounds rounds alternating; prints the table's rows.
time_rounds() {
    python3 - "$rounds" "$@" <<'PY'
import shlex, statistics, subprocess, sys, time

rounds, label, cmds = int(sys.argv[1]), sys.argv[2], [a.split("=", 1) for a in sys.argv[3:]]
samples = {name: [] for name, _ in cmds}
n = 0
for r in range(rounds + 1):
    for name, cmd in cmds:
        n += 1
        argv = shlex.split(cmd.replace("{n}", str(n)))
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit("bench/oci.sh: %s failed (%d): %s" % (cmd, p.returncode, p.stderr.decode()[-500:]))
        if r > 0:
            samples[name].append(dt * 1000)

def pct(v, q):
    # Linear interpolation between the closest ranks.
    v = sorted(v)
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)

base = cmds[0][0]
for name, _ in cmds:
    v = samples[name]
    ratios = [a / b for a, b in zip(v, samples[base])]
    print("| %s | %s | %.0f | %.0f | %.0f | %.2f |" % (label, name, statistics.median(v), pct(v, 0.1),
                                                      pct(v, 0.9), statistics.median(ratios)))
PY
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
# podman: runc first (the baseline), then crun, then sandboxvm.
pcmds=("runc=${P[*]} --runtime $RUNC $PRUN")
if [ -n "$CRUN" ] && usable podman crun "${P[@]}" --runtime "$CRUN" $PRUN; then
    pcmds+=("crun=${P[*]} --runtime $CRUN $PRUN")
fi
pcmds+=("sandboxvm=${P[*]} --runtime $SBVM_OCI $PRUN")
mapfile -t -O "${#rows[@]}" rows < <(time_rounds podman "${pcmds[@]}")

# ctr: a containerd of our own, as oci.bats starts it (its root, state and
# socket in the scratch, the native snapshotter, CRI off).
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
    "$TOP/tests/cli/containerd-conf.sh" "$W"
    containerd --config "$W/containerd.toml" >"$W/containerd.log" 2>&1 &
    CTD=$!
    for _ in $(seq 100); do [ -S "$W/c.sock" ] && break; sleep 0.1; done
    [ -S "$W/c.sock" ] || { cat "$W/containerd.log" >&2; exit 1; }
    "${P[@]}" save -q --format oci-archive -o "$W/img-oci.tar" "$IMAGE"
    "${C[@]}" image import --all-platforms --snapshotter native "$W/img-oci.tar" >/dev/null
    R="--snapshotter native --fifo-dir $W/fifo"
    crun_ok=0
    if [ -n "$CRUN" ] && usable ctr crun "${C[@]}" run --rm $R --runc-binary "$CRUN" --runc-root "$W/rr-crun" \
        "$IMAGE" trial true; then
        crun_ok=1
    fi
    ccmds=("runc=${C[*]} run --rm $R --runc-binary $RUNC --runc-root $W/rr-runc $IMAGE r{n} true")
    [ $crun_ok = 1 ] && ccmds+=("crun=${C[*]} run --rm $R --runc-binary $CRUN --runc-root $W/rr-crun $IMAGE c{n} true")
    ccmds+=("sandboxvm=${C[*]} run --rm $R --runc-binary $SBVM_OCI --runc-root $W/rr-sbvm $IMAGE s{n} true")
    mapfile -t -O "${#rows[@]}" rows < <(time_rounds ctr "${ccmds[@]}")
else
    notes+=("ctr: not measured, containerd is not installed (scripts/deps.sh oci)")
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

out=/dev/null
if [ $save = 1 ]; then
    mkdir -p bench/results
    out="bench/results/oci-$(date +%Y%m%d-%H%M%S).md"
fi
{
    echo "## OCI runtime: podman and ctr against runc and crun"
    echo
    echo "- command: bench/oci.sh${args[*]:+ ${args[*]}}"
    echo "- date: $started; $(nproc) CPUs, kernel $(uname -r)"
    echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after"
    echo "- sandboxvm $("$SBVM_OCI" --version | head -1 | awk '{print $NF}'), $(podman --version),"\
        "runc $(runc --version | head -1 | awk '{print $3}')$([ -n "$CRUN" ] && echo ", crun $(crun --version | head -1 | awk '{print $3}')")$(command -v containerd >/dev/null && echo ", containerd $(containerd --version | awk '{print $3}')")"
    echo
    echo "One container's wall time, start to end of the engine's command (podman: \`run --rm"
    echo "--network none IMAGE true\`, vfs storage; ctr: \`run --rm\`, native snapshotter, IMAGE a"
    echo "busybox-static image made locally). $rounds rounds after one warm-up, the runtimes"
    echo "alternating within each round; ratio: the median of the rounds' ratios to runc."
    echo
    echo "| engine | runtime | median ms | p10 ms | p90 ms | ratio to runc |"
    echo "|---|---|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    for n in ${notes[@]+"${notes[@]}"}; do
        echo
        echo "$n"
    done
} | tee "$out"
[ $save = 0 ] || echo "(saved in $out)" >&2
