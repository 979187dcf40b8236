/*
 * pmemaccess: the VMCOREINFO request of protocol v2
 *
 * Gives a socket client what QMP query-vmcoreinfo gives (KASLR offset,
 * page-table root, the note's text) without a second channel to QEMU.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vm-introspection.h"
#include "pmemaccess-int.h"

/* The fields of @info, little-endian, as the wire has them */
static void fill(PmemAccessV2Vmcoreinfo *v, VmcoreinfoInfo *info)
{
    uint32_t valid = 0;

    v->paddr = cpu_to_le64(info->paddr);
    if (info->osrelease) {
        valid |= PMEMACCESS_V2_VMCI_OSRELEASE;
        pstrcpy(v->osrelease, sizeof(v->osrelease), info->osrelease);
    }
    if (info->has_page_size) {
        valid |= PMEMACCESS_V2_VMCI_PAGE_SIZE;
        v->page_size = cpu_to_le64(info->page_size);
    }
    if (info->has_kernel_offset) {
        valid |= PMEMACCESS_V2_VMCI_KERNEL_OFFSET;
        v->kernel_offset = cpu_to_le64(info->kernel_offset);
    }
    if (info->has_phys_base) {
        valid |= PMEMACCESS_V2_VMCI_PHYS_BASE;
        v->phys_base = cpu_to_le64(info->phys_base);
    }
    if (info->has_swapper_pg_dir) {
        valid |= PMEMACCESS_V2_VMCI_SWAPPER_PG_DIR;
        v->swapper_pg_dir = cpu_to_le64(info->swapper_pg_dir);
    }
    if (info->has_init_uts_ns) {
        valid |= PMEMACCESS_V2_VMCI_INIT_UTS_NS;
        v->init_uts_ns = cpu_to_le64(info->init_uts_ns);
    }
    if (info->has_page_table_root) {
        valid |= PMEMACCESS_V2_VMCI_PAGE_TABLE_ROOT;
        v->page_table_root = cpu_to_le64(info->page_table_root);
    }
    if (info->has_la57 && info->la57) {
        valid |= PMEMACCESS_V2_VMCI_LA57;
    }
    v->valid = cpu_to_le32(valid);
    v->text_len = cpu_to_le32(strlen(info->raw));
}

/*
 * The data of a VMCOREINFO reply.  Runs on a client thread: the device
 * state is read under the BQL, like a QMP command.
 */
GByteArray *pmemaccess_vmcoreinfo(uint32_t *err)
{
    g_autoptr(VmcoreinfoInfo) info = NULL;
    PmemAccessV2Vmcoreinfo v = { 0 };
    GByteArray *data;

    bql_lock();
    info = qmp_query_vmcoreinfo(NULL);
    bql_unlock();
    if (!info) {
        *err = PMEMACCESS_V2_ENODATA;
        return NULL;
    }
    fill(&v, info);
    data = g_byte_array_sized_new(sizeof(v) + strlen(info->raw));
    g_byte_array_append(data, (const guint8 *)&v, sizeof(v));
    g_byte_array_append(data, (const guint8 *)info->raw, strlen(info->raw));
    return data;
}
