#!/usr/bin/env bash
# scripts/lint.sh: the project's own rules, checked mechanically (make lint).
#   1. every .c/.h/.cu file opens with a /* */ module comment of 3+ lines;
#   2. no strcpy/strcat/sprintf/vsprintf/gets/atoi/atof/strtok in src/;
#   3. no exit() outside src/cli/;
#   4. no mutable globals in liblilm.a (objdump: no objects in .data, .bss or
#      common; read-only and relocated-read-only tables and TLS are fine);
#   5. no `#ifdef LILM_USE_CUDA` outside the backend selector and src/cuda/;
#   6. layers include only downward (the table below): a file in src/<dir>/
#      may include "<dir>/..." and the headers of the layers its row names.
#      Known violations are listed, file and header, in scripts/lint_layers.allow
#      until they are fixed; any other one fails;
#   7. internal headers stay inside their directory: <dir>/*_impl.h, and for a
#      directory with a public list below every header not on it, is included
#      only from src/<dir>/ (tests/ and bench/ may include anything).
#   8. no dead exports (scripts/dead_exports.sh, on the objects make built).
# It checks the tree it sits in: scripts/lint.sh is run from its own copy, so a
# copy placed in another git tree (tests/py/test_lint.py does this) checks that.
set -u
cd "$(dirname "$0")/.."
fail=0
bad() { echo "lint: $*"; fail=1; }

for f in $(git ls-files 'src/*.c' 'src/*.h' 'src/*.cu' 'tests/*.c' 'tests/*.h'); do
    first=$(head -c 2 "$f")
    lines=$(awk 'NR==1 && !/^\/\*/ {exit} /\*\// {print NR; exit}' "$f")
    if [ "$first" != "/*" ] || [ -z "$lines" ] || [ "$lines" -lt 3 ]; then
        bad "$f: no module comment (a /* */ block of 3+ lines at the top)"
    fi
done

if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atof|strtok)\s*\(' $(git ls-files 'src/*.c' 'src/*.h' 'src/*.cu') \
        | grep -vE '\b(snprintf|vsnprintf)\s*\('; then
    bad "banned functions above (use snprintf, strtol/strtod with end checks)"
fi

if grep -nE '(^|[^_a-z])exit\s*\(' $(git ls-files 'src/*.c' 'src/*.cu' | grep -v '^src/cli/'); then
    bad "exit() outside src/cli/ above: library code returns a status"
fi

lib=build/liblilm.a
if [ -f "$lib" ]; then
    # writable data objects (.data, .bss, common); read-only tables, including
    # those in .data.rel.ro (pointer tables relocated at load), are fine, and so
    # is the thread-local error detail (.tbss). nvcc's own per-file handles
    # (__cudaFatCubinHandle, __device_stub__ statics) are generated code.
    globals=$(objdump -t "$lib" 2>/dev/null |
        awk '/ O / && ($4 == ".data" || $4 == ".bss" || $4 ~ /^\*COM/) {print $NF}' |
        grep -vE '__cudaFatCubinHandle|__device_stub__|__nv_' || true)
    if [ -n "$globals" ]; then
        echo "$globals"
        bad "mutable globals in liblilm.a above"
    fi
else
    echo "lint: $lib not built; skipping the symbol check"
fi

if grep -rln 'LILM_USE_CUDA' src | grep -vE '^src/(ops/backend\.c|cuda/)'; then
    bad "LILM_USE_CUDA used outside src/ops/backend.c and src/cuda/"
fi

# The layer table: each src/ directory and the other directories it may include.
# core <- tok, data, ops, dist <- cpu, cuda <- model <- train, eval <- track <- cli,
# and search (core alone) <- track;
# a row names every lower layer; among peers, data may use tok and train may
# call eval, not the reverse.
# tests/ and bench/ may include anything.
layers='
core:
tok: core
data: core tok
ops: core
dist: core
cpu: core ops
cuda: core ops
model: core tok data ops dist cpu cuda
train: core tok data ops dist cpu cuda model eval
eval: core tok data ops dist cpu cuda model
search: core
track: core tok data ops dist cpu cuda model train eval search
cli: core tok data ops dist cpu cuda model train eval search track
'
allow=scripts/lint_layers.allow
allowed_dirs() { sed -n "s/^$1: *//p" <<<"$layers"; }
layer_hits=$(for f in $(git ls-files 'src/*.c' 'src/*.h' 'src/*.cu' 'src/*.cuh'); do
    dir=${f#src/}; dir=${dir%%/*}
    if ! grep -q "^$dir:" <<<"$layers"; then
        echo "NOTABLE $f"; continue
    fi
    ok=" $dir $(allowed_dirs "$dir") "
    sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"(([a-z_]+)\/[^"]+)".*/\2 \1/p' "$f" |
    while read -r inc hdr; do
        case "$ok" in *" $inc "*) ;; *) echo "$f $hdr" ;; esac
    done
done)
while read -r f hdr; do
    [ -n "$f" ] || continue
    if [ "$f" = NOTABLE ]; then
        bad "$hdr: src/ directory not in the layer table of scripts/lint.sh (add its row)"
    elif ! grep -qxF "$f $hdr" <(grep -v '^#' "$allow" 2>/dev/null); then
        bad "$f includes \"$hdr\": a lower layer including a higher one (see the layer table in scripts/lint.sh)"
    fi
done <<<"$layer_hits"
# Public headers of directories whose other headers are internal.
public='
tok: tokenizer.h sp_model.h trainer.h
'
internal=$(for f in $(git ls-files 'src/*.c' 'src/*.h' 'src/*.cu' 'src/*.cuh'); do
    dir=${f#src/}; dir=${dir%%/*}
    sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([a-z_]+)\/([^"]+)".*/\1 \2/p' "$f" |
    while read -r inc name; do
        [ "$inc" = "$dir" ] && continue
        pub=$(sed -n "s/^$inc: *//p" <<<"$public")
        case "$name" in *_impl.h) echo "$f includes \"$inc/$name\": an internal header of src/$inc/"; continue ;; esac
        if [ -n "$pub" ] && ! grep -qw -- "$name" <<<"$pub"; then
            echo "$f includes \"$inc/$name\": internal to src/$inc/ (its public headers: $pub)"
        fi
    done
done)
if [ -n "$internal" ]; then
    sed 's/^/lint: /' <<<"$internal"
    fail=1
fi

if [ -f "$allow" ]; then
    grep -vE '^(#|[[:space:]]*$)' "$allow" | while read -r f hdr; do
        grep -qxF "$f $hdr" <<<"$layer_hits" ||
            echo "lint: note: $allow: '$f $hdr' is no longer a violation; remove the entry"
    done
fi

# 8. no dead exports: a function only its own file calls is static (needs the build)
if [ -f build/liblilm.a ]; then
    dead=$(scripts/dead_exports.sh)
    if [ -n "$dead" ]; then
        echo "$dead"
        bad "exported functions above have no caller outside their file: make them static or remove them"
    fi
fi

[ $fail = 0 ] && echo "lint: ok"
exit $fail
