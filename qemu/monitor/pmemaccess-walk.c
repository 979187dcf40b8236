/*
 * pmemaccess: x86-64 page-table walk over guest RAM
 *
 * The walk serves introspection clients that know a page-table root (a
 * CR3 value) and want the memory at a virtual address in one round trip.
 * The page tables are guest-controlled, so they are untrusted input: the
 * walk takes at most five steps, and reads entries from RAM only.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "pmemaccess-int.h"

#define PTE_PRESENT     (1ULL << 0)
#define PTE_PS          (1ULL << 7)
#define PTE_ADDR_MASK   0x000ffffffffff000ULL

/*
 * Translate @vaddr through the 4- or 5-level page tables at @space->root.
 * On success, *@paddr is the physical address and *@page_left the number
 * of bytes from it to the end of its page (4 KiB, 2 MiB or 1 GiB).
 */
uint32_t pmemaccess_walk(const PmemAccessSpace *space, uint64_t vaddr,
                         uint64_t *paddr, uint64_t *page_left)
{
    int levels = space->la57 ? 5 : 4;
    int va_bits = 12 + 9 * levels;
    uint64_t table = space->root & PTE_ADDR_MASK;
    int level;

    /* Canonical: the bits above va_bits - 1 repeat bit va_bits - 1 */
    if (((int64_t)(vaddr << (64 - va_bits)) >> (64 - va_bits)) !=
        (int64_t)vaddr) {
        return PMEMACCESS_V2_EFAULT;
    }

    for (level = levels; level >= 1; level--) {
        int shift = 12 + 9 * (level - 1);
        uint64_t index = (vaddr >> shift) & 511;
        uint64_t pte, unused;

        if (pmemaccess_mem_read(NULL, table + index * 8, &pte, sizeof(pte),
                                &unused)) {
            return PMEMACCESS_V2_EFAULT;
        }
        pte = le64_to_cpu(pte);
        if (!(pte & PTE_PRESENT)) {
            return PMEMACCESS_V2_EFAULT;
        }
        /* A PS bit ends the walk in a PDPT (1 GiB) or PD (2 MiB) entry */
        if (level == 1 || ((level == 2 || level == 3) && (pte & PTE_PS))) {
            uint64_t page_size = 1ULL << shift;
            uint64_t offset = vaddr & (page_size - 1);

            *paddr = (pte & PTE_ADDR_MASK & ~(page_size - 1)) | offset;
            *page_left = page_size - offset;
            return PMEMACCESS_V2_OK;
        }
        table = pte & PTE_ADDR_MASK;
    }
    g_assert_not_reached();
}
