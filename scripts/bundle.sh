#!/bin/sh
# Packs the benchmark harness into one folder that runs on another x86-64 Linux machine with no
# network and none of our packages: xesp, xesp-gen, bench/run_bench.py, the ip, ethtool and
# sysctl it calls, the peers installed here (tcpdump, netsniff-ng, dumpcap: scripts/install-deps.sh
# --bench), and every shared library they load, glibc and its loader included (each
# program starts through the bundled loader, so the other machine's glibc version does not
# matter). That machine needs a kernel with veth, network namespaces, XDP and AF_XDP, python3
# (3.9 or later) and root.
#
#   scripts/build.sh && scripts/bundle.sh DIR       # here
#   sudo DIR/run_bench.sh --queues 1,2,4,8 ...      # there (run_bench.py's options)
#
# Usage: scripts/bundle.sh DIR [BUILD_DIR]   (BUILD_DIR: where scripts/build.sh built; build/)
set -eu

usage() { echo "usage: $0 DIR [BUILD_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
case "$1" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
out=$1
build=${2:-$repo/build}
xesp=$build/userspace/cli/xesp
gen=$build/bench/gen/xesp-gen
for b in "$xesp" "$gen"; do
    [ -x "$b" ] || { echo "bundle: $b not found: run scripts/build.sh first" >&2; exit 1; }
done
tools=""
for t in ip ethtool sysctl; do
    p=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$t") ||
        { echo "bundle: '$t' not found: sudo scripts/install-deps.sh --bench" >&2; exit 1; }
    tools="$tools $p"
done
peers=""
for t in tcpdump netsniff-ng dumpcap; do
    p=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$t") && peers="$peers $p" ||
        echo "bundle: $t is not installed here: it stays behind (run_bench skips it there)" >&2
done
tools="$tools$peers"
[ "$(uname -m)" = x86_64 ] || { echo "bundle: only for x86-64 builds" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/lib" "$out/libexec" "$out/bin" "$out/build/userspace/cli" "$out/build/bench/gen" \
         "$out/bench"
# Every library each program loads, resolved by this machine's loader (vdso has no file).
for b in "$xesp" "$gen" $tools; do
    cp "$b" "$out/libexec/"
    # Debug info is most of a build's size; the bundle travels.
    strip --strip-debug "$out/libexec/$(basename "$b")" 2>/dev/null || true
    ldd "$b" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'
done | sort -u | while read -r lib; do
    cp -L "$lib" "$out/lib/"
done
loader=$(ls "$out/lib" | grep '^ld-linux') ||
    { echo "bundle: ldd named no ld-linux loader" >&2; exit 1; }

# $1: the wrapper's path; $2: the program; $3: the wrapper's depth below $out.
wrap() {
    up=$(printf '%*s' "$3" '' | sed 's| |/..|g')
    cat >"$1" <<EOF
#!/bin/sh
# Runs $2 through the bundled loader and libraries (scripts/bundle.sh).
d=\$(cd "\$(dirname "\$0")$up" && pwd)
exec "\$d/lib/$loader" --library-path "\$d/lib" "\$d/libexec/$2" "\$@"
EOF
    chmod +x "$1"
}
for t in $tools; do wrap "$out/bin/$(basename "$t")" "$(basename "$t")" 1; done
wrap "$out/build/userspace/cli/xesp" xesp 3
wrap "$out/build/bench/gen/xesp-gen" xesp-gen 3
cp "$repo/bench/run_bench.py" "$out/bench/"
cat >"$out/run_bench.sh" <<'EOF'
#!/bin/sh
# run_bench.py with the bundled programs first in PATH; its results go to ./results/ unless
# --json-out / --md-out / --png-out say otherwise.
d=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$d/results"
PATH="$d/bin:$PATH" exec python3 "$d/bench/run_bench.py" --build-dir "$d/build" \
    --json-out "$d/results/latest.json" --md-out "$d/results/latest.md" \
    --png-out "$d/results/latest.png" "$@"
EOF
chmod +x "$out/run_bench.sh"
echo "bundle: $out ($(du -sh "$out" | cut -f1)): sudo $out/run_bench.sh --help"
