#ifndef ERRATA_CZLIB_SHIMS_H
#define ERRATA_CZLIB_SHIMS_H
#include <zlib.h>
/* inflateInit2 is a macro over inflateInit2_. */
static inline int errata_inflateInit2(z_streamp strm, int windowBits) { return inflateInit2(strm, windowBits); }
static inline int errata_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}
#endif
