/*
 * HMP info vmcoreinfo
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vm-introspection.h"

void hmp_info_vmcoreinfo(Monitor *mon, const QDict *qdict)
{
    g_autoptr(VmcoreinfoInfo) info = NULL;
    Error *err = NULL;

    info = qmp_query_vmcoreinfo(&err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "VMCOREINFO note at 0x%" PRIx64 ", %" PRIu64
                   " bytes\n", info->paddr, info->size);
    if (info->osrelease) {
        monitor_printf(mon, "  release         %s\n", info->osrelease);
    }
    if (info->has_kernel_offset) {
        monitor_printf(mon, "  kernel offset   0x%" PRIx64 "\n",
                       info->kernel_offset);
    }
    if (info->has_phys_base) {
        /* negative when KASLR moved the kernel less in physical memory */
        monitor_printf(mon, "  phys_base       %s0x%" PRIx64 "\n",
                       info->phys_base < 0 ? "-" : "",
                       info->phys_base < 0 ? -(uint64_t)info->phys_base :
                                             info->phys_base);
    }
    if (info->has_page_table_root) {
        monitor_printf(mon, "  page-table root 0x%" PRIx64 "%s\n",
                       info->page_table_root,
                       info->has_la57 && info->la57 ? " (5-level)" : "");
    }
    monitor_printf(mon, "%s%s", info->raw,
                   g_str_has_suffix(info->raw, "\n") ? "" : "\n");
}
