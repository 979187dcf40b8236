/*
 * pmemmap: guest RAM shared with another process, for introspection
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SYSTEM_PMEMMAP_H
#define SYSTEM_PMEMMAP_H

#include "monitor/pmemaccess-proto.h"

typedef struct PmemMap PmemMap;

/* What a client gets: the ranges and the fds they refer to. */
typedef struct PmemMapLayout {
    GArray *ranges;             /* PmemAccessV2MapRange, host byte order */
    GArray *fds;                /* int, owned: closed by the free */
    uint64_t generation;
    uint32_t flags;             /* PMEMACCESS_V2_MAP_* */
    bool reopenable;            /* another user could open an fd writable */
} PmemMapLayout;

PmemMapLayout *pmemmap_layout(PmemMap *map, Error **errp);
void pmemmap_layout_free(PmemMapLayout *layout);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PmemMapLayout, pmemmap_layout_free)

uint64_t pmemmap_generation(void);

void pmemmap_withdraw(PmemMap *map);
PmemMap *pmemmap_ref(PmemMap *map);
void pmemmap_unref(PmemMap *map);

#endif /* SYSTEM_PMEMMAP_H */
