#!/bin/sh
# SPDX-License-Identifier: MIT
# par.sh J N CMD [ARGS...]: runs N copies of CMD, at most J at once, and
# fails if any fails. For timing peers that have no -j of their own.
j="$1"; n="$2"; shift 2
seq "$n" | xargs -P "$j" -I{} "$@" >/dev/null
