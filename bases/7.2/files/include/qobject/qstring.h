/*
 * QEMU 7.2 compatibility, not part of the series: QEMU 10.0 moved
 * include/qapi/qmp/ to include/qobject/.
 */
#include "qapi/qmp/qstring.h"
