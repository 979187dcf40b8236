/*
 * pmemaccess: internal interfaces between the server, its clients and
 * guest memory access
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MONITOR_PMEMACCESS_INT_H
#define MONITOR_PMEMACCESS_INT_H

#include "io/channel-socket.h"
#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qemu/units.h"
#include "monitor/pmemaccess-proto.h"
#include "system/pmemmap.h"

/* Data moves through a per-client buffer of this size. */
#define PMEMACCESS_CHUNK (256 * KiB)

/* How addresses of a request are interpreted. */
typedef struct PmemAccessSpace {
    bool virtual;       /* translate through the page tables at @root */
    bool la57;          /* 5-level paging */
    uint64_t root;      /* page-table root (x86: CR3) */
} PmemAccessSpace;

/* pmemaccess-mem.c: guest RAM and ROM only, never MMIO */
uint32_t pmemaccess_mem_read(const PmemAccessSpace *space, uint64_t addr,
                             void *buf, uint64_t len, uint64_t *fail_addr);
uint32_t pmemaccess_mem_check(const PmemAccessSpace *space, uint64_t addr,
                              uint64_t len, bool is_write,
                              uint64_t *fail_addr);
uint32_t pmemaccess_mem_write(uint64_t addr, const void *buf, uint64_t len,
                              uint64_t *fail_addr);
void *pmemaccess_mem_map(uint64_t addr, uint64_t len, uint64_t *contiguous);
GArray *pmemaccess_mem_layout(uint64_t *ram_size);

/* pmemaccess-vmcoreinfo.c: VMCOREINFO reply data, or NULL and *@err */
GByteArray *pmemaccess_vmcoreinfo(uint32_t *err);

/*
 * pmemaccess-walk.c: the target's page tables, read from guest RAM.
 * pmemaccess_walk_init() is called with the BQL held before any walk;
 * without a walk for the target, virtual reads are EUNSUPPORTED.
 */
void pmemaccess_walk_init(void);
uint32_t pmemaccess_walk(const PmemAccessSpace *space, uint64_t vaddr,
                         uint64_t *paddr, uint64_t *page_left);

typedef struct PmemAccessServer PmemAccessServer;

/* pmemaccess.c: what a client thread may ask of its server */
bool pmemaccess_server_allows_write(PmemAccessServer *s);
PmemMap *pmemaccess_server_get_map(PmemAccessServer *s);
void pmemaccess_server_count(PmemAccessServer *s, uint64_t bytes_read,
                             uint64_t bytes_written, bool error);
void pmemaccess_server_client_done(PmemAccessServer *s, void *client);
void pmemaccess_server_client_exit(PmemAccessServer *s, QemuThread *thread);
int64_t pmemaccess_server_request_timeout(PmemAccessServer *s);

/* pmemaccess-client.c: one connection, served on its own thread */
typedef struct PmemAccessClient PmemAccessClient;
PmemAccessClient *pmemaccess_client_start(PmemAccessServer *s,
                                          QIOChannelSocket *sioc,
                                          QemuThread *thread);
void pmemaccess_client_shutdown(PmemAccessClient *c);

#endif /* MONITOR_PMEMACCESS_INT_H */
