#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh: install what is missing, build with warnings as errors, check the
# formatting, and run the whole suite (Check unit tests and bats CLI tests):
# as root and as an ordinary user, then again under ASan+UBSan, and the
# shared-memory channel's tests under ThreadSanitizer.
#
#   scripts/test.sh            everything (what CI runs), fuzzing included
#   scripts/test.sh --quick    one pass as the current user, no sanitizer build
#   scripts/test.sh --slow     only the slow tier (tests/slow): a debootstrap'd
#                              Debian as --rootfs; needs root and the Debian
#                              mirror, and is not part of CI
set -euo pipefail
cd "$(dirname "$0")/.."
TOP="$PWD"
quick=0
case "${1:-}" in
--quick) quick=1 ;;
--slow)
    scripts/deps.sh slow
    scripts/build.sh build
    exec env SBVM="$TOP/build/sandboxvm" SBVM_GUESTS="$TOP/build/tests/guests" \
        SBVM_EXAMPLES="$TOP/build/examples" bats "$TOP/tests/slow"
    ;;
"") ;;
*)
    echo "test.sh: unknown option '$1' (try --quick or --slow)" >&2
    exit 2
    ;;
esac

# An ordinary user for the unprivileged pass when we are root. No account is
# created: setpriv switches to a bare uid/gid.
TEST_UID=4242

step() { printf '\n== %s\n' "$*"; }
failures=()

step "dependencies"
scripts/deps.sh test

step "build (build/, -Werror)"
scripts/build.sh build

step "format (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests tools examples -name '*.[ch]')
if ! clang-format --dry-run --Werror "${sources[@]}"; then
    echo "formatting differs: run  clang-format -i \$(git ls-files '*.[ch]')"
    failures+=("format")
fi

# Runs the unit and CLI suites of one build directory as the current user,
# or as $2 when given (a uid; needs root).
suite() {
    local dir="$1" as="${2:-}" label="$3"
    local run=()
    if [ -n "$as" ]; then
        run=(setpriv --reuid="$as" --regid="$as" --clear-groups env HOME=/tmp)
    fi
    step "unit tests: $label"
    if ! "${run[@]}" env CK_TAP_LOG_FILE_NAME=- CK_VERBOSITY=silent \
        SBVM_GUESTS="$TOP/$dir/tests/guests" "$TOP/$dir/tests/unit/sbvm-unit" >"$TOP/$dir/unit.tap" 2>&1; then
        grep -v '^ok' "$TOP/$dir/unit.tap" || true
        failures+=("unit: $label")
    fi
    grep -c '^ok' "$TOP/$dir/unit.tap" | sed 's/$/ unit tests passed/'
    grep '^# SKIP' "$TOP/$dir/unit.tap" || true
    step "CLI tests and the escape battery (bats): $label"
    if ! "${run[@]}" env SBVM="$TOP/$dir/sandboxvm" SBVM_GUESTS="$TOP/$dir/tests/guests" \
        SBVM_EXAMPLES="$TOP/$dir/examples" SBVM_ESCAPE="$TOP/$dir/tests/escape/escape" \
        bats --tap "$TOP/tests/cli" "$TOP/tests/escape" >"$TOP/$dir/cli.tap" 2>&1; then
        grep -v '^ok' "$TOP/$dir/cli.tap" || true
        failures+=("bats: $label")
    fi
    grep -c '^ok' "$TOP/$dir/cli.tap" | sed 's/$/ CLI tests passed/'
    grep '# skip' "$TOP/$dir/cli.tap" || true
    # The session API's clients (clients/), each against a real sandboxvm serve.
    step "session clients (Python, Node): $label"
    if command -v python3 >/dev/null; then
        "${run[@]}" env SBVM="$TOP/$dir/sandboxvm" python3 -m unittest discover -s "$TOP/clients/python/tests" \
            >"$TOP/$dir/clients-py.log" 2>&1 || { tail -20 "$TOP/$dir/clients-py.log"; failures+=("python client: $label"); }
        tail -1 "$TOP/$dir/clients-py.log" | sed 's/^/python client: /'
    else
        echo "python client: skipped: python3 is not installed"
    fi
    if command -v node >/dev/null; then
        "${run[@]}" env SBVM="$TOP/$dir/sandboxvm" node --test "$TOP/clients/node/test/" \
            >"$TOP/$dir/clients-node.log" 2>&1 || { tail -20 "$TOP/$dir/clients-node.log"; failures+=("node client: $label"); }
        grep -E '^# (pass|fail)' "$TOP/$dir/clients-node.log" | tr '\n' ' ' | sed 's/^/node client: /;s/$/\n/'
    else
        echo "node client: skipped: node is not installed"
    fi
}

if [ "$(id -u)" -eq 0 ]; then
    suite build "" "root"
    if [ $quick -eq 0 ]; then
        # The build tree must be readable by the ordinary user.
        suite build "$TEST_UID" "ordinary user (uid $TEST_UID)"
    fi
else
    suite build "" "ordinary user ($(id -un))"
    echo "(the root pass is skipped: run as root, or through sudo, to cover it)"
fi

if [ $quick -eq 0 ]; then
    step "ASan+UBSan build (build-asan/)"
    scripts/build.sh build-asan -Db_sanitize=address,undefined -Dbuildtype=debug -Dbench=false
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    suite build-asan "" "ASan+UBSan, $(id -un)"
fi

if [ $quick -eq 0 ]; then
    # The shared-memory channel under ThreadSanitizer: only its own test
    # binary (sbvm-shm-unit, the channel's sources and the guest SDK), so
    # that this costs about half a minute, not a second full build.
    # -Wno-tsan: GCC warns that TSan ignores atomic_thread_fence, which the
    # channel uses only between atomics (docs/CHANNEL.md, memory ordering).
    step "ThreadSanitizer: the host channel (build-tsan/)"
    if [ ! -f build-tsan/build.ninja ]; then
        meson setup build-tsan -Dwerror=true -Db_sanitize=thread -Dbuildtype=debug -Dbench=false \
            -Dc_args=-Wno-tsan >/dev/null
    fi
    ninja --quiet -C build-tsan tests/unit/sbvm-shm-unit
    if ! env TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" CK_TAP_LOG_FILE_NAME=- \
        CK_VERBOSITY=silent build-tsan/tests/unit/sbvm-shm-unit >build-tsan/shm.tap 2>&1; then
        grep -v '^ok' build-tsan/shm.tap || true
        failures+=("tsan")
    fi
    grep -c '^ok' build-tsan/shm.tap | sed 's/$/ channel tests passed under TSan/'
fi

if [ $quick -eq 0 ]; then
    # Each libFuzzer target briefly (clang, ASan+UBSan): longer runs are
    # scripts/fuzz.sh SECONDS, and their findings are in docs/SECURITY.md.
    step "fuzzing (libFuzzer, ${FUZZ_SECONDS:-30} s per target)"
    scripts/fuzz.sh "${FUZZ_SECONDS:-30}" || failures+=("fuzz")
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "FAILED: ${failures[*]}"
    exit 1
fi
echo "All tests passed."
