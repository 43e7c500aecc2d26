#!/usr/bin/env bash
# scripts/gpu_deps.sh: packs the C libraries lilm links (headers and shared
# objects of OpenBLAS, libyaml, SQLite, utf8proc, libcurl, zstd, snappy, zlib,
# with the runtime libraries they pull in) into .deps/lilm-deps.tar.xz, for a
# GPU machine that has CUDA but not these Debian packages and cannot fetch
# them. Run it here (Debian 12 with apt), then carry `.deps` to the GPU
# machine; scripts/gpu_check.sh unpacks it into /tmp and builds against it
# when the plain build fails. Takes a few seconds; about 12 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.deps
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# headers + link names of what the Makefile links, then the runtime libraries
# those need beyond glibc/libstdc++ (as Debian 12 builds them)
pkgs="libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libopenblas0 libgfortran5 libquadmath0
      libyaml-dev libyaml-0-2 libsqlite3-dev libsqlite3-0 libutf8proc-dev libutf8proc2
      libcurl4-openssl-dev libcurl4 libzstd-dev libzstd1 libsnappy-dev libsnappy1v5 zlib1g-dev zlib1g
      libnghttp2-14 libidn2-0 libunistring2 libldap-2.5-0 libsasl2-2 libpsl5 librtmp1 libssh2-1 libbrotli1
      libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2
      libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0 libtasn1-6 libffi8 libssl3"
mkdir -p "$work/debs" "$work/root" "$out"
(cd "$work/debs" && apt-get download $pkgs >/dev/null 2>&1) || {
    echo "gpu_deps: apt-get download failed (needs Debian 12 with network access to its mirror)" >&2
    exit 1
}
for f in "$work"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
# only headers and shared objects are needed
rm -rf "$work/root/usr/share" "$work/root/usr/bin" "$work/root/usr/sbin" "$work/root/etc"
find "$work/root" -name '*.a' -delete
rm -rf "$work/root/usr/lib/x86_64-linux-gnu/cmake" "$work/root/usr/lib/x86_64-linux-gnu/pkgconfig"
rm -f "$work"/root/usr/lib/x86_64-linux-gnu/openblas-pthread/liblapack*
# libz.so points at /lib/...: make it relative to the bundle
ln -sf ../../../lib/x86_64-linux-gnu/libz.so.1 "$work/root/usr/lib/x86_64-linux-gnu/libz.so"
tar -C "$work/root" -cJf "$out/lilm-deps.tar.xz" .
exclude=$(git rev-parse --git-path info/exclude)
grep -qx '/.deps/' "$exclude" 2>/dev/null || echo '/.deps/' >>"$exclude"
echo "gpu_deps: $(du -h "$out/lilm-deps.tar.xz" | cut -f1) in $out/lilm-deps.tar.xz (ignored by git);" \
     "carry .deps to the GPU machine"
