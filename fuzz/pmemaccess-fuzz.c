/*
 * libFuzzer target: pmemaccess's request decoder and state machine, both
 * protocol versions, as QEMU runs them.
 *
 * The real client code (monitor/pmemaccess-client.c), guest memory access
 * (pmemaccess-mem.c) and page walk (pmemaccess-walk.c, and x86-64's in
 * target/i386/introspection.c) are built with
 * ASan and UBSan; fuzz-qemu-stubs.c stands in for the rest of QEMU with a
 * small fake guest-physical space.  Each input is one connection: its
 * first byte sets the server's write policy (bit 0), the rest is what the
 * client sends, followed by EOF.  A thread drains the replies.  The
 * client's two PMEMACCESS_CHUNK buffers are recycled from one connection
 * to the next (fuzz-qemu-stubs.c): ASan maps and unmaps allocations that
 * large on each use, and those unmaps, not the code under test, took most
 * of the time.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <pthread.h>
#include "io/channel-socket.h"
#include <semaphore.h>
#include "../qemu/monitor/pmemaccess-int.h"
#include "fuzz-qemu-stubs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One thread for the whole run drains each connection's replies. */
static sem_t drain_start, drain_done;
static int drain_fd;

static void *drain(void *opaque)
{
    char buf[65536];

    for (;;) {
        sem_wait(&drain_start);
        while (read(drain_fd, buf, sizeof(buf)) > 0) {
            continue;
        }
        sem_post(&drain_done);
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pthread_t drainer;
    QIOChannelSocket *sioc;
    QemuThread thread;
    int sv[2];

    if (!drainer) {
        sem_init(&drain_start, 0, 0);
        sem_init(&drain_done, 0, 0);
        pthread_create(&drainer, NULL, drain, NULL);
        fuzz_cpu_init();
    }
    if (size < 1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return 0;
    }
    fuzz_write_allowed = data[0] & 1;
    fuzz_memory_reset();
    drain_fd = sv[1];
    sem_post(&drain_start);
    /* inputs are small (-max_len): they fit in the socket's buffer */
    if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
        abort();
    }
    shutdown(sv[1], SHUT_WR);

    sioc = g_new0(QIOChannelSocket, 1);
    sioc->fd = sv[0];
    /* served inline, to the end */
    pmemaccess_client_start(NULL, sioc, &thread);
    shutdown(sv[0], SHUT_RDWR);
    sem_wait(&drain_done);
    close(sv[0]);
    close(sv[1]);
    g_free(sioc);
    return 0;
}
