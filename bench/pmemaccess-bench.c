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
 *   - the slow paths users have today: xp, pmemsave and query-status
 *     over QMP on Debian's own QEMU (stock, no series) and on the
 *     patched one, both started with the same arguments (TCG, stopped),
 *     interleaved in one run.
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
#include "pmemaccess-client.h"
#include "spawn-qemu.h"

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MiB (1024ULL * 1024)
#define GiB (1024 * MiB)
#define BULK (16 * MiB)
#define DATA_BASE (1 * MiB)         /* BULK bytes of pattern from here */
#define PML4 0x10000ULL
#define PDPT 0x11000ULL
#define PD 0x12000ULL
#define PT 0x13000ULL
#define VADDR 0x400000ULL           /* -> DATA_BASE through a 4 KiB page */

#define BIOS "/usr/share/seabios/bios-256k.bin"
#define ROM_BASE ((uint64_t)0xf0000) /* the BIOS's last 64 KiB, as ROM */
#define ROM_LEN 0x10000

static int iterations = 20000;
static const char *qemu_bin;     /* --qemu, or $QEMU_BINARY */
static const char *stock_bin = "/usr/bin/qemu-system-x86_64";  /* --stock */
static spawned_qemu q;

/* A QEMU whose slow paths are measured */
typedef struct Peer {
    spawned_qemu q;
    char label[64];             /* "stock QEMU 7.2.22" */
} Peer;

static Peer stock, patched;
static pid_t echo_pid;
static pmemc *pm;                   /* protocol v2, through the library */
static uint8_t *pattern;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "pmemaccess-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (q.pid > 0) {
        kill(q.pid, SIGKILL);
    }
    if (stock.q.pid > 0) {
        kill(stock.q.pid, SIGKILL);
    }
    if (patched.q.pid > 0) {
        kill(patched.q.pid, SIGKILL);
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

    snprintf(path, sizeof(path), "%s/echo.sock", q.dir);
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    if (bind(lfd, (struct sockaddr *)&un, sizeof(un)) || listen(lfd, 1)) {
        die("echo socket: %s", strerror(errno));
    }
    echo_pid = fork();
    if (echo_pid == 0) {
        echo_server(lfd);
    }
    close(lfd);
    return connect_unix(path);
}

/* --- measuring ----------------------------------------------------------*/

typedef struct {
    const char *name;
    double p50, p99, mean, min; /* ns per operation */
    uint64_t bytes;             /* payload bytes per operation */
} Result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

typedef void Op(void *opaque, int i);

typedef struct {
    const char *name;
    Op *op;
    uint64_t bytes;
    Result *out;
    void *opaque;
    bool no_warmup;             /* its first calls are what it measures */
} Job;

static void set_percentiles(double *t, int n, Result *r, double sum)
{
    qsort(t, n, sizeof(double), cmp_double);
    r->min = t[0];
    r->p50 = t[n / 2];
    r->p99 = t[(int)(n * 0.99)];
    r->mean = sum / n;
}

/*
 * Measure @jobs round-robin, @n times each, in blocks of a few
 * iterations: the operations a ratio compares see the same machine
 * conditions (on a VM, a round trip's cost drifts with which vCPU wakes
 * the peer), not one quiet window and one busy one.
 */
static void measure_jobs(Job *jobs, int njobs, int n)
{
    int block = n / 50 > 1 ? n / 50 : 1;
    double **t = calloc(njobs, sizeof(double *));
    double *sum = calloc(njobs, sizeof(double));
    int j, i, done;

    for (j = 0; j < njobs; j++) {
        t[j] = calloc(n, sizeof(double));
        for (i = 0; !jobs[j].no_warmup && i < n / 10 + 1; i++) {
            jobs[j].op(jobs[j].opaque, i);      /* warm up */
        }
    }
    for (done = 0; done < n; done += block) {
        for (j = 0; j < njobs; j++) {
            for (i = done; i < n && i < done + block; i++) {
                double t0 = now_ns();

                jobs[j].op(jobs[j].opaque, i);
                t[j][i] = now_ns() - t0;
                sum[j] += t[j][i];
            }
        }
    }
    for (j = 0; j < njobs; j++) {
        *jobs[j].out = (Result) { .name = jobs[j].name,
                                  .bytes = jobs[j].bytes };
        set_percentiles(t[j], n, jobs[j].out, sum[j]);
        free(t[j]);
    }
    free(t);
    free(sum);
}

static int v1_fd, echo_fd;

static void pm_ok(int ret)
{
    if (ret) {
        die("pmemaccess: %s", pmemc_error(pm));
    }
}
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

    pm_ok(pmemc_read(pm, NULL, a, buf, 8));
    check(buf, a, 8);
}

static void op_vread8(void *o, int i)
{
    uint8_t buf[8];
    uint64_t off = (i * 8) % 4096;

    static const pmemc_space virt = { .virtual = true, .root = PML4 };

    pm_ok(pmemc_read(pm, &virt, VADDR + off, buf, 8));
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
    pm_ok(pmemc_read(pm, NULL, DATA_BASE, big, BULK));
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
    pmemc_segment seg[256];
    uint32_t status[256];
    uint8_t data[256 * 8];
    int k;

    for (k = 0; k < 256; k++) {
        seg[k].address = scattered(i * 256 + k);
        seg[k].length = 8;
    }
    pm_ok(pmemc_readv(pm, NULL, false, seg, 256, data, status));
    for (k = 0; k < 256; k++) {
        if (status[k]) {
            die("READV segment %d failed: %u", k, status[k]);
        }
        check(data + k * 8, seg[k].address, 8);
    }
}

/* --- the slow paths, on stock QEMU and on the patched one --------------*/

static uint8_t rom[ROM_LEN];    /* what both peers' BIOS ROM holds */

/* Start @binary stopped under TCG: both peers get the same arguments. */
static void peer_start(Peer *p, const char *binary, const char *what)
{
    static const char *args[] = {
        "-machine", "pc", "-m", "256M", "-accel", "tcg", "-S",
        "-bios", BIOS, "-display", "none", "-nodefaults", NULL,
    };
    const char *v;
    int major, minor, micro;

    spawn_qemu(&p->q, binary, args);
    v = strstr(qmp_cmd(&p->q, "{\"execute\": \"query-version\"}"),
               "\"qemu\"");
    if (!v || sscanf(v, "\"qemu\": {\"micro\": %d, \"minor\": %d, "
                     "\"major\": %d", &micro, &minor, &major) != 3) {
        die("%s: query-version unreadable", binary);
    }
    snprintf(p->label, sizeof(p->label), "%s QEMU %d.%d.%d", what, major,
             minor, micro);
}

static void op_xp8(void *o, int i)
{
    Peer *p = o;
    uint64_t off = ((uint64_t)i * 8) % ROM_LEN;
    char *line = qmp_cmd(&p->q, "{\"execute\": \"human-monitor-command\","
                         " \"arguments\": {\"command-line\":"
                         " \"xp /2wx 0x%" PRIx64 "\"}}", ROM_BASE + off);
    uint32_t w[2];
    char *colon = strstr(line, ": 0x");

    if (!colon || sscanf(colon + 1, " 0x%x 0x%x", &w[0], &w[1]) != 2 ||
        memcmp(w, rom + off, 8)) {
        fprintf(stderr, "%s: xp answered: %s", p->label, line);
        wrong = true;
    }
}

static void op_pmemsave4k(void *o, int i)
{
    Peer *p = o;
    char path[300];
    uint8_t buf[4096];
    uint64_t off = (i % (ROM_LEN / 4096)) * 4096;
    FILE *f;

    snprintf(path, sizeof(path), "/dev/shm/pmemaccess-bench-%d", getpid());
    qmp_cmd(&p->q, "{\"execute\": \"pmemsave\", \"arguments\":"
            " {\"val\": %" PRIu64 ", \"size\": 4096, \"filename\": \"%s\"}}",
            ROM_BASE + off, path);
    f = fopen(path, "rb");
    if (!f || fread(buf, 1, sizeof(buf), f) != sizeof(buf)) {
        die("%s: pmemsave output unreadable", p->label);
    }
    fclose(f);
    unlink(path);
    if (memcmp(buf, rom + off, sizeof(buf))) {
        fprintf(stderr, "%s: pmemsave read other data\n", p->label);
        wrong = true;
    }
}

static void op_query_status(void *o, int i)
{
    Peer *p = o;

    if (!strstr(qmp_cmd(&p->q, "{\"execute\": \"query-status\"}"),
                "\"prelaunch\"")) {
        die("%s: query-status: not stopped", p->label);
    }
}

static char *strdup_printf(const char *fmt, ...)
{
    va_list ap;
    char *str;

    va_start(ap, fmt);
    if (vasprintf(&str, fmt, ap) < 0) {
        die("out of memory");
    }
    va_end(ap);
    return str;
}

static void read_rom(void)
{
    FILE *f = fopen(BIOS, "rb");

    if (!f || fseek(f, -ROM_LEN, SEEK_END) ||
        fread(rom, 1, ROM_LEN, f) != ROM_LEN) {
        die("cannot read the last 64 KiB of %s", BIOS);
    }
    fclose(f);
}

/* --- pmemmap ------------------------------------------------------------*/

static uint8_t *mapping;            /* guest RAM from DATA_BASE, via MAP */
static uint8_t *local_src;          /* a local copy, for memcpy */
static uint8_t *qemu_ram;           /* guest RAM's address inside QEMU */

/* MAP guest memory; the pointer to DATA_BASE in it */
static uint8_t *map_data(pmemc_view **view)
{
    uint8_t *p;

    pm_ok(pmemc_map(pm, view));
    p = pmemc_view_gpa(*view, DATA_BASE, BULK);
    if (!p) {
        die("MAP gave no range for the test data");
    }
    return p;
}

/* Where QEMU mapped guest RAM: its memfd's mapping, from /proc */
static uint8_t *find_qemu_ram(void)
{
    char path[64], line[512];
    unsigned long start, end, off;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", q.pid);
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

    if (process_vm_readv(q.pid, &local, 1, &remote, 1, 0) != BULK) {
        die("process_vm_readv: %s", strerror(errno));
    }
    if (i == 0) {
        check(big, DATA_BASE, BULK);
    }
}

/* The first byte of a page not touched since mmap(): a page fault */
static uint8_t *fresh;

/*
 * A read fault on a file mapping maps up to 64 KiB around the page
 * (fault_around_bytes): first reads 64 KiB apart each take a fault.
 */
#define FAULT_AROUND (64 * 1024)

/* @o: the stride (a uint64_t) */
static void op_first_byte(void *o, int i)
{
    volatile uint8_t b = fresh[(i * *(uint64_t *)o) % BULK];

    (void)b;
}

/* Throughput is taken from the median time, like the ratios. */
static void print(const Result *r)
{
    printf("| %-44s | %10.2f | %10.2f |", r->name, r->p50 / 1e3,
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
    pm_ok(pmemc_connect(&pm, pm_path));
    pm_ok(pmemc_write(pm, DATA_BASE, pattern, BULK));
    for (i = 0; i < 4; i++) {
        pm_ok(pmemc_write(pm, pte[i][0], &pte[i][1], 8));
    }
}

int main(int argc, char **argv)
{
    char pm_path[300];
    Result echo, bulk, read8, vread8, v1r, r16, singles, readv;
    Result xp[2], psave[2], status[2];
    bool have_stock;
    Result lmemcpy, mmemcpy, pvr, first, first_seq;
    static const char *qemu_args[] = {
        "-machine", "pc,memory-backend=ram0", "-m", "1G",
        "-object", "memory-backend-memfd,id=ram0,size=1G,share=on",
        "-accel", "qtest", "-qtest", "null", "-display", "none",
        "-nodefaults", NULL,
    };
    pmemc_view *view, *fresh_view;
    int i, slow;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            iterations = 200;
        } else if (!strcmp(argv[i], "--qemu") && i + 1 < argc) {
            qemu_bin = argv[++i];
        } else if (!strcmp(argv[i], "--stock") && i + 1 < argc) {
            stock_bin = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--qemu PATH] "
                    "[--stock PATH]\n", argv[0]);
            return 2;
        }
    }
    if (!qemu_bin && !(qemu_bin = getenv("QEMU_BINARY"))) {
        fprintf(stderr, "%s: give --qemu PATH or set QEMU_BINARY\n", argv[0]);
        return 2;
    }
    slow = iterations / 100 + 5;
    spawn_qemu(&q, qemu_bin, qemu_args);
    snprintf(pm_path, sizeof(pm_path), "%s/pm.sock", q.dir);
    qmp_cmd(&q, "{\"execute\": \"pmemaccess\", \"arguments\":"
            " {\"path\": \"%s\", \"write\": true,"
            " \"lifetime\": \"until-stopped\"}}", pm_path);
    setup_guest(pm_path);
    v1_fd = connect_unix(pm_path);
    echo_fd = start_echo();
    big = malloc(BULK + 32);

    {
        Job small[] = {
            { "bare UNIX round trip (40 B/40 B)", op_echo, 0, &echo },
            { "v2 READ 8 B", op_read8, 0, &read8 },
            { "v2 virtual READ 8 B (4-level walk)", op_vread8, 0, &vread8 },
            { "v1 (LibVMI) READ 8 B", op_v1_read8, 0, &v1r },
        };
        Job large[] = {
            { "bare UNIX bulk 16 MiB", op_echo_bulk, BULK, &bulk },
            { "v2 READ 16 MiB", op_read16m, BULK, &r16 },
        };
        Job batch[] = {
            { "256 x v2 READ 8 B, scattered", op_singles256, 0, &singles },
            { "1 x v2 READV of 256 x 8 B", op_readv256, 0, &readv },
        };

        measure_jobs(small, ARRAY_LEN(small), iterations);
        measure_jobs(large, ARRAY_LEN(large), slow);
        measure_jobs(batch, ARRAY_LEN(batch), slow);
    }
    qmp_cmd(&q, "{\"execute\": \"pmemmap\"}");
    mapping = map_data(&view);
    qemu_ram = find_qemu_ram();
    local_src = malloc(BULK);
    memcpy(local_src, pattern, BULK);
    {
        Job copies[] = {
            { "local memcpy 16 MiB", op_memcpy_local, BULK, &lmemcpy },
            { "pmemmap: memcpy 16 MiB from the mapping", op_memcpy_mapping,
              BULK, &mmemcpy },
            { "process_vm_readv 16 MiB (memflow)", op_process_vm_readv, BULK,
              &pvr },
        };

        measure_jobs(copies, ARRAY_LEN(copies), slow);
    }
    /* fresh mappings, each byte read once: no warm-up */
    fresh = map_data(&fresh_view);
    {
        static uint64_t stride = FAULT_AROUND;
        Job job = { "pmemmap: first byte, fresh (a page fault)",
                    op_first_byte, 0, &first, &stride, true };

        measure_jobs(&job, 1, BULK / FAULT_AROUND);
    }
    pmemc_unmap(fresh_view);
    fresh = map_data(&fresh_view);
    {
        static uint64_t stride = 4096;
        Job job = { "pmemmap: first byte of each page, in order",
                    op_first_byte, 0, &first_seq, &stride, true };

        measure_jobs(&job, 1, BULK / 4096);
    }
    check((const void *)fresh, DATA_BASE, 4096);

    read_rom();
    have_stock = access(stock_bin, X_OK) == 0;
    if (have_stock) {
        peer_start(&stock, stock_bin, "stock");
    }
    peer_start(&patched, qemu_bin, "patched");
    {
        Peer *peers[2] = { &patched, &stock };
        Job slow_paths[6];
        int n = 0, k;

        for (k = 0; k < (have_stock ? 2 : 1); k++) {
            Peer *p = peers[k];

            slow_paths[n++] = (Job) { strdup_printf("%s: xp /2wx (8 B)",
                                                    p->label),
                                      op_xp8, 0, &xp[k], p };
            slow_paths[n++] = (Job) { strdup_printf("%s: pmemsave 4 KiB",
                                                    p->label),
                                      op_pmemsave4k, 0, &psave[k], p };
            slow_paths[n++] = (Job) { strdup_printf("%s: query-status",
                                                    p->label),
                                      op_query_status, 0, &status[k], p };
        }
        measure_jobs(slow_paths, n, slow);
    }

    printf("\npmemaccess-bench: %d iterations (%d for the slow ones)\n\n",
           iterations, slow);
    printf("| %-44s | %10s | %10s | %13s |\n", "operation", "p50 us",
           "p99 us", "throughput");
    printf("|%s|%s|%s|%s|\n", "----------------------------------------------",
           "------------", "------------", "---------------");
    print(&echo);
    print(&read8);
    print(&vread8);
    print(&v1r);
    print(&bulk);
    print(&r16);
    print(&singles);
    print(&readv);
    print(&lmemcpy);
    print(&mmemcpy);
    print(&pvr);
    print(&first);
    print(&first_seq);
    for (i = 0; i < (have_stock ? 2 : 1); i++) {
        print(&xp[i]);
        print(&psave[i]);
        print(&status[i]);
    }
    if (!have_stock) {
        printf("\nNo stock QEMU at %s (apt-get install qemu-system-x86, or "
               "--stock PATH): its rows are missing.\n", stock_bin);
    }

    printf("\n| %-52s | %10s | %12s | %s |\n",
           "goal (ratios of p50 times)", "measured", "goal", "verdict");
    printf("|%s|%s|%s|%s|\n",
           "------------------------------------------------------",
           "------------", "--------------", "---------");
    goal("v2 READ 8 B / bare round trip", read8.p50 / echo.p50, "<=", 1.3);
    goal("  the same, fastest of each (no scheduling noise)",
         read8.min / echo.min, "<=", 1.3);
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
    goal("pmemmap first byte, fresh (a page fault, p50)",
         first.p50 / 1e3, "<", 1.0);
    if (have_stock) {
        goal("stock xp 8 B / v2 READ 8 B (what users have today)",
             xp[1].p50 / read8.p50, ">=", 1);
        goal("stock pmemsave 4 KiB / v2 READ 8 B", psave[1].p50 / read8.p50,
             ">=", 1);
    }
    goal("patched xp 8 B / v2 READ 8 B", xp[0].p50 / read8.p50, ">=", 1);
    goal("patched pmemsave 4 KiB / v2 READ 8 B", psave[0].p50 / read8.p50,
         ">=", 1);
    if (have_stock) {
        goal("stock query-status / patched (QMP input, patch 0014)",
             status[1].p50 / status[0].p50, ">=", 1);
    }

    pmemc_unmap(view);
    pmemc_unmap(fresh_view);
    pmemc_close(pm);
    kill(echo_pid, SIGTERM);
    waitpid(echo_pid, NULL, 0);
    stop_qemu(&q);
    stop_qemu(&patched.q);
    if (have_stock) {
        stop_qemu(&stock.q);
    }
    if (wrong) {
        printf("\npmemaccess-bench: WRONG DATA was read\n");
        return 1;
    }
    printf("\npmemaccess-bench: all reads returned the expected data\n");
    return 0;
}
