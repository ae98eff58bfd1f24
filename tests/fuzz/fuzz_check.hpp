// What a fuzz target asserts beyond "no crash": a property that must hold for every input.
// A broken property aborts, which libFuzzer (and the replay driver) report with the input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define XESP_FUZZ_CHECK(cond)                                                         \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
