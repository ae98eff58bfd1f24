#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests anywhere, integration tests
# (netns + veth + XDP) when run as root; without CAP_NET_ADMIN they report SKIPPED with the
# reason. Usage: scripts/test.sh [--asan] [extra ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
build_flag=()
if [[ "${1:-}" == "--asan" ]]; then
  dir=build-asan
  build_flag=(--asan)
  shift
fi
scripts/build.sh "${build_flag[@]}"
ctest --test-dir "$dir" --output-on-failure "$@"
