#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# build.sh [BUILDDIR [MESON-OPTIONS...]]: configure and build.
# The default is build/ with warnings as errors, as CI builds it.
#
# A new BUILDDIR is set up with the options. An existing one gets those of
# the -D options whose values differ from its own (meson setup
# --reconfigure) and keeps the rest: whichever script configured build/
# first (the demo leaves the test suite out, for it needs packages the demo
# does not), the next one builds what it asks for. Options already in force
# are not set again, since that alone makes meson regenerate the build.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@" >/dev/null || meson setup "$dir" -Dwerror=true "$@"
elif [ $# -gt 0 ]; then
    # The options that would change something, from meson's own view of
    # the build directory.
    mapfile -t change < <(meson introspect --buildoptions "$dir" | python3 -c '
import json, sys
have = {o["name"]: o["value"] for o in json.load(sys.stdin)}
def spell(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)
for arg in sys.argv[1:]:
    name, eq, value = arg[2:].partition("=") if arg.startswith("-D") else (arg, "", "")
    if not eq or name not in have or spell(have[name]) != value:
        print(arg)
' "$@")
    if [ ${#change[@]} -gt 0 ]; then
        echo "build.sh: $dir: reconfiguring with ${change[*]}"
        meson setup --reconfigure "$dir" "${change[@]}" >/dev/null ||
            meson setup --reconfigure "$dir" "${change[@]}"
    fi
fi
ninja --quiet -C "$dir"
