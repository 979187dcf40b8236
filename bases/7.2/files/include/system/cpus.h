/*
 * QEMU 7.2 compatibility, not part of the series: QEMU 7.2 has this
 * header as sysemu/cpus.h.
 */
#include "sysemu/cpus.h"
