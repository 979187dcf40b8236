/*
 * libFuzzer target: pmemaccess's request decoder and state machine, both
 * protocol versions, as QEMU runs them.
 *
 * The real client code (monitor/pmemaccess-client.c), guest memory access
 * (pmemaccess-mem.c) and page walker (pmemaccess-walk.c) are built with
 * ASan and UBSan; fuzz-qemu-stubs.c stands in for the rest of QEMU with a
 * small fake guest-physical space.  Each input is one connection: its
 * first byte sets the server's write policy (bit 0), the rest is what the
 * client sends, followed by EOF.  A thread drains the replies.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <pthread.h>
#include "io/channel-socket.h"
#include "../qemu/monitor/pmemaccess-int.h"
#include "fuzz-qemu-stubs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *drain(void *opaque)
{
    int fd = *(int *)opaque;
    char buf[65536];

    while (read(fd, buf, sizeof(buf)) > 0) {
        continue;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    QIOChannelSocket *sioc;
    pthread_t drainer;
    int sv[2];

    if (size < 1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return 0;
    }
    fuzz_write_allowed = data[0] & 1;
    fuzz_memory_reset();
    pthread_create(&drainer, NULL, drain, &sv[1]);
    /* inputs are small (-max_len): they fit in the socket's buffer */
    if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
        abort();
    }
    shutdown(sv[1], SHUT_WR);

    sioc = g_new0(QIOChannelSocket, 1);
    sioc->fd = sv[0];
    pmemaccess_client_start(NULL, sioc);    /* served inline, to the end */
    shutdown(sv[0], SHUT_RDWR);
    pthread_join(drainer, NULL);
    close(sv[0]);
    close(sv[1]);
    g_free(sioc);
    return 0;
}
