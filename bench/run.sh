#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh: sandboxvm side by side with bare execution and its peers
# (bubblewrap, firejail), alternating A/B/A/B in one run, reporting median,
# min, max and the median of pairwise ratios to the first command.
#
#   bench/run.sh            the full run (about 15 minutes: 10,000 crashes)
#   bench/run.sh --quick    fewer rounds (about a minute)
#   bench/run.sh --only network,crash    some sections only (with or without
#       --quick): startup jobs syscalls work many memory network https oci crash serve
#       (oci: bench/oci.sh, podman and ctr against runc and crun; as root)
#
# Installs the peers Debian packages when they are missing, builds sandboxvm,
# and prints Markdown tables; a copy goes to bench/results/. Kept out of the
# test suite on purpose: timings on shared machines belong here, not in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
sections="startup jobs syscalls work many memory network https oci crash serve"
quick=0
only=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --only)
        only="${2:-}"
        for s in ${only//,/ }; do
            if [[ " $sections " != *" $s "* ]]; then
                echo "bench/run.sh: --only: unknown section '$s' (sections: $sections)" >&2
                exit 2
            fi
        done
        [ -n "$only" ] || { echo "bench/run.sh: --only needs a list of sections ($sections)" >&2; exit 2; }
        shift
        ;;
    -h | --help)
        sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "bench/run.sh: unknown option '$1' (try --quick, --only or --help)" >&2
        exit 2
        ;;
    esac
    shift
done
# want SECTION: whether this run measures it.
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

scripts/deps.sh bench
# The crash section runs the tests' crasher guest (built with tests/).
scripts/build.sh build -Dtests=true -Dbench=true
SBVM="$TOP/build/sandboxvm"
B="$TOP/build/bench"
ABTIME="$B/abtime"
CRASHER="$TOP/build/tests/guests/crasher"
mkdir -p bench/results
out="bench/results/$(date +%Y%m%d-%H%M%S).md"

if [ $quick -eq 1 ]; then
    rounds=9 launches=10 loop_n=1000000 work_rounds=5 multi_rounds=5 cpu_rounds=3 crash_n=10 soak_n=300
    job_rounds=5 job_n=20
else
    rounds=31 launches=20 loop_n=4000000 work_rounds=15 multi_rounds=15 cpu_rounds=5 crash_n=50 soak_n=10000
    job_rounds=11 job_n=100
fi

# The same isolation for every sandbox: all namespaces, /usr read-only with
# the merged-usr symlinks, own /proc and /dev, a new session. Where a test
# needs them, bwrap also gets a tmpfs /tmp and this tree's bench programs.
BWRAP="$(command -v bwrap) --unshare-all --die-with-parent --new-session --ro-bind /usr /usr \
--symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev"
BWRAP_WORK="$BWRAP --tmpfs /tmp --ro-bind $TOP $TOP"
FIREJAIL="$(command -v firejail || true)"
FJ="$FIREJAIL --quiet --noprofile"
FJ_HARD="$FJ --net=none --seccomp --caps.drop=all --nonewprivs"

# N copies of a command, for the multi-guest tests: "CMD ::: CMD ...".
guests() {
    local n="$1" cmd="$2" s=""
    for _ in $(seq "$n"); do s="$s ::: $cmd"; done
    echo "${s# ::: }"
}

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# Clock ticks all CPUs have spent busy since boot (user, nice, system, irq, softirq).
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# cpu_per_guest N ROUNDS: N guests of /bin/true at -j 1 and -j 2, alternating;
# the median wall and CPU time (µs) per guest of each, and the bound they set.
cpu_per_guest() {
    local n="$1" j b0 b1 t0 t1 hz g
    hz=$(getconf CLK_TCK)
    g="$(guests "$n" /bin/true)"
    local -A wall cpu
    for _ in $(seq "$2"); do
        for j in 1 2; do
            b0=$(busy_ticks) t0=$(date +%s%N)
            $SBVM run -q -j "$j" -- $g
            t1=$(date +%s%N) b1=$(busy_ticks)
            wall[$j]+="$(((t1 - t0) / n / 1000))"$'\n'
            cpu[$j]+="$(((b1 - b0) * 1000000 / hz / n))"$'\n'
        done
    done
    local w1 c1 w2 c2
    w1=$(printf '%s' "${wall[1]}" | median) c1=$(printf '%s' "${cpu[1]}" | median)
    w2=$(printf '%s' "${wall[2]}" | median) c2=$(printf '%s' "${cpu[2]}" | median)
    echo "| run | wall µs per guest | CPU µs per guest |"
    echo "|---|---:|---:|"
    echo "| -j 1 | $w1 | $c1 |"
    echo "| -j 2 | $w2 | $c2 |"
    echo
    awk -v c="$(($(nproc) < 2 ? $(nproc) : 2))" -v w1="$w1" -v c1="$c1" -v w2="$w2" 'BEGIN {
        printf "-j 2 gives %.2fx the throughput of -j 1; the bound (%d CPUs used) is %.2fx.\n", w1 / w2, c, c * w1 / c1 }'
}

{
    echo "# sandboxvm benchmarks"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "- user: $(id -un) (uid $(id -u))"
    echo "- sandboxvm $("$SBVM" --version | cut -d' ' -f2-); $(bwrap --version); firejail $(firejail --version 2>/dev/null | head -1 | awk '{print $3}')"
    echo "- command: bench/run.sh$([ $quick -eq 1 ] && echo ' --quick')$([ -n "$only" ] && echo " --only $only")"
    echo

    if want startup; then
    echo "## Start-up and teardown of /bin/true"
    echo
    echo "$rounds rounds, each sample the mean of $launches launches, alternating."
    echo
    echo "floor is build/bench/nsfloor: the same namespaces and view as bwrap's, built by one"
    echo "process that then execs the guest, and nothing else (no init, filter, tracing or report):"
    echo "the least any sandbox with this isolation can take."
    echo
    cmds=("bare=/bin/true" "floor=$B/nsfloor /bin/true" "sandboxvm=$SBVM run -q -- /bin/true"
        "bwrap=$BWRAP /bin/true")
    if [ -n "$FIREJAIL" ]; then
        cmds+=("firejail-noprofile=$FJ /bin/true" "firejail-hardened=$FJ_HARD /bin/true")
    fi
    "$ABTIME" -m -r "$rounds" -w 3 -k "$launches" -b bwrap "${cmds[@]}"
    echo

    fi
    if want jobs; then
    echo "## Jobs in a live sandbox"
    echo
    echo "One process: $job_rounds rounds alternating, each the mean of $job_n operations"
    echo "(build/bench/jobbench -r $job_rounds -n $job_n): a job of /bin/true in a sandbox made"
    echo "once, against fork+exec+wait of /bin/true from the same process; an idle sandbox made"
    echo "and destroyed, against sbvm_run() of /bin/true (a sandbox per program, as run does)."
    echo
    "$B/jobbench" -r "$job_rounds" -n "$job_n"
    echo

    fi
    if want syscalls; then
    echo "## A syscall-bound loop"
    echo
    echo "$loop_n getppid() calls, timed inside the guest (build/bench/sysloop): ns per call."
    echo "allow-all is the cheapest possible seccomp filter (one \"allow\" instruction)."
    echo
    cmds=("bare=$B/sysloop $loop_n" "allow-all=$B/allowall $B/sysloop $loop_n"
        "sandboxvm=$SBVM run -q --no-tag -- $B/sysloop $loop_n" "bwrap=$BWRAP_WORK $B/sysloop $loop_n")
    [ -n "$FIREJAIL" ] && cmds+=("firejail-hardened=$FJ_HARD $B/sysloop $loop_n")
    "$ABTIME" -m -o ns -r "$work_rounds" -w 1 -k 1 "${cmds[@]}"
    echo

    fi
    if want work; then
    echo "## Real work"
    echo
    echo "gcc -O2 compiling and running a small C program (bench/gcc-hello.sh), $work_rounds rounds:"
    echo
    cmds=("bare=$TOP/bench/gcc-hello.sh" "sandboxvm=$SBVM run -q -- $TOP/bench/gcc-hello.sh"
        "bwrap=$BWRAP_WORK $TOP/bench/gcc-hello.sh")
    [ -n "$FIREJAIL" ] && cmds+=("firejail-hardened=$FJ_HARD $TOP/bench/gcc-hello.sh")
    "$ABTIME" -m -r "$work_rounds" -w 1 -k 3 "${cmds[@]}"
    echo
    echo "python3 start-up (python3 -c pass):"
    echo
    cmds=("bare=/usr/bin/python3 -c pass" "sandboxvm=$SBVM run -q -- /usr/bin/python3 -c pass"
        "bwrap=$BWRAP /usr/bin/python3 -c pass")
    [ -n "$FIREJAIL" ] && cmds+=("firejail-hardened=$FJ_HARD /usr/bin/python3 -c pass")
    "$ABTIME" -m -r "$work_rounds" -w 1 -k 5 "${cmds[@]}"
    echo

    fi
    if want many; then
    echo "## Many guests"
    echo
    echo "100 guests of /bin/true, one at a time and two at a time: time for all 100 (guests/s ="
    echo "100 000 / median ms). sandboxvm runs them as one command (-j); bare, the floor"
    echo "(build/bench/nsfloor; floor-hostnet: the same without a network namespace) and bwrap"
    echo "through xargs -P (bench/par.sh)."
    echo
    g100="$(guests 100 /bin/true)"
    "$ABTIME" -m -r "$multi_rounds" -w 1 -k 1 \
        "sandboxvm-j1=$SBVM run -q -j 1 -- $g100" "sandboxvm-j2=$SBVM run -q -j 2 -- $g100" \
        "floor-j1=$TOP/bench/par.sh 1 100 $B/nsfloor /bin/true" "floor-j2=$TOP/bench/par.sh 2 100 $B/nsfloor /bin/true" \
        "floor-hostnet-j1=$TOP/bench/par.sh 1 100 $B/nsfloor --share-net /bin/true" \
        "floor-hostnet-j2=$TOP/bench/par.sh 2 100 $B/nsfloor --share-net /bin/true" \
        "bwrap-j1=$TOP/bench/par.sh 1 100 $BWRAP /bin/true" "bwrap-j2=$TOP/bench/par.sh 2 100 $BWRAP /bin/true" \
        "bare-j1=$TOP/bench/par.sh 1 100 /bin/true" "bare-j2=$TOP/bench/par.sh 2 100 /bin/true"
    echo
    echo "Wall and CPU time per guest (CPU of all CPUs from /proc/stat: everything the machine"
    echo "did, kernel workers included), 300 guests, $cpu_rounds rounds alternating, medians. With C"
    echo "CPUs no schedule runs more than C guests per CPU time of one, so -j 2 is bound by"
    echo "min(C, 2) x (wall per guest at -j 1) / (CPU per guest) times the throughput of -j 1:"
    echo
    cpu_per_guest 300 "$cpu_rounds"
    echo

    fi
    if want memory; then
    echo "## Host-side memory per running guest"
    echo
    echo "20 guests running sleep at once; everything each sandbox adds on the host (its"
    echo "supervisors, inits and helpers, not the sleeps), per guest (bench/hostmem.py):"
    echo
    echo "| sandbox | its processes per guest | peak RSS KiB per guest | PSS KiB per guest |"
    echo "|---|---:|---:|---:|"
    python3 bench/hostmem.py 20 sandboxvm -- "$SBVM" run -q -j 20 -- $(guests 20 "sleep 3")
    python3 bench/hostmem.py 20 bwrap -n -- $BWRAP sleep 3
    [ -n "$FIREJAIL" ] && python3 bench/hostmem.py 20 firejail -n -- $FJ sleep 3
    echo

    fi
    if want network; then
    echo "## The network broker"
    echo
    netdir="$(mktemp -d)"
    head -c 100000000 /dev/urandom >"$netdir/big.bin"
    echo small >"$netdir/small.txt"
    chmod -R a+rX "$netdir"
    python3 bench/net/server.py "$netdir" >"$netdir/port" &
    netpid=$!
    for _ in $(seq 50); do [ -s "$netdir/port" ] && break; sleep 0.1; done
    port="$(cat "$netdir/port")"
    allow="--net allow=127.0.0.1:$port --net-allow-private"
    echo "A server on the host's loopback; the guest reaches it directly (--net host) or through"
    echo "the broker (--net allow=127.0.0.1:PORT --net-allow-private). Added latency per"
    echo "connection: the median of 100 sequential GETs of a 6-byte file, each on a new connection"
    echo "(bench/net/latency.py, python3 urllib), $work_rounds rounds:"
    echo
    "$ABTIME" -m -o ms -r "$work_rounds" -w 1 -k 1 \
        "direct=$SBVM run -q --no-tag --net host --ro $TOP/bench/net -- python3 $TOP/bench/net/latency.py http://127.0.0.1:$port/small.txt 100" \
        "broker=$SBVM run -q --no-tag --ro $TOP/bench/net $allow -- python3 $TOP/bench/net/latency.py http://127.0.0.1:$port/small.txt 100"
    echo
    echo "Throughput of a 100 MB download (curl's average speed, bytes/s), plain HTTP and CONNECT:"
    echo
    "$ABTIME" -m -o B/s -r "$work_rounds" -w 1 -k 1 \
        "direct=$SBVM run -q --no-tag --net host -- curl -s -o /dev/null -w %{speed_download} http://127.0.0.1:$port/big.bin" \
        "broker-http=$SBVM run -q --no-tag $allow -- curl -s -o /dev/null -w %{speed_download} http://127.0.0.1:$port/big.bin" \
        "broker-connect=$SBVM run -q --no-tag $allow -- curl -s -p -o /dev/null -w %{speed_download} http://127.0.0.1:$port/big.bin"
    kill "$netpid"
    rm -rf "$netdir"
    echo

    fi
    if want https; then
    echo "## HTTPS through the broker: tunnelled and intercepted"
    echo
    # A test CA and a certificate for localhost; every guest trusts the CA
    # (--trust-ca), and so does the broker when it intercepts.
    tlsdir="$(mktemp -d)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$tlsdir/ca.key" -out "$tlsdir/ca.pem" -subj "/CN=bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tlsdir/srv.key" \
        -out "$tlsdir/srv.csr" -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in "$tlsdir/srv.csr" -CA "$tlsdir/ca.pem" -CAkey "$tlsdir/ca.key" \
        -CAcreateserial -out "$tlsdir/srv.pem" -days 2 \
        -extfile <(printf 'subjectAltName=DNS:localhost\n') 2>/dev/null
    mkdir "$tlsdir/www"
    head -c 100000000 /dev/urandom >"$tlsdir/www/big.bin"
    echo small >"$tlsdir/www/small.txt"
    chmod -R a+rX "$tlsdir"
    python3 bench/net/server.py "$tlsdir/www" "$tlsdir/srv.pem" "$tlsdir/srv.key" >"$tlsdir/port" &
    tlspid=$!
    for _ in $(seq 50); do [ -s "$tlsdir/port" ] && break; sleep 0.1; done
    port="$(cat "$tlsdir/port")"
    base="run -q --no-tag --trust-ca $tlsdir/ca.pem --ro $TOP/bench/net"
    # direct: the host's network. tunnel: a CONNECT tunnel (the host has
    # neither secret nor path rule). intercept: a path rule makes the broker
    # terminate TLS (nothing to mask). secret: a secret too, so every
    # response goes through the masker.
    direct="$SBVM $base --net host --"
    tunnel="$SBVM $base --net allow=localhost:$port --net-allow-private --"
    icept="$SBVM $base --net allow=https://localhost:$port/,https://localhost:$port/b/ --net-allow-private --"
    secret="$SBVM $base --net allow=localhost:$port --secret BENCH_TOKEN=bench-value@localhost --net-allow-private --"
    echo "A Python HTTPS server (HTTP/1.1, kept-alive connections) on the host's loopback, a"
    echo "certificate from a CA of the benchmark's; a Python client in the guest"
    echo "(bench/net/https.py: http.client, through the proxy by CONNECT). direct: --net host;"
    echo "tunnel: --net allow=localhost:PORT (a blind CONNECT tunnel); intercept: a path rule,"
    echo "so the broker terminates TLS (nothing to mask); secret: a secret for the host (every"
    echo "response decoded and masked). Latency of one GET of a 6-byte file, the median of 200"
    echo "on new connections (TCP, CONNECT, TLS handshakes), $work_rounds rounds:"
    echo
    "$ABTIME" -m -o ms -r "$work_rounds" -w 1 -k 1 \
        "direct=$direct python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 200 new" \
        "tunnel=$tunnel python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 200 new" \
        "intercept=$icept python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 200 new" \
        "secret=$secret python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 200 new"
    echo
    echo "The same, 1000 GETs on one kept-alive connection:"
    echo
    "$ABTIME" -m -o ms -r "$work_rounds" -w 1 -k 1 \
        "direct=$direct python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 1000 keep" \
        "tunnel=$tunnel python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 1000 keep" \
        "intercept=$icept python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 1000 keep" \
        "secret=$secret python3 $TOP/bench/net/https.py https://localhost:$port/small.txt 1000 keep"
    echo
    echo "Throughput of a 100 MB download over HTTPS (curl's average speed, bytes/s):"
    echo
    "$ABTIME" -m -o B/s -r "$work_rounds" -w 1 -k 1 \
        "direct=$direct curl -s -o /dev/null -w %{speed_download} https://localhost:$port/big.bin" \
        "tunnel=$tunnel curl -s -o /dev/null -w %{speed_download} https://localhost:$port/big.bin" \
        "intercept=$icept curl -s -o /dev/null -w %{speed_download} https://localhost:$port/big.bin" \
        "secret=$secret curl -s -o /dev/null -w %{speed_download} https://localhost:$port/big.bin"
    kill "$tlspid"
    rm -rf "$tlsdir"
    echo

    fi
    if want oci; then
    # Its own script (its engines, its scratch, its cleanup), which says
    # why when it cannot run here.
    bench/oci.sh --no-save $([ $quick -eq 1 ] && echo --quick)
    echo

    fi
    if want crash; then
    echo "## Crash reports"
    echo
    echo "From the guest's last clock reading before its faulting store to the finished result"
    echo "(build/bench/crashbench latency, $crash_n rounds, each in a process of its own: the"
    echo "first symbolised crash finds the module cache empty, the second finds what the first read):"
    echo
    "$B/crashbench" latency "$CRASHER" "$crash_n"
    echo
    echo "$soak_n crashing guests (NULL write, abort, fault in a thread, SIGBUS, division by zero),"
    echo "two at a time, each with a symbolised backtrace (build/bench/crashbench soak):"
    echo
    "$B/crashbench" soak "$CRASHER" "$soak_n"

    fi
    if want serve; then
    echo "## Sessions: sandboxvm serve"
    echo
    echo "From the Python client (clients/python), bench/serve.py$([ $quick -eq 1 ] && echo ' --quick'):"
    echo "each server on a private socket of its own, ended with SIGTERM at the end; ms:"
    echo
    python3 bench/serve.py --sbvm "$SBVM" --markdown $([ $quick -eq 1 ] && echo --quick)
    echo
    fi
} | tee "$out"
echo
echo "(saved in $out)"
