#!/usr/bin/env bash
# The main job. Installs what is missing, builds, then captures.
#
#   scripts/capture.sh                      a veth testbed of its own: a network namespace with
#                                           one end of a veth pair, xesp capturing on the other;
#                                           sends 100000 test frames, prints the summary,
#                                           checks the file with capinfos, removes the testbed
#   scripts/capture.sh IFACE [ARGS...]      xesp capture -i IFACE ARGS... on a real NIC
#                                           (give -w FILE, and -c/--duration or stop with Ctrl-C)
#
# Environment: FRAMES (default 100000), RATE frames/s (default 100000), QUEUES (default 1),
# OUT (default /tmp/xesp-demo.pcapng; replaced by each run, --overwrite).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
  echo "capture.sh: run as root (XDP, AF_XDP and network namespaces need it)" >&2
  exit 1
fi
scripts/build.sh >/dev/null
xesp=build/userspace/cli/xesp
gen=build/bench/gen/xesp-gen

if [[ $# -gt 0 ]]; then
  nic=$1
  shift
  exec "$xesp" capture -i "$nic" "$@"
fi

frames=${FRAMES:-100000}
rate=${RATE:-100000}
queues=${QUEUES:-1}
out=${OUT:-/tmp/xesp-demo.pcapng}
ns="xesp-demo-$$"
cap_if="xdemo$$a"
gen_if="xdemo$$b"
cleanup() {
  [[ -n "${xesp_pid:-}" ]] && kill "$xesp_pid" 2>/dev/null && wait "$xesp_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$cap_if" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip link add "$cap_if" numrxqueues "$queues" numtxqueues "$queues" type veth \
  peer name "$gen_if" netns "$ns" numrxqueues "$queues" numtxqueues "$queues"
sysctl -qw "net.ipv6.conf.$cap_if.disable_ipv6=1"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$gen_if.disable_ipv6=1"
ip link set "$cap_if" up
ip -n "$ns" link set "$gen_if" up
echo "testbed: $cap_if (capture, root namespace) <-> $gen_if (generator, namespace $ns), $queues queue(s)"

"$xesp" capture -v -i "$cap_if" -w "$out" --overwrite -c "$frames" --duration 60 &
xesp_pid=$!
# Frames sent before the capture starts would pass uncaptured: wait until it runs.
for _ in $(seq 100); do
  ip -d link show "$cap_if" | grep -q "prog/xdp" && break
  sleep 0.05
done
sleep 0.2
"$gen" --interface "$gen_if" --netns "$ns" --mode packet --count "$frames" --rate "$rate" \
  --size mixed --flows 64
wait "$xesp_pid"
xesp_pid=
capinfos -c -M "$out" | sed 's/^/capinfos: /'
echo "capture file: $out"
