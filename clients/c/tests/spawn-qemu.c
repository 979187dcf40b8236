/*
 * Test and benchmark support: start the patched QEMU, talk QMP to it.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spawn-qemu.h"

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "spawn-qemu: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

int connect_unix(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int i, fd;

    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    for (i = 0; i < 500; i++) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0) {
            return fd;
        }
        close(fd);
        usleep(10000);
    }
    die("cannot connect to %s: %s", path, strerror(errno));
    return -1;
}

void spawn_qemu(spawned_qemu *q, const char *binary, const char **args)
{
    char qmp_path[128], qmp_arg[160];
    const char *argv[64];
    int n = 0, fd;

    snprintf(q->dir, sizeof(q->dir), "/tmp/pmemaccess-XXXXXX");
    if (!mkdtemp(q->dir)) {
        die("mkdtemp: %s", strerror(errno));
    }
    snprintf(qmp_path, sizeof(qmp_path), "%s/qmp.sock", q->dir);
    snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s,server=on,wait=off",
             qmp_path);
    argv[n++] = binary;
    while (*args && n < 60) {
        argv[n++] = *args++;
    }
    argv[n++] = "-qmp";
    argv[n++] = qmp_arg;
    argv[n] = NULL;
    q->pid = fork();
    if (q->pid == 0) {
        execv(binary, (char **)argv);
        fprintf(stderr, "cannot run %s: %s\n", binary, strerror(errno));
        _exit(127);
    }
    fd = connect_unix(qmp_path);
    q->qmp = fdopen(fd, "r+");
    qmp_cmd(q, "{\"execute\": \"qmp_capabilities\"}");
}

char *qmp_cmd(spawned_qemu *q, const char *fmt, ...)
{
    static char line[1 << 16];
    FILE *f = q->qmp;
    va_list ap;

    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "\"return\"")) {
            return line;
        }
        if (strstr(line, "\"error\"")) {
            die("QMP error: %s", line);
        }
    }
    die("QMP connection closed");
    return NULL;
}

void stop_qemu(spawned_qemu *q)
{
    char cmd[128];

    kill(q->pid, SIGTERM);
    waitpid(q->pid, NULL, 0);
    fclose(q->qmp);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", q->dir);
    if (system(cmd)) {
        fprintf(stderr, "spawn-qemu: could not remove %s\n", q->dir);
    }
}
