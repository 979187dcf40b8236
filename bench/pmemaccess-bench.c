/*
 * pmemaccess-bench: pmemaccess against its baselines, in one run
 *
 * Starts the patched QEMU (-accel qtest, guest memory only), starts a
 * pmemaccess server over QMP, and measures, side by side:
 *   - baselines: a bare UNIX-socket round trip (40-byte request, 40-byte
 *     reply, a forked echo process) and a bare 16 MiB bulk transfer;
 *   - pmemaccess v2 READ of 8 B and 16 MiB, 256 scattered 8 B reads as
 *     256 READs and as one READV, a virtual 8 B read (4-level walk), and
 *     LibVMI's v1 8 B read;
 *   - pmemmap: memcpy of 16 MiB from the mapping against a local memcpy
 *     and process_vm_readv on QEMU (memflow's way), and the first byte
 *     read from a fresh mapping;
 *   - the slow paths for context: xp and pmemsave over QMP.
 * It prints a table and the ratios the goals are stated in.  Every read
 * is checked against the data the benchmark wrote: exit status 1 means
 * wrong data, never "too slow".
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "monitor/pmemaccess-proto.h"

#define MiB (1024ULL * 1024)
#define GiB (1024 * MiB)
#define BULK (16 * MiB)
#define DATA_BASE (1 * MiB)         /* BULK bytes of pattern from here */
#define PML4 0x10000ULL
#define PDPT 0x11000ULL
#define PD 0x12000ULL
#define PT 0x13000ULL
#define VADDR 0x400000ULL           /* -> DATA_BASE through a 4 KiB page */

static int iterations = 20000;
static const char *qemu_bin = "build/qemu/build/qemu-system-x86_64";
static char dir[] = "/tmp/pmemaccess-bench-XXXXXX";
static pid_t qemu_pid, echo_pid;
static FILE *qmp;
static uint8_t *pattern;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "pmemaccess-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (qemu_pid > 0) {
        kill(qemu_pid, SIGKILL);
    }
    if (echo_pid > 0) {
        kill(echo_pid, SIGKILL);
    }
    exit(2);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("send: %s", strerror(errno));
        }
        p += n;
        len -= n;
    }
}

static void recv_all(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len) {
        ssize_t n = recv(fd, p, len, 0);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("recv: %s", n ? strerror(errno) : "connection closed");
        }
        p += n;
        len -= n;
    }
}

static int connect_path(const char *path, bool retry)
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
        if (!retry) {
            break;
        }
        usleep(10000);
    }
    die("cannot connect to %s: %s", path, strerror(errno));
    return -1;
}

/* --- QMP, just enough of it ---------------------------------------------*/

static char *qmp_cmd(const char *fmt, ...)
{
    static char line[1 << 16];
    va_list ap;

    va_start(ap, fmt);
    vfprintf(qmp, fmt, ap);
    va_end(ap);
    fputc('\n', qmp);
    fflush(qmp);
    while (fgets(line, sizeof(line), qmp)) {
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

static void start_qemu(void)
{
    char qmp_path[256], arg[300];
    int fd;

    snprintf(qmp_path, sizeof(qmp_path), "%s/qmp.sock", dir);
    snprintf(arg, sizeof(arg), "unix:%s,server=on,wait=off", qmp_path);
    qemu_pid = fork();
    if (qemu_pid == 0) {
        execl(qemu_bin, qemu_bin, "-machine", "pc,memory-backend=ram0",
              "-m", "1G", "-object",
              "memory-backend-memfd,id=ram0,size=1G,share=on",
              "-accel", "qtest", "-qtest", "null", "-display", "none",
              "-nodefaults", "-qmp", arg, NULL);
        fprintf(stderr, "cannot run %s: %s\n", qemu_bin, strerror(errno));
        _exit(127);
    }
    fd = connect_path(qmp_path, true);
    qmp = fdopen(fd, "r+");
    qmp_cmd("{\"execute\": \"qmp_capabilities\"}");
}

/* --- pmemaccess v2 -------------------------------------------------------*/

static int v2_connect(const char *path)
{
    int fd = connect_path(path, false);
    PmemAccessV2ClientHello ch = {
        .magic = PMEMACCESS_V2_CLIENT_MAGIC,
        .version = PMEMACCESS_V2_VERSION,
    };
    PmemAccessV2ServerHello sh;
    PmemAccessV2Range r;
    uint32_t i;

    send_all(fd, &ch, sizeof(ch));
    recv_all(fd, &sh, sizeof(sh));
    if (memcmp(sh.magic, PMEMACCESS_V2_SERVER_MAGIC, 8)) {
        die("bad server hello");
    }
    for (i = 0; i < sh.nr_ranges; i++) {
        recv_all(fd, &r, sizeof(r));
    }
    return fd;
}

static void v2_request(int fd, uint16_t type, uint16_t flags, uint64_t addr,
                       uint64_t len, uint64_t root)
{
    PmemAccessV2Request req = {
        .magic = PMEMACCESS_V2_REQUEST_MAGIC, .type = type, .flags = flags,
        .cookie = addr, .address = addr, .length = len, .root = root,
    };

    send_all(fd, &req, sizeof(req));
}

static void v2_reply(int fd, uint64_t expect_len)
{
    PmemAccessV2Reply r;

    recv_all(fd, &r, sizeof(r));
    if (r.magic != PMEMACCESS_V2_REPLY_MAGIC || r.error ||
        r.length != expect_len) {
        die("reply error %u, length %" PRIu64, r.error, r.length);
    }
}

static void v2_read(int fd, uint16_t flags, uint64_t root, uint64_t addr,
                    void *buf, uint64_t len)
{
    v2_request(fd, PMEMACCESS_V2_READ, flags, addr, len, root);
    v2_reply(fd, len);
    recv_all(fd, buf, len);
}

static void v2_write(int fd, uint64_t addr, const void *buf, uint64_t len)
{
    v2_request(fd, PMEMACCESS_V2_WRITE, 0, addr, len, 0);
    send_all(fd, buf, len);
    v2_reply(fd, 0);
}

static bool wrong;

static void check(const void *got, uint64_t addr, size_t len)
{
    if (memcmp(got, pattern + (addr - DATA_BASE), len)) {
        fprintf(stderr, "pmemaccess-bench: WRONG DATA at 0x%" PRIx64 "\n",
                addr);
        wrong = true;
    }
}

/* --- the baseline: a forked echo process ----------------------------------*/

static void echo_server(int lfd)
{
    uint8_t req[40];
    uint8_t *bulk = malloc(BULK + 32);
    int fd = accept(lfd, NULL, NULL);

    /* real pages, as guest RAM is: not calloc's shared zero page */
    memcpy(bulk + 32, pattern, BULK);

    for (;;) {
        size_t got = 0;

        while (got < sizeof(req)) {
            ssize_t n = recv(fd, req + got, sizeof(req) - got, 0);

            if (n <= 0) {
                _exit(0);
            }
            got += n;
        }
        if (req[0] == 'B') {
            send_all(fd, bulk, BULK + 32);
        } else {
            send_all(fd, req, sizeof(req));
        }
    }
}

static int start_echo(void)
{
    char path[100];
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(path, sizeof(path), "%s/echo.sock", dir);
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    if (bind(lfd, (struct sockaddr *)&un, sizeof(un)) || listen(lfd, 1)) {
        die("echo socket: %s", strerror(errno));
    }
    echo_pid = fork();
    if (echo_pid == 0) {
        echo_server(lfd);
    }
    close(lfd);
    return connect_path(path, false);
}

/* --- measuring ----------------------------------------------------------*/

typedef struct {
    const char *name;
    double p50, p99, mean;      /* ns per operation */
    uint64_t bytes;             /* payload bytes per operation */
} Result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

typedef void Op(void *opaque, int i);

static Result measure(const char *name, int n, uint64_t bytes, Op *op,
                      void *opaque)
{
    double *t = calloc(n, sizeof(double)), sum = 0;
    Result r = { .name = name, .bytes = bytes };
    int i;

    for (i = 0; i < n / 10 + 1; i++) {
        op(opaque, i);                          /* warm up */
    }
    for (i = 0; i < n; i++) {
        double t0 = now_ns();

        op(opaque, i);
        t[i] = now_ns() - t0;
        sum += t[i];
    }
    qsort(t, n, sizeof(double), cmp_double);
    r.p50 = t[n / 2];
    r.p99 = t[(int)(n * 0.99)];
    r.mean = sum / n;
    free(t);
    return r;
}

static int pm_fd, v1_fd, echo_fd;
static uint8_t *big;

static void op_echo(void *o, int i)
{
    uint8_t req[40] = { 'r' };

    send_all(echo_fd, req, sizeof(req));
    recv_all(echo_fd, req, sizeof(req));
}

static void op_echo_bulk(void *o, int i)
{
    uint8_t req[40] = { 'B' };

    send_all(echo_fd, req, sizeof(req));
    recv_all(echo_fd, big, BULK + 32);
}

static uint64_t scattered(int i)
{
    return DATA_BASE + ((uint64_t)i * 4099 * 8) % (BULK - 8);
}

static void op_read8(void *o, int i)
{
    uint8_t buf[8];
    uint64_t a = scattered(i);

    v2_read(pm_fd, 0, 0, a, buf, 8);
    check(buf, a, 8);
}

static void op_vread8(void *o, int i)
{
    uint8_t buf[8];
    uint64_t off = (i * 8) % 4096;

    v2_read(pm_fd, PMEMACCESS_V2_FLAG_VIRTUAL, PML4, VADDR + off, buf, 8);
    check(buf, DATA_BASE + off, 8);
}

static void op_v1_read8(void *o, int i)
{
    PmemAccessV1Request req = { PMEMACCESS_V1_READ, scattered(i), 8 };
    uint8_t buf[9];

    send_all(v1_fd, &req, sizeof(req));
    recv_all(v1_fd, buf, sizeof(buf));
    if (buf[8] != 1) {
        die("v1 read failed");
    }
    check(buf, req.address, 8);
}

static void op_read16m(void *o, int i)
{
    v2_read(pm_fd, 0, 0, DATA_BASE, big, BULK);
    if (i == 0) {
        check(big, DATA_BASE, BULK);
    }
}

static void op_singles256(void *o, int i)
{
    int k;

    for (k = 0; k < 256; k++) {
        op_read8(NULL, i * 256 + k);
    }
}

static void op_readv256(void *o, int i)
{
    PmemAccessV2Segment seg[256];
    uint32_t status[256];
    uint8_t data[256 * 8];
    int k;

    for (k = 0; k < 256; k++) {
        seg[k].address = scattered(i * 256 + k);
        seg[k].length = 8;
    }
    v2_request(pm_fd, PMEMACCESS_V2_READV, 0, 0, 256, 0);
    send_all(pm_fd, seg, sizeof(seg));
    v2_reply(pm_fd, sizeof(status) + sizeof(data));
    recv_all(pm_fd, status, sizeof(status));
    recv_all(pm_fd, data, sizeof(data));
    for (k = 0; k < 256; k++) {
        if (status[k]) {
            die("READV segment %d failed: %u", k, status[k]);
        }
        check(data + k * 8, seg[k].address, 8);
    }
}

static void op_xp8(void *o, int i)
{
    uint64_t a = scattered(i) & ~7ULL;
    char *line = qmp_cmd("{\"execute\": \"human-monitor-command\","
                         " \"arguments\": {\"command-line\":"
                         " \"xp /2wx 0x%" PRIx64 "\"}}", a);
    unsigned w0, w1;
    char *colon = strstr(line, ": 0x");

    if (!colon || sscanf(colon + 1, " 0x%x 0x%x", &w0, &w1) != 2 ||
        w0 != *(uint32_t *)(pattern + (a - DATA_BASE))) {
        die("xp answered: %s", line);
    }
}

static void op_pmemsave4k(void *o, int i)
{
    char path[300];
    uint8_t buf[4096];
    uint64_t a = DATA_BASE + (i % 64) * 4096;
    FILE *f;

    snprintf(path, sizeof(path), "/dev/shm/pmemaccess-bench-%d", getpid());
    qmp_cmd("{\"execute\": \"pmemsave\", \"arguments\": {\"val\": %" PRIu64
            ", \"size\": 4096, \"filename\": \"%s\"}}", a, path);
    f = fopen(path, "rb");
    if (!f || fread(buf, 1, sizeof(buf), f) != sizeof(buf)) {
        die("pmemsave output unreadable");
    }
    fclose(f);
    unlink(path);
    check(buf, a, sizeof(buf));
}

/* --- pmemmap ------------------------------------------------------------*/

static uint8_t *mapping;            /* guest RAM from DATA_BASE, via MAP */
static uint8_t *local_src;          /* a local copy, for memcpy */
static uint8_t *qemu_ram;           /* guest RAM's address inside QEMU */

/* MAP over @fd; maps the fd that holds DATA_BASE, returns its base */
static uint8_t *map_guest_ram(int fd, int *mfd, uint64_t *offset)
{
    char control[CMSG_SPACE(sizeof(int) * 64)];
    PmemAccessV2Reply r;
    PmemAccessV2MapHead head;
    PmemAccessV2MapRange range;
    struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control, .msg_controllen = sizeof(control),
    };
    struct cmsghdr *cmsg;
    int fds[64], nfds = 0;
    uint8_t *base = NULL;
    uint32_t i;

    v2_request(fd, PMEMACCESS_V2_MAP, 0, 0, 0, 0);
    if (recvmsg(fd, &msg, MSG_WAITALL) != sizeof(r) || r.error) {
        die("MAP failed");
    }
    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_type == SCM_RIGHTS) {
            nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(cmsg), nfds * sizeof(int));
        }
    }
    recv_all(fd, &head, sizeof(head));
    for (i = 0; i < head.nr_ranges; i++) {
        recv_all(fd, &range, sizeof(range));
        if (range.start <= DATA_BASE &&
            DATA_BASE + BULK <= range.start + range.length &&
            range.fd_index < (uint32_t)nfds) {
            *mfd = fds[range.fd_index];
            *offset = range.offset + (DATA_BASE - range.start);
            base = mmap(NULL, BULK, PROT_READ, MAP_SHARED, *mfd, *offset);
            if (base == MAP_FAILED) {
                die("mmap: %s", strerror(errno));
            }
        }
    }
    if (!base) {
        die("MAP gave no range for the test data");
    }
    return base;
}

/* Where QEMU mapped guest RAM: its memfd's mapping, from /proc */
static uint8_t *find_qemu_ram(void)
{
    char path[64], line[512];
    unsigned long start, end, off;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", qemu_pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strstr(line, "memfd:memory-backend-memfd") &&
            sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 &&
            end - start >= GiB && off == 0) {
            fclose(f);
            return (uint8_t *)start;
        }
    }
    die("guest RAM not found in %s", path);
    return NULL;
}

static void op_memcpy_local(void *o, int i)
{
    memcpy(big, local_src, BULK);
}

static void op_memcpy_mapping(void *o, int i)
{
    memcpy(big, mapping, BULK);
    if (i == 0) {
        check(big, DATA_BASE, BULK);
    }
}

static void op_process_vm_readv(void *o, int i)
{
    struct iovec local = { .iov_base = big, .iov_len = BULK };
    struct iovec remote = { .iov_base = qemu_ram + DATA_BASE,
                            .iov_len = BULK };

    if (process_vm_readv(qemu_pid, &local, 1, &remote, 1, 0) != BULK) {
        die("process_vm_readv: %s", strerror(errno));
    }
    if (i == 0) {
        check(big, DATA_BASE, BULK);
    }
}

/* The first byte of a page not touched since mmap(): a page fault */
static int map_fd;
static uint64_t map_offset;
static uint8_t *fresh;

static void op_first_byte(void *o, int i)
{
    volatile uint8_t b = fresh[((uint64_t)i * 4096) % BULK];

    (void)b;
}

/* Throughput is taken from the median time, like the ratios. */
static void print(const Result *r)
{
    printf("| %-40s | %10.2f | %10.2f |", r->name, r->p50 / 1e3,
           r->p99 / 1e3);
    if (r->bytes >= MiB) {
        printf(" %8.2f GB/s |\n", r->bytes / r->p50);
    } else {
        printf(" %13s |\n", "");
    }
}

static void goal(const char *what, double ratio, const char *op, double want)
{
    bool met = !strcmp(op, "<") ? ratio < want :
               op[0] == '<' ? ratio <= want : ratio >= want;

    const char *unit = strcmp(op, "<") ? "x" : "us";

    printf("| %-52s | %8.2f%-2s | %3s %5.1f%-2s | %s |\n", what, ratio, unit,
           op, want, unit, met ? "met" : "NOT MET");
}

static void setup_guest(const char *pm_path)
{
    uint64_t pte[4][2] = {
        { PML4, PDPT | 3 }, { PDPT, PD | 3 },
        { PD + 2 * 8, PT | 3 }, { PT, DATA_BASE | 3 },
    };
    size_t i;

    pattern = malloc(BULK);
    for (i = 0; i < BULK; i++) {
        pattern[i] = (i * 2654435761u) >> 13;
    }
    pm_fd = v2_connect(pm_path);
    v2_write(pm_fd, DATA_BASE, pattern, BULK);
    for (i = 0; i < 4; i++) {
        v2_write(pm_fd, pte[i][0], &pte[i][1], 8);
    }
}

int main(int argc, char **argv)
{
    char pm_path[300];
    Result echo, bulk, read8, vread8, v1r, r16, singles, readv, xp, psave;
    Result lmemcpy, mmemcpy, pvr, first;
    int i, slow;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            iterations = 200;
        } else if (!strcmp(argv[i], "--qemu") && i + 1 < argc) {
            qemu_bin = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--qemu PATH]\n", argv[0]);
            return 2;
        }
    }
    slow = iterations / 100 + 5;
    if (!mkdtemp(dir)) {
        die("mkdtemp: %s", strerror(errno));
    }
    start_qemu();
    snprintf(pm_path, sizeof(pm_path), "%s/pm.sock", dir);
    qmp_cmd("{\"execute\": \"pmemaccess\", \"arguments\": {\"path\": \"%s\","
            " \"write\": true}}", pm_path);
    setup_guest(pm_path);
    v1_fd = connect_path(pm_path, false);
    echo_fd = start_echo();
    big = malloc(BULK + 32);

    echo = measure("bare UNIX round trip (40 B/40 B)", iterations, 0,
                   op_echo, NULL);
    read8 = measure("v2 READ 8 B", iterations, 0, op_read8, NULL);
    vread8 = measure("v2 virtual READ 8 B (4-level walk)", iterations, 0,
                     op_vread8, NULL);
    v1r = measure("v1 (LibVMI) READ 8 B", iterations, 0, op_v1_read8, NULL);
    bulk = measure("bare UNIX bulk 16 MiB", slow, BULK, op_echo_bulk, NULL);
    r16 = measure("v2 READ 16 MiB", slow, BULK, op_read16m, NULL);
    singles = measure("256 x v2 READ 8 B, scattered", slow, 0,
                      op_singles256, NULL);
    readv = measure("1 x v2 READV of 256 x 8 B", iterations / 10, 0,
                    op_readv256, NULL);
    qmp_cmd("{\"execute\": \"pmemmap\"}");
    mapping = map_guest_ram(pm_fd, &map_fd, &map_offset);
    qemu_ram = find_qemu_ram();
    local_src = malloc(BULK);
    memcpy(local_src, pattern, BULK);
    lmemcpy = measure("local memcpy 16 MiB", slow, BULK, op_memcpy_local,
                      NULL);
    mmemcpy = measure("pmemmap: memcpy 16 MiB from the mapping", slow, BULK,
                      op_memcpy_mapping, NULL);
    pvr = measure("process_vm_readv 16 MiB (memflow)", slow, BULK,
                  op_process_vm_readv, NULL);
    /* a fresh mapping, each page touched once: no warm-up */
    fresh = mmap(NULL, BULK, PROT_READ, MAP_SHARED, map_fd, map_offset);
    first = measure("pmemmap: first byte of a fresh page", BULK / 4096 - 1,
                    0, op_first_byte, NULL);
    check((const void *)fresh, DATA_BASE, 4096);
    xp = measure("xp /2wx over QMP (8 B)", slow, 0, op_xp8, NULL);
    psave = measure("pmemsave 4 KiB to /dev/shm over QMP", slow, 0,
                    op_pmemsave4k, NULL);

    printf("\npmemaccess-bench: %d iterations (%d for the slow ones)\n\n",
           iterations, slow);
    printf("| %-40s | %10s | %10s | %13s |\n", "operation", "p50 us",
           "p99 us", "throughput");
    printf("|%s|%s|%s|%s|\n", "------------------------------------------",
           "------------", "------------", "---------------");
    print(&echo);
    print(&read8);
    print(&vread8);
    print(&v1r);
    print(&bulk);
    print(&r16);
    print(&singles);
    print(&readv);
    print(&xp);
    print(&psave);
    print(&lmemcpy);
    print(&mmemcpy);
    print(&pvr);
    print(&first);

    printf("\n| %-52s | %10s | %12s | %s |\n",
           "goal (ratios of p50 times)", "measured", "goal", "verdict");
    printf("|%s|%s|%s|%s|\n",
           "------------------------------------------------------",
           "------------", "--------------", "---------");
    goal("v2 READ 8 B / bare round trip", read8.p50 / echo.p50, "<=", 1.3);
    goal("v2 READ 16 MiB throughput / bare bulk throughput",
         bulk.p50 / r16.p50, ">=", 0.8);
    goal("256 single READs / one READV of 256", singles.p50 / readv.p50,
         ">=", 50);
    goal("virtual READ 8 B / physical READ 8 B", vread8.p50 / read8.p50,
         "<=", 1.5);
    goal("pmemmap 16 MiB throughput / local memcpy",
         lmemcpy.p50 / mmemcpy.p50, ">=", 0.9);
    goal("pmemmap 16 MiB throughput / process_vm_readv",
         pvr.p50 / mmemcpy.p50, ">=", 1.0);
    goal("pmemmap first byte of a fresh page (p50)",
         first.p50 / 1e3, "<", 1.0);
    goal("xp 8 B / v2 READ 8 B (how much faster than xp)",
         xp.p50 / read8.p50, ">=", 1);
    goal("pmemsave 4 KiB / v2 READ 8 B", psave.p50 / read8.p50, ">=", 1);

    kill(qemu_pid, SIGTERM);
    kill(echo_pid, SIGTERM);
    waitpid(qemu_pid, NULL, 0);
    waitpid(echo_pid, NULL, 0);
    rmdir(dir);
    if (wrong) {
        printf("\npmemaccess-bench: WRONG DATA was read\n");
        return 1;
    }
    printf("\npmemaccess-bench: all reads returned the expected data\n");
    return 0;
}
