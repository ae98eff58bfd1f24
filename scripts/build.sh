#!/usr/bin/env bash
# Builds xesp (installing missing dependencies first) as developers and CI do: warnings are
# errors here (-DXESP_WERROR=ON); a plain `cmake` build, as users make it, keeps them warnings.
# Usage: scripts/build.sh [--asan | --tsan]
#   default  build/       RelWithDebInfo, -Wall -Wextra -Werror
#   --asan   build-asan/  Debug, AddressSanitizer + UndefinedBehaviorSanitizer
#   --tsan   build-tsan/  RelWithDebInfo, ThreadSanitizer
# The clang build with the libFuzzer targets is scripts/fuzz.sh's (build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DXESP_WERROR=ON)
case "${1:-}" in
  "") ;;
  --asan)
    # Debug, so that CI compiles (and tests) an unoptimised build too.
    dir=build-asan
    flags=(-DCMAKE_BUILD_TYPE=Debug -DXESP_WERROR=ON -DXESP_SANITIZE=ON)
    ;;
  --tsan)
    dir=build-tsan
    flags+=(-DXESP_TSAN=ON)
    ;;
  *)
    echo "usage: scripts/build.sh [--asan | --tsan]" >&2
    exit 2
    ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
