#!/bin/bash
# Self-test of both generators on a veth pair: sends from a namespace of its own to the root-
# namespace end, where xesp-gen --check counts every sequence number. Needs root.
#   bench/gen/selftest.sh [path/to/xesp-gen] [frames]
# Prints PASS/FAIL per case and the rates; exit status 0 only if every case passed.
set -u
GEN=${1:-build/bench/gen/xesp-gen}
COUNT=${2:-100000}
NS=xgen-$$
ROOT_IF=xgen$$r  # root-namespace end: receives, --check attaches here
NS_IF=xgen$$n    # namespace end: sends

cleanup() {
  ip netns del "$NS" 2>/dev/null
  ip link del "$ROOT_IF" 2>/dev/null  # gone with the namespace normally; this is for a half set-up
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root"; exit 0; fi
[ -x "$GEN" ] || { echo "FAIL: no xesp-gen at $GEN"; exit 1; }

set -e
ip netns add "$NS"
ip link add "$ROOT_IF" type veth peer name "$NS_IF" netns "$NS"
# IPv6 off before the links come up, or they send neighbour discovery frames of their own.
sysctl -qw "net.ipv6.conf.$ROOT_IF.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$NS_IF.disable_ipv6=1"
ip link set "$ROOT_IF" up
ip -n "$NS" link set "$NS_IF" up
set +e

failures=0
run_case() {  # name, then xesp-gen arguments
  local name=$1; shift
  local out
  out=$("$GEN" --netns "$NS" --interface "$NS_IF" --check "$ROOT_IF" --count "$COUNT" "$@" 2>&1)
  local rc=$?
  if [ $rc = 0 ]; then echo "PASS: $name"; else echo "FAIL: $name (exit $rc)"; failures=$((failures + 1)); fi
  echo "$out" | sed 's/^/    /'
}

run_case "packet 60 B" --mode packet --size 60
run_case "packet 1514 B" --mode packet --size 1514
run_case "packet mixed, 4 flows, start seq 1e12" --mode packet --size mixed --flows 4 --start-seq 1000000000000
run_case "packet paced 50000/s" --mode packet --size 60 --rate 50000
run_case "packet qdisc bypass" --mode packet --size 60 --qdisc-bypass
if command -v tc >/dev/null; then
  # A tiny token bucket makes the qdisc drop: sendmmsg answers ENOBUFS, and every frame must
  # still arrive exactly once (the sender resends, never skips).
  ip netns exec "$NS" tc qdisc replace dev "$NS_IF" root tbf rate 50mbit burst 16kb limit 8kb
  COUNT_SAVED=$COUNT; COUNT=20000
  run_case "packet through a dropping qdisc (ENOBUFS retries)" --mode packet --size 60 --batch 256 --json
  COUNT=$COUNT_SAVED
  ip netns exec "$NS" tc qdisc del dev "$NS_IF" root
else
  echo "SKIP: packet through a dropping qdisc (no tc)"
fi
run_case "live 60 B" --mode live --size 60 --cpu 0
run_case "live 1514 B" --mode live --size 1514 --cpu 0
run_case "live 60 B, receiver passes to the stack (--check-pass)" --mode live --size 60 --cpu 0 --check-pass
run_case "live mixed, 4 flows, several calls" --mode live --size mixed --flows 4 --frames-per-call 30000 --start-seq 7

[ $failures = 0 ] && echo "selftest: all passed" || echo "selftest: $failures failed"
exit $((failures > 0))
