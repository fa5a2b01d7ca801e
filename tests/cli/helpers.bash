# SPDX-License-Identifier: MIT
# helpers.bash: shared set-up for the CLI tests. SBVM names the sandboxvm
# binary and SBVM_GUESTS the directory of built guest fixtures; both default
# to the build directory next to this file.

bats_require_minimum_version 1.5.0

TOP="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
# Every sandboxvm a test starts goes through a wrapper that notes its pid
# (exec keeps it), so that what a supervisor leaves behind can be told
# from what other runs on the machine leave (stale_cgroups). SBVM_REAL is
# the binary itself, exported: where SBVM came from the environment (as
# scripts/test.sh sets it), the wrapper's path below is exported with it,
# and the next test file must not take the wrapper for the binary.
if [ -z "${SBVM_REAL:-}" ]; then
    SBVM_REAL="${SBVM:-$TOP/build/sandboxvm}"
    export SBVM_REAL
fi
SBVM="$SBVM_REAL"
SBVM_PIDS="${BATS_RUN_TMPDIR:-/tmp}/sbvm.pids"
if [ -n "${BATS_RUN_TMPDIR:-}" ] && [ -x "$SBVM_REAL" ]; then
    if [ ! -x "$BATS_RUN_TMPDIR/sandboxvm" ]; then
        printf '#!/bin/sh\necho $$ >>"%s"\nexec "%s" "$@"\n' "$SBVM_PIDS" "$SBVM_REAL" \
            >"$BATS_RUN_TMPDIR/sandboxvm.tmp"
        chmod 755 "$BATS_RUN_TMPDIR/sandboxvm.tmp"
        mv "$BATS_RUN_TMPDIR/sandboxvm.tmp" "$BATS_RUN_TMPDIR/sandboxvm"
    fi
    SBVM="$BATS_RUN_TMPDIR/sandboxvm"
fi
GUESTS="${SBVM_GUESTS:-$TOP/build/tests/guests}"
EXAMPLES="${SBVM_EXAMPLES:-$TOP/build/examples}"
PROBE="$GUESTS/probe"

# The uid the guest runs as: the caller's own, or nobody when root.
guest_uid() {
    if [ "$(id -u)" = 0 ]; then echo 65534; else id -u; fi
}

# A private scratch directory for one test, outside the host's /tmp when
# possible so that the "nothing left in /tmp" checks are exact.
scratch() {
    mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/s.XXXXXX"
}

# A process name that belongs to this test run alone: other suites running on
# the machine at the same time use their own.
MARKER="sbvm-mk-$$"

# cgroups sandboxvm made ("sandboxvm-<supervisor pid>-*") for a supervisor
# this test run started (SBVM_PIDS) that is gone: a live one is still at
# work, and another run's are not ours to count.
stale_cgroups() {
    local d pid n=0
    while read -r d; do
        pid="${d##*/sandboxvm-}"
        pid="${pid%%-*}"
        [ -d "/proc/$pid" ] && continue
        grep -qx "$pid" "$SBVM_PIDS" 2>/dev/null && n=$((n + 1))
    done < <(find /sys/fs/cgroup -maxdepth 6 -type d -name 'sandboxvm-*' 2>/dev/null)
    echo "$n"
}

# A snapshot of what a run could leave behind on the host, counting only what
# belongs to this test run, so that other programs starting and stopping
# meanwhile do not count: mounts in the host's namespace that name a sandbox
# or this run's scratch (sandboxvm mounts nothing there), processes carrying
# this run's marker or running this build's fixtures (as any user: as root
# the guests are nobody), our entries in /tmp (tmp_names), and cgroups left
# by a supervisor that is gone.
leftovers() {
    printf 'mounts %s\n' "$(grep -cE "sandboxvm|sbvm|${BATS_RUN_TMPDIR:-/nonexistent}" /proc/self/mountinfo)"
    printf 'procs %s\n' "$(pgrep -f "$MARKER" | wc -l)"
    printf 'fixtures %s\n' "$(pgrep -f "^($EXAMPLES|$GUESTS)/" | wc -l)"
    printf 'cgroups %s\n' "$(stale_cgroups)"
}

# Names sandboxvm itself could leave in the host's /tmp (its guests' /tmp is
# their own): other programs' files there, made meanwhile, do not count. The
# suites' own scratch directories are named otherwise (servetest-*,
# clienttest-*, ocitest-*), so that a suite running beside this one on a
# shared machine cannot fail it.
tmp_names() {
    find /tmp -maxdepth 1 -mindepth 1 -user "$(id -u)" \( -name 'sbvm*' -o -name 'sandboxvm*' \) \
        ! -name 'sbvm-unit-*' 2>/dev/null | sort
}

setup() {
    [ -x "$SBVM" ] || skip "sandboxvm is not built at $SBVM"
    BEFORE="$(leftovers)"
    BEFORE_TMP="$(tmp_names)"
}

# Asserts that nothing new is left on the host since setup().
assert_nothing_left() {
    local after
    after="$(leftovers)"
    if [ "$after" != "$BEFORE" ]; then
        echo "left behind on the host:"
        diff <(echo "$BEFORE") <(echo "$after") || true
        return 1
    fi
    # Names in /tmp that were not there before (deletions do not count).
    after="$(comm -13 <(echo "$BEFORE_TMP") <(tmp_names))"
    if [ -n "$after" ]; then
        echo "left behind in /tmp: $after"
        return 1
    fi
}

# Asserts that a command failed with `code` and printed exactly one line on
# stderr matching `pattern`, and left nothing behind.
assert_bad_input() {
    local code="$1" pattern="$2"
    [ "$status" -eq "$code" ] || { echo "status $status, expected $code; stderr: $stderr"; return 1; }
    [ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ] || { echo "expected one line, got: $stderr"; return 1; }
    [[ "$stderr" =~ $pattern ]] || { echo "stderr '$stderr' does not match '$pattern'"; return 1; }
    assert_nothing_left
}

# Asserts a Python expression over a JSON report: `d` is the report, `g`
# its first guest. On failure, prints the expression and the guest.
# jschema FILE: the report follows docs/report.schema.json (checked where
# python3-jsonschema is installed; scripts/deps.sh installs it).
jschema() {
    python3 -c 'import jsonschema' 2>/dev/null || return 0
    python3 -c 'import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))' \
        "$TOP/docs/report.schema.json" "$1"
}

jcheck() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
g = d["guests"][0] if d.get("guests") else None
if not eval(sys.argv[2]):
    print("JSON check failed:", sys.argv[2])
    print(json.dumps(g, indent=1)[:4000])
    sys.exit(1)
PY
}
