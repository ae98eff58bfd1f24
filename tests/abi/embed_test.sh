#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a tiny C program against it twice:
# with pkg-config (xesp.pc) and with CMake's find_package(xesp) + xesp::xesp. The program
# calls XespVersion() and the blob functions (no NIC, no privileges).
# Usage: embed_test.sh BUILD_DIR [EXTRA_CFLAGS] [EXAMPLES_DIR]   (CC, CMAKE from the environment or PATH)
set -euo pipefail

build_dir=${1:?usage: embed_test.sh BUILD_DIR [EXTRA_CFLAGS]}
extra_cflags=${2:-}
examples=${3:-}
cc=${CC:-cc}
cmake=${CMAKE:-cmake}

tmp=$(mktemp -d /tmp/xesp-embed-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

echo "installing $build_dir into $tmp/prefix"
"$cmake" --install "$build_dir" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "cmake --install"; }

pc=$(find "$tmp/prefix" -name xesp.pc -print -quit)
[[ -n $pc ]] || fail "no xesp.pc installed"
config=$(find "$tmp/prefix" -name xespConfig.cmake -print -quit)
[[ -n $config ]] || fail "no xespConfig.cmake installed"
[[ -f $tmp/prefix/include/xesp/iesp.h && -f $tmp/prefix/include/xesp/esp.hpp ]] ||
  fail "headers not installed"
echo "ok: installed $(cd "$tmp/prefix" && find . -name 'libxesp.so*' -o -name '*.pc' -o -name 'xesp*.cmake' | sort | tr '\n' ' ')"

# libxesp.so exports the C API of iesp.h, the public C++ API (xesp::Esp, Rtc, Blob, the nmerr
# category) and nothing else: no internal namespace, no Boost, no libstdc++ template.
lib=$(find "$tmp/prefix" -name 'libxesp.so.0.*' -print -quit)
exported_c=$(nm -D --defined-only "$lib" | awk '$2 != "A" && $3 !~ /^_Z/ { sub(/@.*/, "", $3); print $3 }' | sort | tr '\n' ' ')
expected="CreateBlob CreateNPPInterface DestroyBlob DuplicateBlob GetBlobEntry GetBlobEntryCount \
GetStringFromBlob IID_IESP IID_IRTC IID_IUnknown ReadBlobFromFile ReadBlobFromString RemoveFromBlob \
SetStringInBlob WriteBlobToString XespLastErrorText XespVersion "
[[ $exported_c == "$expected" ]] || fail "libxesp.so exports C symbols: $exported_c (want: $expected)"
stray=$(nm -D -C --defined-only "$lib" | awk '$2 != "A"' | cut -d' ' -f3- |
  grep -v -E '^(CreateBlob|CreateNPPInterface|DestroyBlob|DuplicateBlob|GetBlobEntry|GetBlobEntryCount|GetStringFromBlob|IID_IESP|IID_IRTC|IID_IUnknown|ReadBlobFromFile|ReadBlobFromString|RemoveFromBlob|SetStringInBlob|WriteBlobToString|XespLastErrorText|XespVersion)(@.*)?$' |
  grep -v -E '^xesp::(Esp|Rtc|Blob)::|^xesp::nmerr_(category|name)(\[abi:cxx11\])?\(' || true)
[[ -z $stray ]] || fail "libxesp.so exports more than its API: $stray"
cxx_count=$(nm -D -C --defined-only "$lib" | grep -c -E ' xesp::(Esp|Rtc|Blob)::' || true)
[[ $cxx_count -gt 20 ]] || fail "libxesp.so exports only $cxx_count C++ API symbols"
echo "ok: libxesp.so exports the C API ($(wc -w <<<"$exported_c") symbols) and the C++ API ($cxx_count symbols), nothing else"

mkdir -p "$tmp/app"
cat >"$tmp/app/app.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <xesp/iesp.h>

int main(void) {
  if (strcmp(XespVersion(), "0.1.0") != 0) {
    printf("FAIL: XespVersion() = %s\n", XespVersion());
    return 1;
  }
  HBLOB blob = NULL;
  const char *value = NULL;
  if (CreateBlob(&blob) != NMERR_SUCCESS ||
      SetStringInBlob(blob, "NPP", "Config", "Interface", "eth0") != NMERR_SUCCESS ||
      GetStringFromBlob(blob, "NPP", "Config", "Interface", &value) != NMERR_SUCCESS ||
      strcmp(value, "eth0") != 0 ||
      GetStringFromBlob(blob, "NPP", "Config", "Queues", &value) != NMERR_BLOB_ENTRY_DOES_NOT_EXIST ||
      DestroyBlob(blob) != NMERR_SUCCESS) {
    printf("FAIL: blob calls: %s\n", XespLastErrorText());
    return 1;
  }
  printf("ok: xesp %s, blob set/get/destroy\n", XespVersion());
  return 0;
}
C

# 1. pkg-config
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs xesp) || fail "pkg-config --cflags --libs xesp"
echo "pkg-config --cflags --libs xesp: $flags"
# shellcheck disable=SC2086 # the flags are words
"$cc" -std=c11 -Wall -Wextra -Werror $extra_cflags "$tmp/app/app.c" -o "$tmp/app/app-pc" $flags ||
  fail "compiling with pkg-config's flags"
LD_LIBRARY_PATH="$(pkg-config --variable=libdir xesp)" "$tmp/app/app-pc" || fail "app (pkg-config)"
echo "ok: built and ran with pkg-config"

# 1b. The README's hosts (tests/examples), built against the installed package: the C one with
# pkg-config as above, the C++ one likewise with C++20.
if [[ -n $examples ]]; then
  cxx=${CXX:-c++}
  # shellcheck disable=SC2086
  "$cc" -std=c11 -Wall -Wextra -Werror $extra_cflags "$examples/host.c" -o "$tmp/app/host-c" $flags ||
    fail "compiling the README's C host"
  # shellcheck disable=SC2086
  "$cxx" -std=c++20 -Wall -Wextra -Werror $extra_cflags "$examples/host.cpp" -o "$tmp/app/host-cpp" $flags ||
    fail "compiling the README's C++ host"
  for host in host-c host-cpp; do
    out=$(LD_LIBRARY_PATH="$(pkg-config --variable=libdir xesp)" "$tmp/app/$host" 2>&1) && fail "$host ran without arguments"
    grep -q "usage:" <<<"$out" || fail "$host: $out"
  done
  echo "ok: the README's C and C++ hosts build against the installed library and run"
fi

# 2. find_package(xesp)
mkdir -p "$tmp/cmake-app"
cp "$tmp/app/app.c" "$tmp/cmake-app/app.c"
cat >"$tmp/cmake-app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(xesp_embed C)
find_package(xesp 0.1 REQUIRED)
add_executable(app app.c)
target_link_libraries(app xesp::xesp)
CM
"$cmake" -S "$tmp/cmake-app" -B "$tmp/cmake-app/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra_cflags" >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; fail "configuring with find_package(xesp)"; }
"$cmake" --build "$tmp/cmake-app/build" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "building with xesp::xesp"; }
# No LD_LIBRARY_PATH: CMake's build RPATH points at the imported library.
"$tmp/cmake-app/build/app" || fail "app (find_package)"
echo "ok: built and ran with find_package(xesp) and xesp::xesp"
echo "PASS: embed_test"
