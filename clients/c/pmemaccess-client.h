/*
 * libpmemaccess-client: a small C client for QEMU's pmemaccess server
 *
 * Speaks protocol v2 (docs/interop/pmemaccess.rst): read, batched read,
 * virtual read through the guest's page tables, write, paused batches,
 * zero-copy maps of guest RAM (pmemmap) and the guest kernel's
 * vmcoreinfo.  Depends on libc only.
 *
 * Errors: every int function returns 0 on success or a negative code,
 * -errno for a system error, or -(PMEMC_SERVER_ERROR + e) for error e
 * of the protocol (PMEMACCESS_V2_ENOTRAM...); pmemc_error() describes
 * the last failure in words.  Short reads and writes and EINTR are
 * handled inside.  After a system error the connection is unusable:
 * close it.
 *
 * Threads: a pmemc connection is not thread-safe; give each thread its
 * own (the server serves each on its own thread).  A pmemc_view may be
 * read from any thread.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PMEMACCESS_CLIENT_H
#define PMEMACCESS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "monitor/pmemaccess-proto.h"

#define PMEMC_SERVER_ERROR 1000

typedef struct pmemc pmemc;
typedef struct pmemc_view pmemc_view;

typedef struct pmemc_segment {
    uint64_t address;
    uint64_t length;
} pmemc_segment;

/* How addresses are read: physical, or virtual through @root */
typedef struct pmemc_space {
    bool virtual;
    bool la57;              /* 5-level paging */
    uint64_t root;          /* CR3 */
} pmemc_space;

int pmemc_connect(pmemc **c, const char *path);
void pmemc_close(pmemc *c);
const char *pmemc_error(const pmemc *c);

/* From the server's hello */
bool pmemc_can_write(const pmemc *c);
uint64_t pmemc_ram_size(const pmemc *c);
uint32_t pmemc_max_payload(const pmemc *c);
uint32_t pmemc_max_segments(const pmemc *c);
size_t pmemc_layout(const pmemc *c, const PmemAccessV2Range **ranges);

int pmemc_read(pmemc *c, const pmemc_space *space, uint64_t addr,
               void *buf, size_t len);
/*
 * Read @n segments into @buf, one after the other; a failed segment's
 * bytes are zeros and @status[i] its error (0 for success).  @paused
 * serves the batch with the vCPUs paused (a consistent instant).
 */
int pmemc_readv(pmemc *c, const pmemc_space *space, bool paused,
                const pmemc_segment *segs, uint32_t n, void *buf,
                uint32_t *status);
int pmemc_write(pmemc *c, uint64_t addr, const void *buf, size_t len);
int pmemc_generation(pmemc *c, uint64_t *generation);
/*
 * The guest kernel's vmcoreinfo (VMCOREINFO request): the head in host
 * byte order in *@info (its @valid bits say which fields are set), and
 * the note's text, NUL-terminated, in *@text (malloc'ed; free it; may be
 * NULL to skip it).  -(PMEMC_SERVER_ERROR + PMEMACCESS_V2_ENODATA) if
 * the guest has published none.
 */
int pmemc_vmcoreinfo(pmemc *c, PmemAccessV2Vmcoreinfo *info, char **text);

/* pmemmap: map guest memory as the server offers it */
int pmemc_map(pmemc *c, pmemc_view **view);
void pmemc_unmap(pmemc_view *view);
/*
 * The address of guest-physical @gpa in @view, if @len bytes from there
 * are mapped contiguously; NULL otherwise.
 */
void *pmemc_view_gpa(const pmemc_view *view, uint64_t gpa, size_t len);
uint64_t pmemc_view_generation(const pmemc_view *view);
uint32_t pmemc_view_flags(const pmemc_view *view);

#endif /* PMEMACCESS_CLIENT_H */
