#!/usr/bin/env bash
# The README's host examples are these files, verbatim: the embed test builds the files, this
# test keeps the README from drifting away from them.
set -euo pipefail
root=${1:?usage: readme_examples_test.sh SOURCE_DIR}
readme=$(<"$root/README.md")
for f in host.c host.cpp; do
  body=$(<"$root/tests/examples/$f")
  if [[ $readme != *"$body"* ]]; then
    echo "FAIL: README.md does not show tests/examples/$f as it is"
    exit 1
  fi
  echo "ok: README.md shows tests/examples/$f"
done
