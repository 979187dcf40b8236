/*
 * QTest for the pmemsave and memsave commands, HMP and QMP: sizes above
 * 4 GiB, guest memory above 4 GiB, rejection of bad ranges, and the
 * ranges that keep working as before (empty, MMIO above RAM).
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"

/*
 * With -m 8G the pc machine has 3 GiB of RAM below 4 GiB and 5 GiB above,
 * so a range of more than 4 GiB starting at 4 GiB is RAM all the way.
 * Dumps that size are slow tests (g_test_slow); the quick ones take a
 * guest with 1 GiB of RAM above 4 GiB and check the same paths on pages.
 */
#define BIG_GUEST_ARGS  "-machine pc -m 8G"
#define GUEST_ARGS      "-machine pc -m 4G"
#define HIGH_BASE       (4 * GiB)
#define LOW_BASE        (1 * MiB)
#define BIG_SIZE        (4 * GiB + 8 * KiB)
#define PATTERN_LEN     (4 * KiB)

typedef struct {
    QTestState *qts;
    char *dir;
    uint8_t low[PATTERN_LEN];       /* at LOW_BASE */
    uint8_t head[PATTERN_LEN];      /* at HIGH_BASE + 4 KiB */
    uint8_t tail[PATTERN_LEN];      /* at HIGH_BASE + 4 GiB + 4 KiB */
    bool big;                       /* -m 8G, tail written */
} Fixture;

static void fill_random(uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = g_test_rand_int_range(1, 256);
    }
}

/* @data: non-NULL for the big guest, with RAM up to 9 GiB */
static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->big = data != NULL;
    f->qts = qtest_init(f->big ? BIG_GUEST_ARGS : GUEST_ARGS);
    f->dir = g_dir_make_tmp("pmemsave-test-XXXXXX", NULL);
    g_assert(f->dir);

    fill_random(f->low, sizeof(f->low));
    fill_random(f->head, sizeof(f->head));
    fill_random(f->tail, sizeof(f->tail));
    qtest_memwrite(f->qts, LOW_BASE, f->low, sizeof(f->low));
    qtest_memwrite(f->qts, HIGH_BASE + 4 * KiB, f->head, sizeof(f->head));
    if (f->big) {
        qtest_memwrite(f->qts, HIGH_BASE + 4 * GiB + 4 * KiB,
                       f->tail, sizeof(f->tail));
    }
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(f->dir, name, NULL);
        unlink(path);
    }
    rmdir(f->dir);
    g_free(f->dir);
    qtest_quit(f->qts);
}

static char *fixture_path(Fixture *f, const char *name)
{
    return g_build_filename(f->dir, name, NULL);
}

/* The guest still answers: a bad command must not have hurt it. */
static void assert_alive(Fixture *f)
{
    qtest_qmp_assert_success(f->qts, "{ 'execute': 'query-status' }");
}

/*
 * Check that @path holds exactly the BIG_SIZE bytes at HIGH_BASE: the two
 * patterns at their offsets and zeros (untouched RAM) everywhere else.
 * Every data extent is read and compared; holes read as zeros by
 * definition, so they need no reading.
 */
static void assert_big_dump(Fixture *f, const char *path)
{
    struct stat st;
    off_t data, hole;
    int found = 0, patterns = 0;
    uint64_t at;
    int fd;

    fd = open(path, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    g_assert_cmpuint(st.st_size, ==, BIG_SIZE);

    for (data = lseek(fd, 0, SEEK_DATA); data >= 0 && data < BIG_SIZE;
         data = lseek(fd, hole, SEEK_DATA)) {
        g_autofree uint8_t *buf = NULL;

        hole = lseek(fd, data, SEEK_HOLE);
        g_assert_cmpint(hole, >, data);
        g_assert_cmpint(hole - data, <=, 64 * MiB);
        buf = g_malloc(hole - data);
        g_assert_cmpint(pread(fd, buf, hole - data, data), ==, hole - data);

        for (at = 4 * KiB; at < BIG_SIZE; at += 4 * GiB) {
            const uint8_t *pattern = at < 4 * GiB ? f->head : f->tail;

            if (at >= data && at + PATTERN_LEN <= hole) {
                g_assert_cmpmem(buf + at - data, PATTERN_LEN,
                                pattern, PATTERN_LEN);
                memset(buf + at - data, 0, PATTERN_LEN);
                found++;
            } else {
                /* a pattern never straddles an extent boundary */
                g_assert_true(at + PATTERN_LEN <= data || at >= hole);
            }
        }
        g_assert_true(buffer_is_zero(buf, hole - data));
    }
    /*
     * Every pattern is in a data extent (one left in a hole, e.g. by a
     * dump that stopped at 4 GiB, was never compared), and little else
     * was written.
     */
    for (at = 4 * KiB; at < BIG_SIZE; at += 4 * GiB) {
        patterns++;
    }
    g_assert_cmpint(patterns, ==, 2);
    g_assert_cmpint(found, ==, patterns);
    g_assert_cmpuint(st.st_blocks * 512, >=, 2 * PATTERN_LEN);
    g_assert_cmpuint(st.st_blocks * 512, <, 16 * MiB);
    close(fd);
}

/* @path holds exactly the PATTERN_LEN bytes of @pattern */
static void assert_pattern_dump(const char *path, const uint8_t *pattern)
{
    g_autofree char *contents = NULL;
    size_t len;

    g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, pattern, PATTERN_LEN);
}

static void test_hmp_low(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *v = fixture_path(f, "v");
    g_autofree char *out = NULL;

    out = qtest_hmp(f->qts, "pmemsave 0x%" PRIx64 " 4096 \"%s\"",
                    (uint64_t)LOW_BASE, p);
    g_assert_cmpstr(out, ==, "");
    assert_pattern_dump(p, f->low);

    /* memsave goes through CPU 0, in real mode: virtual == physical */
    g_free(out);
    out = qtest_hmp(f->qts, "memsave 0x%" PRIx64 " 4096 \"%s\"",
                    (uint64_t)LOW_BASE, v);
    g_assert_cmpstr(out, ==, "");
    assert_pattern_dump(v, f->low);
}

static void test_hmp_above_4g(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *v = fixture_path(f, "v");
    g_autofree char *out = NULL;

    out = qtest_hmp(f->qts, "pmemsave 0x%" PRIx64 " 0x%" PRIx64 " \"%s\"",
                    (uint64_t)HIGH_BASE, (uint64_t)BIG_SIZE, p);
    g_assert_cmpstr(out, ==, "");
    assert_big_dump(f, p);
    unlink(p);

    g_free(out);
    out = qtest_hmp(f->qts, "memsave 0x%" PRIx64 " %" PRIu64 " \"%s\"",
                    (uint64_t)HIGH_BASE, (uint64_t)BIG_SIZE, v);
    g_assert_cmpstr(out, ==, "");
    assert_big_dump(f, v);
}

/* Arithmetic and a suffix: 4G + 8K, a size above 4 GiB */
static void test_hmp_size_suffix_big(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *out = NULL;

    out = qtest_hmp(f->qts, "pmemsave 4G 4G+8k \"%s\"", p);
    g_assert_cmpstr(out, ==, "");
    assert_big_dump(f, p);
}

static void test_hmp_size_suffix(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *out = NULL;

    /* A bare number stays a byte count: 4096 bytes, the head pattern */
    out = qtest_hmp(f->qts, "pmemsave 4G+4k 4096 \"%s\"", p);
    g_assert_cmpstr(out, ==, "");
    assert_pattern_dump(p, f->head);
    unlink(p);

    /* A suffix on the size, and arithmetic */
    g_free(out);
    out = qtest_hmp(f->qts, "pmemsave 4G+4k 2k*2 \"%s\"", p);
    g_assert_cmpstr(out, ==, "");
    assert_pattern_dump(p, f->head);

    /* An 'M' argument counts MiB: it takes no suffix, as before */
    g_free(out);
    out = qtest_hmp(f->qts, "balloon 2G");
    g_assert_nonnull(strstr(out, "extraneous characters"));
}

/* A page above 4 GiB through both commands, HMP and QMP */
static void test_above_4g_page(Fixture *f, gconstpointer data)
{
    static const char *const cmds[] = { "pmemsave", "memsave" };
    int i;

    for (i = 0; i < ARRAY_SIZE(cmds); i++) {
        g_autofree char *h = fixture_path(f, "h");
        g_autofree char *q = fixture_path(f, "q");
        g_autofree char *out = NULL;

        out = qtest_hmp(f->qts, "%s 0x%" PRIx64 " %d \"%s\"", cmds[i],
                        (uint64_t)HIGH_BASE + 4 * KiB, (int)PATTERN_LEN, h);
        g_assert_cmpstr(out, ==, "");
        assert_pattern_dump(h, f->head);
        qtest_qmp_assert_success(f->qts,
            "{ 'execute': %s, 'arguments': {"
            " 'val': %" PRIu64 ", 'size': %d, 'filename': %s } }",
            cmds[i], (uint64_t)HIGH_BASE + 4 * KiB, (int)PATTERN_LEN, q);
        assert_pattern_dump(q, f->head);
        unlink(h);
        unlink(q);
    }
}

static void test_qmp_above_4g(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *v = fixture_path(f, "v");

    qtest_qmp_assert_success(f->qts,
        "{ 'execute': 'pmemsave', 'arguments': {"
        " 'val': %" PRIu64 ", 'size': %" PRIu64 ", 'filename': %s } }",
        (uint64_t)HIGH_BASE, (uint64_t)BIG_SIZE, p);
    assert_big_dump(f, p);
    unlink(p);

    qtest_qmp_assert_success(f->qts,
        "{ 'execute': 'memsave', 'arguments': {"
        " 'val': %" PRIu64 ", 'size': %" PRIu64 ", 'filename': %s,"
        " 'cpu-index': 0 } }",
        (uint64_t)HIGH_BASE, (uint64_t)BIG_SIZE, v);
    assert_big_dump(f, v);
}

typedef struct {
    const char *what;
    const char *cmd;        /* pmemsave or memsave */
    int64_t val;            /* as a JSON client may send them */
    int64_t size;
    const char *error;      /* substring of the error */
} BadRange;

static const BadRange bad_ranges[] = {
    { "negative size", "pmemsave", 0, -1, "must not be negative" },
    { "negative size", "memsave", 0, -1024, "must not be negative" },
    { "wrapping range", "pmemsave", -65536, 131072, "wraps past the end" },
    { "wrapping range", "memsave", -65536, 131072, "wraps past the end" },
    { NULL }
};

static void test_qmp_bad_ranges(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    const BadRange *b;

    for (b = bad_ranges; b->what; b++) {
        QDict *rsp;
        const char *desc;

        rsp = qtest_qmp(f->qts, "{ 'execute': %s, 'arguments': {"
                        " 'val': %" PRId64 ", 'size': %" PRId64 ","
                        " 'filename': %s } }", b->cmd, b->val, b->size, p);
        g_assert(qdict_haskey(rsp, "error"));
        desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
        g_test_message("%s %s: %s", b->cmd, b->what, desc);
        g_assert_nonnull(strstr(desc, b->error));
        qobject_unref(rsp);
        /* Rejected before the file is created */
        g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
        assert_alive(f);
    }
}

static void test_qmp_bad_file(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "no-such-dir/p");
    QDict *rsp;

    rsp = qtest_qmp(f->qts, "{ 'execute': 'pmemsave', 'arguments': {"
                    " 'val': 0, 'size': 4096, 'filename': %s } }", p);
    g_assert(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "Could not open"));
    qobject_unref(rsp);

    rsp = qtest_qmp(f->qts, "{ 'execute': 'memsave', 'arguments': {"
                    " 'val': 0, 'size': 4096, 'filename': 'x',"
                    " 'cpu-index': 99 } }");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    assert_alive(f);
}

static void test_hmp_bad_ranges(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    static const char *const cmds[][2] = {
        /* "0 -1" would be one expression, 0 - 1 */
        { "pmemsave 0 (-1)", "must not be negative" },
        { "memsave 0 (-1)", "must not be negative" },
        { "pmemsave 0xffffffffffff0000 0x20000", "wraps past the end" },
        /* sizes above 4 GiB arrive whole: the range wraps, no 32 bits */
        { "pmemsave 0xffffffff00000000 0x100001000", "+ 0x100001000 wraps" },
        { "memsave 0xffffffff00000000 4G+4k", "+ 0x100001000 wraps" },
        { "pmemsave 0 16E", "number too large" },
    };
    int i;

    for (i = 0; i < ARRAY_SIZE(cmds); i++) {
        g_autofree char *out = qtest_hmp(f->qts, "%s \"%s\"",
                                             cmds[i][0], p);

        g_test_message("%s -> %s", cmds[i][0], out);
        g_assert_nonnull(strstr(out, cmds[i][1]));
        g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
    }
    assert_alive(f);
}

/* An empty range makes an empty file, as it always did */
static void test_empty(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *v = fixture_path(f, "v");
    g_autofree char *h = fixture_path(f, "h");
    g_autofree char *out = NULL;
    struct stat st;

    qtest_qmp_assert_success(f->qts,
        "{ 'execute': 'pmemsave', 'arguments': {"
        " 'val': 4096, 'size': 0, 'filename': %s } }", p);
    qtest_qmp_assert_success(f->qts,
        "{ 'execute': 'memsave', 'arguments': {"
        " 'val': 4096, 'size': 0, 'filename': %s } }", v);
    out = qtest_hmp(f->qts, "pmemsave 0 0 \"%s\"", h);
    g_assert_cmpstr(out, ==, "");
    g_assert_cmpint(stat(p, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 0);
    g_assert_cmpint(stat(v, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 0);
    g_assert_cmpint(stat(h, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 0);
}

/*
 * virtio-rng-pci's modern BAR 4 is a 64-bit memory BAR: map it far above
 * RAM, as firmware maps large BARs, and dump it.  pmemsave reads MMIO as
 * the CPUs would, wherever it is: this range ends far beyond the last
 * byte of RAM or ROM and must dump all the same.
 */
#define BAR_GUEST_ARGS  "-machine pc -m 128M -device virtio-rng-pci,addr=04.0"
#define BAR_ADDR        0x4000000000ULL     /* 256 GiB */
#define BAR_DEVFN       (4 << 3)
#define BAR_LEN         64

static uint32_t pci_config_addr(int offset)
{
    return 0x80000000u | BAR_DEVFN << 8 | offset;
}

static void test_bar_above_ram(void)
{
    QTestState *qts = qtest_init(BAR_GUEST_ARGS);
    g_autofree char *dir = g_dir_make_tmp("pmemsave-test-XXXXXX", NULL);
    g_autofree char *p = g_build_filename(dir, "p", NULL);
    g_autofree char *h = g_build_filename(dir, "h", NULL);
    g_autofree char *out = NULL;
    g_autofree char *contents = NULL;
    uint8_t expect[BAR_LEN];
    uint32_t features;
    size_t len;

    /* BAR 4 (config offset 0x20) is 64-bit: bits 2:1 are 0b10 */
    qtest_outl(qts, 0xcf8, pci_config_addr(0x20));
    g_assert_cmphex(qtest_inl(qts, 0xcfc) & 0x6, ==, 0x4);
    qtest_outl(qts, 0xcfc, (uint32_t)BAR_ADDR);
    qtest_outl(qts, 0xcf8, pci_config_addr(0x24));
    qtest_outl(qts, 0xcfc, BAR_ADDR >> 32);
    qtest_outl(qts, 0xcf8, pci_config_addr(0x04));
    qtest_outw(qts, 0xcfc, 0x2);                /* memory space on */

    /* the common configuration: device_feature, bits 0-31, at 4 */
    features = qtest_readl(qts, BAR_ADDR + 4);
    g_assert_cmphex(features, !=, 0);
    qtest_memread(qts, BAR_ADDR, expect, sizeof(expect));

    qtest_qmp_assert_success(qts,
        "{ 'execute': 'pmemsave', 'arguments': {"
        " 'val': %" PRIu64 ", 'size': %d, 'filename': %s } }",
        (uint64_t)BAR_ADDR, BAR_LEN, p);
    g_assert_true(g_file_get_contents(p, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, expect, sizeof(expect));
    g_assert_cmphex(ldl_le_p(contents + 4), ==, features);

    out = qtest_hmp(qts, "pmemsave 256G %d \"%s\"", BAR_LEN, h);
    g_assert_cmpstr(out, ==, "");
    g_free(contents);
    g_assert_true(g_file_get_contents(h, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, expect, sizeof(expect));

    unlink(p);
    unlink(h);
    rmdir(dir);
    qtest_quit(qts);
}

static void add_test(const char *name,
                     void (*fn)(Fixture *, gconstpointer), bool big)
{
    g_autofree char *path = g_strdup_printf("/pmemsave/%s", name);

    g_test_add(path, Fixture, big ? "big" : NULL, fixture_setup, fn,
               fixture_teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    add_test("hmp/low", test_hmp_low, false);
    add_test("hmp/size-suffix", test_hmp_size_suffix, false);
    add_test("hmp/bad-ranges", test_hmp_bad_ranges, false);
    add_test("above-4g-page", test_above_4g_page, false);
    add_test("qmp/bad-ranges", test_qmp_bad_ranges, false);
    add_test("qmp/bad-file", test_qmp_bad_file, false);
    add_test("empty", test_empty, false);
    qtest_add_func("/pmemsave/bar-above-ram", test_bar_above_ram);
    if (g_test_slow()) {
        /* more than 4 GiB in one command: 8 GiB guest, 4 GiB files */
        add_test("hmp/above-4g", test_hmp_above_4g, true);
        add_test("hmp/size-suffix-big", test_hmp_size_suffix_big, true);
        add_test("qmp/above-4g", test_qmp_above_4g, true);
    }

    return g_test_run();
}
