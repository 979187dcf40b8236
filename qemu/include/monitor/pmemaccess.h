/*
 * pmemaccess: what other parts of QEMU may ask of a pmemaccess server
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MONITOR_PMEMACCESS_H
#define MONITOR_PMEMACCESS_H

#include "system/memory.h"
#include "system/pmemmap.h"

bool pmemaccess_region_readable(MemoryRegion *mr);
bool pmemaccess_region_writable(MemoryRegion *mr);
uint64_t pmemaccess_region_populated(MemoryRegion *mr, hwaddr offset,
                                     uint64_t len);

bool pmemaccess_server_exists(const char *id, Error **errp);
bool pmemaccess_server_allows_write_by_id(const char *id);

/*
 * Offer @map (a new reference is taken) to the clients of server @id,
 * replacing what it offered before; @map NULL withdraws the offer.
 */
bool pmemaccess_server_offer_map(const char *id, PmemMap *map,
                                 Error **errp);

/*
 * Stop every server, and wait for their clients (qemu_cleanup()).  The
 * server is built on POSIX hosts only: elsewhere there is none to stop.
 */
#ifdef CONFIG_POSIX
void pmemaccess_cleanup(void);
#else
static inline void pmemaccess_cleanup(void)
{
}
#endif

#endif /* MONITOR_PMEMACCESS_H */
