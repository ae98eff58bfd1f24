#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests anywhere, integration tests
# (netns + veth + XDP) when run as root; without CAP_NET_ADMIN they report SKIPPED with the
# reason. Usage: scripts/test.sh [--asan | --tsan] [extra ctest arguments, e.g. -L unit]
#   --asan  the build-asan/ build (Debug, ASan + UBSan)
#   --tsan  the build-tsan/ build (ThreadSanitizer). Every process a test starts (the xesp
#           binary too) logs its reports to build-tsan/tsan/; any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
build_flag=()
case "${1:-}" in
  --asan)
    dir=build-asan
    build_flag=(--asan)
    shift
    ;;
  --tsan)
    dir=build-tsan
    build_flag=(--tsan)
    shift
    ;;
esac
scripts/build.sh "${build_flag[@]}"
if [[ $dir != build-tsan ]]; then
  ctest --test-dir "$dir" --output-on-failure "$@"
  exit
fi

# ThreadSanitizer's runtime (gcc 12, LLVM 14) cannot map its shadow under the wider mmap ASLR
# of newer kernels (vm.mmap_rnd_bits 32: "FATAL: ThreadSanitizer: unexpected memory mapping"),
# so the tests run with address randomisation off for this process tree (setarch -R) where
# it is above 28; see docs/DESIGN-NOTES.md.
run=()
if (( $(sysctl -n vm.mmap_rnd_bits 2>/dev/null || echo 0) > 28 )); then
  run=(setarch "$(uname -m)" -R)
fi
logs=$PWD/$dir/tsan
rm -rf "$logs"
mkdir -p "$logs"
status=0
TSAN_OPTIONS="log_path=$logs/report second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
  "${run[@]}" ctest --test-dir "$dir" --output-on-failure "$@" || status=$?
if compgen -G "$logs/report*" >/dev/null; then
  echo "ThreadSanitizer reports ($(ls "$logs" | wc -l) processes), in $logs:" >&2
  cat "$logs"/report* >&2
  status=1
fi
exit "$status"
