/*
 * QEMU 7.2 compatibility, not part of the series: QEMU 7.2 has this
 * header as exec/address-spaces.h.
 */
#include "exec/address-spaces.h"
