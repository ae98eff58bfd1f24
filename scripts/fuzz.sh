#!/usr/bin/env bash
# Builds the clang fuzz build (build-fuzz/: Release, libFuzzer + ASan + UBSan, -Werror; the
# whole tree, so it is also CI's clang compile), replays the committed corpus of every target,
# then fuzzes one target or all of them for SECONDS each.
# Usage: scripts/fuzz.sh [TARGET|all] [SECONDS]      (default: all 60)
#        scripts/fuzz.sh all 0                       build and replay only (CI)
#        scripts/fuzz.sh --merge TARGET              keep what fuzzing found that adds coverage
# Targets: blob_fuzz config_fuzz pcapng_reader_fuzz (tests/fuzz/<target>.cpp).
# New inputs go to build-fuzz/fuzz-new/<target>/ (scratch, not in git); the committed corpus
# tests/fuzz/corpus/<target>/ is only read, until --merge adds to it. A crash or a failed
# property leaves its input in tests/fuzz/crashes/ (ignored by git) and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(blob_fuzz config_fuzz pcapng_reader_fuzz)
dir=build-fuzz

build() {
  scripts/install-deps.sh
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DXESP_FUZZ=ON \
    -DXESP_WERROR=ON >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

if [[ "${1:-}" == "--merge" ]]; then
  t=${2:?usage: scripts/fuzz.sh --merge TARGET}
  [[ -d $dir/fuzz-new/$t ]] || { echo "fuzz.sh: nothing found yet in $dir/fuzz-new/$t" >&2; exit 1; }
  build
  # -use_counters=0: an input is kept for a new edge, not for a new hit count on a known one;
  # that keeps the committed corpus to tens of KB (with counters: ten times that).
  "$dir/tests/fuzz/$t" -merge=1 -use_counters=0 "tests/fuzz/corpus/$t" "$dir/fuzz-new/$t"
  exit
fi

which=${1:-all}
seconds=${2:-60}
if [[ $which != all ]]; then
  [[ " ${targets[*]} " == *" $which "* ]] || { echo "fuzz.sh: no target $which (${targets[*]})" >&2; exit 2; }
  targets=("$which")
fi
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number" >&2; exit 2; }

build
# The replay tests run the committed corpus through the same code (and sanitizers) the fuzzers do.
ctest --test-dir "$dir" --output-on-failure --no-tests=error -R '^('"$(IFS='|'; echo "${targets[*]}")"')_corpus$'
(( seconds > 0 )) || exit 0

mkdir -p tests/fuzz/crashes
for t in "${targets[@]}"; do
  mkdir -p "$dir/fuzz-new/$t"
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  echo "fuzz.sh: $t for ${seconds}s" >&2
  "$dir/tests/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="tests/fuzz/crashes/$t-" "${dict[@]}" \
    "$dir/fuzz-new/$t" "tests/fuzz/corpus/$t"
done
