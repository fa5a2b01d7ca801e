#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fresh-check.sh: rehearse the README's Quick start on a fresh Debian 12.
#
#   scripts/fresh-check.sh [--run demo,test] [--at DIR] [--cache FILE]
#                          [--keep] [--workdir DIR] [--timeout MINUTES]
#
# Builds a minimal Debian 12 (debootstrap --variant=minbase, so no compiler,
# no git, no python3) from the mirror this machine's apt uses
# (scripts/apt-mirror.sh; SBVM_DEBIAN_MIRROR overrides it), clones the
# committed HEAD of this checkout into it (as /root/sandboxvm, where root's
# `git clone` puts it) and runs the Quick-start commands there as root, one
# after the other, as a new machine would: the tree's own apt installs
# whatever the scripts ask for. The tree is entered in new mount, pid, ipc,
# uts and cgroup namespaces, pivoted into it, with its own /proc, /sys (and
# the cgroup hierarchies this host has, rooted at cgroups made for the run),
# a small /dev, and tmpfs /tmp and /run: nothing of the host's files, and
# none of its other processes and cgroups, are visible inside; the network
# is the host's, for apt.
#
#   --run LIST       the commands, in order (default demo,test; test,demo
#                    checks the other order, demo alone takes ~5 minutes)
#   --at DIR         where the clone goes in the tree (default /root/sandboxvm)
#   --cache FILE     unpack FILE (a tarball of a pristine tree) instead of
#                    running debootstrap, or write it there when it does not
#                    exist yet; without it every run debootstraps afresh
#   --keep           keep the tree afterwards (its path is printed)
#   --workdir DIR    where the tree and the logs go (default: a new directory
#                    under ${TMPDIR:-/var/tmp}); the logs are kept
#   --timeout MIN    per command (default 90)
#
# Needs root (debootstrap, mounts) and the network to the mirror. Prints a
# PASS or FAIL line per command and exits non-zero when any failed. Run by
# `scripts/test.sh --fresh`; not part of CI (it takes about as long as CI).
set -euo pipefail
# All of it in one compound command, which bash reads whole before running
# it: the checkout may change (a git checkout, an edit) during a long run.
{
cd "$(dirname "$0")/.."
TOP="$PWD"
umask 022

run_list="demo,test"
at=/root/sandboxvm
cache=""
keep=0
workdir=""
minutes=90
while [ $# -gt 0 ]; do
    case "$1" in
    --run) run_list="${2:?--run needs a list: demo,test}"; shift ;;
    --at) at="${2:?--at needs a directory}"; shift ;;
    --cache) cache="${2:?--cache needs a file}"; shift ;;
    --keep) keep=1 ;;
    --workdir) workdir="${2:?--workdir needs a directory}"; shift ;;
    --timeout) minutes="${2:?--timeout needs minutes}"; shift ;;
    -h | --help)
        sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "fresh-check.sh: unknown option '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done
commands=()
for c in ${run_list//,/ }; do
    case "$c" in
    demo | test) commands+=("$c") ;;
    *)
        echo "fresh-check.sh: --run: '$c' is not a Quick-start command (demo, test)" >&2
        exit 2
        ;;
    esac
done
[ ${#commands[@]} -gt 0 ] || { echo "fresh-check.sh: --run: no command" >&2; exit 2; }
case "$at" in
/?*) ;;
*) echo "fresh-check.sh: --at takes an absolute path inside the tree" >&2; exit 2 ;;
esac
case "$minutes" in '' | *[!0-9]* | 0) echo "fresh-check.sh: --timeout takes whole minutes" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
    echo "fresh-check.sh: needs root (debootstrap, mount namespaces, pivot_root)" >&2
    exit 2
fi
if [ -n "$cache" ]; then
    cache="$(realpath -m -- "$cache")"
fi

say() { printf '\n== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
now() { date +%s; }

scripts/deps.sh fresh

head_commit="$(git rev-parse HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "fresh-check.sh: note: uncommitted changes here are not part of the rehearsal (it clones HEAD)"
fi

if [ -n "$workdir" ]; then
    mkdir -p "$workdir"
    work="$(realpath "$workdir")"
else
    work="$(mktemp -d "${TMPDIR:-/var/tmp}/sbvm-fresh.XXXXXX")"
fi
chmod 0755 "$work"
tree="$work/root"
logs="$work/logs"
if [ -e "$tree" ]; then
    echo "fresh-check.sh: $tree exists already: remove it or choose another --workdir" >&2
    exit 2
fi
mkdir -p "$logs"

# Mounts below the tree as this (the host's) mount namespace sees them:
# debootstrap mounts /proc and /sys in the tree while it works, and leaves
# them behind when it fails. Everything the rehearsal mounts itself lives in
# its own namespace and goes with it.
mounts_below() { awk -v t="$tree" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo; }
cleanup() {
    local m
    remove_cgroups
    for m in $(mounts_below | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    if [ -n "$(mounts_below)" ]; then
        echo "fresh-check.sh: still mounted below $tree; not removing it" >&2
        return
    fi
    if [ $keep -eq 1 ]; then
        echo "The tree is kept: $tree"
    elif [ -d "$tree" ]; then
        rm -rf --one-file-system "$tree"
    fi
}
trap cleanup EXIT

# The tree's cgroups: in each hierarchy, a new child of the cgroup this
# script is in, which becomes the root of the tree's cgroup namespace. Inside,
# sandboxvm (as root it makes cgroups of its own) and the tests that count
# cgroups see these alone, as on a machine of their own, and none of what
# other programs on this host make meanwhile.
cg_leaf="sbvm-fresh-check.$$"
cg_made=()
cg_spec=""
make_cgroups() {
    local mp fstype opts rel ctrls path dir
    while read -r mp fstype opts; do
        rel=""
        while IFS=: read -r _ ctrls path; do
            if [ "$fstype" = cgroup2 ] && [ -z "$ctrls" ]; then
                rel="$path"
            elif [ -n "$ctrls" ] && [[ ",$opts," == *",${ctrls%%,*},"* ]]; then
                rel="$path"
            fi
            [ -n "$rel" ] && break
        done </proc/self/cgroup
        [ -n "$rel" ] || continue
        dir="$mp${rel%/}/$cg_leaf"
        mkdir "$dir"
        cg_made+=("$dir")
        # A new cpuset has no CPUs and no memory nodes until it is given some.
        if [ -f "$dir/cpuset.cpus" ]; then
            cat "$(dirname "$dir")/cpuset.cpus" >"$dir/cpuset.cpus"
            cat "$(dirname "$dir")/cpuset.mems" >"$dir/cpuset.mems"
        fi
        cg_spec+="$mp $fstype $opts"$'\n'
    done < <(awk '{ for (i = 7; $i != "-"; i++); if ($(i + 1) ~ /^cgroup2?$/ &&
        ($5 == "/sys/fs/cgroup" || index($5, "/sys/fs/cgroup/") == 1)) print $5, $(i + 1), $(i + 3) }' \
        /proc/self/mountinfo)
}
remove_cgroups() {
    local dir
    for dir in "${cg_made[@]}"; do
        # The namespace's processes are killed with its init; their exit
        # may take a moment.
        for _ in $(seq 50); do
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [ -d "$dir" ] || break
            sleep 0.2
        done
        [ -d "$dir" ] && echo "fresh-check.sh: could not remove the cgroup $dir" >&2
    done
    cg_made=()
}

t_start=$(now)

# 1. The tree.
mirror="${SBVM_DEBIAN_MIRROR:-$(scripts/apt-mirror.sh bookworm || true)}"
if [ -n "$cache" ] && [ -f "$cache" ]; then
    say "unpacking the pristine tree from $cache (--cache)"
    mkdir "$tree"
    tar --numeric-owner --xattrs -C "$tree" -xpzf "$cache"
    t_tree_kind="unpacked from the cache"
else
    if [ -n "$mirror" ]; then
        say "debootstrap --variant=minbase bookworm $tree $mirror"
        echo "(the mirror: SBVM_DEBIAN_MIRROR, else the one this machine's apt uses: scripts/apt-mirror.sh)"
    else
        say "debootstrap --variant=minbase bookworm $tree (apt names no mirror: debootstrap's default)"
    fi
    t0=$(now)
    if ! debootstrap --variant=minbase bookworm "$tree" ${mirror:+"$mirror"} >"$logs/debootstrap.log" 2>&1; then
        tail -n 20 "$logs/debootstrap.log"
        echo "fresh-check.sh: debootstrap failed: see $logs/debootstrap.log" >&2
        exit 1
    fi
    t_debootstrap=$(($(now) - t0))
    echo "debootstrap: ${t_debootstrap} s, $(du -sm "$tree" | cut -f1) MB"
    t_tree_kind="debootstrap ${t_debootstrap} s"
    if [ -n "$cache" ]; then
        tar --numeric-owner --xattrs -C "$tree" -czf "$cache.partial" . && mv "$cache.partial" "$cache"
        echo "saved the pristine tree as $cache"
    fi
fi

# 2. What any machine of this kind has that no package gives: apt's sources
# and settings as this machine has them (the mirror, the updates and security
# suites, the Acquire options), name resolution, a hosts file.
say "setting the tree up as a machine of this kind: /etc/apt, resolv.conf, hosts"
apt_list=/etc/apt/sources.list apt_parts=/etc/apt/sources.list.d apt_conf=/etc/apt/apt.conf.d
eval "$(apt-config shell apt_list Dir::Etc::sourcelist/f apt_parts Dir::Etc::sourceparts/d apt_conf Dir::Etc::parts/d)"
rm -f "$tree/etc/apt/sources.list"
[ -f "${apt_list:-}" ] && cp "$apt_list" "$tree/etc/apt/sources.list"
for f in "${apt_parts%/}"/*.list "${apt_parts%/}"/*.sources "${apt_conf%/}"/*; do
    [ -f "$f" ] || continue
    case "$f" in
    "${apt_conf%/}"/*) cp "$f" "$tree/etc/apt/apt.conf.d/" ;;
    *) cp "$f" "$tree/etc/apt/sources.list.d/" ;;
    esac
done
for d in /etc/apt/trusted.gpg.d /etc/apt/keyrings; do
    if [ -d "$d" ]; then mkdir -p "$tree$d" && cp -a "$d/." "$tree$d/"; fi
done
for f in "$tree/etc/apt/sources.list" "$tree/etc/apt/sources.list.d/"*; do
    [ -f "$f" ] && echo "  apt sources: ${f#"$tree"}"
done
cp -L /etc/resolv.conf "$tree/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tree/etc/hosts"

# 3. The checkout, as a clone of the committed HEAD.
say "git clone of this checkout's HEAD ($(git log -1 --format='%h %s' | cut -c1-60)) -> $at"
mkdir -p "$(dirname "$tree$at")"
git clone --quiet --no-local "$TOP" "$tree$at"
git -C "$tree$at" checkout --quiet --detach "$head_commit"

# 4. The run. This runner is the tree's own bash inside the namespaces; its
# results and logs stay in the tree's /var/log, read from here afterwards.
mkdir -p "$tree/var/log/fresh-check"
cat >"$tree/var/log/fresh-check/run.sh" <<'RUNNER'
# The Quick-start commands, one after the other, as root in a login's
# environment, each with its own log and result line.
out=/var/log/fresh-check
at="$1"
minutes="$2"
shift 2
cd "$at"
# What this machine sees of the host: its own mounts, processes and cgroups.
printf 'inside: %s mounts (%s), %s processes, cgroups in memory/: %s\n' \
    "$(wc -l </proc/self/mountinfo)" "$(awk '{ printf "%s%s", sep, $5; sep = " " }' /proc/self/mountinfo | cut -c1-200)" \
    "$(ls /proc | grep -c '^[0-9]')" "$(find /sys/fs/cgroup/memory -mindepth 1 -type d 2>/dev/null | wc -l)"
for c in "$@"; do
    printf '\n== [%s] ./scripts/%s.sh (in the fresh tree, as %s)\n' "$(date +%H:%M:%S)" "$c" "$(id -un)"
    start=$(date +%s)
    timeout --kill-after=60 "${minutes}m" "./scripts/$c.sh" </dev/null 2>&1 | tee "$out/$c.log"
    rc=${PIPESTATUS[0]}
    echo "$c $rc $(($(date +%s) - start))" >>"$out/results"
done
RUNNER

# Runs in the new namespaces, with the host's tools, until pivot_root.
enter='
set -euo pipefail
T="$1"
shift
mount --bind "$T" "$T"
mount -t proc -o nosuid,nodev,noexec proc "$T/proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs "$T/sys"
# The cgroup hierarchies as the host has them, each rooted at the cgroup
# namespace'"'"'s root.
while read -r mp fstype opts; do
    [ -n "$mp" ] || continue
    if [ "$mp" != /sys/fs/cgroup ] && ! mountpoint -q "$T/sys/fs/cgroup"; then
        mount -t tmpfs -o nosuid,nodev,noexec,mode=0755 cgroup "$T/sys/fs/cgroup"
    fi
    mkdir -p "$T$mp"
    mount -t "$fstype" -o "$opts" cgroup "$T$mp"
done <<<"$CG_SPEC"
mount -t tmpfs -o nosuid,mode=0755,size=1m dev "$T/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$n"
    mknod -m 0666 "$T/dev/$name" c "$major" "$minor"
done
mkdir "$T/dev/pts" "$T/dev/shm" "$T/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$T/dev/pts"
ln -s pts/ptmx "$T/dev/ptmx"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$T/dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue "$T/dev/mqueue"
ln -s /proc/self/fd "$T/dev/fd"
ln -s /proc/self/fd/0 "$T/dev/stdin"
ln -s /proc/self/fd/1 "$T/dev/stdout"
ln -s /proc/self/fd/2 "$T/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$T/tmp"
mount -t tmpfs -o nosuid,nodev,mode=0755 run "$T/run"
cd "$T"
mkdir -p .old-root
pivot_root . .old-root
cd /
umount -l /.old-root
rmdir /.old-root
exec /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash /var/log/fresh-check/run.sh "$@"
'
say "entering the tree (mount, pid, ipc, uts, cgroup namespaces; pivot_root) to run: ${commands[*]}"
t0=$(now)
make_cgroups
# Joins the cgroups made for the tree, then makes the namespaces.
join='for d in $CG_DIRS; do echo "$BASHPID" >"$d/cgroup.procs"; done; exec "$@"'
CG_SPEC="$cg_spec" CG_DIRS="${cg_made[*]}" bash -c "$join" join \
    unshare --mount --pid --fork --ipc --uts --cgroup --propagation private \
    bash -c "$enter" enter "$tree" "$at" "$minutes" "${commands[@]}" || true
remove_cgroups
t_inside=$(($(now) - t0))

# 5. What happened.
cp "$tree/var/log/fresh-check/"*.log "$logs/" 2>/dev/null || true
for d in "$tree$at"/build*; do
    [ -d "$d" ] || continue
    for f in "$d"/*.tap "$d"/*.log; do
        [ -f "$f" ] && cp "$f" "$logs/$(basename "$d")-$(basename "$f")"
    done
done
say "results (logs in $logs)"
echo "tree: $t_tree_kind; inside: ${t_inside} s; in all: $(($(now) - t_start)) s"
status=0
for c in "${commands[@]}"; do
    line=$(awk -v c="$c" '$1 == c' "$tree/var/log/fresh-check/results" 2>/dev/null | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL  ./scripts/$c.sh: did not run"
        status=1
        continue
    fi
    read -r _ rc secs <<<"$line"
    if [ "$rc" -eq 0 ]; then
        echo "PASS  ./scripts/$c.sh ($secs s)"
    else
        why="exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after $minutes minutes"
        echo "FAIL  ./scripts/$c.sh ($secs s, $why)"
        grep -h '^FAILED:' "$logs/$c.log" 2>/dev/null | sed 's/^/      /' || true
        # Each failing test by name, under the step of the suite that ran
        # it (the suite prints every test that is not ok).
        if [ -f "$logs/$c.log" ]; then
            awk '/^== / { step = substr($0, 4) } /^not ok/ { print "      " step ": " $0 }' "$logs/$c.log"
        fi
        status=1
    fi
done
exit $status
}
