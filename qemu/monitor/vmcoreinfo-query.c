/*
 * query-vmcoreinfo: the guest kernel's VMCOREINFO note
 *
 * A Linux guest with the qemu_fw_cfg module publishes the guest-physical
 * address of its VMCOREINFO ELF note through -device vmcoreinfo (fw_cfg
 * file etc/vmcoreinfo); dump-guest-memory copies it into dumps.  Here it
 * is read out of guest RAM for debuggers (drgn, crash) attached to a
 * running guest: the note's text, and the fields they need to find the
 * kernel (release, KASLR offset, phys_base, page-table root).  The note
 * is guest-controlled: every size is checked, and only RAM is read.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vm-introspection.h"
#include "hw/core/cpu.h"
#include "hw/core/sysemu-cpu-ops.h"
#include "hw/misc/vmcoreinfo.h"
#include "pmemaccess-int.h"
#include "trace.h"

/* The largest note accepted (Linux's is one page) */
#define VMCOREINFO_MAX_NOTE (64u << 10)

static bool parse_u64(const char *text, int base, uint64_t *value)
{
    return qemu_strtou64(text, NULL, base, value) == 0;
}

/*
 * Pick the fields a debugger needs out of the "KEY=value" lines.  Called
 * with the BQL held (first_cpu).
 */
static void parse_fields(VmcoreinfoInfo *info, const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    uint64_t v;
    int64_t phys_base;
    char **l;

    for (l = lines; *l; l++) {
        const char *val;

        if (strstart(*l, "OSRELEASE=", &val) && !info->osrelease) {
            info->osrelease = g_strdup(val);
        } else if (strstart(*l, "PAGESIZE=", &val) && parse_u64(val, 10, &v)) {
            info->has_page_size = true;
            info->page_size = v;
        } else if (strstart(*l, "KERNELOFFSET=", &val) &&
                   parse_u64(val, 16, &v)) {
            info->has_kernel_offset = true;
            info->kernel_offset = v;
        } else if (strstart(*l, "NUMBER(phys_base)=", &val) &&
                   qemu_strtoi64(val, NULL, 10, &phys_base) == 0) {
            /* printed with %ld, unlike the symbols */
            info->has_phys_base = true;
            info->phys_base = phys_base;
        } else if (strstart(*l, "SYMBOL(swapper_pg_dir)=", &val) &&
                   parse_u64(val, 16, &v)) {
            info->has_swapper_pg_dir = true;
            info->swapper_pg_dir = v;
        } else if (strstart(*l, "SYMBOL(init_uts_ns)=", &val) &&
                   parse_u64(val, 16, &v)) {
            info->has_init_uts_ns = true;
            info->init_uts_ns = v;
        } else if (strstart(*l, "NUMBER(pgtable_l5_enabled)=", &val) &&
                   parse_u64(val, 10, &v)) {
            info->has_la57 = true;
            info->la57 = v != 0;
        }
    }

    /* Where swapper_pg_dir is in physical memory is the target's to say */
    if (info->has_swapper_pg_dir && info->has_phys_base && first_cpu) {
        const SysemuCPUOps *ops = CPU_GET_CLASS(first_cpu)->sysemu_ops;

        info->has_page_table_root = ops->linux_page_table_root &&
            ops->linux_page_table_root(info->swapper_pg_dir, info->phys_base,
                                       &info->page_table_root);
    }
}

/* Check the ELF note at @note (@size bytes) and return its text */
static char *note_text(const uint8_t *note, uint32_t size, Error **errp)
{
    uint32_t namesz, descsz;
    uint64_t desc;
    const char *text;

    if (size < 12) {
        error_setg(errp, "The guest's VMCOREINFO note is too short (%" PRIu32
                   " bytes)", size);
        return NULL;
    }
    namesz = ldl_le_p(note);
    descsz = ldl_le_p(note + 4);
    desc = 12 + ROUND_UP((uint64_t)namesz, 4);
    /* the name is compared only once the note is known to hold it */
    if (namesz != sizeof("VMCOREINFO") || desc + descsz > size ||
        memcmp(note + 12, "VMCOREINFO", sizeof("VMCOREINFO"))) {
        error_setg(errp, "The guest's vmcoreinfo is not a VMCOREINFO ELF "
                   "note");
        return NULL;
    }
    text = (const char *)note + desc;
    /* The text ends at its first NUL, if any */
    descsz = strnlen(text, descsz);
    if (!g_utf8_validate(text, descsz, NULL)) {
        error_setg(errp, "The guest's VMCOREINFO note is not text");
        return NULL;
    }
    return g_strndup(text, descsz);
}

VmcoreinfoInfo *qmp_query_vmcoreinfo(Error **errp)
{
    VMCoreInfoState *vmci = vmcoreinfo_find();
    g_autofree uint8_t *note = NULL;
    VmcoreinfoInfo *info;
    uint64_t paddr, fail_addr;
    uint32_t size;
    char *text;

    if (!vmci) {
        error_setg(errp, "There is no vmcoreinfo device: start QEMU with "
                   "-device vmcoreinfo, and load the qemu_fw_cfg module in "
                   "the guest kernel so that it publishes its vmcoreinfo");
        return NULL;
    }
    if (!vmci->has_vmcoreinfo) {
        error_setg(errp, "The guest has not published its vmcoreinfo: load "
                   "the qemu_fw_cfg module (CONFIG_FW_CFG_SYSFS) in the "
                   "guest kernel");
        return NULL;
    }
    if (le16_to_cpu(vmci->vmcoreinfo.guest_format) !=
        FW_CFG_VMCOREINFO_FORMAT_ELF) {
        error_setg(errp, "The guest's vmcoreinfo has an unknown format %u",
                   le16_to_cpu(vmci->vmcoreinfo.guest_format));
        return NULL;
    }
    paddr = le64_to_cpu(vmci->vmcoreinfo.paddr);
    size = le32_to_cpu(vmci->vmcoreinfo.size);
    trace_query_vmcoreinfo(paddr, size);
    if (size > VMCOREINFO_MAX_NOTE) {
        error_setg(errp, "The guest's VMCOREINFO note is too large (%" PRIu32
                   " bytes, at most %u)", size, VMCOREINFO_MAX_NOTE);
        return NULL;
    }
    note = g_malloc(size);
    if (pmemaccess_mem_read(NULL, paddr, note, size, &fail_addr)) {
        error_setg(errp, "The guest's VMCOREINFO note at 0x%" PRIx64
                   " is not in RAM (0x%" PRIx64 ")", paddr, fail_addr);
        return NULL;
    }
    text = note_text(note, size, errp);
    if (!text) {
        return NULL;
    }
    info = g_new0(VmcoreinfoInfo, 1);
    info->paddr = paddr;
    info->size = size;
    info->raw = text;
    parse_fields(info, text);
    return info;
}
