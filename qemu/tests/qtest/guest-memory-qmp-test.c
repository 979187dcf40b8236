/*
 * QTest for read-guest-memory, write-guest-memory, query-vmcoreinfo,
 * HMP info vmcoreinfo and pmemaccess's VMCOREINFO request.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qobject/qnum.h"
#include "monitor/pmemaccess-proto.h"
#include "standard-headers/linux/qemu_fw_cfg.h"

/* pc with -m 5G: RAM 0..3G and 4G..6G; the APIC is MMIO at 0xfee00000 */
#define GUEST_ARGS  "-machine pc -m 5G"
#define MMIO_ADDR   0xfee00000ULL
#define HOLE_ADDR   0xd0000000ULL           /* unassigned, in the PCI hole */
#define LOW_END     (3 * GiB)               /* end of RAM below 4 GiB */
#define ROM_ADDR    0xfffc0000ULL           /* the BIOS */
#define HIGH_ADDR   (5 * GiB + 0x100)       /* RAM above 4 GiB */
#define LOW_ADDR    0x200000ULL
#define QMP_MAX     (1 * MiB)               /* the documented limits */
#define QMP_WRITE_MAX QMP_MAX

/* --- plumbing ----------------------------------------------------------*/

static void fill_random(uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = g_test_rand_int_range(0, 256);
    }
}

/* read-guest-memory: the decoded data, or NULL and the error in *@err */
static uint8_t *qmp_read(QTestState *qts, const char *extra, uint64_t addr,
                         uint64_t size, char **err)
{
    g_autoptr(QDict) rsp = NULL;
    g_autofree char *args = NULL;
    uint8_t *data;
    gsize len;

    args = g_strdup_printf("{ 'addr': %" PRIu64 ", 'size': %" PRIu64 "%s%s }",
                           addr, size, extra ? ", " : "", extra ?: "");
    rsp = qtest_qmp(qts, "{ 'execute': 'read-guest-memory', "
                    "'arguments': %p }", qobject_from_json(args,
                                                           &error_abort));
    if (qdict_haskey(rsp, "error")) {
        g_assert(err);
        *err = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                      "desc"));
        return NULL;
    }
    data = g_base64_decode(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                         "data"), &len);
    g_assert_cmpuint(len, ==, size);
    return data;
}

static void assert_read(QTestState *qts, const char *extra, uint64_t addr,
                        const void *expect, size_t size)
{
    g_autofree uint8_t *data = qmp_read(qts, extra, addr, size, NULL);

    g_assert_cmpmem(data, size, expect, size);
}

/* The error message of a read that must fail; it must contain @needle */
static void assert_read_fails(QTestState *qts, const char *extra,
                              uint64_t addr, uint64_t size,
                              const char *needle)
{
    g_autofree char *err = NULL;

    g_assert_null(qmp_read(qts, extra, addr, size, &err));
    if (!strstr(err, needle)) {
        g_error("'%s' does not contain '%s'", err, needle);
    }
}

/* write-guest-memory: NULL or the error message */
static char *qmp_write(QTestState *qts, uint64_t addr, const void *buf,
                       size_t len)
{
    g_autofree char *b64 = g_base64_encode(buf, len);
    g_autoptr(QDict) rsp = NULL;

    rsp = qtest_qmp(qts, "{ 'execute': 'write-guest-memory', 'arguments':"
                    " { 'addr': %" PRIu64 ", 'data': %s } }", addr, b64);
    if (qdict_haskey(rsp, "error")) {
        return g_strdup(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                      "desc"));
    }
    g_assert(qdict_haskey(rsp, "return"));
    return NULL;
}

static uint64_t get_u64(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));
    uint64_t v;

    g_assert(n && qnum_get_try_uint(n, &v));
    return v;
}

static void assert_contains(const char *s, const char *needle)
{
    g_assert_nonnull(s);
    if (!strstr(s, needle)) {
        g_error("'%s' does not contain '%s'", s, needle);
    }
}

/* --- reads -------------------------------------------------------------*/

static void test_read_phys(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS);
    uint8_t low[4096], high[4096], rom[16];
    g_autofree uint8_t *empty = NULL;

    fill_random(low, sizeof(low));
    fill_random(high, sizeof(high));
    qtest_memwrite(qts, LOW_ADDR, low, sizeof(low));
    qtest_memwrite(qts, HIGH_ADDR, high, sizeof(high));

    /* 8 bytes, 4 KiB, odd sizes and offsets; RAM above 4 GiB */
    assert_read(qts, NULL, LOW_ADDR, low, 8);
    assert_read(qts, NULL, LOW_ADDR, low, sizeof(low));
    assert_read(qts, NULL, LOW_ADDR + 3, low + 3, 1001);
    assert_read(qts, NULL, HIGH_ADDR, high, sizeof(high));
    /* ROM: the reset vector, as the qtest socket (another reader) sees it */
    qtest_memread(qts, 0xfffffff0, rom, sizeof(rom));
    g_assert_false(buffer_is_zero(rom, sizeof(rom)));
    assert_read(qts, NULL, 0xfffffff0, rom, sizeof(rom));
    /* size 0 reads nothing, anywhere */
    empty = qmp_read(qts, NULL, MMIO_ADDR, 0, NULL);
    qtest_quit(qts);
}

static void test_read_bounds(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS);
    g_autofree uint8_t *big = g_malloc(QMP_MAX);
    g_autofree uint8_t *data = NULL;

    fill_random(big, QMP_MAX);
    qtest_memwrite(qts, LOW_ADDR, big, QMP_MAX);
    /* the limit itself is allowed ... */
    data = qmp_read(qts, NULL, LOW_ADDR, QMP_MAX, NULL);
    g_assert(memcmp(data, big, QMP_MAX) == 0);
    /* ... one more byte is not, and the error says where to go */
    assert_read_fails(qts, NULL, LOW_ADDR, QMP_MAX + 1, "1048576");
    assert_read_fails(qts, NULL, LOW_ADDR, QMP_MAX + 1, "pmemaccess");
    assert_read_fails(qts, NULL, LOW_ADDR, UINT64_MAX, "pmemaccess");
    /* ranges that wrap */
    assert_read_fails(qts, NULL, UINT64_MAX - 7, 16, "wraps");
    assert_read_fails(qts, NULL, UINT64_MAX, 2, "wraps");
    /* la57 without root */
    assert_read_fails(qts, "'la57': true", LOW_ADDR, 8, "'root'");
    qtest_quit(qts);
}

static void test_read_refused(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS);

    /* MMIO and unassigned space, with the failing address */
    assert_read_fails(qts, NULL, MMIO_ADDR, 4, "0xfee00000");
    assert_read_fails(qts, NULL, MMIO_ADDR, 4, "MMIO");
    assert_read_fails(qts, NULL, HOLE_ADDR + 8, 4, "0xd0000008");
    /* a range that starts in RAM and runs into the hole */
    assert_read_fails(qts, NULL, LOW_END - 8, 16, "0xc0000000");
    /* beyond all memory */
    assert_read_fails(qts, NULL, 64 * GiB, 8, "0x1000000000");
    qtest_quit(qts);
}

/* --- virtual reads through page tables the test builds -----------------*/

#define PML5 0x10000ULL
#define PML4 0x11000ULL
#define PDPT 0x12000ULL
#define PD   0x13000ULL
#define PT   0x14000ULL
#define P    0x3ULL         /* present, writable */
#define PS   0x80ULL

static void put_pte(QTestState *qts, uint64_t table, int index, uint64_t pte)
{
    qtest_writeq(qts, table + index * 8, pte);
}

/*
 * 4-level: 0..1G through PD (a 4 KiB page table for 4M..6M, a 2 MiB page
 * at 6M), 1G..2G a 1 GiB page of RAM above 4 GiB, 2G..3G MMIO.
 */
static void build_page_tables(QTestState *qts)
{
    put_pte(qts, PML5, 0, PML4 | P);
    put_pte(qts, PML4, 0, PDPT | P);
    put_pte(qts, PML4, 511, PDPT | P);          /* the kernel's half */
    put_pte(qts, PDPT, 0, PD | P);
    put_pte(qts, PDPT, 1, (5 * GiB) | P | PS);
    put_pte(qts, PDPT, 2, (MMIO_ADDR & ~(GiB - 1)) | P | PS);
    put_pte(qts, PD, 2, PT | P);
    put_pte(qts, PD, 3, (8 * MiB) | P | PS);
    put_pte(qts, PT, 0, 0x300000 | P);
    put_pte(qts, PT, 1, 0x305000 | P);
    put_pte(qts, PT, 2, 0x306000);              /* not present */
}

static void test_read_virtual(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS);
    g_autofree char *root4 = g_strdup_printf("'root': %llu", PML4 | 0x18);
    g_autofree char *root5 = g_strdup_printf("'root': %llu, 'la57': true",
                                             PML5);
    uint8_t a[4096], b[4096], c[64], d[64];
    uint8_t both[64];

    fill_random(a, sizeof(a));
    fill_random(b, sizeof(b));
    fill_random(c, sizeof(c));
    fill_random(d, sizeof(d));
    build_page_tables(qts);
    qtest_memwrite(qts, 0x300000, a, sizeof(a));
    qtest_memwrite(qts, 0x305000, b, sizeof(b));
    qtest_memwrite(qts, 8 * MiB + 0x1234, c, sizeof(c));
    qtest_memwrite(qts, 5 * GiB + 0x100, d, sizeof(d));

    /* 4 KiB pages, and a read across two that are not contiguous */
    assert_read(qts, root4, 4 * MiB, a, sizeof(a));
    assert_read(qts, root4, 4 * MiB + 4096, b, sizeof(b));
    memcpy(both, a + 4096 - 32, 32);
    memcpy(both + 32, b, 32);
    assert_read(qts, root4, 4 * MiB + 4096 - 32, both, sizeof(both));
    /* a 2 MiB page; a 1 GiB page onto RAM above 4 GiB */
    assert_read(qts, root4, 6 * MiB + 0x1234, c, sizeof(c));
    assert_read(qts, root4, GiB + 0x100, d, sizeof(d));
    /* the kernel's half: PML4 entry 511 */
    assert_read(qts, root4, 0xffffff8000000000ULL + 6 * MiB + 0x1234, c,
                sizeof(c));
    /* 5-level */
    assert_read(qts, root5, 4 * MiB, a, 16);
    assert_read(qts, root5, GiB + 0x100, d, sizeof(d));

    /* not present, with the failing virtual address */
    assert_read_fails(qts, root4, 4 * MiB + 2 * 4096, 8, "0x402000");
    assert_read_fails(qts, root4, 4 * MiB + 2 * 4096 - 4, 8, "0x402000");
    assert_read_fails(qts, root4, 4 * MiB + 2 * 4096, 8, "not mapped");
    /* not canonical */
    assert_read_fails(qts, root4, 0x0000800000000000ULL, 8, "not mapped");
    /* mapped onto MMIO: refused */
    assert_read_fails(qts, root4, 2 * GiB + (MMIO_ADDR & (GiB - 1)), 4,
                      "MMIO");
    /* a root outside RAM */
    g_free(root4);
    root4 = g_strdup_printf("'root': %llu", MMIO_ADDR);
    assert_read_fails(qts, root4, 4 * MiB, 8, "not mapped");
    qtest_quit(qts);
}

/*
 * In-band only: a read of guest RAM can block (postcopy), which an
 * out-of-band command must never do.  In-band it works with oob enabled.
 */
static void test_read_in_band_only(void)
{
    QTestState *qts = qtest_init_without_qmp_handshake(GUEST_ARGS);
    g_autofree uint8_t *data = NULL;
    uint8_t buf[4096];
    QDict *rsp;
    gsize len;

    fill_random(buf, sizeof(buf));
    qtest_memwrite(qts, HIGH_ADDR, buf, sizeof(buf));
    qobject_unref(qtest_qmp_receive_dict(qts));     /* the greeting */
    qtest_qmp_assert_success(qts, "{ 'execute': 'qmp_capabilities', "
                             "'arguments': { 'enable': [ 'oob' ] } }");

    rsp = qtest_qmp(qts, "{ 'exec-oob': 'read-guest-memory', 'id': 'r1', "
                    "'arguments': { 'addr': %" PRIu64 ", 'size': 4096 } }",
                    (uint64_t)HIGH_ADDR);
    assert_contains(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"),
                    "does not support OOB");
    qobject_unref(rsp);

    rsp = qtest_qmp(qts, "{ 'execute': 'read-guest-memory', 'id': 'r2', "
                    "'arguments': { 'addr': %" PRIu64 ", 'size': 4096 } }",
                    (uint64_t)HIGH_ADDR);
    g_assert_cmpstr(qdict_get_str(rsp, "id"), ==, "r2");
    data = g_base64_decode(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                         "data"), &len);
    g_assert_cmpmem(data, len, buf, sizeof(buf));
    qobject_unref(rsp);

    rsp = qtest_qmp(qts, "{ 'exec-oob': 'query-vmcoreinfo', 'id': 'v' }");
    assert_contains(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"),
                    "does not support OOB");
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'exec-oob': 'write-guest-memory', 'id': 'w', "
                    "'arguments': { 'addr': 0, 'data': '' } }");
    assert_contains(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"),
                    "does not support OOB");
    qobject_unref(rsp);
    qtest_quit(qts);
}

/* --- writes ------------------------------------------------------------*/

static void test_write_refused_by_default(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS);
    uint8_t buf[16], now[16];
    g_autofree char *err = NULL;

    fill_random(buf, sizeof(buf));
    qtest_memread(qts, LOW_ADDR, now, sizeof(now));
    err = qmp_write(qts, LOW_ADDR, buf, sizeof(buf));
    assert_contains(err, "-introspection write=on");
    qtest_memread(qts, LOW_ADDR, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), now, sizeof(now));
    qtest_quit(qts);

    /* write=off is the same */
    qts = qtest_init(GUEST_ARGS " -introspection write=off");
    g_free(err);
    err = qmp_write(qts, LOW_ADDR, buf, sizeof(buf));
    assert_contains(err, "disabled");
    qtest_quit(qts);
}

static void test_write(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS " -introspection write=on");
    g_autofree uint8_t *big = g_malloc(QMP_WRITE_MAX + 1);
    uint8_t buf[4096], back[4096], before[32];
    g_autoptr(QDict) rsp = NULL;
    char *err;

    /* RAM below and above 4 GiB, read back through qtest and QMP */
    fill_random(buf, sizeof(buf));
    g_assert_null(qmp_write(qts, LOW_ADDR + 1, buf, sizeof(buf)));
    qtest_memread(qts, LOW_ADDR + 1, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    assert_read(qts, NULL, LOW_ADDR + 1, buf, sizeof(buf));
    fill_random(buf, sizeof(buf));
    g_assert_null(qmp_write(qts, HIGH_ADDR, buf, sizeof(buf)));
    qtest_memread(qts, HIGH_ADDR, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    /* empty */
    g_assert_null(qmp_write(qts, MMIO_ADDR, buf, 0));

    /* ROM, MMIO, unassigned: refused with the address, nothing written */
    err = qmp_write(qts, ROM_ADDR + 16, buf, 8);
    assert_contains(err, "0xfffc0010");
    assert_contains(err, "ROM");
    g_free(err);
    err = qmp_write(qts, MMIO_ADDR, buf, 4);
    assert_contains(err, "0xfee00000");
    g_free(err);
    err = qmp_write(qts, HOLE_ADDR, buf, 4);
    assert_contains(err, "0xd0000000");
    g_free(err);
    qtest_memread(qts, LOW_END - 16, before, sizeof(before) / 2);
    err = qmp_write(qts, LOW_END - 16, buf, 32);
    assert_contains(err, "0xc0000000");
    g_free(err);
    qtest_memread(qts, LOW_END - 16, back, 16);
    g_assert_cmpmem(back, 16, before, 16);

    /* bounds: 1 MiB is allowed, one more byte is not */
    fill_random(big, QMP_WRITE_MAX + 1);
    g_assert_null(qmp_write(qts, LOW_ADDR, big, QMP_WRITE_MAX));
    assert_read(qts, NULL, LOW_ADDR, big, QMP_WRITE_MAX);
    err = qmp_write(qts, LOW_ADDR, big, QMP_WRITE_MAX + 1);
    assert_contains(err, "1048576");
    assert_contains(err, "pmemaccess");
    g_free(err);
    err = qmp_write(qts, UINT64_MAX - 3, buf, 8);
    assert_contains(err, "wraps");
    g_free(err);

    /* bad base64 */
    rsp = qtest_qmp(qts, "{ 'execute': 'write-guest-memory', 'arguments':"
                    " { 'addr': %" PRIu64 ", 'data': '!!!' } }",
                    (uint64_t)LOW_ADDR);
    g_assert(qdict_haskey(rsp, "error"));
    qtest_quit(qts);
}

/* --- vmcoreinfo --------------------------------------------------------*/

#define NOTE_ADDR   0x1000000ULL
#define DMA_DESC    0x20000ULL
#define DMA_DATA    0x21000ULL

#define VMCI_TEXT \
    "OSRELEASE=6.1.0-test-amd64\n" \
    "BUILD-ID=0123456789abcdef\n" \
    "PAGESIZE=4096\n" \
    "SYMBOL(init_uts_ns)=ffffffff82a12340\n" \
    "SYMBOL(swapper_pg_dir)=ffffffff82a0a000\n" \
    "NUMBER(phys_base)=-16777216\n" \
    "NUMBER(pgtable_l5_enabled)=0\n" \
    "KERNELOFFSET=1000000\n"
/* 0xffffffff82a0a000 - 0xffffffff80000000 - 16 MiB */
#define VMCI_ROOT   0x1a0a000ULL

/* Put an ELF note at @addr; return its size */
static uint32_t put_note(QTestState *qts, uint64_t addr, const char *name,
                         const char *text)
{
    uint32_t namesz = strlen(name) + 1, descsz = strlen(text);
    uint32_t desc = 12 + ROUND_UP(namesz, 4);
    uint32_t size = desc + ROUND_UP(descsz, 4);
    g_autofree uint8_t *note = g_malloc0(size);

    stl_le_p(note, namesz);
    stl_le_p(note + 4, descsz);
    stl_le_p(note + 8, 0);
    memcpy(note + 12, name, namesz);
    memcpy(note + desc, text, descsz);
    qtest_memwrite(qts, addr, note, size);
    return size;
}

/* What the guest's qemu_fw_cfg module does: DMA-write etc/vmcoreinfo */
static void publish(QTestState *qts, uint16_t format, uint32_t size,
                    uint64_t paddr)
{
    QFWCFG *fw_cfg = pc_fw_cfg_init(qts);
    struct fw_cfg_vmcoreinfo vmci = {
        .host_format = cpu_to_le16(FW_CFG_VMCOREINFO_FORMAT_ELF),
        .guest_format = cpu_to_le16(format),
        .size = cpu_to_le32(size),
        .paddr = cpu_to_le64(paddr),
    };
    struct fw_cfg_dma_access dma = { 0 };
    uint32_t count, i;
    uint16_t key = 0;

    qfw_cfg_get(fw_cfg, FW_CFG_FILE_DIR, &count, sizeof(count));
    for (i = 0; i < be32_to_cpu(count); i++) {
        struct fw_cfg_file f;

        qfw_cfg_read_data(fw_cfg, &f, sizeof(f));
        if (!strcmp(f.name, FW_CFG_VMCOREINFO_FILENAME)) {
            key = be16_to_cpu(f.select);
        }
    }
    g_assert_cmpuint(key, !=, 0);
    pc_fw_cfg_uninit(fw_cfg);

    qtest_memwrite(qts, DMA_DATA, &vmci, sizeof(vmci));
    dma.control = cpu_to_be32((uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT |
                              FW_CFG_DMA_CTL_WRITE);
    dma.length = cpu_to_be32(sizeof(vmci));
    dma.address = cpu_to_be64(DMA_DATA);
    qtest_memwrite(qts, DMA_DESC, &dma, sizeof(dma));
    /* the DMA address register is big-endian; the low half starts it */
    qtest_outl(qts, 0x514, 0);
    qtest_outl(qts, 0x518, bswap32(DMA_DESC));
    g_assert_cmphex(qtest_readl(qts, DMA_DESC), ==, 0);
}

static QDict *query_vmcoreinfo(QTestState *qts)
{
    return qtest_qmp(qts, "{ 'execute': 'query-vmcoreinfo' }");
}

static void assert_vmcoreinfo_error(QTestState *qts, const char *needle)
{
    g_autoptr(QDict) rsp = query_vmcoreinfo(qts);

    g_assert(qdict_haskey(rsp, "error"));
    assert_contains(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"),
                    needle);
}

static void test_vmcoreinfo_missing(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS);
    g_autofree char *hmp = NULL;

    /* no device: say how to add it */
    assert_vmcoreinfo_error(qts, "-device vmcoreinfo");
    hmp = qtest_hmp(qts, "info vmcoreinfo");
    assert_contains(hmp, "-device vmcoreinfo");
    qtest_quit(qts);

    /* not published yet: say what the guest needs */
    qts = qtest_init(GUEST_ARGS " -device vmcoreinfo");
    assert_vmcoreinfo_error(qts, "not published");
    assert_vmcoreinfo_error(qts, "qemu_fw_cfg");
    qtest_quit(qts);
}

static void test_vmcoreinfo(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS " -device vmcoreinfo");
    uint32_t size = put_note(qts, NOTE_ADDR, "VMCOREINFO", VMCI_TEXT);
    g_autoptr(QDict) rsp = NULL;
    g_autofree char *hmp = NULL;
    QDict *ret;

    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    rsp = query_vmcoreinfo(qts);
    ret = qdict_get_qdict(rsp, "return");
    g_assert(ret);
    g_assert_cmphex(get_u64(ret, "paddr"), ==, NOTE_ADDR);
    g_assert_cmpuint(get_u64(ret, "size"), ==, size);
    g_assert_cmpstr(qdict_get_str(ret, "raw"), ==, VMCI_TEXT);
    g_assert_cmpstr(qdict_get_str(ret, "osrelease"), ==, "6.1.0-test-amd64");
    g_assert_cmpuint(get_u64(ret, "page-size"), ==, 4096);
    g_assert_cmphex(get_u64(ret, "kernel-offset"), ==, 0x1000000);
    g_assert_cmpint(qdict_get_int(ret, "phys-base"), ==, -16 * MiB);
    g_assert_cmphex(get_u64(ret, "swapper-pg-dir"), ==,
                    0xffffffff82a0a000ULL);
    g_assert_cmphex(get_u64(ret, "init-uts-ns"), ==,
                    0xffffffff82a12340ULL);
    g_assert_cmphex(get_u64(ret, "page-table-root"), ==, VMCI_ROOT);
    g_assert_false(qdict_get_bool(ret, "la57"));

    hmp = qtest_hmp(qts, "info vmcoreinfo");
    assert_contains(hmp, "6.1.0-test-amd64");
    assert_contains(hmp, "kernel offset   0x1000000");
    assert_contains(hmp, "page-table root 0x1a0a000");
    assert_contains(hmp, "SYMBOL(init_uts_ns)=ffffffff82a12340");
    qtest_quit(qts);
}

/* A note with only some fields: the others are absent */
static void test_vmcoreinfo_partial(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS " -device vmcoreinfo");
    uint32_t size = put_note(qts, NOTE_ADDR, "VMCOREINFO",
                             "OSRELEASE=5.0\nPAGESIZE=banana\n"
                             "SYMBOL(swapper_pg_dir)=ffffffff82a0a000");
    g_autoptr(QDict) rsp = NULL;
    QDict *ret;

    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    rsp = query_vmcoreinfo(qts);
    ret = qdict_get_qdict(rsp, "return");
    g_assert_cmpstr(qdict_get_str(ret, "osrelease"), ==, "5.0");
    g_assert(qdict_haskey(ret, "swapper-pg-dir"));
    g_assert_false(qdict_haskey(ret, "page-size"));
    g_assert_false(qdict_haskey(ret, "kernel-offset"));
    g_assert_false(qdict_haskey(ret, "phys-base"));
    /* no phys_base, no root */
    g_assert_false(qdict_haskey(ret, "page-table-root"));
    qtest_quit(qts);
}

/* Whatever the guest publishes, QEMU answers with an error, not a crash */
static void test_vmcoreinfo_bad(void)
{
    QTestState *qts = qtest_init(GUEST_ARGS " -device vmcoreinfo");
    uint32_t size = put_note(qts, NOTE_ADDR, "VMCOREINFO", VMCI_TEXT);
    uint32_t short_size;
    uint8_t junk[64];
    QDict *rsp;

    /* not ELF */
    publish(qts, 2, size, NOTE_ADDR);
    assert_vmcoreinfo_error(qts, "format");
    /* too large */
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, 65 * KiB, NOTE_ADDR);
    assert_vmcoreinfo_error(qts, "too large");
    /* too small for a header */
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, 8, NOTE_ADDR);
    assert_vmcoreinfo_error(qts, "too short");
    /* shorter than its header says */
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size - 8, NOTE_ADDR);
    assert_vmcoreinfo_error(qts, "not a VMCOREINFO ELF note");
    /* a header, and less than the name it announces (read no further) */
    for (short_size = 12; short_size < 24; short_size++) {
        publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, short_size, NOTE_ADDR);
        assert_vmcoreinfo_error(qts, "not a VMCOREINFO ELF note");
    }
    /* in MMIO, or running off the end of RAM */
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, MMIO_ADDR);
    assert_vmcoreinfo_error(qts, "not in RAM");
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, LOW_END - 16);
    assert_vmcoreinfo_error(qts, "0xc0000000");
    /* another note's name */
    size = put_note(qts, NOTE_ADDR, "CORE", VMCI_TEXT);
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    assert_vmcoreinfo_error(qts, "not a VMCOREINFO ELF note");
    /* a huge descsz */
    size = put_note(qts, NOTE_ADDR, "VMCOREINFO", VMCI_TEXT);
    qtest_writel(qts, NOTE_ADDR + 4, 0xffffffff);
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    assert_vmcoreinfo_error(qts, "not a VMCOREINFO ELF note");
    /* binary junk as text */
    memset(junk, 0xff, sizeof(junk));
    size = put_note(qts, NOTE_ADDR, "VMCOREINFO", "OSRELEASE=x\n");
    qtest_memwrite(qts, NOTE_ADDR + 24, junk, 8);
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    assert_vmcoreinfo_error(qts, "not text");
    /* and a good one again: read in full */
    size = put_note(qts, NOTE_ADDR, "VMCOREINFO", VMCI_TEXT);
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    rsp = query_vmcoreinfo(qts);
    g_assert(qdict_haskey(rsp, "return"));
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "raw"), ==,
                    VMCI_TEXT);
    qobject_unref(rsp);
    qtest_quit(qts);
}

/* --- pmemaccess protocol v2: VMCOREINFO ---------------------------------*/

static int v2_connect(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    PmemAccessV2ClientHello ch = {
        .magic = PMEMACCESS_V2_CLIENT_MAGIC,
        .version = cpu_to_le32(PMEMACCESS_V2_VERSION),
    };
    PmemAccessV2ServerHello sh;
    PmemAccessV2Range range;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    uint32_t i;

    g_assert_cmpint(fd, >=, 0);
    pstrcpy(un.sun_path, sizeof(un.sun_path), path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    g_assert_cmpint(send(fd, &ch, sizeof(ch), 0), ==, sizeof(ch));
    g_assert_cmpint(recv(fd, &sh, sizeof(sh), MSG_WAITALL), ==, sizeof(sh));
    for (i = 0; i < le32_to_cpu(sh.nr_ranges); i++) {
        g_assert_cmpint(recv(fd, &range, sizeof(range), MSG_WAITALL), ==,
                        sizeof(range));
    }
    return fd;
}

/* Send a request; its error, with the data in *@data */
static uint32_t v2_request(int fd, uint16_t type, uint16_t flags,
                           uint64_t addr, uint64_t length, uint64_t root,
                           GByteArray **data)
{
    PmemAccessV2Request req = {
        .magic = cpu_to_le32(PMEMACCESS_V2_REQUEST_MAGIC),
        .type = cpu_to_le16(type),
        .flags = cpu_to_le16(flags),
        .cookie = cpu_to_le64(42),
        .address = cpu_to_le64(addr),
        .length = cpu_to_le64(length),
        .root = cpu_to_le64(root),
    };
    PmemAccessV2Reply r;
    uint64_t len;

    g_assert_cmpint(send(fd, &req, sizeof(req), 0), ==, sizeof(req));
    g_assert_cmpint(recv(fd, &r, sizeof(r), MSG_WAITALL), ==, sizeof(r));
    g_assert_cmphex(le32_to_cpu(r.magic), ==, PMEMACCESS_V2_REPLY_MAGIC);
    g_assert_cmpuint(le64_to_cpu(r.cookie), ==, 42);
    len = le64_to_cpu(r.length);
    *data = g_byte_array_sized_new(len);
    g_byte_array_set_size(*data, len);
    if (len) {
        g_assert_cmpint(recv(fd, (*data)->data, len, MSG_WAITALL), ==, len);
    }
    return le32_to_cpu(r.error);
}

static uint32_t v2_vmcoreinfo(int fd, uint16_t flags, GByteArray **data)
{
    return v2_request(fd, PMEMACCESS_V2_VMCOREINFO, flags, 0, 0, 0, data);
}

static void test_v2_vmcoreinfo(void)
{
    g_autofree char *dir = g_dir_make_tmp("guest-memory-qmp-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "pm.sock", NULL);
    QTestState *qts = qtest_init(GUEST_ARGS " -device vmcoreinfo");
    g_autoptr(GByteArray) data = NULL;
    PmemAccessV2Vmcoreinfo head;
    uint32_t size;
    int fd;

    qtest_qmp_assert_success(qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'path': %s } }", path);
    fd = v2_connect(path);

    /* nothing published yet: ENODATA, and the connection goes on */
    g_assert_cmpuint(v2_vmcoreinfo(fd, 0, &data), ==, PMEMACCESS_V2_ENODATA);
    g_assert_cmpuint(data->len, ==, 0);
    g_byte_array_unref(data);

    size = put_note(qts, NOTE_ADDR, "VMCOREINFO", VMCI_TEXT);
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    /* flags are refused */
    g_assert_cmpuint(v2_vmcoreinfo(fd, PMEMACCESS_V2_FLAG_VIRTUAL, &data),
                     ==, PMEMACCESS_V2_EINVAL);
    g_byte_array_unref(data);
    g_assert_cmpuint(v2_vmcoreinfo(fd, PMEMACCESS_V2_FLAG_PAUSED, &data),
                     ==, PMEMACCESS_V2_EINVAL);
    g_byte_array_unref(data);

    g_assert_cmpuint(v2_vmcoreinfo(fd, 0, &data), ==, PMEMACCESS_V2_OK);
    g_assert_cmpuint(data->len, ==, sizeof(head) + strlen(VMCI_TEXT));
    memcpy(&head, data->data, sizeof(head));
    g_assert_cmphex(le32_to_cpu(head.valid), ==,
                    PMEMACCESS_V2_VMCI_OSRELEASE |
                    PMEMACCESS_V2_VMCI_PAGE_SIZE |
                    PMEMACCESS_V2_VMCI_KERNEL_OFFSET |
                    PMEMACCESS_V2_VMCI_PHYS_BASE |
                    PMEMACCESS_V2_VMCI_SWAPPER_PG_DIR |
                    PMEMACCESS_V2_VMCI_INIT_UTS_NS |
                    PMEMACCESS_V2_VMCI_PAGE_TABLE_ROOT);
    g_assert_cmpuint(le32_to_cpu(head.text_len), ==, strlen(VMCI_TEXT));
    g_assert_cmphex(le64_to_cpu(head.paddr), ==, NOTE_ADDR);
    g_assert_cmphex(le64_to_cpu(head.kernel_offset), ==, 0x1000000);
    g_assert_cmpint((int64_t)le64_to_cpu(head.phys_base), ==, -16 * MiB);
    g_assert_cmphex(le64_to_cpu(head.swapper_pg_dir), ==,
                    0xffffffff82a0a000ULL);
    g_assert_cmphex(le64_to_cpu(head.init_uts_ns), ==,
                    0xffffffff82a12340ULL);
    g_assert_cmphex(le64_to_cpu(head.page_table_root), ==, VMCI_ROOT);
    g_assert_cmpuint(le64_to_cpu(head.page_size), ==, 4096);
    g_assert_cmpstr(head.osrelease, ==, "6.1.0-test-amd64");
    g_assert_cmpmem(data->data + sizeof(head), data->len - sizeof(head),
                    VMCI_TEXT, strlen(VMCI_TEXT));

    close(fd);
    qtest_quit(qts);
    unlink(path);
    rmdir(dir);
}

/*
 * A target without a page-table walk (qemu-system-i386): virtual reads
 * are refused, over QMP and pmemaccess, with physical reads going on, and
 * vmcoreinfo has no page-table root.
 */
static void test_no_page_walk(void)
{
    g_autofree char *dir = g_dir_make_tmp("guest-memory-qmp-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "pm.sock", NULL);
    QTestState *qts = qtest_init(GUEST_ARGS " -device vmcoreinfo");
    g_autoptr(GByteArray) data = NULL;
    g_autoptr(QDict) rsp = NULL;
    PmemAccessV2Vmcoreinfo head;
    uint8_t a[64];
    uint32_t size;
    QDict *ret;
    int fd;

    fill_random(a, sizeof(a));
    qtest_memwrite(qts, LOW_ADDR, a, sizeof(a));
    assert_read_fails(qts, "'root': 4096", LOW_ADDR, 8,
                      "This target has no page-table walk");
    assert_read(qts, NULL, LOW_ADDR, a, sizeof(a));

    size = put_note(qts, NOTE_ADDR, "VMCOREINFO", VMCI_TEXT);
    publish(qts, FW_CFG_VMCOREINFO_FORMAT_ELF, size, NOTE_ADDR);
    rsp = query_vmcoreinfo(qts);
    ret = qdict_get_qdict(rsp, "return");
    g_assert(ret);
    g_assert_cmphex(get_u64(ret, "swapper-pg-dir"), ==,
                    0xffffffff82a0a000ULL);
    g_assert_false(qdict_haskey(ret, "page-table-root"));

    qtest_qmp_assert_success(qts, "{ 'execute': 'pmemaccess',"
                             " 'arguments': { 'path': %s } }", path);
    fd = v2_connect(path);
    g_assert_cmpuint(v2_request(fd, PMEMACCESS_V2_READ,
                                PMEMACCESS_V2_FLAG_VIRTUAL, LOW_ADDR,
                                sizeof(a), 4096, &data),
                     ==, PMEMACCESS_V2_EUNSUPPORTED);
    g_assert_cmpuint(data->len, ==, 0);
    g_byte_array_unref(data);
    /* the connection goes on */
    g_assert_cmpuint(v2_request(fd, PMEMACCESS_V2_READ, 0, LOW_ADDR,
                                sizeof(a), 0, &data), ==, PMEMACCESS_V2_OK);
    g_assert_cmpmem(data->data, data->len, a, sizeof(a));
    g_byte_array_unref(data);
    g_assert_cmpuint(v2_vmcoreinfo(fd, 0, &data), ==, PMEMACCESS_V2_OK);
    g_assert_cmpuint(data->len, >=, sizeof(head));
    memcpy(&head, data->data, sizeof(head));
    g_assert_cmphex(le32_to_cpu(head.valid) &
                    (PMEMACCESS_V2_VMCI_SWAPPER_PG_DIR |
                     PMEMACCESS_V2_VMCI_PAGE_TABLE_ROOT), ==,
                    PMEMACCESS_V2_VMCI_SWAPPER_PG_DIR);

    close(fd);
    qtest_quit(qts);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    /* qemu-system-i386 has no page-table walk (see test_no_page_walk) */
    bool walk = !strcmp(qtest_get_arch(), "x86_64");

    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/guest-memory-qmp/read/phys", test_read_phys);
    qtest_add_func("/guest-memory-qmp/read/bounds", test_read_bounds);
    qtest_add_func("/guest-memory-qmp/read/refused", test_read_refused);
    qtest_add_func("/guest-memory-qmp/read/in-band-only",
                   test_read_in_band_only);
    qtest_add_func("/guest-memory-qmp/write/refused-by-default",
                   test_write_refused_by_default);
    qtest_add_func("/guest-memory-qmp/write/allowed", test_write);
    qtest_add_func("/guest-memory-qmp/vmcoreinfo/missing",
                   test_vmcoreinfo_missing);
    qtest_add_func("/guest-memory-qmp/vmcoreinfo/partial",
                   test_vmcoreinfo_partial);
    qtest_add_func("/guest-memory-qmp/vmcoreinfo/bad", test_vmcoreinfo_bad);
    if (walk) {
        qtest_add_func("/guest-memory-qmp/read/virtual", test_read_virtual);
        qtest_add_func("/guest-memory-qmp/vmcoreinfo/query",
                       test_vmcoreinfo);
        qtest_add_func("/guest-memory-qmp/vmcoreinfo/pmemaccess-v2",
                       test_v2_vmcoreinfo);
    } else {
        qtest_add_func("/guest-memory-qmp/no-page-walk", test_no_page_walk);
    }
    return g_test_run();
}
