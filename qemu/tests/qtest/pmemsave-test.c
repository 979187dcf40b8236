/*
 * QTest for the pmemsave and memsave commands, HMP and QMP: sizes above
 * 4 GiB, guest memory above 4 GiB, and rejection of bad ranges.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"

/*
 * With -m 8G the pc machine has 3 GiB of RAM below 4 GiB and 5 GiB above,
 * so a range of more than 4 GiB starting at 4 GiB is RAM all the way.
 */
#define GUEST_ARGS      "-machine pc -m 8G"
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
} Fixture;

static void fill_random(uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = g_test_rand_int_range(1, 256);
    }
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->qts = qtest_init(GUEST_ARGS);
    f->dir = g_dir_make_tmp("pmemsave-test-XXXXXX", NULL);
    g_assert(f->dir);

    fill_random(f->low, sizeof(f->low));
    fill_random(f->head, sizeof(f->head));
    fill_random(f->tail, sizeof(f->tail));
    qtest_memwrite(f->qts, LOW_BASE, f->low, sizeof(f->low));
    qtest_memwrite(f->qts, HIGH_BASE + 4 * KiB, f->head, sizeof(f->head));
    qtest_memwrite(f->qts, HIGH_BASE + 4 * GiB + 4 * KiB,
                   f->tail, sizeof(f->tail));
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

static void assert_low_dump(Fixture *f, const char *path)
{
    g_autofree char *contents = NULL;
    size_t len;

    g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, f->low, PATTERN_LEN);
}

static void test_hmp_low(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *v = fixture_path(f, "v");
    g_autofree char *out = NULL;

    out = qtest_hmp(f->qts, "pmemsave 0x%" PRIx64 " 4096 \"%s\"",
                    (uint64_t)LOW_BASE, p);
    g_assert_cmpstr(out, ==, "");
    assert_low_dump(f, p);

    /* memsave goes through CPU 0, in real mode: virtual == physical */
    g_free(out);
    out = qtest_hmp(f->qts, "memsave 0x%" PRIx64 " 4096 \"%s\"",
                    (uint64_t)LOW_BASE, v);
    g_assert_cmpstr(out, ==, "");
    assert_low_dump(f, v);
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

static void test_hmp_size_suffix(Fixture *f, gconstpointer data)
{
    g_autofree char *p = fixture_path(f, "p");
    g_autofree char *out = NULL;
    g_autofree char *contents = NULL;
    size_t len;
    struct stat st;

    /* Arithmetic and a suffix: 4G + 8K */
    out = qtest_hmp(f->qts, "pmemsave 4G 4G+8k \"%s\"", p);
    g_assert_cmpstr(out, ==, "");
    assert_big_dump(f, p);
    unlink(p);

    /* A bare number stays a byte count: 4096 bytes, the head pattern */
    g_free(out);
    out = qtest_hmp(f->qts, "pmemsave 4G+4k 4096 \"%s\"", p);
    g_assert_cmpstr(out, ==, "");
    g_assert_cmpint(stat(p, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 4096);
    g_assert_true(g_file_get_contents(p, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, f->head, PATTERN_LEN);

    /* An 'M' argument counts MiB: it takes no suffix, as before */
    g_free(out);
    out = qtest_hmp(f->qts, "balloon 2G");
    g_assert_nonnull(strstr(out, "extraneous characters"));
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
    { "zero size", "pmemsave", 4096, 0, "greater than zero" },
    { "zero size", "memsave", 4096, 0, "greater than zero" },
    { "wrapping range", "pmemsave", -65536, 131072, "wraps past the end" },
    { "wrapping range", "memsave", -65536, 131072, "wraps past the end" },
    { "beyond guest memory", "pmemsave", 4 * GiB, 8 * GiB,
      "ends beyond guest memory" },
    { "beyond guest memory", "pmemsave", 1 * TiB, 1,
      "ends beyond guest memory" },
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
        { "pmemsave 0 0", "greater than zero" },
        { "pmemsave 0xffffffffffff0000 0x20000", "wraps past the end" },
        { "pmemsave 0 1T", "ends beyond guest memory" },
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

static void add_test(const char *name,
                     void (*fn)(Fixture *, gconstpointer))
{
    g_autofree char *path = g_strdup_printf("/pmemsave/%s", name);

    g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    add_test("hmp/low", test_hmp_low);
    add_test("hmp/above-4g", test_hmp_above_4g);
    add_test("hmp/size-suffix", test_hmp_size_suffix);
    add_test("hmp/bad-ranges", test_hmp_bad_ranges);
    add_test("qmp/above-4g", test_qmp_above_4g);
    add_test("qmp/bad-ranges", test_qmp_bad_ranges);
    add_test("qmp/bad-file", test_qmp_bad_file);

    return g_test_run();
}
