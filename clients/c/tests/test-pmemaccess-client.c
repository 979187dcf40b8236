/*
 * Tests of libpmemaccess-client against the patched QEMU
 *
 * QEMU runs with -accel qtest and 2 GiB of memfd RAM, so that pmemmap
 * can share it.
 * Data is written through the library and checked through independent
 * paths: the pmemmap mapping (the kernel's view of guest RAM) and QMP
 * pmemsave.  Prints one line per check and "N passed, M failed".
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmemaccess-client.h"
#include "spawn-qemu.h"

static int passed, failed;

#define CHECK(cond, ...) do { \
    if (cond) { \
        passed++; \
        printf("ok: "); \
    } else { \
        failed++; \
        printf("FAILED (%s:%d): ", __FILE__, __LINE__); \
    } \
    printf(__VA_ARGS__); \
    printf("\n"); \
} while (0)

#define DATA 0x200000ULL
#define PML4 0x10000ULL

/* What a guest's qemu_fw_cfg module does, by HMP port writes and pmemc */
#define FW_DESC  0x300000ULL
#define FW_DATA  0x301000ULL
#define FW_NOTE  0x310000ULL
#define VMCI_TEXT "OSRELEASE=6.1.0-c-client\nPAGESIZE=4096\n" \
    "SYMBOL(swapper_pg_dir)=ffffffff82a0a000\nNUMBER(phys_base)=4096\n" \
    "KERNELOFFSET=2000000\n"

/* One fw_cfg DMA transfer of @len bytes at FW_DATA, to or from @key */
static void fw_cfg_dma(spawned_qemu *q, pmemc *c, uint16_t key,
                       uint32_t control, uint32_t len)
{
    struct { uint32_t control, length; uint64_t address; } d = {
        htobe32((uint32_t)key << 16 | 0x08 /* SELECT */ | control),
        htobe32(len), htobe64(FW_DATA),
    };

    pmemc_write(c, FW_DESC, &d, sizeof(d));
    qmp_cmd(q, "{\"execute\": \"human-monitor-command\", \"arguments\":"
            " {\"command-line\": \"o /w 0x514 0\"}}");
    qmp_cmd(q, "{\"execute\": \"human-monitor-command\", \"arguments\":"
            " {\"command-line\": \"o /w 0x518 0x%x\"}}",
            htobe32((uint32_t)FW_DESC));
}

static void publish_vmcoreinfo(spawned_qemu *q, pmemc *c)
{
    uint8_t dir[8192], note[256] = { 0 };
    struct { uint16_t host, guest; uint32_t size; uint64_t paddr; } vmci;
    uint32_t n, i, size;
    uint16_t key = 0;

    fw_cfg_dma(q, c, 0x19 /* FW_CFG_FILE_DIR */, 0x02 /* READ */,
               sizeof(dir));
    pmemc_read(c, NULL, FW_DATA, dir, sizeof(dir));
    memcpy(&n, dir, 4);
    for (i = 0; i < be32toh(n) && 4 + (i + 1) * 64 <= sizeof(dir); i++) {
        if (!strcmp((char *)dir + 4 + i * 64 + 8, "etc/vmcoreinfo")) {
            memcpy(&key, dir + 4 + i * 64 + 4, 2);
            key = be16toh(key);
        }
    }
    /* the ELF note: namesz, descsz, type, "VMCOREINFO\0\0", text */
    size = 12 + 12 + strlen(VMCI_TEXT);
    n = htole32(11);
    memcpy(note, &n, 4);
    n = htole32(strlen(VMCI_TEXT));
    memcpy(note + 4, &n, 4);
    memcpy(note + 12, "VMCOREINFO", 11);
    memcpy(note + 24, VMCI_TEXT, strlen(VMCI_TEXT));
    pmemc_write(c, FW_NOTE, note, size);
    vmci.host = htole16(1);
    vmci.guest = htole16(1);        /* ELF */
    vmci.size = htole32(size);
    vmci.paddr = htole64(FW_NOTE);
    pmemc_write(c, FW_DATA, &vmci, sizeof(vmci));
    fw_cfg_dma(q, c, key, 0x10 /* WRITE */, sizeof(vmci));
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (i * 2654435761u + seed) >> 11;
    }
}

int main(int argc, char **argv)
{
    const char *qemu = argc > 1 ? argv[1] : getenv("QEMU_BINARY");
    const char *args[] = {
        "-machine", "pc,memory-backend=ram0", "-m", "2G",
        "-object", "memory-backend-memfd,id=ram0,size=2G,share=on",
        "-accel", "qtest", "-qtest", "null", "-display", "none",
        "-nodefaults", "-device", "vmcoreinfo", NULL,
    };
    uint8_t data[8192], got[8192], file[4096];
    uint64_t ptes[][2] = {
        { PML4, (PML4 + 0x1000) | 3 }, { PML4 + 0x1000, (PML4 + 0x2000) | 3 },
        { PML4 + 0x2000 + 2 * 8, (PML4 + 0x3000) | 3 },
        { PML4 + 0x3000, DATA | 3 },        /* VA 0x400000 -> DATA */
    };
    pmemc_segment segs[3] = {
        { DATA + 8, 8 }, { 0xfee00000, 8 }, { DATA + 4096, 16 },
    };
    pmemc_space virt = { .virtual = true, .root = PML4 };
    char path[128], save[128];
    const PmemAccessV2Range *ranges;
    uint32_t status[3];
    spawned_qemu q;
    PmemAccessV2Vmcoreinfo vmci;
    char *text = NULL;
    pmemc_view *view;
    uint64_t gen;
    uint8_t *p;
    pmemc *c;
    FILE *f;
    size_t i;
    int ret;

    if (!qemu) {
        fprintf(stderr, "usage: %s QEMU_BINARY (or set QEMU_BINARY)\n",
                argv[0]);
        return 2;
    }
    spawn_qemu(&q, qemu, args);
    snprintf(path, sizeof(path), "%s/pm.sock", q.dir);
    qmp_cmd(&q, "{\"execute\": \"pmemaccess\", \"arguments\":"
            " {\"path\": \"%s\", \"write\": true,"
            " \"lifetime\": \"until-stopped\"}}", path);

    ret = pmemc_connect(&c, path);
    CHECK(ret == 0, "connect: %s", ret ? pmemc_error(c) : "");
    if (ret) {
        return 1;
    }
    CHECK(pmemc_can_write(c), "hello says writes are allowed");
    CHECK(pmemc_ram_size(c) > 2047ULL << 20 && pmemc_ram_size(c) <= 2ULL << 30,
          "hello: RAM size %llu", (unsigned long long)pmemc_ram_size(c));
    CHECK(pmemc_layout(c, &ranges) >= 2 && ranges[0].start == 0,
          "hello: layout starts at 0");
    CHECK(pmemc_max_segments(c) == PMEMACCESS_MAX_SEGMENTS &&
          pmemc_max_payload(c) == PMEMACCESS_MAX_PAYLOAD, "hello: limits");

    fill(data, sizeof(data), 1);
    CHECK(pmemc_write(c, DATA, data, sizeof(data)) == 0, "write 8 KiB");
    for (i = 0, ret = 0; i < 4 && !ret; i++) {
        ret = pmemc_write(c, ptes[i][0], &ptes[i][1], 8);
    }
    CHECK(ret == 0 && i == 4, "write page tables (each write)");

    memset(got, 0, sizeof(got));
    CHECK(pmemc_read(c, NULL, DATA, got, sizeof(got)) == 0 &&
          !memcmp(got, data, sizeof(got)), "read back 8 KiB");
    memset(got, 0, sizeof(got));
    CHECK(pmemc_read(c, &virt, 0x400010, got, 32) == 0 &&
          !memcmp(got, data + 0x10, 32), "virtual read through a 4 KiB page");
    ret = pmemc_read(c, &virt, 0x402000, got, 8);
    CHECK(ret == -(PMEMC_SERVER_ERROR + PMEMACCESS_V2_EFAULT) &&
          strstr(pmemc_error(c), "not mapped"),
          "unmapped virtual address: %s", pmemc_error(c));
    ret = pmemc_read(c, NULL, 0xfee00000, got, 8);
    CHECK(ret == -(PMEMC_SERVER_ERROR + PMEMACCESS_V2_ENOTRAM) &&
          strstr(pmemc_error(c), "0xfee00000"),
          "MMIO refused: %s", pmemc_error(c));

    memset(got, 0xff, sizeof(got));
    ret = pmemc_readv(c, NULL, true, segs, 3, got, status);
    CHECK(ret == 0 && status[0] == 0 && status[2] == 0 &&
          status[1] == PMEMACCESS_V2_ENOTRAM &&
          !memcmp(got, data + 8, 8) && !memcmp(got + 8, "\0\0\0\0\0\0\0\0", 8)
          && !memcmp(got + 16, data + 4096, 16),
          "paused READV: statuses, data, zeros for the failed segment "
          "(the pause itself: test_paused.py, a running guest)");

    /* independent path 1: QMP pmemsave of what we wrote */
    snprintf(save, sizeof(save), "%s/save", q.dir);
    qmp_cmd(&q, "{\"execute\": \"pmemsave\", \"arguments\": {\"val\": %llu,"
            " \"size\": 4096, \"filename\": \"%s\"}}",
            (unsigned long long)DATA, save);
    f = fopen(save, "rb");
    CHECK(f && fread(file, 1, sizeof(file), f) == sizeof(file) &&
          !memcmp(file, data, sizeof(file)), "pmemsave agrees with the write");
    if (f) {
        fclose(f);
    }

    /* independent path 2: the mapping */
    ret = pmemc_map(c, &view);
    CHECK(ret == -(PMEMC_SERVER_ERROR + PMEMACCESS_V2_ENOMAP),
          "MAP before pmemmap: %s", pmemc_error(c));
    qmp_cmd(&q, "{\"execute\": \"pmemmap\"}");
    ret = pmemc_map(c, &view);
    CHECK(ret == 0, "MAP: %s", ret ? pmemc_error(c) : "");
    if (!ret) {
        p = pmemc_view_gpa(view, DATA, sizeof(data));
        CHECK(p && !memcmp(p, data, sizeof(data)), "mapping shows the data");
        fill(data, 64, 2);
        pmemc_write(c, DATA, data, 64);
        CHECK(p && !memcmp(p, data, 64), "a write shows in the mapping");
        CHECK(!pmemc_view_gpa(view, 0xfee00000, 8), "no mapping of MMIO");
        CHECK(pmemc_view_flags(view) == 0, "read-only live mapping");
        CHECK(pmemc_generation(c, &gen) == 0 &&
              gen == pmemc_view_generation(view), "generation %llu",
              (unsigned long long)gen);
        pmemc_unmap(view);
    }

    /* vmcoreinfo: none yet, then what "the guest" published */
    ret = pmemc_vmcoreinfo(c, &vmci, &text);
    CHECK(ret == -(PMEMC_SERVER_ERROR + PMEMACCESS_V2_ENODATA) &&
          strstr(pmemc_error(c), "qemu_fw_cfg"),
          "VMCOREINFO before the guest publishes it: %s", pmemc_error(c));
    publish_vmcoreinfo(&q, c);
    text = NULL;
    ret = pmemc_vmcoreinfo(c, &vmci, &text);
    CHECK(ret == 0 && text && !strcmp(text, VMCI_TEXT) &&
          vmci.text_len == strlen(VMCI_TEXT) && vmci.paddr == FW_NOTE,
          "VMCOREINFO: the note's text %s", ret ? pmemc_error(c) : "");
    CHECK(ret == 0 && !strcmp(vmci.osrelease, "6.1.0-c-client") &&
          vmci.page_size == 4096 && vmci.kernel_offset == 0x2000000 &&
          vmci.phys_base == 4096 &&
          vmci.swapper_pg_dir == 0xffffffff82a0a000ULL &&
          vmci.page_table_root == 0x2a0b000 &&
          vmci.valid == (PMEMACCESS_V2_VMCI_OSRELEASE |
                         PMEMACCESS_V2_VMCI_PAGE_SIZE |
                         PMEMACCESS_V2_VMCI_KERNEL_OFFSET |
                         PMEMACCESS_V2_VMCI_PHYS_BASE |
                         PMEMACCESS_V2_VMCI_SWAPPER_PG_DIR |
                         PMEMACCESS_V2_VMCI_PAGE_TABLE_ROOT),
          "VMCOREINFO: the parsed fields");
    free(text);
    CHECK(pmemc_read(c, NULL, DATA, got, 8) == 0,
          "the connection goes on after VMCOREINFO");

    pmemc_close(c);
    ret = pmemc_connect(&c, "/nonexistent/pm.sock");
    CHECK(ret == -ENOENT && strstr(pmemc_error(c), "/nonexistent"),
          "connect to nothing: %s", pmemc_error(c));
    pmemc_close(c);
    stop_qemu(&q);

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
