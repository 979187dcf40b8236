/*
 * QEMU 10.0 compatibility, not part of the series: QEMU 10.1 moved
 * exec/memory.h to system/memory.h.
 */
#include "exec/memory.h"
