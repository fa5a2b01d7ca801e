#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# build.sh [BUILDDIR [MESON-OPTIONS...]]: configure (once) and build.
# The default is build/ with warnings as errors, as CI builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@" >/dev/null || meson setup "$dir" -Dwerror=true "$@"
fi
ninja --quiet -C "$dir"
