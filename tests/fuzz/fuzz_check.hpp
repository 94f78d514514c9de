#pragma once
// Invariant checks shared by the fuzz targets. Under libFuzzer a failed check
// aborts, which is what makes the fuzzer save a reproducer. The corpus replay
// test (tests/fuzz_replay) compiles the same sources with
// GAMESTORE_FUZZ_REPLAY defined, where a failed check throws instead, so
// Catch2 can name the corpus file that broke.

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#ifdef GAMESTORE_FUZZ_REPLAY
#define FUZZ_CHECK(condition)                                                                     \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            throw std::logic_error(std::string("fuzz invariant failed: ") + #condition + " at " + \
                                   __FILE__ + ":" + std::to_string(__LINE__));                    \
        }                                                                                         \
    } while (false)
#else
#define FUZZ_CHECK(condition)                                                                  \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "fuzz invariant failed: %s at %s:%d\n", #condition, __FILE__, \
                         __LINE__);                                                            \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)
#endif
