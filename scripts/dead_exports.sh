#!/usr/bin/env bash
# scripts/dead_exports.sh: lists exported functions that nothing outside their
# own file calls: a global text symbol of build/src/<dir>/<file>.o that no
# other object of the program refers to and that tests/ and bench/ do not
# name. Each such function should be static (or removed when unused). Reads
# the objects `make` built; prints "file symbol" lines, nothing when clean.
set -u
cd "$(dirname "$0")/.."
objs=$(git ls-files 'src/*.c' 'src/*.cu' | sed -E 's|^(.*)\.cu?$|build/\1.o|')
for o in $objs; do
    [ -f "$o" ] && nm -A "$o" 2>/dev/null
done | awk '
    { split($1, a, ":"); f = a[1] }
    $(NF-1) == "U" { used[$NF] = used[$NF] " " f }
    $(NF-1) == "T" { def[$NF] = f }
    END {
        for (s in def) {
            n = split(used[s], u, " "); other = 0
            for (i = 1; i <= n; i++) if (u[i] != def[s]) other = 1
            if (!other && s != "main") print def[s], s
        }
    }' | sort | while read -r obj sym; do
    src=${obj#build/}; src=${src%.o}
    grep -rqw -- "$sym" tests bench || echo "$src $sym"
done
