/*
 * pmemaccess: virtual addresses, through the target's page-table walk
 *
 * Clients that know a page-table root (a CR3 value on x86) read the
 * memory at a virtual address in one round trip.  How the tables are laid
 * out is the target's business (SysemuCPUOps::walk_page_tables); here the
 * walk is given its entries from guest RAM and ROM only, so a table in
 * MMIO is a fault, not a device access.  A target without a walk refuses
 * virtual addresses.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "hw/core/cpu.h"
#include "hw/core/sysemu-cpu-ops.h"
#include "pmemaccess-int.h"

/*
 * The walk of the machine's CPU class.  first_cpu may only be looked at
 * under the BQL; client threads use what a BQL holder found.
 */
static PageTableWalkFunc *machine_walk;

void pmemaccess_walk_init(void)
{
    if (first_cpu && !qatomic_read(&machine_walk)) {
        qatomic_set(&machine_walk,
                    CPU_GET_CLASS(first_cpu)->sysemu_ops->walk_page_tables);
    }
}

static bool read_entry(void *opaque, hwaddr addr, uint64_t *entry)
{
    uint64_t unused;

    return !pmemaccess_mem_read(NULL, addr, entry, sizeof(*entry), &unused);
}

uint32_t pmemaccess_walk(const PmemAccessSpace *space, uint64_t vaddr,
                         uint64_t *paddr, uint64_t *page_left)
{
    PageTableWalkFunc *walk = qatomic_read(&machine_walk);
    hwaddr pa;

    if (!walk) {
        return PMEMACCESS_V2_EUNSUPPORTED;
    }
    if (!walk(space->root, space->la57 ? 5 : 4, vaddr, read_entry, NULL,
              &pa, page_left)) {
        return PMEMACCESS_V2_EFAULT;
    }
    *paddr = pa;
    return PMEMACCESS_V2_OK;
}
