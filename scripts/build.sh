#!/usr/bin/env bash
# Builds xesp (installing missing dependencies first). Usage: scripts/build.sh [--asan]
#   default  build/       RelWithDebInfo, -Wall -Wextra -Werror
#   --asan   build-asan/  the same with AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${1:-}" == "--asan" ]]; then
  dir=build-asan
  flags+=(-DXESP_SANITIZE=ON)
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
