#ifndef ERRATA_CHIREDIS_SHIMS_H
#define ERRATA_CHIREDIS_SHIMS_H
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#endif
