/*
 * QEMU 10.0 compatibility, not part of the series: QEMU 10.1 moved
 * exec/address-spaces.h to system/address-spaces.h.
 */
#include "exec/address-spaces.h"
