#ifndef ERRATA_CNGHTTP2_SHIMS_H
#define ERRATA_CNGHTTP2_SHIMS_H
#include <nghttp2/nghttp2.h>
#endif
