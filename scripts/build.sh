#!/usr/bin/env bash
# Builds xesp (installing missing dependencies first) as developers and CI do: warnings are
# errors here (-DXESP_WERROR=ON); a plain `cmake` build, as users make it, keeps them warnings.
# Usage: scripts/build.sh [--asan]
#   default  build/       RelWithDebInfo, -Wall -Wextra -Werror
#   --asan   build-asan/  the same with AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DXESP_WERROR=ON)
if [[ "${1:-}" == "--asan" ]]; then
  dir=build-asan
  flags+=(-DXESP_SANITIZE=ON)
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
