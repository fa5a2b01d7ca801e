#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh: install what is missing, build with warnings as errors, check the
# formatting, and run the whole suite (Check unit tests and bats CLI tests):
# as root and as an ordinary user, then again under ASan+UBSan, and the
# shared-memory channel's tests under ThreadSanitizer.
#
#   scripts/test.sh            everything (what CI runs), fuzzing included
#   scripts/test.sh --quick    one pass as the current user, no sanitizer build
#   scripts/test.sh --slow     only the slow tier, not part of CI (needs root
#                              and the Debian mirror): a debootstrap'd Debian
#                              as --rootfs (tests/slow), then the fresh-machine
#                              rehearsal (--fresh)
#   scripts/test.sh --fresh [OPTIONS]   only the rehearsal: both Quick-start
#                              commands in a new minimal Debian 12 tree
#                              (scripts/fresh-check.sh, about 25 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
quick=0
case "${1:-}" in
--quick) quick=1 ;;
--slow)
    scripts/deps.sh slow
    scripts/build.sh build -Dtests=true
    slow_status=0
    env SBVM="$TOP/build/sandboxvm" SBVM_GUESTS="$TOP/build/tests/guests" \
        SBVM_EXAMPLES="$TOP/build/examples" bats "$TOP/tests/slow" || slow_status=1
    if [ "$(id -u)" -ne 0 ]; then
        echo "(the fresh-machine rehearsal is skipped: it needs root)"
        exit $slow_status
    fi
    scripts/fresh-check.sh || slow_status=1
    exit $slow_status
    ;;
--fresh)
    shift
    exec scripts/fresh-check.sh "$@"
    ;;
"") ;;
*)
    echo "test.sh: unknown option '$1' (try --quick, --slow or --fresh)" >&2
    exit 2
    ;;
esac

# An ordinary user for the unprivileged pass when we are root. No account is
# created: setpriv switches to a bare uid/gid.
TEST_UID=4242

# Each step says when it began (seconds since the start), so that a slow
# pass shows in CI's log.
step() { printf '\n== %s  [%d s]\n' "$*" "$SECONDS"; }
failures=()

step "dependencies"
scripts/deps.sh test

step "build (build/, -Werror)"
# What CI builds, also when the demo configured build/ without the suite.
scripts/build.sh build -Dtests=true -Dbench=true

step "format (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests tools examples -name '*.[ch]')
if ! clang-format --dry-run --Werror "${sources[@]}"; then
    echo "formatting differs: run  clang-format -i \$(git ls-files '*.[ch]')"
    failures+=("format")
fi

# Runs the unit and CLI suites of one build directory as the current user,
# or as $2 when given (a uid; needs root), from the checkout $4 (default: this
# one); $5 says which: "unit", "cli" (bats and the clients) or both (the
# default). The TAP files go to this checkout's build directory either way.
suite() {
    local dir="$1" as="${2:-}" label="$3" top="${4:-$TOP}" parts="${5:-unit cli}"
    local run=()
    if [ -n "$as" ]; then
        # From the checkout: bats goes back to its working directory,
        # which must be one the user can enter.
        run=(setpriv --reuid="$as" --regid="$as" --clear-groups env --chdir="$top" HOME=/tmp)
    fi
    if [[ " $parts " == *" unit "* ]]; then
        step "unit tests: $label"
        if ! "${run[@]}" env CK_TAP_LOG_FILE_NAME=- CK_VERBOSITY=silent \
            SBVM_GUESTS="$top/$dir/tests/guests" "$top/$dir/tests/unit/sbvm-unit" >"$TOP/$dir/unit.tap" 2>&1; then
            grep -v '^ok' "$TOP/$dir/unit.tap" || true
            failures+=("unit: $label")
        fi
        { grep -c '^ok' "$TOP/$dir/unit.tap" || true; } | sed 's/$/ unit tests passed/'
        grep '^# SKIP' "$TOP/$dir/unit.tap" || true
    fi
    [[ " $parts " == *" cli "* ]] || return 0
    step "CLI tests and the escape battery (bats): $label"
    if ! "${run[@]}" env SBVM="$top/$dir/sandboxvm" SBVM_GUESTS="$top/$dir/tests/guests" \
        SBVM_EXAMPLES="$top/$dir/examples" SBVM_ESCAPE="$top/$dir/tests/escape/escape" \
        bats --tap --timing "$top/tests/cli" "$top/tests/escape" >"$TOP/$dir/cli.tap" 2>&1; then
        grep -v '^ok' "$TOP/$dir/cli.tap" || true
        failures+=("bats: $label")
    fi
    { grep -c '^ok' "$TOP/$dir/cli.tap" || true; } | sed 's/$/ CLI tests passed/'
    grep '# skip' "$TOP/$dir/cli.tap" || true
    # The session API's clients (clients/), each against a real sandboxvm serve.
    step "session clients (Python, Node): $label"
    if command -v python3 >/dev/null; then
        "${run[@]}" env SBVM="$top/$dir/sandboxvm" python3 -m unittest discover -s "$top/clients/python/tests" \
            >"$TOP/$dir/clients-py.log" 2>&1 || { tail -20 "$TOP/$dir/clients-py.log"; failures+=("python client: $label"); }
        tail -1 "$TOP/$dir/clients-py.log" | sed 's/^/python client: /'
    else
        echo "python client: skipped: python3 is not installed"
    fi
    if command -v node >/dev/null; then
        "${run[@]}" env SBVM="$top/$dir/sandboxvm" node --test "$top/clients/node/test/" \
            >"$TOP/$dir/clients-node.log" 2>&1 || { tail -20 "$TOP/$dir/clients-node.log"; failures+=("node client: $label"); }
        grep -E '^# (pass|fail)' "$TOP/$dir/clients-node.log" | tr '\n' ' ' | sed 's/^/node client: /;s/$/\n/'
    else
        echo "node client: skipped: node is not installed"
    fi
}

# Runs its arguments with the sanitizers' options: stop at the first report.
asan_env() {
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" "$@"
}

# What runs beside the root pass: the ASan+UBSan build and its unit tests
# (its CLI suite runs later), the shared-memory channel under ThreadSanitizer
# (only its own test binary, sbvm-shm-unit: the channel's sources and the
# guest SDK, about half a minute, not a second full build) and each libFuzzer
# target briefly. -Wno-tsan: GCC warns that TSan ignores
# atomic_thread_fence, which the channel uses only between atomics
# (docs/CHANNEL.md, memory ordering). Fuzzing runs each target from its seeds
# (clang, ASan+UBSan): enough to catch a target that no longer builds or a
# regression its corpus reaches at once; longer runs are scripts/fuzz.sh
# SECONDS, and their findings are in docs/SECURITY.md.
tools() {
    step "ASan+UBSan build (build-asan/)"
    if scripts/build.sh build-asan -Db_sanitize=address,undefined -Dbuildtype=debug -Dtests=true -Dbench=false; then
        asan_env suite build-asan "" "ASan+UBSan, $(id -un)" "$TOP" unit
    else
        failures+=("asan build")
    fi
    step "ThreadSanitizer: the host channel (build-tsan/)"
    if { [ -f build-tsan/build.ninja ] || meson setup build-tsan -Dwerror=true -Db_sanitize=thread \
        -Dbuildtype=debug -Dbench=false -Dc_args=-Wno-tsan >/dev/null; } &&
        ninja --quiet -C build-tsan tests/unit/sbvm-shm-unit; then
        if ! env TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" CK_TAP_LOG_FILE_NAME=- \
            CK_VERBOSITY=silent build-tsan/tests/unit/sbvm-shm-unit >build-tsan/shm.tap 2>&1; then
            grep -v '^ok' build-tsan/shm.tap || true
            failures+=("tsan")
        fi
        { grep -c '^ok' build-tsan/shm.tap || true; } | sed 's/$/ channel tests passed under TSan/'
    else
        failures+=("tsan build")
    fi
    step "fuzzing (libFuzzer, ${FUZZ_SECONDS:-5} s per target)"
    scripts/fuzz.sh "${FUZZ_SECONDS:-5}" || failures+=("fuzz")
}

# A part of the run in the background, beside the rest: its output goes to a
# log that is printed when it is waited for, its failures to a file. The
# machine has two CPUs and each part keeps about one busy; two parts side by
# side took 16 minutes here (954 s) where one after the other took 22.
bg_pids=()
bg_logs=()
background() {
    local name="$1"
    shift
    (
        failures=()
        "$@"
        [ ${#failures[@]} -eq 0 ] || printf '%s\n' "${failures[@]}" >"$TOP/build/$name.failures"
    ) >"$TOP/build/$name.log" 2>&1 &
    bg_pids+=($!)
    bg_logs+=("$name")
}
wait_background() {
    local i
    for i in "${!bg_pids[@]}"; do
        wait "${bg_pids[$i]}" || failures+=("${bg_logs[$i]} (its shell exited)")
        printf '\n---- %s, run beside the rest (build/%s.log) ----\n' "${bg_logs[$i]}" "${bg_logs[$i]}"
        cat "$TOP/build/${bg_logs[$i]}.log"
        if [ -s "$TOP/build/${bg_logs[$i]}.failures" ]; then
            mapfile -t -O "${#failures[@]}" failures <"$TOP/build/${bg_logs[$i]}.failures"
        fi
    done
    bg_pids=()
    bg_logs=()
}

# The ordinary user's pass needs to read the checkout. Where it cannot (a
# clone in root's home, say: /root is closed to others), the pass runs from a
# copy of the checkout and its build/ in a directory the user can read.
user_copy=""
remove_user_copy() { if [ -n "$user_copy" ]; then rm -rf "$user_copy"; fi; }
trap remove_user_copy EXIT

# Which parts run side by side. The bats suites check that a run leaves
# nothing on the host (helpers.bash: leftovers), counting what they could
# have made: processes running their build directory's fixtures, and names
# in /tmp owned by their uid (sbvm*, sandboxvm*; the unit tests' own scratch
# is sbvm-unit-*). So a CLI pass may run beside a pass of another build
# directory as another uid, never beside one that shares either; the unit
# tests of another build directory may run beside it. Hence two rounds: the
# root pass beside the tools (which start no sandbox) and the ASan unit
# tests; then the ordinary user's pass of build/ beside root's CLI pass of
# build-asan/.
if [ $quick -eq 0 ]; then
    rm -f build/*.failures
    background tools tools
fi
if [ "$(id -u)" -eq 0 ]; then
    suite build "" "root"
    if [ $quick -eq 0 ]; then
        user_top="$TOP"
        if ! setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups \
            test -r "$TOP/tests/cli/helpers.bash" -a -x "$TOP/build/sandboxvm" 2>/dev/null; then
            user_copy="$(mktemp -d "${TMPDIR:-/var/tmp}/sbvm-uid$TEST_UID.XXXXXX")"
            chmod 0755 "$user_copy"
            tar -C "$TOP" --exclude=./.git --exclude='./build-*' --exclude=./build/slow -cf - . |
                tar -C "$user_copy" -xf -
            user_top="$user_copy"
            printf '\n(uid %s cannot read %s: its pass runs from a copy, %s)\n' "$TEST_UID" "$TOP" "$user_copy"
        fi
    fi
else
    suite build "" "ordinary user ($(id -un))"
    echo "(the root pass is skipped: run as root, or through sudo, to cover it)"
fi

if [ $quick -eq 0 ]; then
    # The ASan build must be there before its suite: the tools first.
    wait_background
    if [ "$(id -u)" -eq 0 ]; then
        background uid-pass suite build "$TEST_UID" "ordinary user (uid $TEST_UID)" "$user_top"
    fi
    asan_env suite build-asan "" "ASan+UBSan, $(id -un)" "$TOP" cli
    wait_background
    remove_user_copy
    user_copy=""
fi

printf '\n(%d s in all)\n' "$SECONDS"
if [ ${#failures[@]} -gt 0 ]; then
    echo "FAILED: ${failures[*]}"
    exit 1
fi
echo "All tests passed."
