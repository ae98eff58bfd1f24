#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a tiny C program against it twice:
# with pkg-config (xesp.pc) and with CMake's find_package(xesp) + xesp::xesp. The program
# calls XespVersion() and the blob functions (no NIC, no privileges).
# Usage: embed_test.sh BUILD_DIR [EXTRA_CFLAGS]   (CC, CMAKE from the environment or PATH)
set -euo pipefail

build_dir=${1:?usage: embed_test.sh BUILD_DIR [EXTRA_CFLAGS]}
extra_cflags=${2:-}
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

# libxesp.so exports the C API of iesp.h and nothing else.
lib=$(find "$tmp/prefix" -name 'libxesp.so.0.*' -print -quit)
exported=$(nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort | tr '\n' ' ')
expected="CreateBlob CreateNPPInterface DestroyBlob DuplicateBlob GetBlobEntry GetBlobEntryCount \
GetStringFromBlob IID_IESP IID_IRTC IID_IUnknown ReadBlobFromFile ReadBlobFromString RemoveFromBlob \
SetStringInBlob WriteBlobToString XespLastErrorText XespVersion "
[[ $exported == "$expected" ]] || fail "libxesp.so exports: $exported (want: $expected)"
echo "ok: libxesp.so exports exactly the C API ($(wc -w <<<"$exported") symbols)"

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
