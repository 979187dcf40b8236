/*
 * QTest for pmemaccess: LibVMI's protocol v1, protocol v2 with batches
 * and page walks, the RAM-only rule, fd passing and bad input.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"
#include "qobject/qstring.h"
#include "qapi/error.h"
#include "qemu/atomic.h"
#include "monitor/pmemaccess-proto.h"

/* pc with -m 5G: RAM 0..3G and 4G..6G; the APIC is MMIO at 0xfee00000 */
#define GUEST_ARGS  "-machine pc -m 5G"
#define MMIO_ADDR   0xfee00000ULL
#define HOLE_ADDR   0xd0000000ULL           /* unassigned, in the PCI hole */
#define HIGH_ADDR   (5 * GiB + 0x100)       /* RAM above 4 GiB */
#define LOW_ADDR    0x200000ULL
#define PAT_LEN     4096

typedef struct {
    QTestState *qts;
    char *dir;
    char *path;
    uint8_t low[PAT_LEN];
    uint8_t high[PAT_LEN];
} Fixture;

typedef struct {
    bool write;
    bool no_server;
    const char *extra;          /* more QEMU arguments */
} FixtureArgs;

static const FixtureArgs read_only = { .write = false };
static const FixtureArgs writable = { .write = true };
static const FixtureArgs no_server = { .no_server = true };
/* QEMU's threads have names: count the client threads */
static const FixtureArgs named_threads = {
    .extra = "-name debug-threads=on%.0s",
};

/* --- plumbing ----------------------------------------------------------*/

static void fill_random(uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = g_test_rand_int_range(1, 256);
    }
}

/* The fixture's server outlives its clients; LibVMI's does not. */
static void start_server(Fixture *f, bool write)
{
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'path': %s, 'write': %i,"
                             " 'lifetime': 'until-stopped' } }",
                             f->path, write);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    const FixtureArgs *args = data;

    f->dir = g_dir_make_tmp("pmemaccess-test-XXXXXX", NULL);
    if (args->extra) {
        g_autofree char *extra = g_strdup_printf(args->extra, f->dir);

        f->qts = qtest_initf("%s %s", GUEST_ARGS, extra);
    } else {
        f->qts = qtest_init(GUEST_ARGS);
    }
    f->path = g_build_filename(f->dir, "pm.sock", NULL);
    fill_random(f->low, sizeof(f->low));
    fill_random(f->high, sizeof(f->high));
    qtest_memwrite(f->qts, LOW_ADDR, f->low, sizeof(f->low));
    qtest_memwrite(f->qts, HIGH_ADDR, f->high, sizeof(f->high));
    if (!args->no_server) {
        start_server(f, args->write);
    }
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *ram = g_build_filename(f->dir, "ram", NULL);

    qtest_quit(f->qts);
    unlink(ram);
    unlink(f->path);
    rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static int connect_path(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 10 };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    pstrcpy(un.sun_path, sizeof(un.sun_path), path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    /* a server that fails to answer fails the test instead of hanging it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    g_assert_cmpint(qemu_write_full(fd, buf, len), ==, len);
}

static void recv_all(int fd, void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = recv(fd, (char *)buf + done, len - done, 0);

        g_assert_cmpint(n, >, 0);
        done += n;
    }
}

/* The server closed the connection (and sent nothing more). */
static void assert_closed(int fd)
{
    char c;

    g_assert_cmpint(recv(fd, &c, 1, 0), ==, 0);
    close(fd);
}

/* --- protocol v1 -------------------------------------------------------*/

static void v1_send(int fd, uint64_t type, uint64_t addr, uint64_t len)
{
    PmemAccessV1Request req = { type, addr, len };

    send_all(fd, &req, sizeof(req));
}

/*
 * Read as LibVMI does: one read() of len + 1 bytes must return them all.
 * Returns the status byte.
 */
static uint8_t v1_read(int fd, uint64_t addr, void *buf, size_t len)
{
    g_autofree uint8_t *all = g_malloc(len + 1);

    v1_send(fd, PMEMACCESS_V1_READ, addr, len);
    g_assert_cmpint(recv(fd, all, len + 1, MSG_WAITALL), ==, len + 1);
    memcpy(buf, all, len);
    return all[len];
}

static uint8_t v1_write(int fd, uint64_t addr, const void *buf, size_t len)
{
    uint8_t status;

    v1_send(fd, PMEMACCESS_V1_WRITE, addr, len);
    send_all(fd, buf, len);
    recv_all(fd, &status, 1);
    return status;
}

static void test_v1_read(Fixture *f, gconstpointer data)
{
    int fd = connect_path(f->path);
    uint8_t buf[PAT_LEN], single[PAT_LEN + 1];
    PmemAccessV1Request req = { PMEMACCESS_V1_READ, LOW_ADDR, PAT_LEN };

    g_assert_cmpint(v1_read(fd, LOW_ADDR, buf, PAT_LEN), ==, 1);
    g_assert_cmpmem(buf, PAT_LEN, f->low, PAT_LEN);
    g_assert_cmpint(v1_read(fd, HIGH_ADDR, buf, PAT_LEN), ==, 1);
    g_assert_cmpmem(buf, PAT_LEN, f->high, PAT_LEN);

    /*
     * A single plain read() gets data and status: they go out together.
     * Read at once, as LibVMI does (a pause first would let a status
     * sent apart arrive too, and hide it).
     */
    send_all(fd, &req, sizeof(req));
    g_assert_cmpint(read(fd, single, sizeof(single)), ==, sizeof(single));
    g_assert_cmpint(single[PAT_LEN], ==, 1);
    g_assert_cmpmem(single, PAT_LEN, f->low, PAT_LEN);

    /* uint8_t type with garbage in the padding, as old clients send it */
    req.type = 0x5a5a5a5a5a5a5a00 | PMEMACCESS_V1_READ;
    send_all(fd, &req, sizeof(req));
    recv_all(fd, single, sizeof(single));
    g_assert_cmpint(single[PAT_LEN], ==, 1);
    g_assert_cmpmem(single, PAT_LEN, f->low, PAT_LEN);

    /* MMIO and unassigned space: status 0, zeros, and no device access */
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(v1_read(fd, MMIO_ADDR, buf, 64), ==, 0);
    g_assert_true(buffer_is_zero(buf, 64));
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(v1_read(fd, HOLE_ADDR, buf, 64), ==, 0);
    g_assert_true(buffer_is_zero(buf, 64));
    /* half RAM, half hole: all zeros, not the RAM half */
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(v1_read(fd, 3 * GiB - 32, buf, 64), ==, 0);
    g_assert_true(buffer_is_zero(buf, 64));

    /* a range wrapping past 2^64 fails too */
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(v1_read(fd, UINT64_MAX - 15, buf, 64), ==, 0);
    g_assert_true(buffer_is_zero(buf, 64));

    /* the connection is still fine; quit closes it */
    g_assert_cmpint(v1_read(fd, LOW_ADDR, buf, 8), ==, 1);
    v1_send(fd, PMEMACCESS_V1_QUIT, 0, 0);
    assert_closed(fd);
}

static void test_v1_large_read(Fixture *f, gconstpointer data)
{
    int fd = connect_path(f->path);
    const size_t len = 16 * MiB;
    g_autofree uint8_t *buf = g_malloc(len + 1);

    /* streamed in chunks: 16 MiB from 1 MiB, our pattern at LOW_ADDR */
    v1_send(fd, PMEMACCESS_V1_READ, 1 * MiB, len);
    recv_all(fd, buf, len + 1);
    g_assert_cmpint(buf[len], ==, 1);
    g_assert_cmpmem(buf + LOW_ADDR - 1 * MiB, PAT_LEN, f->low, PAT_LEN);

    /* over the end of low RAM: zeros and status 0 */
    v1_send(fd, PMEMACCESS_V1_READ, 3 * GiB - 8 * MiB, len);
    recv_all(fd, buf, len + 1);
    g_assert_cmpint(buf[len], ==, 0);
    g_assert_true(buffer_is_zero(buf, len));
    close(fd);
}

static void test_v1_write_refused(Fixture *f, gconstpointer data)
{
    int fd = connect_path(f->path);
    uint8_t junk[64], buf[64];

    memset(junk, 0xa5, sizeof(junk));
    g_assert_cmpint(v1_write(fd, LOW_ADDR, junk, sizeof(junk)), ==, 0);
    qtest_memread(f->qts, LOW_ADDR, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), f->low, sizeof(buf));
    /* the data was consumed: the stream is still in sync */
    g_assert_cmpint(v1_read(fd, LOW_ADDR, buf, sizeof(buf)), ==, 1);
    g_assert_cmpmem(buf, sizeof(buf), f->low, sizeof(buf));
    close(fd);
}

static void test_v1_write(Fixture *f, gconstpointer data)
{
    int fd = connect_path(f->path);
    uint8_t junk[64], buf[64];

    fill_random(junk, sizeof(junk));
    g_assert_cmpint(v1_write(fd, HIGH_ADDR, junk, sizeof(junk)), ==, 1);
    qtest_memread(f->qts, HIGH_ADDR, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), junk, sizeof(junk));
    /* not to MMIO, not to ROM (the BIOS at the top of 4 GiB) */
    g_assert_cmpint(v1_write(fd, MMIO_ADDR, junk, 4), ==, 0);
    g_assert_cmpint(v1_write(fd, 4 * GiB - 4096, junk, 4), ==, 0);
    close(fd);
}

static void test_v1_bad(Fixture *f, gconstpointer data)
{
    uint8_t buf[8];
    int fd;

    /* unknown type, or a length we will not stream: closed unanswered */
    fd = connect_path(f->path);
    v1_send(fd, 7, LOW_ADDR, 8);
    assert_closed(fd);

    fd = connect_path(f->path);
    v1_send(fd, PMEMACCESS_V1_READ, 0, PMEMACCESS_MAX_PAYLOAD + 1ULL);
    assert_closed(fd);

    fd = connect_path(f->path);
    v1_send(fd, PMEMACCESS_V1_WRITE, 0, UINT64_MAX);
    assert_closed(fd);

    /* half a request, then gone */
    fd = connect_path(f->path);
    send_all(fd, "\x01\0\0\0", 4);
    close(fd);

    fd = connect_path(f->path);
    g_assert_cmpint(v1_read(fd, LOW_ADDR, buf, sizeof(buf)), ==, 1);
    close(fd);
}

/* --- protocol v2 -------------------------------------------------------*/

typedef struct {
    PmemAccessV2ServerHello hello;
    PmemAccessV2Range ranges[64];
} Hello;

static int v2_connect(Fixture *f, Hello *h)
{
    int fd = connect_path(f->path);
    PmemAccessV2ClientHello ch = {
        .magic = PMEMACCESS_V2_CLIENT_MAGIC,
        .version = cpu_to_le32(PMEMACCESS_V2_VERSION),
    };
    Hello local;
    uint32_t i;

    h = h ?: &local;
    send_all(fd, &ch, sizeof(ch));
    recv_all(fd, &h->hello, sizeof(h->hello));
    g_assert_cmpmem(h->hello.magic, 8, PMEMACCESS_V2_SERVER_MAGIC, 8);
    g_assert_cmpint(le32_to_cpu(h->hello.version), ==, 2);
    h->hello.nr_ranges = le32_to_cpu(h->hello.nr_ranges);
    g_assert_cmpint(h->hello.nr_ranges, <=, ARRAY_SIZE(h->ranges));
    recv_all(fd, h->ranges, h->hello.nr_ranges * sizeof(h->ranges[0]));
    for (i = 0; i < h->hello.nr_ranges; i++) {
        h->ranges[i].start = le64_to_cpu(h->ranges[i].start);
        h->ranges[i].length = le64_to_cpu(h->ranges[i].length);
        h->ranges[i].flags = le32_to_cpu(h->ranges[i].flags);
    }
    return fd;
}

static void v2_send(int fd, uint16_t type, uint16_t flags, uint64_t cookie,
                    uint64_t addr, uint64_t len, uint64_t root)
{
    PmemAccessV2Request req = {
        .magic = cpu_to_le32(PMEMACCESS_V2_REQUEST_MAGIC),
        .type = cpu_to_le16(type),
        .flags = cpu_to_le16(flags),
        .cookie = cpu_to_le64(cookie),
        .address = cpu_to_le64(addr),
        .length = cpu_to_le64(len),
        .root = cpu_to_le64(root),
    };

    send_all(fd, &req, sizeof(req));
}

static void v2_recv_reply(int fd, uint64_t cookie, PmemAccessV2Reply *r)
{
    recv_all(fd, r, sizeof(*r));
    g_assert_cmphex(le32_to_cpu(r->magic), ==, PMEMACCESS_V2_REPLY_MAGIC);
    r->error = le32_to_cpu(r->error);
    r->cookie = le64_to_cpu(r->cookie);
    r->length = le64_to_cpu(r->length);
    r->address = le64_to_cpu(r->address);
    g_assert_cmphex(r->cookie, ==, cookie);
    if (r->error) {
        g_assert_cmpuint(r->length, ==, 0);     /* no data on failure */
    }
}

/*
 * READ @len bytes at @addr into @buf; returns the reply's error, and
 * the failing address in *@fail.
 */
static uint32_t v2_read_flags(int fd, uint16_t flags, uint64_t root,
                              uint64_t addr, void *buf, uint64_t len,
                              uint64_t *fail)
{
    static uint64_t next_cookie = 0x1000;
    uint64_t cookie = qatomic_fetch_inc(&next_cookie);  /* threads, too */
    PmemAccessV2Reply r;

    v2_send(fd, PMEMACCESS_V2_READ, flags, cookie, addr, len, root);
    v2_recv_reply(fd, cookie, &r);
    if (!r.error) {
        g_assert_cmpuint(r.length, ==, len);
        recv_all(fd, buf, len);
    }
    if (fail) {
        *fail = r.address;
    }
    return r.error;
}

static uint32_t v2_read(int fd, uint64_t addr, void *buf, uint64_t len)
{
    return v2_read_flags(fd, 0, 0, addr, buf, len, NULL);
}

static uint32_t v2_write(int fd, uint64_t addr, const void *buf,
                         uint64_t len)
{
    PmemAccessV2Reply r;

    v2_send(fd, PMEMACCESS_V2_WRITE, 0, 42, addr, len, 0);
    send_all(fd, buf, len);
    v2_recv_reply(fd, 42, &r);
    return r.error;
}

static void test_v2_hello(Fixture *f, gconstpointer data)
{
    Hello h;
    int fd = v2_connect(f, &h);
    uint64_t ram = 0;
    bool low = false, high = false, bios = false;
    uint32_t i;

    g_assert_cmpint(le32_to_cpu(h.hello.flags), ==, 0);   /* no write */
    g_assert_cmpint(le32_to_cpu(h.hello.max_payload), ==,
                    PMEMACCESS_MAX_PAYLOAD);
    g_assert_cmpint(le32_to_cpu(h.hello.max_segments), ==,
                    PMEMACCESS_MAX_SEGMENTS);
    for (i = 0; i < h.hello.nr_ranges; i++) {
        PmemAccessV2Range *r = &h.ranges[i];

        if (i) {
            g_assert_cmphex(r->start, >=,
                            h.ranges[i - 1].start + h.ranges[i - 1].length);
        }
        if (!(r->flags & PMEMACCESS_V2_RANGE_ROM)) {
            ram += r->length;
        }
        low |= r->start <= LOW_ADDR && LOW_ADDR < r->start + r->length;
        high |= r->start == 4 * GiB && r->length == 2 * GiB &&
                !(r->flags & PMEMACCESS_V2_RANGE_ROM);
        bios |= r->start + r->length == 4 * GiB &&
                (r->flags & PMEMACCESS_V2_RANGE_ROM);
        /* nothing of the PCI hole's MMIO */
        g_assert_false(r->start <= MMIO_ADDR &&
                       MMIO_ADDR < r->start + r->length);
    }
    g_assert_true(low && high && bios);
    g_assert_cmpuint(le64_to_cpu(h.hello.ram_size), ==, ram);
    /* 5 GiB of RAM, less what ROM and the VGA window shadow below 1 MiB */
    g_assert_cmpuint(ram, <=, 5 * GiB);
    g_assert_cmpuint(ram, >, 5 * GiB - 1 * MiB);
    close(fd);
}

static void test_v2_read(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    g_autofree uint8_t *big = g_malloc(16 * MiB);
    uint8_t buf[PAT_LEN];
    uint64_t fail;

    g_assert_cmpint(v2_read(fd, LOW_ADDR, buf, PAT_LEN), ==, 0);
    g_assert_cmpmem(buf, PAT_LEN, f->low, PAT_LEN);
    g_assert_cmpint(v2_read(fd, HIGH_ADDR, buf, PAT_LEN), ==, 0);
    g_assert_cmpmem(buf, PAT_LEN, f->high, PAT_LEN);
    g_assert_cmpint(v2_read(fd, LOW_ADDR + 5, buf, 1), ==, 0);
    g_assert_cmpint(buf[0], ==, f->low[5]);

    /* 16 MiB in one request (seed 000's kernel image) */
    g_assert_cmpint(v2_read(fd, 1 * MiB, big, 16 * MiB), ==, 0);
    g_assert_cmpmem(big + LOW_ADDR - 1 * MiB, PAT_LEN, f->low, PAT_LEN);
    /* the largest allowed read crosses from low RAM into nothing: ENOTRAM */
    g_assert_cmpint(v2_read_flags(fd, 0, 0, 3 * GiB - 16 * MiB, big,
                                  PMEMACCESS_MAX_PAYLOAD, &fail), ==,
                    PMEMACCESS_V2_ENOTRAM);
    g_assert_cmphex(fail, ==, 3 * GiB);

    /* refused ranges, each with the first failing address */
    g_assert_cmpint(v2_read_flags(fd, 0, 0, MMIO_ADDR, buf, 4, &fail), ==,
                    PMEMACCESS_V2_ENOTRAM);
    g_assert_cmphex(fail, ==, MMIO_ADDR);
    g_assert_cmpint(v2_read_flags(fd, 0, 0, 3 * GiB - 8, buf, 16, &fail),
                    ==, PMEMACCESS_V2_ENOTRAM);
    g_assert_cmphex(fail, ==, 3 * GiB);          /* where low RAM ends */
    g_assert_cmpint(v2_read_flags(fd, 0, 0, HOLE_ADDR, buf, 16, &fail),
                    ==, PMEMACCESS_V2_ENOTRAM);
    g_assert_cmphex(fail, ==, HOLE_ADDR);
    g_assert_cmpint(v2_read_flags(fd, 0, 0, 7 * GiB, buf, 4, &fail), ==,
                    PMEMACCESS_V2_ENOTRAM);
    g_assert_cmpint(v2_read(fd, UINT64_MAX - 3, buf, 8), ==,
                    PMEMACCESS_V2_EOVERFLOW);
    g_assert_cmpint(v2_read(fd, LOW_ADDR, buf, 0), ==, PMEMACCESS_V2_EINVAL);
    g_assert_cmpint(v2_read(fd, 0, big, PMEMACCESS_MAX_PAYLOAD + 1ULL), ==,
                    PMEMACCESS_V2_ETOOBIG);

    /* after all that, the connection still serves */
    g_assert_cmpint(v2_read(fd, HIGH_ADDR, buf, 16), ==, 0);
    g_assert_cmpmem(buf, 16, f->high, 16);
    close(fd);
}

static void test_v2_write(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    uint8_t junk[256], buf[256];

    fill_random(junk, sizeof(junk));
    g_assert_cmpint(v2_write(fd, HIGH_ADDR, junk, sizeof(junk)), ==, 0);
    qtest_memread(f->qts, HIGH_ADDR, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), junk, sizeof(junk));
    g_assert_cmpint(v2_read(fd, HIGH_ADDR, buf, sizeof(buf)), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), junk, sizeof(junk));

    g_assert_cmpint(v2_write(fd, 4 * GiB - 4096, junk, 4), ==,
                    PMEMACCESS_V2_EPERM);           /* BIOS ROM */
    g_assert_cmpint(v2_write(fd, MMIO_ADDR, junk, 4), ==,
                    PMEMACCESS_V2_ENOTRAM);
    g_assert_cmpint(v2_write(fd, UINT64_MAX, junk, 2), ==,
                    PMEMACCESS_V2_EOVERFLOW);
    close(fd);
}

static void test_v2_write_refused(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    uint8_t junk[300000], buf[64];

    /* more than one chunk of data, consumed and dropped */
    memset(junk, 0x5a, sizeof(junk));
    g_assert_cmpint(v2_write(fd, LOW_ADDR, junk, sizeof(junk)), ==,
                    PMEMACCESS_V2_EPERM);
    qtest_memread(f->qts, LOW_ADDR, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), f->low, sizeof(buf));
    g_assert_cmpint(v2_read(fd, LOW_ADDR, buf, sizeof(buf)), ==, 0);
    close(fd);
}

static void test_v2_readv(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    PmemAccessV2Segment seg[] = {
        { LOW_ADDR, 8 },
        { MMIO_ADDR, 8 },                   /* fails: MMIO */
        { HIGH_ADDR + 100, 300 },
        { UINT64_MAX - 1, 4 },              /* malformed: whole READV fails */
    };
    const uint32_t n = 3, status_len = ROUND_UP(n * 4, 8);
    uint8_t got[8 + 300];
    uint32_t status[4];
    PmemAccessV2Reply r;
    uint32_t i;

    for (i = 0; i < ARRAY_SIZE(seg); i++) {
        seg[i].address = cpu_to_le64(seg[i].address);
        seg[i].length = cpu_to_le64(seg[i].length);
    }
    v2_send(fd, PMEMACCESS_V2_READV, 0, 7, 0, n, 0);
    send_all(fd, seg, n * sizeof(seg[0]));
    v2_recv_reply(fd, 7, &r);
    g_assert_cmpint(r.error, ==, 0);
    g_assert_cmpuint(r.length, ==, status_len + 8 + 300);
    recv_all(fd, status, status_len);
    g_assert_cmpint(le32_to_cpu(status[0]), ==, PMEMACCESS_V2_OK);
    g_assert_cmpint(le32_to_cpu(status[1]), ==, PMEMACCESS_V2_ENOTRAM);
    g_assert_cmpint(le32_to_cpu(status[2]), ==, PMEMACCESS_V2_OK);
    g_assert_cmpint(status[3], ==, 0);                  /* padding */
    recv_all(fd, got, sizeof(got));
    g_assert_cmpmem(got, 8, f->low, 8);
    g_assert_cmpmem(got + 8, 300, f->high + 100, 300);

    /* a malformed segment fails the batch; the stream stays in sync */
    v2_send(fd, PMEMACCESS_V2_READV, 0, 8, 0, 4, 0);
    send_all(fd, seg, 4 * sizeof(seg[0]));
    v2_recv_reply(fd, 8, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EOVERFLOW);
    g_assert_cmphex(r.address, ==, UINT64_MAX - 1);

    /* 256 scattered reads in one round trip */
    {
        PmemAccessV2Segment many[256];
        uint8_t out[256 * 8];

        for (i = 0; i < 256; i++) {
            many[i].address = cpu_to_le64(LOW_ADDR + (i * 8 * 3) % PAT_LEN);
            many[i].length = cpu_to_le64(8);
        }
        v2_send(fd, PMEMACCESS_V2_READV, 0, 9, 0, 256, 0);
        send_all(fd, many, sizeof(many));
        v2_recv_reply(fd, 9, &r);
        g_assert_cmpuint(r.length, ==, 256 * 4 + sizeof(out));
        recv_all(fd, status, 4);
        for (i = 1; i < 256; i++) {
            uint32_t st;

            recv_all(fd, &st, 4);
            g_assert_cmpint(st, ==, 0);
        }
        recv_all(fd, out, sizeof(out));
        for (i = 0; i < 256; i++) {
            g_assert_cmpmem(out + i * 8, 8,
                            f->low + (i * 8 * 3) % PAT_LEN, 8);
        }
    }

    /* zero segments, and too much data */
    v2_send(fd, PMEMACCESS_V2_READV, 0, 10, 0, 0, 0);
    v2_recv_reply(fd, 10, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EINVAL);
    seg[0].address = cpu_to_le64(0);
    seg[0].length = cpu_to_le64(PMEMACCESS_MAX_PAYLOAD);
    v2_send(fd, PMEMACCESS_V2_READV, 0, 11, 0, 1, 0);
    send_all(fd, seg, sizeof(seg[0]));
    v2_recv_reply(fd, 11, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_ETOOBIG);

    /* more segments than the limit: answered, then closed */
    v2_send(fd, PMEMACCESS_V2_READV, 0, 12, 0,
            PMEMACCESS_MAX_SEGMENTS + 1, 0);
    v2_recv_reply(fd, 12, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_ETOOBIG);
    assert_closed(fd);
}

static void test_v2_layout(Fixture *f, gconstpointer data)
{
    Hello h;
    int fd = v2_connect(f, &h);
    PmemAccessV2Reply r;
    uint32_t head[2];
    PmemAccessV2Range range;
    uint32_t i;

    v2_send(fd, PMEMACCESS_V2_LAYOUT, 0, 5, 0, 0, 0);
    v2_recv_reply(fd, 5, &r);
    g_assert_cmpint(r.error, ==, 0);
    recv_all(fd, head, sizeof(head));
    g_assert_cmpint(le32_to_cpu(head[0]), ==, h.hello.nr_ranges);
    g_assert_cmpuint(r.length, ==, 8 + h.hello.nr_ranges * sizeof(range));
    for (i = 0; i < h.hello.nr_ranges; i++) {
        recv_all(fd, &range, sizeof(range));
        g_assert_cmphex(le64_to_cpu(range.start), ==, h.ranges[i].start);
        g_assert_cmphex(le64_to_cpu(range.length), ==, h.ranges[i].length);
    }
    v2_send(fd, PMEMACCESS_V2_DISCONNECT, 0, 6, 0, 0, 0);
    assert_closed(fd);
}

/*
 * PAUSED is accepted, serves the data, enforces its one-buffer limit and
 * leaves the VM running.  That the request sees the guest at one instant
 * cannot be seen here (-accel qtest runs no guest code): the counting
 * guest of clients/python/test_paused.py checks it, under TCG and KVM.
 */
static void test_v2_paused(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    g_autofree uint8_t *buf = g_malloc(512 * KiB);
    QDict *rsp;

    g_assert_cmpint(v2_read_flags(fd, PMEMACCESS_V2_FLAG_PAUSED, 0,
                                  LOW_ADDR, buf, PAT_LEN, NULL), ==, 0);
    g_assert_cmpmem(buf, PAT_LEN, f->low, PAT_LEN);
    /* a paused request must fit in one buffer */
    g_assert_cmpint(v2_read_flags(fd, PMEMACCESS_V2_FLAG_PAUSED, 0,
                                  LOW_ADDR, buf, 512 * KiB, NULL), ==,
                    PMEMACCESS_V2_ETOOBIG);
    /* the guest runs on, as before */
    rsp = qtest_qmp(f->qts, "{ 'execute': 'query-status' }");
    g_assert_true(qdict_get_bool(qdict_get_qdict(rsp, "return"), "running"));
    qobject_unref(rsp);
    close(fd);
}

/*
 * Several clients pausing the guest at once, each with its own
 * connection.  pause_all_vcpus() drops the BQL while it waits; when
 * clients paused from their own threads, one client's resume could clear
 * the stop request another waited on, and that one waited forever.  The
 * main loop now serves them one at a time (the race with the main
 * thread's own pausing, around a guest reset, needs guest code:
 * test_paused.py's ResettingGuest).
 */
typedef struct {
    Fixture *f;
    int fd;
} PausedWorker;

#define PAUSED_WORKERS 4
#define PAUSED_ROUNDS  200

static gpointer paused_worker(gpointer opaque)
{
    PausedWorker *w = opaque;
    uint8_t buf[64];

    for (int i = 0; i < PAUSED_ROUNDS; i++) {
        g_assert_cmpint(v2_read_flags(w->fd, PMEMACCESS_V2_FLAG_PAUSED, 0,
                                      LOW_ADDR, buf, sizeof(buf), NULL),
                        ==, 0);
        g_assert_cmpmem(buf, sizeof(buf), w->f->low, sizeof(buf));
    }
    return NULL;
}

static void test_v2_paused_concurrent(Fixture *f, gconstpointer data)
{
    PausedWorker w[PAUSED_WORKERS];
    GThread *t[PAUSED_WORKERS];
    QDict *rsp;

    for (int i = 0; i < PAUSED_WORKERS; i++) {
        w[i] = (PausedWorker) { .f = f, .fd = v2_connect(f, NULL) };
        t[i] = g_thread_new("paused", paused_worker, &w[i]);
    }
    for (int i = 0; i < PAUSED_WORKERS; i++) {
        g_thread_join(t[i]);
        close(w[i].fd);
    }
    rsp = qtest_qmp(f->qts, "{ 'execute': 'query-status' }");
    g_assert_true(qdict_get_bool(qdict_get_qdict(rsp, "return"), "running"));
    qobject_unref(rsp);
}

/*
 * Page tables for the virtual-read tests, in guest RAM:
 *   PML5 0x14000: [0] and [1] -> PML4
 *   PML4 0x10000: [0] -> PDPT, [1] -> PDPT with PS (reserved),
 *                 [511] -> itself (recursive)
 *   PDPT 0x11000: [0] -> PD, [1] 1 GiB page at 2 GiB,
 *                 [2] 1 GiB page at 5 GiB, [3] -> "table" in MMIO
 *   PD   0x12000: [2] -> PT, [3] 2 MiB page at 8 MiB
 *   PT   0x13000: [0] -> 0x300000, [1] -> 0x305000, [2] not present
 */
#define PML5 0x14000ULL
#define PML4 0x10000ULL
#define PDPT 0x11000ULL
#define PD   0x12000ULL
#define PT   0x13000ULL
#define P    0x3ULL         /* present, writable */
#define PS   0x80ULL

static void put_pte(Fixture *f, uint64_t table, int index, uint64_t pte)
{
    qtest_writeq(f->qts, table + index * 8, pte);
}

static void build_page_tables(Fixture *f)
{
    put_pte(f, PML5, 0, PML4 | P);
    put_pte(f, PML5, 1, PML4 | P);
    put_pte(f, PML4, 0, PDPT | P);
    put_pte(f, PML4, 1, PDPT | P | PS);
    put_pte(f, PML4, 511, PML4 | P);
    put_pte(f, PDPT, 0, PD | P);
    put_pte(f, PDPT, 1, (2 * GiB) | P | PS);
    put_pte(f, PDPT, 2, (5 * GiB) | P | PS);
    put_pte(f, PDPT, 3, MMIO_ADDR | P);
    put_pte(f, PD, 2, PT | P);
    put_pte(f, PD, 3, (8 * MiB) | P | PS);
    put_pte(f, PT, 0, 0x300000 | P);
    put_pte(f, PT, 1, 0x305000 | P);
    put_pte(f, PT, 2, 0x306000);                /* not present */
}

static uint32_t vread(int fd, bool la57, uint64_t va, void *buf,
                      uint64_t len, uint64_t *fail)
{
    uint16_t flags = PMEMACCESS_V2_FLAG_VIRTUAL |
                     (la57 ? PMEMACCESS_V2_FLAG_LA57 : 0);

    /* the root's low bits (PCID, flags) are ignored */
    return v2_read_flags(fd, flags, (la57 ? PML5 : PML4) | 0x18, va, buf,
                         len, fail);
}

static void test_v2_virtual(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    uint8_t a[PAT_LEN], b[PAT_LEN], buf[2 * PAT_LEN];
    uint64_t fail;

    build_page_tables(f);
    fill_random(a, sizeof(a));
    fill_random(b, sizeof(b));
    qtest_memwrite(f->qts, 0x300000, a, sizeof(a));
    qtest_memwrite(f->qts, 0x305000, b, sizeof(b));
    qtest_memwrite(f->qts, 8 * MiB + 0x1234, a, 64);
    qtest_memwrite(f->qts, 2 * GiB + 0x12345678, b, 64);
    qtest_memwrite(f->qts, 5 * GiB + 0x100, a, 64);

    /* 4 KiB pages; a read across two of them, not contiguous */
    g_assert_cmpint(vread(fd, false, 0x400000, buf, PAT_LEN, NULL), ==, 0);
    g_assert_cmpmem(buf, PAT_LEN, a, PAT_LEN);
    g_assert_cmpint(vread(fd, false, 0x400ff0, buf, 32, NULL), ==, 0);
    g_assert_cmpmem(buf, 16, a + PAT_LEN - 16, 16);
    g_assert_cmpmem(buf + 16, 16, b, 16);
    /* 2 MiB and 1 GiB pages, one of them above 4 GiB */
    g_assert_cmpint(vread(fd, false, 0x600000 + 0x1234, buf, 64, NULL), ==,
                    0);
    g_assert_cmpmem(buf, 64, a, 64);
    g_assert_cmpint(vread(fd, false, 1 * GiB + 0x12345678, buf, 64, NULL),
                    ==, 0);
    g_assert_cmpmem(buf, 64, b, 64);
    g_assert_cmpint(vread(fd, false, 2 * GiB + 0x100, buf, 64, NULL), ==, 0);
    g_assert_cmpmem(buf, 64, a, 64);
    /* 5-level paging */
    g_assert_cmpint(vread(fd, true, 0x400000, buf, 64, NULL), ==, 0);
    g_assert_cmpmem(buf, 64, a, 64);
    g_assert_cmpint(vread(fd, true, (1ULL << 48) | 0x400000, buf, 64, NULL),
                    ==, 0);
    g_assert_cmpmem(buf, 64, a, 64);
    /* a recursive entry just maps the tables themselves: it terminates */
    g_assert_cmpint(vread(fd, false, 0xfffffffffffff000ULL, buf, 8, NULL),
                    ==, 0);
    g_assert_cmphex(ldq_le_p(buf), ==, PDPT | P);

    /* faults, each with the failing virtual address */
    g_assert_cmpint(vread(fd, false, 0x402000, buf, 8, &fail), ==,
                    PMEMACCESS_V2_EFAULT);              /* not present */
    g_assert_cmphex(fail, ==, 0x402000);
    g_assert_cmpint(vread(fd, false, 0x401ff8, buf, 16, &fail), ==,
                    PMEMACCESS_V2_EFAULT);              /* runs into it */
    g_assert_cmphex(fail, ==, 0x402000);
    g_assert_cmpint(vread(fd, false, 3 * GiB, buf, 8, &fail), ==,
                    PMEMACCESS_V2_EFAULT);              /* table in MMIO */
    g_assert_cmpint(vread(fd, false, 1ULL << 47, buf, 8, &fail), ==,
                    PMEMACCESS_V2_EFAULT);              /* non-canonical */
    g_assert_cmpint(vread(fd, false, (1ULL << 48) | 0x400000, buf, 8,
                          &fail), ==, PMEMACCESS_V2_EFAULT);
    g_assert_cmpint(vread(fd, false, 4ULL * 512 * GiB, buf, 8, &fail), ==,
                    PMEMACCESS_V2_EFAULT);              /* empty PML4 slot */
    g_assert_cmpint(vread(fd, false, 512 * GiB + 1 * GiB + 0x12345678, buf,
                          8, &fail), ==,
                    PMEMACCESS_V2_EFAULT);              /* PS in the PML4 */

    /* a READV of virtual segments */
    {
        PmemAccessV2Segment seg[2] = {
            { cpu_to_le64(0x400010), cpu_to_le64(8) },
            { cpu_to_le64(0x402000), cpu_to_le64(8) },
        };
        PmemAccessV2Reply r;
        uint32_t st[2];

        v2_send(fd, PMEMACCESS_V2_READV, PMEMACCESS_V2_FLAG_VIRTUAL, 3, 0, 2,
                PML4);
        send_all(fd, seg, sizeof(seg));
        v2_recv_reply(fd, 3, &r);
        g_assert_cmpuint(r.length, ==, 8 + 8);
        recv_all(fd, st, sizeof(st));
        g_assert_cmpint(le32_to_cpu(st[0]), ==, 0);
        g_assert_cmpint(le32_to_cpu(st[1]), ==, PMEMACCESS_V2_EFAULT);
        recv_all(fd, buf, 8);
        g_assert_cmpmem(buf, 8, a + 0x10, 8);
    }
    close(fd);
}

static void test_v2_bad(Fixture *f, gconstpointer data)
{
    PmemAccessV2ClientHello ch = {
        .magic = PMEMACCESS_V2_CLIENT_MAGIC,
        .version = cpu_to_le32(3),
    };
    PmemAccessV2ServerHello sh;
    PmemAccessV2Reply r;
    uint8_t buf[8];
    int fd;

    /* wrong hello magic: closed without a hello */
    fd = connect_path(f->path);
    send_all(fd, "QPMEMv1\n\2\0\0\0\0\0\0\0", 16);
    assert_closed(fd);

    /* unknown version: the server says its own, then closes */
    fd = connect_path(f->path);
    send_all(fd, &ch, sizeof(ch));
    recv_all(fd, &sh, sizeof(sh));
    g_assert_cmpint(le32_to_cpu(sh.version), ==, 2);
    recv_all(fd, buf, 0);
    {
        g_autofree PmemAccessV2Range *ranges =
            g_new(PmemAccessV2Range, le32_to_cpu(sh.nr_ranges));

        recv_all(fd, ranges, le32_to_cpu(sh.nr_ranges) * sizeof(*ranges));
    }
    assert_closed(fd);

    /* unknown type and flags: an error, and the connection goes on */
    fd = v2_connect(f, NULL);
    v2_send(fd, 99, 0, 1, 0, 0, 0);
    v2_recv_reply(fd, 1, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EUNSUPPORTED);
    v2_send(fd, PMEMACCESS_V2_READ, 0x100, 2, LOW_ADDR, 8, 0);
    v2_recv_reply(fd, 2, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EINVAL);
    v2_send(fd, PMEMACCESS_V2_READ, PMEMACCESS_V2_FLAG_LA57, 3, LOW_ADDR, 8,
            0);
    v2_recv_reply(fd, 3, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EINVAL);
    v2_send(fd, PMEMACCESS_V2_LAYOUT, PMEMACCESS_V2_FLAG_VIRTUAL, 4, 0, 0, 0);
    v2_recv_reply(fd, 4, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EINVAL);
    v2_send(fd, PMEMACCESS_V2_LAYOUT, PMEMACCESS_V2_FLAG_PAUSED, 4, 0, 0, 0);
    v2_recv_reply(fd, 4, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EINVAL);
    /* a virtual WRITE is refused, and its data consumed */
    v2_send(fd, PMEMACCESS_V2_WRITE, PMEMACCESS_V2_FLAG_VIRTUAL, 5, LOW_ADDR,
            8, PML4);
    send_all(fd, "01234567", 8);
    v2_recv_reply(fd, 5, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_EINVAL);
    g_assert_cmpint(v2_read(fd, LOW_ADDR, buf, 8), ==, 0);
    g_assert_cmpmem(buf, 8, f->low, 8);

    /* a WRITE too large to skip: answered, then closed */
    v2_send(fd, PMEMACCESS_V2_WRITE, 0, 6, 0, PMEMACCESS_MAX_PAYLOAD + 1ULL,
            0);
    v2_recv_reply(fd, 6, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_ETOOBIG);
    assert_closed(fd);

    /* wrong request magic: closed */
    fd = v2_connect(f, NULL);
    send_all(fd, "this is not a request at all, 40 bytes!!", 40);
    assert_closed(fd);

    /* half a header, then gone; then a good request on a new connection */
    fd = v2_connect(f, NULL);
    send_all(fd, "PMRQ\1\0", 6);
    close(fd);
    fd = v2_connect(f, NULL);
    g_assert_cmpint(v2_read(fd, LOW_ADDR, buf, 8), ==, 0);
    g_assert_cmpmem(buf, 8, f->low, 8);
    close(fd);
}

/* --- the commands ------------------------------------------------------*/

static QDict *query_server(Fixture *f, const char *id)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'query-pmemaccess' }");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *info = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(info, "id"), id)) {
            qobject_ref(info);
            qobject_unref(rsp);
            return info;
        }
    }
    qobject_unref(rsp);
    return NULL;
}

static int64_t server_stat(Fixture *f, const char *id, const char *key)
{
    QDict *info = query_server(f, id);
    int64_t n = qdict_get_int(info, key);

    qobject_unref(info);
    return n;
}

/* Poll until @id has @clients clients: they end on their own threads. */
static void wait_clients(Fixture *f, const char *id, int clients)
{
    int i;

    for (i = 0; i < 500; i++) {
        if (server_stat(f, id, "clients") == clients) {
            return;
        }
        g_usleep(10 * 1000);
    }
    g_assert_not_reached();
}

static void test_two_clients(Fixture *f, gconstpointer data)
{
    int a = connect_path(f->path);
    int b = v2_connect(f, NULL);
    uint8_t buf[PAT_LEN];
    QDict *info;
    int i;

    /* one client stalls mid-request; the others are served */
    send_all(a, "\x01\0\0", 3);
    for (i = 0; i < 10; i++) {
        int c = connect_path(f->path);

        g_assert_cmpint(v1_read(c, HIGH_ADDR, buf, 64), ==, 1);
        g_assert_cmpint(v2_read(b, LOW_ADDR, buf, 64), ==, 0);
        close(c);
    }
    info = query_server(f, "pmemaccess");
    g_assert_cmpint(qdict_get_int(info, "connections"), ==, 12);
    g_assert_cmpint(qdict_get_int(info, "requests"), >=, 20);
    g_assert_cmpint(qdict_get_int(info, "bytes-read"), >=, 20 * 64);
    g_assert_false(qdict_get_bool(info, "write"));
    qobject_unref(info);
    close(a);
    close(b);
    wait_clients(f, "pmemaccess", 0);
}

static void test_vanishing_clients(Fixture *f, gconstpointer data)
{
    uint8_t buf[64];
    int i, fd, stuck;

    /* gone before the answer: the server meets EPIPE, not SIGPIPE */
    for (i = 0; i < 4; i++) {
        fd = connect_path(f->path);
        v1_send(fd, PMEMACCESS_V1_READ, 1 * MiB, 16 * MiB);
        close(fd);
        fd = v2_connect(f, NULL);
        v2_send(fd, PMEMACCESS_V2_READ, 0, 1, 1 * MiB, 32 * MiB, 0);
        close(fd);
    }

    /* one that asks for 16 MiB and never reads: its socket fills up */
    stuck = connect_path(f->path);
    v1_send(stuck, PMEMACCESS_V1_READ, 1 * MiB, 16 * MiB);

    fd = v2_connect(f, NULL);
    g_assert_cmpint(v2_read(fd, LOW_ADDR, buf, sizeof(buf)), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), f->low, sizeof(buf));
    close(fd);
    wait_clients(f, "pmemaccess", 1);

    /* stopping the server wakes the blocked thread and ends it */
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess-stop' }");
    start_server(f, false);
    fd = connect_path(f->path);
    g_assert_cmpint(v1_read(fd, HIGH_ADDR, buf, sizeof(buf)), ==, 1);
    g_assert_cmpmem(buf, sizeof(buf), f->high, sizeof(buf));
    close(fd);
    close(stuck);
    wait_clients(f, "pmemaccess", 0);
}

static void test_max_clients(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "one.sock", NULL);
    uint8_t buf[8];
    QDict *info;
    int a, b;

    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'path': %s, 'id': 'one',"
                             " 'max-clients': 1 } }", path);
    a = connect_path(path);
    g_assert_cmpint(v1_read(a, LOW_ADDR, buf, 8), ==, 1);
    b = connect_path(path);
    assert_closed(b);
    info = query_server(f, "one");
    g_assert_cmpint(qdict_get_int(info, "refused"), ==, 1);
    g_assert_cmpint(qdict_get_int(info, "clients"), ==, 1);
    qobject_unref(info);
    close(a);
    wait_clients(f, "one", 0);
    b = connect_path(path);
    g_assert_cmpint(v1_read(b, LOW_ADDR, buf, 8), ==, 1);
    close(b);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess-stop',"
                             " 'arguments': { 'id': 'one' } }");
}

/*
 * Clients that start requests and never finish them cannot hold the
 * slots (as with NBD's CVE-2024-7409): with max-clients 2 and a 1 s
 * request timeout, two half-sent requests keep a third client out for a
 * second at most; an idle client between requests is left alone.
 */
static void test_stalled_requests(Fixture *f, gconstpointer data)
{
    uint8_t buf[8];
    QDict *info;
    int a, b, c, idle;

    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'path': %s, 'id': 'slow',"
                             " 'max-clients': 2, 'request-timeout': 1 } }",
                             f->path);
    info = query_server(f, "slow");
    g_assert_cmpint(qdict_get_int(info, "request-timeout"), ==, 1);
    qobject_unref(info);

    a = connect_path(f->path);
    send_all(a, "\x01\0\0\0\0", 5);          /* v1: 5 of 24 bytes */
    b = v2_connect(f, NULL);
    send_all(b, "PMRQ\1", 5);                  /* v2: 5 of 40 bytes */
    wait_clients(f, "slow", 2);
    c = connect_path(f->path);
    assert_closed(c);                           /* no slot left */

    /* both are dropped when their second is up (recv times out at 10 s) */
    assert_closed(a);
    assert_closed(b);
    wait_clients(f, "slow", 0);

    /* idle between requests for longer than the timeout: served */
    idle = connect_path(f->path);
    g_assert_cmpint(v1_read(idle, LOW_ADDR, buf, 8), ==, 1);
    g_usleep(1500 * 1000);
    g_assert_cmpint(v1_read(idle, LOW_ADDR, buf, 8), ==, 1);
    g_assert_cmpmem(buf, 8, f->low, 8);
    close(idle);

    info = query_server(f, "slow");
    g_assert_cmpint(qdict_get_int(info, "refused"), ==, 1);
    qobject_unref(info);
}

static void test_stop_restart(Fixture *f, gconstpointer data)
{
    int busy = v2_connect(f, NULL);
    struct stat st;
    uint8_t buf[8];
    char *out;

    g_assert_cmpint(stat(f->path, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess-stop' }");
    g_assert_cmpint(stat(f->path, &st), ==, -1);
    assert_closed(busy);                    /* clients are disconnected */
    g_assert_null(query_server(f, "pmemaccess"));

    /* again over HMP, with writes */
    out = qtest_hmp(f->qts, "pmemaccess -w %s", f->path);
    g_assert_cmpstr(out, ==, "");
    g_free(out);
    out = qtest_hmp(f->qts, "info pmemaccess");
    g_assert_nonnull(strstr(out, "pmemaccess: unix:"));
    g_assert_nonnull(strstr(out, "write=on"));
    g_free(out);
    busy = connect_path(f->path);
    g_assert_cmpint(v1_write(busy, HIGH_ADDR, "hello", 5), ==, 1);
    qtest_memread(f->qts, HIGH_ADDR, buf, 5);
    g_assert_cmpmem(buf, 5, "hello", 5);
    close(busy);
    out = qtest_hmp(f->qts, "pmemaccess-stop");
    g_assert_cmpstr(out, ==, "");
    g_free(out);
    out = qtest_hmp(f->qts, "info pmemaccess");
    g_assert_nonnull(strstr(out, "No pmemaccess servers"));
    g_free(out);
}

/*
 * QEMU quits while clients are connected: one blocked on a full socket,
 * one that sent half a header, one idle.  QEMU exits, with status 0.
 */
static void test_quit_with_clients(Fixture *f, gconstpointer data)
{
    int stuck = connect_path(f->path);
    int half = v2_connect(f, NULL);
    int idle = v2_connect(f, NULL);
    PmemAccessV2Request req = {
        .magic = cpu_to_le32(PMEMACCESS_V2_REQUEST_MAGIC),
    };

    v1_send(stuck, PMEMACCESS_V1_READ, 1 * MiB, 16 * MiB);
    send_all(half, &req, sizeof(req) / 2);
    wait_clients(f, "pmemaccess", 3);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'quit' }");
    while (qtest_probe_child(f->qts)) {
        g_usleep(10 * 1000);            /* a hang here is QEMU's */
    }
    /* the teardown's qtest_quit() asserts that it exited with status 0 */
    close(stuck);
    close(half);
    close(idle);
}

static int qemu_pid(Fixture *f);

/* How many of QEMU's threads are named @name (-name debug-threads=on) */
static int qemu_threads(int pid, const char *name)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", pid);
    GDir *tasks = g_dir_open(dir, 0, NULL);
    const char *tid;
    int n = 0;

    g_assert_nonnull(tasks);
    while ((tid = g_dir_read_name(tasks))) {
        g_autofree char *path = g_strdup_printf("%s/%s/comm", dir, tid);
        g_autofree char *comm = NULL;

        if (g_file_get_contents(path, &comm, NULL, NULL) &&
            !strcmp(g_strchomp(comm), name)) {
            n++;
        }
    }
    g_dir_close(tasks);
    return n;
}

/*
 * pmemaccess-stop returns once its clients' threads have ended, the
 * busy ones too: none is left reading guest memory behind the monitor's
 * back (or, at exit, while QEMU tears down).
 */
static void test_stop_waits(Fixture *f, gconstpointer data)
{
    int pid = qemu_pid(f);
    int fds[16];                /* the default max-clients */
    int i, round;

    for (round = 0; round < 5; round++) {
        for (i = 0; i < ARRAY_SIZE(fds); i++) {
            fds[i] = i % 2 ? v2_connect(f, NULL) : connect_path(f->path);
        }
        for (i = 0; i < ARRAY_SIZE(fds); i += 2) {
            v1_send(fds[i], PMEMACCESS_V1_READ, 1 * MiB, 16 * MiB);
        }
        wait_clients(f, "pmemaccess", ARRAY_SIZE(fds));
        /* a thread names itself once it runs */
        for (i = 0; qemu_threads(pid, "pmemacc-client") < ARRAY_SIZE(fds);
             i++) {
            g_assert_cmpint(i, <, 1000);
            g_usleep(1000);
        }
        qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess-stop' }");
        g_assert_cmpint(qemu_threads(pid, "pmemacc-client"), ==, 0);
        for (i = 0; i < ARRAY_SIZE(fds); i++) {
            close(fds[i]);
        }
        qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess',"
                                 " 'arguments': { 'path': %s,"
                                 " 'id': 'pmemaccess' } }", f->path);
    }
}

static int listen_path(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    pstrcpy(un.sun_path, sizeof(un.sun_path), path);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0);
    return fd;
}

/*
 * Bind and listen on a socket here, pass it to QEMU with QMP command
 * @pass and arguments @args, serve on it as fd @name, read through it,
 * and stop: the file we created stays, it is not QEMU's to remove.
 */
static void serve_passed_socket(Fixture *f, const char *pass,
                                const char *args, const char *name)
{
    g_autofree char *path = g_build_filename(f->dir, "passed.sock", NULL);
    int lfd = listen_path(path);
    uint8_t buf[64];
    QDict *rsp;
    int fd;

    rsp = qtest_qmp_fds(f->qts, &lfd, 1, "{ 'execute': %s, 'arguments': %p }",
                        pass, qobject_from_json(args, &error_abort));
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    close(lfd);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'id': 'passed', 'addr':"
                             " { 'type': 'fd', 'str': %s } } }", name);
    fd = connect_path(path);
    g_assert_cmpint(v1_read(fd, HIGH_ADDR, buf, 64), ==, 1);
    g_assert_cmpmem(buf, 64, f->high, 64);
    close(fd);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess-stop',"
                             " 'arguments': { 'id': 'passed' } }");
    g_assert_null(query_server(f, "passed"));
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    unlink(path);
}

static void test_getfd(Fixture *f, gconstpointer data)
{
    serve_passed_socket(f, "getfd", "{ 'fdname': 'vmi' }", "vmi");
}

/* Whether query-fdsets lists fdset @id */
static bool fdset_listed(Fixture *f, int64_t id)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'query-fdsets' }");
    const QListEntry *e;
    bool found = false;

    for (e = qlist_first(qdict_get_qlist(rsp, "return")); e;
         e = qlist_next(e)) {
        QDict *set = qobject_to(QDict, e->value);

        found |= qdict_get_int(set, "fdset-id") == id;
    }
    qobject_unref(rsp);
    return found;
}

static void test_add_fd(Fixture *f, gconstpointer data)
{
    serve_passed_socket(f, "add-fd", "{ 'fdset-id': 3 }", "/dev/fdset/3");
    /* the stopped server holds nothing of the fdset: removing it frees it */
    g_assert_true(fdset_listed(f, 3));
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'remove-fd',"
                             " 'arguments': { 'fdset-id': 3 } }");
    g_assert_false(fdset_listed(f, 3));
}

static void assert_qmp_error(Fixture *f, const char *needle,
                             const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* A passed socket must be a UNIX socket: a TCP one is refused. */
static void test_passed_tcp(Fixture *f, gconstpointer data)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    QDict *rsp;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    rsp = qtest_qmp_fds(f->qts, &lfd, 1, "{ 'execute': 'getfd',"
                        " 'arguments': { 'fdname': 'tcp' } }");
    qobject_unref(rsp);
    close(lfd);
    assert_qmp_error(f, "not a UNIX socket", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'id': 'tcp', 'addr':"
                     " { 'type': 'fd', 'str': 'tcp' } } }");
    assert_qmp_error(f, "abstract", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'id': 'abs', 'addr':"
                     " { 'type': 'unix', 'path': 'pm', 'abstract': true } } }");
}

static void assert_qmp_error(Fixture *f, const char *needle,
                             const char *fmt, ...)
{
    va_list ap;
    QDict *rsp;
    const char *desc;

    va_start(ap, fmt);
    rsp = qtest_vqmp(f->qts, fmt, ap);
    va_end(ap);
    g_assert(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    g_test_message("%s", desc);
    g_assert_nonnull(strstr(desc, needle));
    qobject_unref(rsp);
}

/* Whether query-migrate lists pmemmap among the reasons blocking migration */
static bool migration_blocked_by_pmemmap(Fixture *f)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'query-migrate' }");
    QDict *info = qdict_get_qdict(rsp, "return");
    QList *reasons;
    const QListEntry *e;
    bool found = false;

    g_assert(info);
    reasons = qdict_haskey(info, "blocked-reasons") ?
              qdict_get_qlist(info, "blocked-reasons") : NULL;
    for (e = reasons ? qlist_first(reasons) : NULL; e; e = qlist_next(e)) {
        const char *why = qstring_get_str(qobject_to(QString, e->value));

        found |= strstr(why, "mapped writable by pmemmap") != NULL;
    }
    qobject_unref(rsp);
    return found;
}

static void test_bad_commands(Fixture *f, gconstpointer data)
{
    g_autofree char *file = g_build_filename(f->dir, "precious", NULL);
    QDict *info;

    g_assert_true(g_file_set_contents(file, "data", 4, NULL));
    assert_qmp_error(f, "not a socket", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'path': %s, 'id': 'x' } }", file);
    g_assert_true(g_file_test(file, G_FILE_TEST_EXISTS));
    unlink(file);

    assert_qmp_error(f, "exactly one", "{ 'execute': 'pmemaccess' }");
    assert_qmp_error(f, "exactly one", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'path': %s, 'addr':"
                     " { 'type': 'unix', 'path': %s } } }", f->path, f->path);
    assert_qmp_error(f, "network", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'id': 'x', 'addr': { 'type': 'inet',"
                     " 'host': '127.0.0.1', 'port': '0' } } }");
    assert_qmp_error(f, "max-clients", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'path': %s, 'id': 'x',"
                     " 'max-clients': 0 } }", f->path);
    assert_qmp_error(f, "already exists", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'path': %s, 'id': 'pmemaccess' } }",
                     f->path);
    assert_qmp_error(f, "while-connected", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'path': %s, 'id': 'x',"
                     " 'connect-timeout': 5 } }", f->path);
    assert_qmp_error(f, "between 1 and 3600", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'path': %s, 'connect-timeout': 0 } }",
                     f->path);
    assert_qmp_error(f, "between 0 and 3600", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'path': %s, 'id': 'x',"
                     " 'request-timeout': -1 } }", f->path);
    assert_qmp_error(f, "nonexistent", "{ 'execute': 'pmemaccess',"
                     " 'arguments': { 'id': 'x', 'addr': { 'type': 'fd',"
                     " 'str': 'nonexistent' } } }");
    assert_qmp_error(f, "No pmemaccess server", "{ 'execute':"
                     " 'pmemaccess-stop', 'arguments': { 'id': 'x' } }");
    /* the running server was not disturbed */
    info = query_server(f, "pmemaccess");
    g_assert_nonnull(info);
    qobject_unref(info);
    g_assert_null(query_server(f, "x"));
}

/* --- lifetime ----------------------------------------------------------*/

/* Start a server as LibVMI does, with a path only; returns its id. */
static char *start_libvmi_server(Fixture *f, const char *path)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'pmemaccess',"
                           " 'arguments': { 'path': %s } }", path);
    QDict *ret = qdict_get_qdict(rsp, "return");
    char *id;

    g_assert_nonnull(ret);
    id = g_strdup(qdict_get_str(ret, "id"));
    qobject_unref(rsp);
    return id;
}

static void assert_lifetime(Fixture *f, const char *id, const char *lifetime)
{
    QDict *info = query_server(f, id);

    g_assert_nonnull(info);
    g_assert_cmpstr(qdict_get_str(info, "lifetime"), ==, lifetime);
    qobject_unref(info);
}

/* Poll until server @id is gone and its socket @path with it. */
static void wait_server_gone(Fixture *f, const char *id, const char *path)
{
    int i;

    for (i = 0; i < 1000; i++) {
        QDict *info = query_server(f, id);

        if (!info) {
            g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
            return;
        }
        qobject_unref(info);
        g_usleep(10 * 1000);
    }
    g_assert_not_reached();
}

/* One LibVMI tool: connect, read, QUIT, close. */
static void libvmi_session(Fixture *f, const char *path)
{
    int fd = connect_path(path);
    uint8_t buf[PAT_LEN];

    g_assert_cmpint(v1_read(fd, LOW_ADDR, buf, PAT_LEN), ==, 1);
    g_assert_cmpmem(buf, PAT_LEN, f->low, PAT_LEN);
    v1_send(fd, PMEMACCESS_V1_QUIT, 0, 0);
    assert_closed(fd);
}

/*
 * LibVMI starts a server of its own for every tool and never stops it:
 * each gets a name of its own beside the fixture's "pmemaccess" and ends
 * with its last client, QUIT or not; the fixture's server stays.
 */
static void test_lifetime_libvmi(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "vmi.sock", NULL);
    g_autofree char *first = NULL;
    uint8_t buf[8];
    int i, a, b;

    for (i = 0; i < 3; i++) {
        g_autofree char *id = start_libvmi_server(f, path);

        g_assert_true(g_str_has_prefix(id, "pmemaccess-"));
        g_assert_cmpstr(id, !=, first);
        if (!first) {
            first = g_strdup(id);
        }
        assert_lifetime(f, id, "while-connected");
        libvmi_session(f, path);
        wait_server_gone(f, id, path);
    }

    /* two clients: the server stays until the second one goes */
    {
        g_autofree char *id = start_libvmi_server(f, path);

        a = connect_path(path);
        b = connect_path(path);
        g_assert_cmpint(v1_read(a, LOW_ADDR, buf, 8), ==, 1);
        g_assert_cmpint(v1_read(b, LOW_ADDR, buf, 8), ==, 1);
        v1_send(a, PMEMACCESS_V1_QUIT, 0, 0);
        assert_closed(a);
        wait_clients(f, id, 1);
        g_assert_cmpint(v1_read(b, HIGH_ADDR, buf, 8), ==, 1);
        g_assert_cmpmem(buf, 8, f->high, 8);
        close(b);                       /* no QUIT: as a killed tool */
        wait_server_gone(f, id, path);
    }

    assert_lifetime(f, "pmemaccess", "until-stopped");
    libvmi_session(f, f->path);
    libvmi_session(f, f->path);
    assert_lifetime(f, "pmemaccess", "until-stopped");
}

/* A tool killed before it connected: the server ends on its own. */
static void test_lifetime_connect_timeout(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "vmi.sock", NULL);

    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'path': %s, 'id': 'lazy',"
                             " 'lifetime': 'while-connected',"
                             " 'connect-timeout': 1 } }", path);
    assert_lifetime(f, "lazy", "while-connected");
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    wait_server_gone(f, "lazy", path);

    /* a server that has a client is not ended by the timeout */
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'path': %s, 'id': 'busy',"
                             " 'lifetime': 'while-connected',"
                             " 'connect-timeout': 1 } }", path);
    {
        int fd = connect_path(path);
        uint8_t buf[8];

        g_usleep(1500 * 1000);
        g_assert_cmpint(v1_read(fd, LOW_ADDR, buf, 8), ==, 1);
        assert_lifetime(f, "busy", "while-connected");
        close(fd);
    }
    wait_server_gone(f, "busy", path);
}

/*
 * The default name: "pmemaccess" when free.  A server started with HMP
 * runs until stopped; a QMP pmemaccess {path} beside it (qmp-shell after
 * HMP) gets a name of its own, and so does a second HMP one.
 */
static void test_lifetime_names(Fixture *f, gconstpointer data)
{
    g_autofree char *p1 = g_build_filename(f->dir, "a.sock", NULL);
    g_autofree char *p2 = g_build_filename(f->dir, "b.sock", NULL);
    g_autofree char *id = NULL;
    char *out;

    out = qtest_hmp(f->qts, "pmemaccess %s", p1);
    g_assert_cmpstr(out, ==, "");
    g_free(out);
    assert_lifetime(f, "pmemaccess", "until-stopped");

    id = start_libvmi_server(f, p2);
    g_assert_true(g_str_has_prefix(id, "pmemaccess-"));
    assert_lifetime(f, id, "while-connected");
    assert_lifetime(f, "pmemaccess", "until-stopped");

    out = qtest_hmp(f->qts, "pmemaccess %s", f->path);
    g_assert_nonnull(strstr(out, "pmemaccess server 'pmemaccess-"));
    g_free(out);
    out = qtest_hmp(f->qts, "info pmemaccess");
    g_assert_nonnull(strstr(out, "lifetime=while-connected"));
    g_assert_nonnull(strstr(out, "lifetime=until-stopped"));
    g_free(out);

    libvmi_session(f, p2);
    wait_server_gone(f, id, p2);
    libvmi_session(f, p1);
    assert_lifetime(f, "pmemaccess", "until-stopped");
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess-stop' }");
    g_assert_false(g_file_test(p1, G_FILE_TEST_EXISTS));

    /* free again: the next one without id is "pmemaccess" */
    g_free(id);
    id = start_libvmi_server(f, p1);
    g_assert_cmpstr(id, ==, "pmemaccess");
    libvmi_session(f, p1);
    wait_server_gone(f, id, p1);
}

/* --- pmemmap -----------------------------------------------------------*/

static const FixtureArgs memfd_ram = {
    .extra = "-object memory-backend-memfd,id=ram0,size=5G,share=on"
             " -machine memory-backend=ram0%.0s",
};
static const FixtureArgs memfd_ram_writable = {
    .write = true,
    .extra = "-object memory-backend-memfd,id=ram0,size=5G,share=on"
             " -machine memory-backend=ram0%.0s",
};
static const FixtureArgs file_ram = {
    .extra = "-object memory-backend-file,id=ram0,size=5G,share=on,"
             "mem-path=%s/ram -machine memory-backend=ram0",
};
/* a snapshot copies all of RAM: keep it small */
static const FixtureArgs small_ram = {
    .extra = "-m 1G%.0s",
};
static const FixtureArgs private_file_ram = {
    .extra = "-object memory-backend-file,id=ram0,size=5G,share=off,"
             "mem-path=%s/ram -machine memory-backend=ram0",
};

typedef struct {
    PmemAccessV2MapHead head;
    PmemAccessV2MapRange ranges[64];
    int fds[64];
    int nr_fds;
} MapReply;

/* MAP: returns the reply's error; the fds come with the reply header. */
static uint32_t v2_map(int fd, MapReply *m)
{
    char control[CMSG_SPACE(sizeof(int) * 64)];
    PmemAccessV2Reply r;
    struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control, .msg_controllen = sizeof(control),
    };
    struct cmsghdr *cmsg;
    uint32_t i;

    memset(m, 0, sizeof(*m));
    v2_send(fd, PMEMACCESS_V2_MAP, 0, 77, 0, 0, 0);
    g_assert_cmpint(recvmsg(fd, &msg, MSG_WAITALL), ==, sizeof(r));
    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
            m->nr_fds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(m->fds, CMSG_DATA(cmsg), m->nr_fds * sizeof(int));
        }
    }
    g_assert_cmphex(le32_to_cpu(r.magic), ==, PMEMACCESS_V2_REPLY_MAGIC);
    if (le32_to_cpu(r.error)) {
        g_assert_cmpint(m->nr_fds, ==, 0);
        return le32_to_cpu(r.error);
    }
    recv_all(fd, &m->head, sizeof(m->head));
    m->head.generation = le64_to_cpu(m->head.generation);
    m->head.nr_ranges = le32_to_cpu(m->head.nr_ranges);
    m->head.nr_fds = le32_to_cpu(m->head.nr_fds);
    m->head.flags = le32_to_cpu(m->head.flags);
    g_assert_cmpint(m->head.nr_fds, ==, m->nr_fds);
    g_assert_cmpint(m->head.nr_ranges, <=, ARRAY_SIZE(m->ranges));
    g_assert_cmpuint(le64_to_cpu(r.length), ==, sizeof(m->head) +
                     m->head.nr_ranges * sizeof(m->ranges[0]));
    recv_all(fd, m->ranges, m->head.nr_ranges * sizeof(m->ranges[0]));
    for (i = 0; i < m->head.nr_ranges; i++) {
        m->ranges[i].start = le64_to_cpu(m->ranges[i].start);
        m->ranges[i].length = le64_to_cpu(m->ranges[i].length);
        m->ranges[i].offset = le64_to_cpu(m->ranges[i].offset);
        m->ranges[i].fd_index = le32_to_cpu(m->ranges[i].fd_index);
        m->ranges[i].flags = le32_to_cpu(m->ranges[i].flags);
    }
    return 0;
}

static void map_close(MapReply *m)
{
    int i;

    for (i = 0; i < m->nr_fds; i++) {
        close(m->fds[i]);
    }
}

static PmemAccessV2MapRange *map_find(MapReply *m, uint64_t gpa)
{
    uint32_t i;

    for (i = 0; i < m->head.nr_ranges; i++) {
        if (m->ranges[i].start <= gpa &&
            gpa - m->ranges[i].start < m->ranges[i].length) {
            return &m->ranges[i];
        }
    }
    return NULL;
}

/* Map the page of guest memory at @gpa; returns a pointer to @gpa. */
static uint8_t *map_gpa(MapReply *m, uint64_t gpa, int prot, void **base)
{
    PmemAccessV2MapRange *r = map_find(m, gpa);
    uint64_t off;

    g_assert_nonnull(r);
    g_assert_cmpint(r->fd_index, <, m->nr_fds);
    off = r->offset + (gpa - r->start);
    *base = mmap(NULL, 2 * 4096, prot, MAP_SHARED, m->fds[r->fd_index],
                 off & ~4095ULL);
    if (*base == MAP_FAILED) {
        return NULL;
    }
    return (uint8_t *)*base + (off & 4095);
}

/* Run pmemmap with @args; its reply's protection */
static char *pmemmap_protection(Fixture *f, const char *args)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'pmemmap',"
                           " 'arguments': %p }", qobject_from_json(args,
                                                                 &error_abort));
    char *protection;

    g_assert(qdict_haskey(rsp, "return"));
    protection = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                        "protection"));
    qobject_unref(rsp);
    return protection;
}

static void pmemmap_ok(Fixture *f, const char *args)
{
    g_free(pmemmap_protection(f, args));
}

static void test_map_live(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    uint8_t fresh[64];
    void *base, *wbase;
    uint8_t *p;
    MapReply m;

    /* a read-only server never hands out writable fds */
    assert_qmp_error(f, "started without write", "{ 'execute': 'pmemmap',"
                     " 'arguments': { 'write': true } }");
    pmemmap_ok(f, "{}");
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    g_assert_cmpint(m.head.flags, ==, 0);   /* live, read-only */
    g_assert_cmpint(m.nr_fds, ==, 1);       /* one RAM block */

    /* below 4 GiB, and above: 4 GiB is 3 GiB into the block */
    p = map_gpa(&m, LOW_ADDR, PROT_READ, &base);
    g_assert_nonnull(p);
    g_assert_cmpmem(p, 64, f->low, 64);
    g_assert_cmpuint(map_find(&m, LOW_ADDR)->offset, ==,
                     map_find(&m, LOW_ADDR)->start);
    g_assert_cmpuint(map_find(&m, HIGH_ADDR)->start, ==, 4 * GiB);
    g_assert_cmpuint(map_find(&m, HIGH_ADDR)->offset, ==, 3 * GiB);
    g_assert_cmpstr(map_find(&m, HIGH_ADDR)->name, ==, "ram0");
    munmap(base, 2 * 4096);
    p = map_gpa(&m, HIGH_ADDR, PROT_READ, &base);
    g_assert_cmpmem(p, 64, f->high, 64);

    /* live: a guest write shows at once */
    fill_random(fresh, sizeof(fresh));
    qtest_memwrite(f->qts, HIGH_ADDR, fresh, sizeof(fresh));
    g_assert_cmpmem(p, 64, fresh, 64);

    /* read-only: no writable mapping, no upgrade */
    g_assert_null(map_gpa(&m, HIGH_ADDR, PROT_READ | PROT_WRITE, &wbase));
    g_assert_cmpint(errno, ==, EACCES);
    g_assert_cmpint(mprotect(base, 4096, PROT_READ | PROT_WRITE), ==, -1);
    munmap(base, 2 * 4096);

    /* the BIOS ROM is listed, not mappable (no fd): read it otherwise */
    g_assert_nonnull(map_find(&m, 4 * GiB - 16));
    g_assert_cmphex(map_find(&m, 4 * GiB - 16)->fd_index, ==,
                    PMEMACCESS_V2_MAP_NO_FD);
    g_assert_true(map_find(&m, 4 * GiB - 16)->flags &
                  PMEMACCESS_V2_RANGE_ROM);
    g_assert_null(map_find(&m, MMIO_ADDR));
    map_close(&m);
    close(fd);
}

static void test_map_writable(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    uint8_t buf[8];
    void *base;
    uint8_t *p;
    MapReply m;

    pmemmap_ok(f, "{ 'write': true }");
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    g_assert_cmpint(m.head.flags, ==, PMEMACCESS_V2_MAP_WRITABLE);
    p = map_gpa(&m, HIGH_ADDR, PROT_READ | PROT_WRITE, &base);
    g_assert_nonnull(p);
    memcpy(p, "written!", 8);
    qtest_memread(f->qts, HIGH_ADDR, buf, 8);
    g_assert_cmpmem(buf, 8, "written!", 8);
    munmap(base, 2 * 4096);
    map_close(&m);
    close(fd);

    /* such writes escape dirty tracking: no migration meanwhile */
    g_assert_true(migration_blocked_by_pmemmap(f));
    assert_qmp_error(f, "mapped writable by pmemmap", "{ 'execute':"
                     " 'migrate', 'arguments': { 'uri': 'unix:/x/y' } }");
    /* and the client may still hold writable fds: the blocker stays */
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");
    g_assert_true(migration_blocked_by_pmemmap(f));
    pmemmap_ok(f, "{}");
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemaccess-stop' }");
    g_assert_true(migration_blocked_by_pmemmap(f));
}

/* A writable offer that no client took blocks migration until withdrawn */
static void test_map_writable_untaken(Fixture *f, gconstpointer data)
{
    g_autofree char *protection = NULL;
    int fd = v2_connect(f, NULL);
    MapReply m;

    protection = pmemmap_protection(f, "{ 'write': true }");
    g_assert_cmpstr(protection, ==, "writable");
    g_assert_true(migration_blocked_by_pmemmap(f));
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");
    g_assert_false(migration_blocked_by_pmemmap(f));

    /* read-only fds given out leave migration alone */
    pmemmap_ok(f, "{}");
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    map_close(&m);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");
    g_assert_false(migration_blocked_by_pmemmap(f));
    close(fd);
}

/*
 * Whether a process running as another user, given @fd, can reopen it
 * for writing through /proc/self/fd (the test runs as root, so it can
 * try as nobody).
 */
static bool reopenable_by_others(int fd)
{
    g_autofree char *path = g_strdup_printf("/proc/self/fd/%d", fd);
    int status;
    pid_t pid;

    if (geteuid() != 0) {
        return false;
    }
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0) {
            _exit(2);
        }
        _exit(open(path, O_RDWR) >= 0 ? 0 : 1);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) < 2);
    return WEXITSTATUS(status) == 0;
}

static void test_map_file(Fixture *f, gconstpointer data)
{
    g_autofree char *ram = g_build_filename(f->dir, "ram", NULL);
    g_autofree char *protection = NULL;
    int fd = v2_connect(f, NULL);
    void *base;
    uint8_t *p;
    MapReply m;

    /* QEMU creates the file 0644: others cannot reopen it writable */
    protection = pmemmap_protection(f, "{}");
    g_assert_cmpstr(protection, ==, "read-only-file");
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    p = map_gpa(&m, HIGH_ADDR, PROT_READ, &base);
    g_assert_cmpmem(p, 64, f->high, 64);
    g_assert_null(map_gpa(&m, LOW_ADDR, PROT_READ | PROT_WRITE, &base));
    g_assert_false(reopenable_by_others(m.fds[0]));
    map_close(&m);

    /* a file that others may write is only read-only-fd */
    g_assert_cmpint(chmod(ram, 0666), ==, 0);
    g_free(protection);
    protection = pmemmap_protection(f, "{}");
    g_assert_cmpstr(protection, ==, "read-only-fd");
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    if (geteuid() == 0) {
        g_assert_true(reopenable_by_others(m.fds[0]));
    }
    map_close(&m);
    close(fd);
}

static void test_map_refused(Fixture *f, gconstpointer data)
{
    const FixtureArgs *args = data;
    int fd = v2_connect(f, NULL);
    PmemAccessV2Reply r;
    MapReply m;

    /* nothing offered yet */
    g_assert_cmpint(v2_map(fd, &m), ==, PMEMACCESS_V2_ENOMAP);
    v2_send(fd, PMEMACCESS_V2_GENERATION, 0, 9, 0, 0, 0);
    v2_recv_reply(fd, 9, &r);
    g_assert_cmpint(r.error, ==, PMEMACCESS_V2_ENOMAP);
    assert_qmp_error(f, "offers no mapping", "{ 'execute': 'pmemunmap' }");
    assert_qmp_error(f, "No pmemaccess server", "{ 'execute': 'pmemmap',"
                     " 'arguments': { 'server': 'nope' } }");
    assert_qmp_error(f, "cannot be writable", "{ 'execute': 'pmemmap',"
                     " 'arguments': { 'mode': 'snapshot', 'write': true } }");

    /* live RAM that cannot be shared: the error names the fix */
    assert_qmp_error(f, args->extra ? "private (share=off)" :
                     "not backed by a file descriptor",
                     "{ 'execute': 'pmemmap' }");
    assert_qmp_error(f, "memory-backend-memfd", "{ 'execute': 'pmemmap' }");
    assert_qmp_error(f, "share=on", "{ 'execute': 'pmemmap' }");
    g_assert_cmpint(v2_map(fd, &m), ==, PMEMACCESS_V2_ENOMAP);
    close(fd);
}

/*
 * QEMU's pid, from a connection that is gone when this returns: the
 * server accepted it (it may sit in the listen backlog for a while) and
 * its thread has ended.
 */
static int qemu_pid(Fixture *f)
{
    int64_t connections = server_stat(f, "pmemaccess", "connections");
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int fd = connect_path(f->path);
    int i;

    g_assert_cmpint(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len),
                    ==, 0);
    close(fd);
    for (i = 0; i < 500; i++) {
        if (server_stat(f, "pmemaccess", "connections") > connections) {
            break;
        }
        g_usleep(10 * 1000);
    }
    g_assert_cmpint(server_stat(f, "pmemaccess", "connections"), >,
                    connections);
    wait_clients(f, "pmemaccess", 0);
    return cred.pid;
}

/* QEMU's open fds, and how many of them are pmemmap snapshots */
static int qemu_fds(int pid, int *snapshots)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    int n = 0;

    *snapshots = 0;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *link = g_build_filename(dir, name, NULL);
        g_autofree char *target = g_file_read_link(link, NULL);

        n++;
        if (target && strstr(target, "memfd:pmemmap-snapshot")) {
            (*snapshots)++;
        }
    }
    return n;
}

/*
 * Wait until QEMU has @expected fds: a server thread closes its copies
 * of the fds it sent just after sending them.
 */
static void wait_qemu_fds(int pid, int expected)
{
    int i, snaps;

    for (i = 0; i < 500; i++) {
        if (qemu_fds(pid, &snaps) == expected) {
            return;
        }
        g_usleep(10 * 1000);
    }
    g_assert_cmpint(qemu_fds(pid, &snaps), ==, expected);
}

/* --- virtio-mem --------------------------------------------------------*/

/*
 * 128 MiB of virtio-mem, all of it unplugged (no guest driver plugs any):
 * its RamDiscardManager has discarded every block.  The backend is a
 * shared memfd, which a read would populate again.
 */
static const FixtureArgs virtio_mem = {
    .extra = "-m 1G,maxmem=2G"
             " -object memory-backend-memfd,id=ram0,size=1G,share=on"
             " -machine memory-backend=ram0"
             " -object memory-backend-memfd,id=vmem0,size=128M,share=on"
             " -device virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"
             "%.0s",
};

/* What QEMU has allocated of the virtio-mem memfd (128 MiB), in bytes */
static uint64_t virtio_mem_allocated(int pid)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    int found = 0;
    uint64_t bytes = 0;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *link = g_build_filename(dir, name, NULL);
        g_autofree char *target = g_file_read_link(link, NULL);
        struct stat st;

        if (target && strstr(target, "memfd:memory-backend-memfd") &&
            stat(link, &st) == 0 && st.st_size == 128 * MiB) {
            bytes = st.st_blocks * 512;
            found++;
        }
    }
    g_assert_cmpint(found, ==, 1);
    return bytes;
}

static void test_virtio_mem_discarded(Fixture *f, gconstpointer data)
{
    int pid = qemu_pid(f), fd = v2_connect(f, NULL), v1 = connect_path(f->path);
    uint64_t base, fail = 0;
    uint8_t buf[PAT_LEN];
    QDict *rsp;
    MapReply m;
    PmemAccessV2MapRange *r;

    rsp = qtest_qmp(f->qts, "{ 'execute': 'qom-get', 'arguments': {"
                    " 'path': '/machine/peripheral/vm0',"
                    " 'property': 'memaddr' } }");
    base = qdict_get_int(rsp, "return");
    qobject_unref(rsp);
    g_assert_cmpuint(virtio_mem_allocated(pid), ==, 0);

    /* v2 READ, READ in the middle, v1: refused where it starts */
    g_assert_cmpint(v2_read_flags(fd, 0, 0, base, buf, PAT_LEN, &fail), ==,
                    PMEMACCESS_V2_ENOTRAM);
    g_assert_cmphex(fail, ==, base);
    g_assert_cmpint(v2_read_flags(fd, 0, 0, base + 64 * MiB + 8, buf, 16,
                                  &fail), ==, PMEMACCESS_V2_ENOTRAM);
    g_assert_cmphex(fail, ==, base + 64 * MiB + 8);
    g_assert_cmpint(v1_read(v1, base, buf, PAT_LEN), ==, 0);
    assert_qmp_error(f, "not RAM", "{ 'execute': 'read-guest-memory',"
                     " 'arguments': { 'addr': %" PRIu64 ","
                     " 'size': 4096 } }", base);

    /* a live map lists it, with no fd: mapping it would populate it */
    pmemmap_ok(f, "{}");
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    r = map_find(&m, base);
    g_assert_nonnull(r);
    g_assert_cmpuint(r->fd_index, ==, PMEMACCESS_V2_MAP_NO_FD);
    g_assert_true(g_str_has_suffix(r->name, "vmem0"));   /* its RAM block */
    map_close(&m);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");

    /* a snapshot skips it: holes, and nothing read */
    pmemmap_ok(f, "{ 'mode': 'snapshot' }");
    g_assert_cmpuint(virtio_mem_allocated(pid), ==, 0);

    /* the rest of guest RAM reads as before */
    g_assert_cmpint(v2_read(fd, LOW_ADDR, buf, PAT_LEN), ==, 0);
    g_assert_cmpmem(buf, PAT_LEN, f->low, PAT_LEN);
    close(v1);
    close(fd);
}

static void test_map_snapshot(Fixture *f, gconstpointer data)
{
    int pid = qemu_pid(f), snaps, before, during, fd;
    uint8_t fresh[64];
    void *base, *wbase;
    uint8_t *p;
    MapReply m;

    before = qemu_fds(pid, &snaps);
    g_assert_cmpint(snaps, ==, 0);
    pmemmap_ok(f, "{ 'mode': 'snapshot' }");
    during = qemu_fds(pid, &snaps);
    g_assert_cmpint(snaps, >, 0);
    g_assert_cmpint(during, ==, before + snaps);

    fd = v2_connect(f, NULL);
    wait_clients(f, "pmemaccess", 1);
    during++;                               /* our connection */
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    g_assert_cmpint(m.head.flags, ==,
                    PMEMACCESS_V2_MAP_SNAPSHOT | PMEMACCESS_V2_MAP_SEALED);
    p = map_gpa(&m, LOW_ADDR, PROT_READ, &base);
    g_assert_cmpmem(p, 64, f->low, 64);

    /* the guest moves on; the snapshot does not */
    fill_random(fresh, sizeof(fresh));
    qtest_memwrite(f->qts, LOW_ADDR, fresh, sizeof(fresh));
    g_assert_cmpmem(p, 64, f->low, 64);

    /* sealed: nobody may write it, even with a writable description */
    g_assert_true(fcntl(m.fds[0], F_GET_SEALS) & F_SEAL_WRITE);
    g_assert_null(map_gpa(&m, LOW_ADDR, PROT_READ | PROT_WRITE, &wbase));
    g_assert_cmpint(errno, ==, EPERM);
    /* BIOS ROM is in the snapshot too */
    g_assert_cmphex(map_find(&m, 4 * GiB - 16)->fd_index, !=,
                    PMEMACCESS_V2_MAP_NO_FD);

    /* MAP gave us fds of our own: QEMU's count is back where it was */
    wait_qemu_fds(pid, during);

    /* unmap releases the memfds in QEMU; our mapping lives on */
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");
    wait_qemu_fds(pid, before + 1);         /* our connection */
    qemu_fds(pid, &snaps);
    g_assert_cmpint(snaps, ==, 0);
    p = (uint8_t *)base + (LOW_ADDR & 4095);
    g_assert_cmpmem(p, 64, f->low, 64);
    munmap(base, 2 * 4096);
    map_close(&m);
    g_assert_cmpint(v2_map(fd, &m), ==, PMEMACCESS_V2_ENOMAP);
    close(fd);
}

/* PAM0 (config 0x59), bits 4-5: 0xf0000-0xfffff as RAM (@ram) or ROM */
static void pam_bios_shadow(Fixture *f, bool ram)
{
    qtest_outl(f->qts, 0xcf8, 0x80000058);
    qtest_outb(f->qts, 0xcfd, ram ? 0x30 : 0x00);
}

/*
 * While no server offers a map, QEMU does not watch the memory map: no
 * event, whatever the guest does.  The next pmemmap counts one change
 * if the layout differs from the one at the withdrawal, none if the
 * guest has put it back.
 */
static void test_map_unwatched(Fixture *f, gconstpointer data)
{
    g_autofree char *protection = NULL;
    uint64_t gen, gen2;
    QDict *rsp;
    int i;

    protection = pmemmap_protection(f, "{}");
    g_assert_cmpstr(protection, ==, "read-only-fd");
    rsp = qtest_qmp(f->qts, "{ 'execute': 'pmemmap' }");
    gen = qdict_get_int(qdict_get_qdict(rsp, "return"), "generation");
    qobject_unref(rsp);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");

    for (i = 0; i < 4; i++) {
        pam_bios_shadow(f, !(i % 2));
    }
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'query-status' }");
    g_assert_null(qtest_qmp_event_ref(f->qts, "PMEMMAP_LAYOUT_CHANGED"));
    rsp = qtest_qmp(f->qts, "{ 'execute': 'pmemmap' }");
    gen2 = qdict_get_int(qdict_get_qdict(rsp, "return"), "generation");
    qobject_unref(rsp);
    g_assert_cmpuint(gen2, ==, gen);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");

    pam_bios_shadow(f, true);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'query-status' }");
    g_assert_null(qtest_qmp_event_ref(f->qts, "PMEMMAP_LAYOUT_CHANGED"));
    rsp = qtest_qmp(f->qts, "{ 'execute': 'pmemmap' }");
    gen2 = qdict_get_int(qdict_get_qdict(rsp, "return"), "generation");
    qobject_unref(rsp);
    g_assert_cmpuint(gen2, ==, gen + 1);
    rsp = qtest_qmp_eventwait_ref(f->qts, "PMEMMAP_LAYOUT_CHANGED");
    g_assert_cmpuint(qdict_get_int(qdict_get_qdict(rsp, "data"),
                                   "generation"), ==, gen + 1);
    qobject_unref(rsp);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");
}

/*
 * The layout changes under a live map: the i440FX PAM register turns
 * the BIOS shadow at 0xf0000 from ROM into RAM.  The generation moves,
 * an event says so, and MAP shows the new layout.
 */
static void test_map_generation(Fixture *f, gconstpointer data)
{
    int pid = qemu_pid(f), snaps, before, i;
    int fd = v2_connect(f, NULL);
    PmemAccessV2Reply r;
    uint64_t gen, gen2;
    MapReply m;
    QDict *ev;

    pmemmap_ok(f, "{}");
    wait_clients(f, "pmemaccess", 1);
    before = qemu_fds(pid, &snaps);         /* pmemmap itself keeps none */
    v2_send(fd, PMEMACCESS_V2_GENERATION, 0, 1, 0, 0, 0);
    v2_recv_reply(fd, 1, &r);
    g_assert_cmpuint(r.length, ==, 8);
    recv_all(fd, &gen, 8);
    gen = le64_to_cpu(gen);
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    g_assert_cmpuint(m.head.generation, ==, gen);
    g_assert_true(map_find(&m, 0xf0000)->flags & PMEMACCESS_V2_RANGE_ROM);
    map_close(&m);

    /* PAM0 (config 0x59), bits 4-5: 0xf0000-0xfffff is RAM, read-write */
    qtest_outl(f->qts, 0xcf8, 0x80000058);
    qtest_outb(f->qts, 0xcfd, 0x30);
    ev = qtest_qmp_eventwait_ref(f->qts, "PMEMMAP_LAYOUT_CHANGED");
    gen2 = qdict_get_int(qdict_get_qdict(ev, "data"), "generation");
    qobject_unref(ev);
    g_assert_cmpuint(gen2, >, gen);

    v2_send(fd, PMEMACCESS_V2_GENERATION, 0, 2, 0, 0, 0);
    v2_recv_reply(fd, 2, &r);
    recv_all(fd, &gen, 8);
    g_assert_cmpuint(le64_to_cpu(gen), ==, gen2);
    g_assert_cmpint(v2_map(fd, &m), ==, 0);
    g_assert_cmpuint(m.head.generation, ==, gen2);
    g_assert_false(map_find(&m, 0xf0000)->flags & PMEMACCESS_V2_RANGE_ROM);
    g_assert_cmpint(map_find(&m, 0xf0000)->fd_index, ==, 0);
    g_assert_cmpuint(map_find(&m, 0xf0000)->offset, ==, 0xf0000);
    map_close(&m);

    /* live MAPs leave nothing behind in QEMU */
    for (i = 0; i < 10; i++) {
        g_assert_cmpint(v2_map(fd, &m), ==, 0);
        map_close(&m);
    }
    wait_qemu_fds(pid, before);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");
    close(fd);
}

/* The PMEMMAP_LAYOUT_CHANGED events queued now (the monitor is synced) */
static int layout_events(Fixture *f, uint64_t *last_generation)
{
    QDict *ev;
    int n = 0;

    qtest_qmp_assert_success(f->qts, "{ 'execute': 'query-status' }");
    while ((ev = qtest_qmp_event_ref(f->qts, "PMEMMAP_LAYOUT_CHANGED"))) {
        *last_generation = qdict_get_int(qdict_get_qdict(ev, "data"),
                                         "generation");
        qobject_unref(ev);
        n++;
    }
    return n;
}

/*
 * A guest flipping its PAM register in a loop must not flood the monitor:
 * the event is limited to one a second, as QEMU's other guest-triggered
 * events are, and the one sent at the end of the second carries the
 * latest generation.  (Under qtest the limit runs on virtual time.)
 */
static void test_map_event_rate(Fixture *f, gconstpointer data)
{
    int fd = v2_connect(f, NULL);
    PmemAccessV2Reply r;
    uint64_t first = 0, last = 0, gen;
    int i;

    pmemmap_ok(f, "{}");
    for (i = 0; i < 400; i++) {
        qtest_outl(f->qts, 0xcf8, 0x80000058);
        qtest_outb(f->qts, 0xcfd, i % 2 ? 0x00 : 0x30);
    }
    g_assert_cmpint(layout_events(f, &first), ==, 1);
    g_assert_cmpint(layout_events(f, &last), ==, 0);
    qtest_clock_step(f->qts, 1000 * 1000 * 1000);    /* 1 s */
    g_assert_cmpint(layout_events(f, &last), ==, 1);
    g_assert_cmpuint(last, >=, first + 399);

    v2_send(fd, PMEMACCESS_V2_GENERATION, 0, 1, 0, 0, 0);
    v2_recv_reply(fd, 1, &r);
    recv_all(fd, &gen, 8);
    g_assert_cmpuint(le64_to_cpu(gen), ==, last);
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'pmemunmap' }");
    close(fd);
}

static void add(const char *name, const FixtureArgs *args,
                void (*fn)(Fixture *, gconstpointer))
{
    g_autofree char *path = g_strdup_printf("/pmemaccess/%s", name);

    g_test_add(path, Fixture, args, fixture_setup, fn, fixture_teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    add("v1/read", &read_only, test_v1_read);
    add("v1/large-read", &read_only, test_v1_large_read);
    add("v1/write-refused", &read_only, test_v1_write_refused);
    add("v1/write", &writable, test_v1_write);
    add("v1/bad", &read_only, test_v1_bad);
    add("v2/hello", &read_only, test_v2_hello);
    add("v2/read", &read_only, test_v2_read);
    add("v2/write", &writable, test_v2_write);
    add("v2/write-refused", &read_only, test_v2_write_refused);
    add("v2/readv", &read_only, test_v2_readv);
    add("v2/layout", &read_only, test_v2_layout);
    add("v2/paused", &read_only, test_v2_paused);
    add("v2/paused-concurrent", &read_only, test_v2_paused_concurrent);
    add("v2/virtual", &read_only, test_v2_virtual);
    add("v2/bad", &read_only, test_v2_bad);
    add("server/two-clients", &read_only, test_two_clients);
    add("server/vanishing-clients", &read_only, test_vanishing_clients);
    add("server/max-clients", &read_only, test_max_clients);
    add("server/stalled-requests", &no_server, test_stalled_requests);
    add("server/stop-restart", &read_only, test_stop_restart);
    add("server/quit-with-clients", &read_only, test_quit_with_clients);
    add("server/stop-waits", &named_threads, test_stop_waits);
    add("server/getfd", &no_server, test_getfd);
    add("server/add-fd", &no_server, test_add_fd);
    add("server/passed-tcp", &no_server, test_passed_tcp);
    add("server/bad-commands", &read_only, test_bad_commands);
    add("lifetime/libvmi", &read_only, test_lifetime_libvmi);
    add("lifetime/connect-timeout", &read_only,
        test_lifetime_connect_timeout);
    add("lifetime/names", &no_server, test_lifetime_names);
    add("map/live-memfd", &memfd_ram, test_map_live);
    add("map/writable", &memfd_ram_writable, test_map_writable);
    add("map/live-file", &file_ram, test_map_file);
    add("map/generation", &memfd_ram, test_map_generation);
    add("map/event-rate", &memfd_ram, test_map_event_rate);
    add("map/refused-anonymous", &read_only, test_map_refused);
    add("map/refused-private-file", &private_file_ram, test_map_refused);
    add("map/snapshot", &small_ram, test_map_snapshot);
    add("map/writable-untaken", &memfd_ram_writable,
        test_map_writable_untaken);
    add("map/unwatched", &memfd_ram, test_map_unwatched);
    if (qtest_has_device("virtio-mem-pci")) {
        add("virtio-mem/discarded", &virtio_mem, test_virtio_mem_discarded);
    }

    return g_test_run();
}
