/*
 * Test and benchmark support: start the patched QEMU, talk QMP to it.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SPAWN_QEMU_H
#define SPAWN_QEMU_H

#include <sys/types.h>

typedef struct spawned_qemu {
    pid_t pid;
    char dir[64];               /* private temporary directory */
    void *qmp;                  /* FILE * */
} spawned_qemu;

/*
 * Start @binary with @args (NULL-terminated) plus -qmp on a socket in a
 * new temporary directory, and negotiate QMP.  Exits on failure.
 */
void spawn_qemu(spawned_qemu *q, const char *binary, const char **args);
/* Send a QMP command (printf format); returns its "return" line. */
char *qmp_cmd(spawned_qemu *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void stop_qemu(spawned_qemu *q);
int connect_unix(const char *path);

#endif
