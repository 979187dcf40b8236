/*
 * pmemaccess: guest memory access for the server threads
 *
 * Only RAM and ROM are touched.  A read through address_space_read()
 * would reach MMIO regions too, with device side effects and the BQL
 * taken; here every range is first translated in the current memory map
 * (under RCU, without the BQL) and refused unless it is RAM or ROM.
 * RAM that a RamDiscardManager (virtio-mem) has discarded is not RAM to
 * us either: reading it would populate it again.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "exec/cpu-common.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "monitor/pmemaccess.h"
#include "pmemaccess-int.h"

/* Guest memory that may be read: RAM and ROM, never MMIO */
bool pmemaccess_region_readable(MemoryRegion *mr)
{
    return (memory_region_is_ram(mr) && !memory_region_is_ram_device(mr)) ||
           memory_region_is_romd(mr);
}

/* ... and write: RAM that is not read-only */
bool pmemaccess_region_writable(MemoryRegion *mr)
{
    return memory_region_is_ram(mr) && !memory_region_is_ram_device(mr) &&
           !mr->readonly && !memory_region_is_rom(mr);
}

/*
 * How many of the @len bytes at offset @offset of @mr, a region
 * pmemaccess_region_readable() accepts, are populated: all of them,
 * unless a RamDiscardManager has discarded some.  Dump and migration skip
 * discarded memory too: it holds no data, and touching it allocates it
 * again (a shared memfd would grow by what was read).
 *
 * virtio-mem plugs and unplugs blocks with the BQL held, and these checks
 * run without it; a read that races with an unplug of the block it reads
 * may still touch it, once, as a guest access at that moment would.
 */
uint64_t pmemaccess_region_populated(MemoryRegion *mr, hwaddr offset,
                                     uint64_t len)
{
    RamDiscardManager *rdm = memory_region_get_ram_discard_manager(mr);
    MemoryRegionSection s = { .mr = mr };
    uint64_t granularity, done, l;

    if (!rdm || !len) {
        return len;
    }
    s.offset_within_region = offset;
    s.size = int128_make64(len);
    if (ram_discard_manager_is_populated(rdm, &s)) {
        return len;
    }
    granularity = ram_discard_manager_get_min_granularity(rdm, mr);
    for (done = 0; done < len; done += l) {
        s.offset_within_region = offset + done;
        l = MIN(len - done, granularity - (offset + done) % granularity);
        s.size = int128_make64(l);
        if (!ram_discard_manager_is_populated(rdm, &s)) {
            break;
        }
    }
    return done;
}

/*
 * Read (@buf != NULL), or only check (@buf == NULL), @len bytes of
 * guest-physical memory at @addr.
 */
static uint32_t phys_access(uint64_t addr, void *buf, uint64_t len,
                            bool is_write, uint64_t *fail_addr)
{
    uint8_t *p = buf;

    RCU_READ_LOCK_GUARD();
    while (len) {
        hwaddr xlat, l = len, populated;
        MemoryRegion *mr;

        mr = address_space_translate(&address_space_memory, addr, &xlat, &l,
                                     is_write, MEMTXATTRS_UNSPECIFIED);
        if (is_write ? !pmemaccess_region_writable(mr) :
                       !pmemaccess_region_readable(mr)) {
            *fail_addr = addr;
            if (is_write && pmemaccess_region_readable(mr)) {
                return PMEMACCESS_V2_EPERM;
            }
            return PMEMACCESS_V2_ENOTRAM;
        }
        populated = pmemaccess_region_populated(mr, xlat, l);
        if (populated < l) {
            *fail_addr = addr + populated;
            return PMEMACCESS_V2_ENOTRAM;
        }
        if (p) {
            memcpy(p, (uint8_t *)memory_region_get_ram_ptr(mr) + xlat, l);
            p += l;
        }
        addr += l;
        len -= l;
    }
    return PMEMACCESS_V2_OK;
}

/*
 * Apply phys_access() to each physical piece of the virtual or physical
 * range [@addr, @addr + @len).
 */
static uint32_t space_access(const PmemAccessSpace *space, uint64_t addr,
                             uint8_t *buf, uint64_t len, bool is_write,
                             uint64_t *fail_addr)
{
    uint32_t err;

    if (!space || !space->virtual) {
        return phys_access(addr, buf, len, is_write, fail_addr);
    }
    while (len) {
        uint64_t paddr, page_left, l, unused;

        err = pmemaccess_walk(space, addr, &paddr, &page_left);
        if (err) {
            *fail_addr = addr;
            return err;
        }
        l = MIN(len, page_left);
        err = phys_access(paddr, buf, l, is_write, &unused);
        if (err) {
            *fail_addr = addr;
            return err;
        }
        if (buf) {
            buf += l;
        }
        addr += l;
        len -= l;
    }
    return PMEMACCESS_V2_OK;
}

/*
 * The host address of guest-physical @addr, which must be readable, and
 * in *@contiguous how many of the following @len bytes are contiguous
 * there.  Only valid inside the caller's RCU read-side critical section.
 */
void *pmemaccess_mem_map(uint64_t addr, uint64_t len, uint64_t *contiguous)
{
    hwaddr xlat, l = len;
    MemoryRegion *mr;

    mr = address_space_translate(&address_space_memory, addr, &xlat, &l,
                                 false, MEMTXATTRS_UNSPECIFIED);
    if (!pmemaccess_region_readable(mr)) {
        return NULL;
    }
    *contiguous = pmemaccess_region_populated(mr, xlat, l);
    if (!*contiguous) {
        return NULL;
    }
    return (uint8_t *)memory_region_get_ram_ptr(mr) + xlat;
}

uint32_t pmemaccess_mem_read(const PmemAccessSpace *space, uint64_t addr,
                             void *buf, uint64_t len, uint64_t *fail_addr)
{
    return space_access(space, addr, buf, len, false, fail_addr);
}

uint32_t pmemaccess_mem_check(const PmemAccessSpace *space, uint64_t addr,
                              uint64_t len, bool is_write,
                              uint64_t *fail_addr)
{
    return space_access(space, addr, NULL, len, is_write, fail_addr);
}

/*
 * Writes go through address_space_map(), after the check that tells
 * read-only memory (EPERM) from no memory (ENOTRAM).  The map translates
 * once, in one memory map, and gives either a pointer into guest RAM or
 * a bounce buffer for anything else, which is refused and unmapped
 * without writing; so the range written is the range checked, even if a
 * PAM or BAR change moves it meanwhile, and a write never reaches a
 * device.  Unmapping marks the range dirty and invalidates TCG's
 * translations of it, as address_space_write() would.
 */
uint32_t pmemaccess_mem_write(uint64_t addr, const void *buf, uint64_t len,
                              uint64_t *fail_addr)
{
    const uint8_t *p = buf;
    uint32_t err;

    RCU_READ_LOCK_GUARD();
    err = phys_access(addr, NULL, len, true, fail_addr);
    if (err) {
        return err;
    }
    while (len) {
        hwaddr l = len;
        ram_addr_t offset;
        void *host = address_space_map(&address_space_memory, addr, &l, true,
                                       MEMTXATTRS_UNSPECIFIED);

        if (!host || !qemu_ram_block_from_host(host, false, &offset)) {
            if (host) {
                address_space_unmap(&address_space_memory, host, l, true, 0);
            }
            *fail_addr = addr;
            return PMEMACCESS_V2_ENOTRAM;
        }
        memcpy(host, p, l);
        address_space_unmap(&address_space_memory, host, l, true, l);
        addr += l;
        p += l;
        len -= l;
    }
    return PMEMACCESS_V2_OK;
}

static bool layout_add_range(Int128 start, Int128 len, const MemoryRegion *mr,
                             hwaddr offset_in_region, void *opaque)
{
    GArray *ranges = opaque;
    MemoryRegion *m = (MemoryRegion *)mr;
    PmemAccessV2Range r = { 0 };

    if (!pmemaccess_region_readable(m)) {
        return false;
    }
    r.start = int128_get64(start);
    r.length = int128_get64(len);
    if (!pmemaccess_region_writable(m)) {
        r.flags |= PMEMACCESS_V2_RANGE_ROM;
    }
    if (ranges->len) {
        PmemAccessV2Range *last = &g_array_index(ranges, PmemAccessV2Range,
                                                 ranges->len - 1);

        /* Merge neighbours of the same kind, e.g. split RAM below 1 MiB */
        if (last->start + last->length == r.start && last->flags == r.flags) {
            last->length += r.length;
            return false;
        }
    }
    g_array_append_val(ranges, r);
    return false;
}

/*
 * The guest-physical RAM and ROM ranges, in ascending order, as the
 * current memory map has them (host byte order).  *@ram_size gets the
 * total length of the RAM (not ROM) ranges.
 */
GArray *pmemaccess_mem_layout(uint64_t *ram_size)
{
    GArray *ranges = g_array_new(false, true, sizeof(PmemAccessV2Range));
    guint i;

    WITH_RCU_READ_LOCK_GUARD() {
        flatview_for_each_range(
            address_space_to_flatview(&address_space_memory),
            layout_add_range, ranges);
    }
    *ram_size = 0;
    for (i = 0; i < ranges->len; i++) {
        PmemAccessV2Range *r = &g_array_index(ranges, PmemAccessV2Range, i);

        if (!(r->flags & PMEMACCESS_V2_RANGE_ROM)) {
            *ram_size += r->length;
        }
    }
    return ranges;
}
