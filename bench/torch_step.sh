#!/usr/bin/env bash
# bench/torch_step.sh [ARGS...]: runs bench/torch_step.py with a fast allocator
# preloaded, as the reference's CPU numbers (torch + tcmalloc) were measured.
# ALLOC=tcmalloc (default) | jemalloc | none picks it; ARGS go to torch_step.py.
#   bench/torch_step.sh --config babylm --batch 8 --seq 512 --threads 2
set -eu
cd "$(dirname "$0")/.."
lib=/usr/lib/x86_64-linux-gnu
case "${ALLOC:-tcmalloc}" in
    tcmalloc) so=$lib/libtcmalloc.so.4 ;;
    jemalloc) so=$lib/libjemalloc.so.2 ;;
    none) so= ;;
    *) echo "ALLOC must be tcmalloc, jemalloc or none" >&2; exit 2 ;;
esac
if [ -n "$so" ] && [ ! -e "$so" ]; then
    echo "torch_step.sh: $so not found" >&2
    echo "HINT: apt-get install libgoogle-perftools4 libjemalloc2, or run with ALLOC=none" >&2
    exit 2
fi
if [ -n "$so" ]; then
    exec env LD_PRELOAD="$so" python3 bench/torch_step.py "$@"
fi
exec python3 bench/torch_step.py "$@"
