#ifndef CFUZZERDRIVER_H
#define CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver as a library call (libclang_rt.fuzzer, linked by -sanitize=fuzzer). An
/// executable built by SwiftPM gets `main` aliased to its module's entry point, so libFuzzer's
/// own `main` never runs: ErrorNormalizerFuzz's `@main` calls this instead. Only referenced when
/// the target is built with -DFUZZING.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
