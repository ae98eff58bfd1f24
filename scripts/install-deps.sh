#!/usr/bin/env bash
# Installs what xesp needs from Debian 12's archive; installs only what is missing, so a second
# run costs a second. Usage: scripts/install-deps.sh [--bench]
#   --bench  also the peers and tools of the benchmark harness bench/run_bench.py (python3,
#            tcpdump, netsniff-ng, dumpcap, gnuplot, perf)
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config clang llvm bpftool libbpf-dev libxdp-dev
  libboost1.81-dev libcli11-dev nlohmann-json3-dev
  # capture file compression (userspace/output): zstd, lz4 frames and gzip members
  libzstd-dev liblz4-dev zlib1g-dev
  # tests and benchmarks; libclang-rt-14-dev: clang's libFuzzer and sanitizers (scripts/fuzz.sh)
  googletest libgtest-dev libbenchmark-dev libpcap-dev libclang-rt-14-dev
  # run time and the tests' tools: ip, ethtool, sysctl, setpriv/prlimit, capinfos/tshark
  iproute2 ethtool procps util-linux tshark
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3 tcpdump netsniff-ng wireshark-common gnuplot-nox linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $EUID -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer it so nothing blocks.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
echo "install-deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
