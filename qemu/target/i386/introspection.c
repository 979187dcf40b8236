/*
 * x86: what guest-memory introspection needs to know of the target
 *
 * Introspection tools (pmemaccess, read-guest-memory) read the memory of
 * a process or of the kernel knowing only its page-table root: the walk
 * here translates through the tables at any root, not the CPU's own, and
 * takes no CPU state.  The page tables are guest-controlled input: the
 * walk takes at most five steps and reads its entries through the
 * caller, which decides what memory a walk may touch.  A Linux kernel's
 * own tables are found from its vmcoreinfo (query-vmcoreinfo).
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "hw/core/sysemu-cpu-ops.h"

#define PTE_PRESENT     (1ULL << 0)
#define PTE_PS          (1ULL << 7)
#define PTE_ADDR_MASK   0x000ffffffffff000ULL

/* Linux's kernel image mapping, __START_KERNEL_map */
#define LINUX_START_KERNEL_MAP  0xffffffff80000000ULL

/*
 * SysemuCPUOps::walk_page_tables for x86-64: 4-level or, with LA57,
 * 5-level paging; 4 KiB, 2 MiB and 1 GiB pages.
 */
bool x86_cpu_walk_page_tables(uint64_t root, int levels, vaddr addr,
                              PageTableReadFunc *read_entry, void *opaque,
                              hwaddr *paddr, uint64_t *page_left)
{
    int va_bits = 12 + 9 * levels;
    uint64_t table = root & PTE_ADDR_MASK;
    int level;

    if (levels != 4 && levels != 5) {
        return false;
    }
    /* Canonical: the bits above va_bits - 1 repeat bit va_bits - 1 */
    if (((int64_t)(addr << (64 - va_bits)) >> (64 - va_bits)) !=
        (int64_t)addr) {
        return false;
    }

    for (level = levels; level >= 1; level--) {
        int shift = 12 + 9 * (level - 1);
        uint64_t index = (addr >> shift) & 511;
        uint64_t pte;

        if (!read_entry(opaque, table + index * 8, &pte)) {
            return false;
        }
        pte = le64_to_cpu(pte);
        if (!(pte & PTE_PRESENT)) {
            return false;
        }
        /* PS is reserved in PML4 and PML5 entries: the CPU faults */
        if (level >= 4 && (pte & PTE_PS)) {
            return false;
        }
        /* A PS bit ends the walk in a PDPT (1 GiB) or PD (2 MiB) entry */
        if (level == 1 || ((level == 2 || level == 3) && (pte & PTE_PS))) {
            uint64_t page_size = 1ULL << shift;
            uint64_t offset = addr & (page_size - 1);

            *paddr = (pte & PTE_ADDR_MASK & ~(page_size - 1)) | offset;
            *page_left = page_size - offset;
            return true;
        }
        table = pte & PTE_ADDR_MASK;
    }
    g_assert_not_reached();
}

/*
 * SysemuCPUOps::linux_page_table_root for x86-64: swapper_pg_dir lives in
 * the kernel image mapping, whose physical start is phys_base.
 */
bool x86_cpu_linux_page_table_root(uint64_t swapper_pg_dir, int64_t phys_base,
                                   uint64_t *root)
{
    if (swapper_pg_dir < LINUX_START_KERNEL_MAP) {
        return false;
    }
    *root = swapper_pg_dir - LINUX_START_KERNEL_MAP + phys_base;
    return true;
}
