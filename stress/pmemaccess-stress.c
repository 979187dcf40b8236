/*
 * pmemaccess-stress: many concurrent clients against one pmemaccess
 * server, every reply checked.
 *
 * N threads share C connect/disconnect cycles.  In each cycle a thread
 * connects (protocol v2, libpmemaccess-client), does a random number of
 * random operations and disconnects:
 *   - READ of a random piece of the pattern region;
 *   - READV of 1..64 random pieces, one of them sometimes outside RAM
 *     (its status must be ENOTRAM, the others' data right);
 *   - virtual READ of a random piece of a region whose bytes are known
 *     (e.g. the kernel's banner, through the guest's page tables);
 *   - now and then (one READV in --paused-every, 200 by default) a
 *     paused READV: several clients pausing the vCPUs at once;
 * and one cycle in RUDE_EVERY leaves rudely instead: a header of a large
 * READ, or half a header, then close without reading the reply.
 *
 * The pattern region holds byte i = stress_pattern(seed, i); the harness
 * writes it into guest memory the guest does not use (memmap=).
 *
 *   pmemaccess-stress --socket PATH --pattern ADDR:LEN:SEED
 *       [--virtual VADDR:ROOT:FILE] [--clients N] [--cycles C]
 *       [--bad-address ADDR] [--paused-every N]
 *
 * Prints one line "stress: key=value ..." and exits 1 if any reply was
 * wrong or any unexpected error happened.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pmemaccess-client.h"

#define MAX_PIECE       (64 * 1024)
#define MAX_SEGMENTS    64
#define MAX_OPS         20
#define RUDE_EVERY      20

static struct {
    const char *socket;
    uint64_t pattern_addr, pattern_len;
    uint32_t seed;
    uint64_t vaddr, root;
    uint8_t *vexpect;
    size_t vlen;
    uint64_t bad_address;
    int clients;
    long cycles;
    int paused_every;
} cfg = {
    .clients = 64, .cycles = 1000, .bad_address = 0xfec00000,
    .paused_every = 200,
};

static atomic_long cycles_left;
static atomic_long ops, bytes, rude, connect_retries;
static atomic_long wrong, failures;

static inline uint8_t stress_pattern(uint32_t seed, uint64_t i)
{
    return (uint8_t)((i * 131 + seed) ^ (i >> 8) ^ (i >> 16));
}

static void fail(const char *what, pmemc *c, int ret)
{
    atomic_fetch_add(&failures, 1);
    fprintf(stderr, "stress: %s failed: %d %s\n", what, ret,
            c ? pmemc_error(c) : strerror(-ret));
}

static bool check_pattern(const uint8_t *buf, uint64_t addr, uint64_t len)
{
    uint64_t off = addr - cfg.pattern_addr;

    for (uint64_t i = 0; i < len; i++) {
        if (buf[i] != stress_pattern(cfg.seed, off + i)) {
            atomic_fetch_add(&wrong, 1);
            fprintf(stderr, "stress: wrong byte at 0x%" PRIx64 "\n",
                    addr + i);
            return false;
        }
    }
    return true;
}

static uint64_t rnd(unsigned int *state, uint64_t n)
{
    return ((uint64_t)rand_r(state) << 31 | rand_r(state)) % n;
}

/* A random piece of the pattern region: address and length */
static void pick(unsigned int *st, uint64_t *addr, uint64_t *len)
{
    *len = 1 + rnd(st, MAX_PIECE);
    *addr = cfg.pattern_addr + rnd(st, cfg.pattern_len - *len + 1);
}

static void op_read(pmemc *c, unsigned int *st, uint8_t *buf)
{
    static const pmemc_space phys;
    uint64_t addr, len;
    int ret;

    pick(st, &addr, &len);
    ret = pmemc_read(c, &phys, addr, buf, len);
    if (ret < 0) {
        fail("READ", c, ret);
        return;
    }
    check_pattern(buf, addr, len);
    atomic_fetch_add(&bytes, len);
}

static void op_readv(pmemc *c, unsigned int *st, uint8_t *buf, bool paused)
{
    static const pmemc_space phys;
    pmemc_segment segs[MAX_SEGMENTS];
    uint32_t status[MAX_SEGMENTS];
    uint32_t n = 1 + rnd(st, MAX_SEGMENTS);
    int bad = rnd(st, 4) == 0 ? (int)rnd(st, n) : -1;
    uint8_t *p = buf;
    int ret;

    for (uint32_t i = 0; i < n; i++) {
        pick(st, &segs[i].address, &segs[i].length);
        segs[i].length = 1 + segs[i].length % (MAX_PIECE / MAX_SEGMENTS);
        if ((int)i == bad) {
            segs[i].address = cfg.bad_address;
        }
    }
    ret = pmemc_readv(c, &phys, paused, segs, n, buf, status);
    if (ret < 0) {
        fail("READV", c, ret);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        if ((int)i == bad) {
            if (status[i] != PMEMACCESS_V2_ENOTRAM) {
                atomic_fetch_add(&wrong, 1);
                fprintf(stderr, "stress: READV of 0x%" PRIx64 ": status %u,"
                        " expected ENOTRAM\n", segs[i].address, status[i]);
            }
        } else if (status[i]) {
            fail("READV segment", c, -(int)status[i]);
        } else {
            check_pattern(p, segs[i].address, segs[i].length);
            atomic_fetch_add(&bytes, segs[i].length);
        }
        p += segs[i].length;
    }
}

static void op_virtual(pmemc *c, unsigned int *st, uint8_t *buf)
{
    pmemc_space space = { .virtual = true, .root = cfg.root };
    uint64_t len = 1 + rnd(st, cfg.vlen);
    uint64_t off = rnd(st, cfg.vlen - len + 1);
    int ret = pmemc_read(c, &space, cfg.vaddr + off, buf, len);

    if (ret < 0) {
        fail("virtual READ", c, ret);
        return;
    }
    if (memcmp(buf, cfg.vexpect + off, len)) {
        atomic_fetch_add(&wrong, 1);
        fprintf(stderr, "stress: wrong virtual read at 0x%" PRIx64 "\n",
                cfg.vaddr + off);
    }
    atomic_fetch_add(&bytes, len);
}

/* Connect, send part of a request, and vanish without reading. */
static void rude_client(unsigned int *st)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    PmemAccessV2ClientHello hello = { .version = PMEMACCESS_V2_VERSION };
    PmemAccessV2Request req = {
        .magic = PMEMACCESS_V2_REQUEST_MAGIC,
        .type = PMEMACCESS_V2_READ,
        .address = cfg.pattern_addr,
        .length = cfg.pattern_len,
    };
    size_t len = rnd(st, 2) ? sizeof(req) : sizeof(req) / 2;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memcpy(hello.magic, PMEMACCESS_V2_CLIENT_MAGIC, sizeof(hello.magic));
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", cfg.socket);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        write(fd, &hello, sizeof(hello)) != sizeof(hello) ||
        write(fd, &req, len) != (ssize_t)len) {
        fail("rude client", NULL, -errno);
    }
    if (fd >= 0) {
        close(fd);
    }
    atomic_fetch_add(&rude, 1);
}

static int connect_retrying(pmemc **c)
{
    int ret;

    /* max-clients refuses by closing: back off and retry */
    for (int i = 0; i < 1000; i++) {
        ret = pmemc_connect(c, cfg.socket);
        if (ret == 0) {
            return 0;
        }
        atomic_fetch_add(&connect_retries, 1);
        usleep(1000);
    }
    return ret;
}

static void *client_thread(void *arg)
{
    unsigned int st = (unsigned int)(uintptr_t)arg * 7919 + cfg.seed;
    uint8_t *buf = malloc(MAX_PIECE);

    while (atomic_fetch_sub(&cycles_left, 1) > 0) {
        pmemc *c;
        int n, ret;

        if (rnd(&st, RUDE_EVERY) == 0) {
            rude_client(&st);
            continue;
        }
        ret = connect_retrying(&c);
        if (ret < 0) {
            fail("connect", NULL, ret);
            continue;
        }
        n = 1 + rnd(&st, MAX_OPS);
        for (int i = 0; i < n; i++) {
            switch (rnd(&st, cfg.vexpect ? 3 : 2)) {
            case 0:
                op_read(c, &st, buf);
                break;
            case 1:
                op_readv(c, &st, buf, rnd(&st, cfg.paused_every) == 0);
                break;
            default:
                op_virtual(c, &st, buf);
                break;
            }
            atomic_fetch_add(&ops, 1);
        }
        pmemc_close(c);
    }
    free(buf);
    return NULL;
}

static bool parse_triple(const char *arg, uint64_t *a, uint64_t *b,
                         char **rest)
{
    char *end;

    *a = strtoull(arg, &end, 0);
    if (*end != ':') {
        return false;
    }
    *b = strtoull(end + 1, &end, 0);
    if (*end != ':') {
        return false;
    }
    *rest = end + 1;
    return true;
}

static void load_vexpect(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0) {
        fprintf(stderr, "stress: cannot read %s\n", path);
        exit(2);
    }
    rewind(f);
    cfg.vexpect = malloc(n);
    cfg.vlen = fread(cfg.vexpect, 1, n, f);
    fclose(f);
}

static void usage(void)
{
    fprintf(stderr, "usage: pmemaccess-stress --socket PATH --pattern "
            "ADDR:LEN:SEED [--virtual VADDR:ROOT:FILE] [--clients N] "
            "[--cycles C] [--bad-address ADDR] [--paused-every N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "pattern", required_argument, NULL, 'p' },
        { "virtual", required_argument, NULL, 'v' },
        { "clients", required_argument, NULL, 'n' },
        { "cycles", required_argument, NULL, 'c' },
        { "bad-address", required_argument, NULL, 'b' },
        { "paused-every", required_argument, NULL, 'P' },
        { NULL }
    };
    struct timespec t0, t1;
    pthread_t *threads;
    char *rest;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            cfg.socket = optarg;
            break;
        case 'p':
            if (!parse_triple(optarg, &cfg.pattern_addr, &cfg.pattern_len,
                              &rest)) {
                usage();
            }
            cfg.seed = strtoul(rest, NULL, 0);
            break;
        case 'v':
            if (!parse_triple(optarg, &cfg.vaddr, &cfg.root, &rest)) {
                usage();
            }
            load_vexpect(rest);
            break;
        case 'n':
            cfg.clients = atoi(optarg);
            break;
        case 'c':
            cfg.cycles = atol(optarg);
            break;
        case 'b':
            cfg.bad_address = strtoull(optarg, NULL, 0);
            break;
        case 'P':
            cfg.paused_every = atoi(optarg);
            break;
        default:
            usage();
        }
    }
    if (!cfg.socket || cfg.pattern_len < MAX_PIECE || cfg.clients < 1 ||
        cfg.cycles < 1 || cfg.paused_every < 1) {
        usage();
    }

    atomic_store(&cycles_left, cfg.cycles);
    threads = calloc(cfg.clients, sizeof(*threads));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < cfg.clients; i++) {
        pthread_create(&threads[i], NULL, client_thread,
                       (void *)(uintptr_t)i);
    }
    for (int i = 0; i < cfg.clients; i++) {
        pthread_join(threads[i], NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    printf("stress: clients=%d cycles=%ld rude=%ld ops=%ld bytes=%ld "
           "retries=%ld seconds=%.2f wrong=%ld failures=%ld\n",
           cfg.clients, cfg.cycles, atomic_load(&rude), atomic_load(&ops),
           atomic_load(&bytes), atomic_load(&connect_retries),
           (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
           atomic_load(&wrong), atomic_load(&failures));
    free(threads);
    return atomic_load(&wrong) || atomic_load(&failures) ? 1 : 0;
}
