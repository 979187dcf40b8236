/*
 * QEMU 7.2 compatibility, not part of the series: softmmu/ became
 * system/ in QEMU 8.2, and with it its trace events.
 */
#include "trace/trace-softmmu.h"
