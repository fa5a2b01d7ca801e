#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# apt-mirror.sh [SUITE]: print the Debian mirror this machine's apt is set up
# with, for debootstrap (default SUITE: bookworm).
#
# The repository names no mirror of its own: the slow tier and the
# fresh-machine rehearsal (scripts/fresh-check.sh) take the mirror from apt's
# configuration, which a machine that installs packages already has. The
# mirror is the URI of the first enabled "deb" source, in one-line
# (sources.list, *.list) or deb822 (*.sources) form, that serves SUITE itself
# (not SUITE-updates or SUITE-security) with the component main. Prints
# nothing and exits 1 when there is none: callers then leave the choice to
# debootstrap's own default.
set -euo pipefail
suite="${1:-bookworm}"

# Where apt reads its sources, as apt itself is configured.
list=/etc/apt/sources.list
parts=/etc/apt/sources.list.d
if command -v apt-config >/dev/null 2>&1; then
    eval "$(apt-config shell list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
fi
parts="${parts%/}"

files=()
[ -f "$list" ] && files+=("$list")
for f in "$parts"/*.list "$parts"/*.sources; do
    [ -f "$f" ] && files+=("$f")
done
[ ${#files[@]} -gt 0 ] || exit 1

for f in "${files[@]}"; do
    case "$f" in
    *.sources) format=deb822 ;;
    *) format=line ;;
    esac
    uri=$(awk -v suite="$suite" -v format="$format" '
        function usable(u) { return u ~ /^(https?|ftp|file):/ }
        function has(list, word,   n, a, i) {
            n = split(list, a, /[ \t]+/)
            for (i = 1; i <= n; i++) if (a[i] == word) return 1
            return 0
        }
        # deb822: one stanza per paragraph; a field may continue on lines
        # that start with white space (Signed-By with a whole key, say).
        function stanza(   n, u, i) {
            if (tolower(f["enabled"]) != "no" && has(f["types"], "deb") &&
                has(f["suites"], suite) && has(f["components"], "main")) {
                n = split(f["uris"], u, /[ \t]+/)
                for (i = 1; i <= n; i++) if (usable(u[i])) { print u[i]; found = 1; exit }
            }
            delete f
        }
        format == "deb822" {
            if (found) exit
            if ($0 ~ /^[ \t]*#/) next
            if ($0 ~ /^[ \t]*$/) { stanza(); key = ""; next }
            if ($0 ~ /^[ \t]/) { if (key != "") f[key] = f[key] " " $0; next }
            key = tolower($0); sub(/:.*/, "", key)
            val = $0; sub(/^[^:]*:[ \t]*/, "", val)
            f[key] = val
            next
        }
        format == "line" {
            sub(/#.*/, "")
            if ($1 != "deb") next
            # Options: "[arch=amd64 signed-by=...]", one word or several.
            i = 2
            if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if (i + 2 > NF || !usable($i) || $(i + 1) != suite) next
            for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit }
        }
        END { if (format == "deb822" && !found) stanza() }
    ' "$f")
    if [ -n "$uri" ]; then
        echo "${uri%/}"
        exit 0
    fi
done
exit 1
