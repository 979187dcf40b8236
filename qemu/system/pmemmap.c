/*
 * pmemmap: guest RAM shared with another process, for introspection
 *
 * A client of a pmemaccess server asks for MAP and receives file
 * descriptors of guest RAM with the guest-physical layout, and maps them:
 * a zero-copy view, without ptrace rights on QEMU and without opening any
 * path.  pmemmap decides what the server offers:
 *
 *  - live: guest RAM itself.  It must be fd-backed and shared
 *    (memory-backend-memfd, or memory-backend-file with share=on).  The
 *    layout and the fds are made afresh from the current memory map for
 *    each MAP request, so nothing here can go stale; the fds are new
 *    read-only descriptions unless writes were asked for.
 *
 *  - snapshot: a copy of guest RAM and ROM taken with the vCPUs paused,
 *    in memfds sealed against any write, kept until pmemunmap.
 *
 * While some server offers a map, a memory listener counts the changes
 * of the RAM layout (the generation) and announces each with a QMP
 * event; while none does, nobody can ask, and a fingerprint of the
 * layout taken when the last offer ended tells, at the next offer,
 * whether it changed meanwhile (one change).
 *
 * Writable descriptors cannot be taken back: once a client got one,
 * migration stays blocked for as long as QEMU runs.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vm-introspection.h"
#include "qapi/qapi-events-vm-introspection.h"
#include "qemu/atomic.h"
#include "qemu/cutils.h"
#include "qemu/memfd.h"
#include "qemu/rcu.h"
#include "qemu/units.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "hw/boards.h"
#include "migration/blocker.h"
#include "monitor/pmemaccess.h"
#include "system/cpus.h"
#include "system/pmemmap.h"
#include "trace.h"

/* More fds than this in one MAP reply would be a strange machine */
#define PMEMMAP_MAX_FDS 64

/* What became of a map's writable descriptors (PmemMap.given) */
enum {
    PMEMMAP_OFFERED,            /* none given out yet */
    PMEMMAP_GIVEN,              /* some given out: they stay valid */
    PMEMMAP_WITHDRAWN,          /* none given out, and none will be */
};

struct PmemMap {
    int refs;
    bool snapshot;
    bool write;
    bool withdrawn;             /* BQL: pmemmap_withdraw() ran */
    int given;                  /* writable: PMEMMAP_*, atomic */
    PmemMapLayout *snap;        /* snapshot: the sealed copies */
    Error *migration_blocker;   /* writable: mapped writes are not tracked */
};

/* --- the layout's generation ------------------------------------------*/

static uint64_t generation;
static bool ram_layout_changed;
static bool replaying;  /* (un)registering: its replay is no change */

/* Under the BQL */
static unsigned int offers;     /* maps not yet withdrawn: listen while > 0 */
static char *quiet_fingerprint; /* the layout when the listener last stopped */
static Error *given_blocker;    /* writable fds given out by a withdrawn map */

/* What the generation counts: RAM, and ROM devices in ROM mode */
static bool region_is_mem(MemoryRegion *mr)
{
    return memory_region_is_ram(mr) || memory_region_is_romd(mr);
}

static void pmemmap_region_changed(MemoryListener *listener,
                                   MemoryRegionSection *section)
{
    if (region_is_mem(section->mr)) {
        ram_layout_changed = true;
    }
}

static void pmemmap_commit(MemoryListener *listener)
{
    bool changed = ram_layout_changed;

    ram_layout_changed = false;
    if (changed && !replaying) {
        qatomic_inc(&generation);
        trace_pmemmap_layout_changed(qatomic_read(&generation));
        qapi_event_send_pmemmap_layout_changed(qatomic_read(&generation));
    }
}

static MemoryListener pmemmap_listener = {
    .name = "pmemmap",
    .region_add = pmemmap_region_changed,
    .region_del = pmemmap_region_changed,
    .commit = pmemmap_commit,
};

uint64_t pmemmap_generation(void)
{
    return qatomic_read(&generation);
}

static bool fingerprint_add_range(Int128 start, Int128 len,
                                  const MemoryRegion *mr,
                                  hwaddr offset_in_region, void *opaque)
{
    uint64_t what[4] = {
        int128_get64(start), int128_get64(len), (uintptr_t)mr,
        offset_in_region,
    };

    if (region_is_mem((MemoryRegion *)mr)) {
        g_checksum_update(opaque, (const guchar *)what, sizeof(what));
    }
    return false;
}

/* What the listener would see: the RAM and ROM ranges, and their regions */
static char *layout_fingerprint(void)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);

    WITH_RCU_READ_LOCK_GUARD() {
        flatview_for_each_range(
            address_space_to_flatview(&address_space_memory),
            fingerprint_add_range, sum);
    }
    return g_strdup(g_checksum_get_string(sum));
}

/* A map is offered (BQL held): count layout changes from now on */
static void listener_get(void)
{
    g_autofree char *now = NULL;

    if (offers++) {
        return;
    }
    replaying = true;
    memory_listener_register(&pmemmap_listener, &address_space_memory);
    replaying = false;
    if (quiet_fingerprint) {
        now = layout_fingerprint();
        if (strcmp(now, quiet_fingerprint)) {
            qatomic_inc(&generation);
            trace_pmemmap_layout_changed(qatomic_read(&generation));
            qapi_event_send_pmemmap_layout_changed(qatomic_read(&generation));
        }
        g_clear_pointer(&quiet_fingerprint, g_free);
    }
}

/* The last map offered is withdrawn (BQL held): nobody asks any longer */
static void listener_put(void)
{
    if (--offers) {
        return;
    }
    replaying = true;
    memory_listener_unregister(&pmemmap_listener);
    replaying = false;
    quiet_fingerprint = layout_fingerprint();
}

/* --- layouts ----------------------------------------------------------*/

static PmemMapLayout *layout_new(uint32_t flags)
{
    PmemMapLayout *l = g_new0(PmemMapLayout, 1);

    l->ranges = g_array_new(false, true, sizeof(PmemAccessV2MapRange));
    l->fds = g_array_new(false, false, sizeof(int));
    l->generation = pmemmap_generation();
    l->flags = flags;
    return l;
}

void pmemmap_layout_free(PmemMapLayout *l)
{
    guint i;

    if (!l) {
        return;
    }
    for (i = 0; i < l->fds->len; i++) {
        close(g_array_index(l->fds, int, i));
    }
    g_array_free(l->fds, true);
    g_array_free(l->ranges, true);
    g_free(l);
}

static void map_range_init(PmemAccessV2MapRange *r, Int128 start, Int128 len,
                           MemoryRegion *mr)
{
    memset(r, 0, sizeof(*r));
    r->start = int128_get64(start);
    r->length = int128_get64(len);
    r->fd_index = PMEMACCESS_V2_MAP_NO_FD;
    if (!pmemaccess_region_writable(mr)) {
        r->flags = PMEMACCESS_V2_RANGE_ROM;
    }
    pstrcpy(r->name, sizeof(r->name),
            mr->ram_block ? qemu_ram_get_idstr(mr->ram_block) : mr->name);
}

typedef struct LiveWalk {
    PmemMapLayout *layout;
    GHashTable *fd_index;       /* RAMBlock -> index in layout->fds + 1 */
    bool write;
    Error **errp;
} LiveWalk;

/*
 * A new description of @fd, read-only unless @write.  Only Linux can
 * reopen a descriptor with another access mode (/proc/self/fd).
 */
static int reopen_fd(int fd, bool write, Error **errp)
{
#ifdef CONFIG_LINUX
    g_autofree char *path = g_strdup_printf("/proc/self/fd/%d", fd);
    int nfd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);

    if (nfd < 0) {
        error_setg_errno(errp, errno, "Cannot reopen guest RAM's fd %d", fd);
    }
    return nfd;
#else
    error_setg(errp, "pmemmap needs a Linux host: guest RAM's fd is "
               "reopened read-only through /proc/self/fd, snapshots are "
               "memfds");
    return -1;
#endif
}

/*
 * Whether a receiver of @fd running as another user (without
 * CAP_DAC_OVERRIDE) could open its file for writing, e.g. through
 * /proc/self/fd: a memfd's inode is mode 0777, a file has its own mode.
 */
static bool fd_reopenable_by_others(int fd)
{
    struct stat st;

    return fstat(fd, &st) < 0 || (st.st_mode & (S_IWGRP | S_IWOTH));
}

static bool live_add_range(Int128 start, Int128 len, const MemoryRegion *cmr,
                           hwaddr offset_in_region, void *opaque)
{
    LiveWalk *w = opaque;
    MemoryRegion *mr = (MemoryRegion *)cmr;
    RAMBlock *rb = mr->ram_block;
    PmemAccessV2MapRange r;
    gpointer index;
    int fd;

    if (!pmemaccess_region_readable(mr)) {
        return false;
    }
    map_range_init(&r, start, len, mr);
    if (memory_region_has_ram_discard_manager(mr)) {
        /*
         * virtio-mem: a client's reads through a mapping would populate
         * what the guest unplugged.  Listed, read through pmemaccess,
         * which skips discarded blocks.
         */
        g_array_append_val(w->layout->ranges, r);
        return false;
    }
    fd = rb ? memory_region_get_fd(mr) : -1;
    if (fd < 0 || !qemu_ram_is_shared(rb)) {
        if (!current_machine->ram ||
            rb != current_machine->ram->ram_block) {
            /*
             * ROMs, device RAM (VGA), other memory: listed, but read
             * through pmemaccess.  Only the machine's RAM must be shared.
             */
            g_array_append_val(w->layout->ranges, r);
            return false;
        }
        error_setg(w->errp, "Guest RAM '%s' cannot be shared: it is %s. "
                   "Start QEMU with -object memory-backend-memfd,id=ram0,"
                   "size=SIZE,share=on -machine memory-backend=ram0 (or "
                   "memory-backend-file with share=on), or use "
                   "mode=snapshot", r.name,
                   fd < 0 ? "not backed by a file descriptor" :
                   "private (share=off)");
        return true;
    }
    index = g_hash_table_lookup(w->fd_index, rb);
    if (!index) {
        int nfd;

        if (w->layout->fds->len >= PMEMMAP_MAX_FDS) {
            error_setg(w->errp, "Guest RAM has more than %d blocks",
                       PMEMMAP_MAX_FDS);
            return true;
        }
        nfd = reopen_fd(fd, w->write, w->errp);
        if (nfd < 0) {
            return true;
        }
        w->layout->reopenable |= fd_reopenable_by_others(nfd);
        g_array_append_val(w->layout->fds, nfd);
        index = GUINT_TO_POINTER(w->layout->fds->len);
        g_hash_table_insert(w->fd_index, rb, index);
    }
    r.fd_index = GPOINTER_TO_UINT(index) - 1;
    /* the block starts at its fd's fd_offset (memory-backend-file offset) */
    r.offset = qemu_ram_get_fd_offset(rb) +
               ((uint8_t *)memory_region_get_ram_ptr(mr) + offset_in_region -
                (uint8_t *)qemu_ram_get_host_addr(rb));
    g_array_append_val(w->layout->ranges, r);
    return false;
}

static PmemMapLayout *live_layout(bool write, Error **errp)
{
    ERRP_GUARD();
    LiveWalk w = {
        .layout = layout_new(write ? PMEMACCESS_V2_MAP_WRITABLE : 0),
        .fd_index = g_hash_table_new(NULL, NULL),
        .write = write,
        .errp = errp,
    };

    WITH_RCU_READ_LOCK_GUARD() {
        flatview_for_each_range(
            address_space_to_flatview(&address_space_memory),
            live_add_range, &w);
    }
    g_hash_table_destroy(w.fd_index);
    if (*errp) {
        pmemmap_layout_free(w.layout);
        return NULL;
    }
    return w.layout;
}

/* --- snapshots --------------------------------------------------------*/

typedef struct SnapWalk {
    PmemMapLayout *layout;
    Error **errp;
} SnapWalk;

/*
 * Copy a range into a new memfd, skipping zero chunks and what a
 * RamDiscardManager discarded (holes, both), and seal it.
 */
static bool snap_add_range(Int128 start, Int128 len, const MemoryRegion *cmr,
                           hwaddr offset_in_region, void *opaque)
{
    const uint64_t chunk = 64 * KiB;
    SnapWalk *w = opaque;
    MemoryRegion *mr = (MemoryRegion *)cmr;
    PmemAccessV2MapRange r;
    uint8_t *host;
    uint64_t off;
    int fd;

    if (!pmemaccess_region_readable(mr)) {
        return false;
    }
    if (w->layout->fds->len >= PMEMMAP_MAX_FDS) {
        error_setg(w->errp, "Guest memory has more than %d ranges",
                   PMEMMAP_MAX_FDS);
        return true;
    }
    map_range_init(&r, start, len, mr);
    fd = qemu_memfd_create("pmemmap-snapshot", r.length, false, 0,
                           F_SEAL_GROW | F_SEAL_SHRINK, w->errp);
    if (fd < 0) {
        return true;
    }
    host = (uint8_t *)memory_region_get_ram_ptr(mr) + offset_in_region;
    for (off = 0; off < r.length; off += chunk) {
        uint64_t l = MIN(chunk, r.length - off);

        if (pmemaccess_region_populated(mr, offset_in_region + off, l) < l ||
            buffer_is_zero(host + off, l)) {
            continue;
        }
        if (pwrite(fd, host + off, l, off) != l) {
            error_setg_errno(w->errp, errno, "Cannot copy guest memory");
            close(fd);
            return true;
        }
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        error_setg_errno(w->errp, errno, "Cannot seal the snapshot");
        close(fd);
        return true;
    }
    g_array_append_val(w->layout->fds, fd);
    r.fd_index = w->layout->fds->len - 1;
    g_array_append_val(w->layout->ranges, r);
    return false;
}

/* Called with the BQL held: pauses the vCPUs while it copies. */
static PmemMapLayout *snapshot_take(Error **errp)
{
    ERRP_GUARD();
    SnapWalk w = {
        .layout = layout_new(PMEMACCESS_V2_MAP_SNAPSHOT |
                             PMEMACCESS_V2_MAP_SEALED),
        .errp = errp,
    };

    pause_all_vcpus();
    WITH_RCU_READ_LOCK_GUARD() {
        flatview_for_each_range(
            address_space_to_flatview(&address_space_memory),
            snap_add_range, &w);
    }
    resume_all_vcpus();
    if (*errp) {
        pmemmap_layout_free(w.layout);
        return NULL;
    }
    return w.layout;
}

static PmemMapLayout *layout_dup(PmemMapLayout *src, Error **errp)
{
    PmemMapLayout *l = layout_new(src->flags);
    guint i;

    l->generation = src->generation;
    g_array_append_vals(l->ranges, src->ranges->data, src->ranges->len);
    for (i = 0; i < src->fds->len; i++) {
        int fd = dup(g_array_index(src->fds, int, i));

        if (fd < 0) {
            error_setg_errno(errp, errno, "Cannot duplicate a snapshot fd");
            pmemmap_layout_free(l);
            return NULL;
        }
        g_array_append_val(l->fds, fd);
    }
    return l;
}

/*
 * What a client gets now, with fds of its own (closed by
 * pmemmap_layout_free() once sent).  Any thread.
 */
PmemMapLayout *pmemmap_layout(PmemMap *map, Error **errp)
{
    if (map->snapshot) {
        return layout_dup(map->snap, errp);
    }
    if (map->write &&
        qatomic_cmpxchg(&map->given, PMEMMAP_OFFERED, PMEMMAP_GIVEN) ==
        PMEMMAP_WITHDRAWN) {
        error_setg(errp, "The writable mapping was withdrawn");
        return NULL;
    }
    return live_layout(map->write, errp);
}

/*
 * The server stopped offering @map (main loop, BQL held).  Writable
 * descriptors given out stay valid, and writes through them escape
 * dirty tracking whatever the server does: the migration blocker then
 * stays, for as long as QEMU runs.
 */
void pmemmap_withdraw(PmemMap *map)
{
    if (!map || map->withdrawn) {
        return;
    }
    map->withdrawn = true;
    if (map->migration_blocker) {
        if (qatomic_cmpxchg(&map->given, PMEMMAP_OFFERED,
                            PMEMMAP_WITHDRAWN) == PMEMMAP_OFFERED) {
            migrate_del_blocker(&map->migration_blocker);
        } else if (!given_blocker) {
            given_blocker = map->migration_blocker;
            map->migration_blocker = NULL;
        } else {
            migrate_del_blocker(&map->migration_blocker);
        }
    }
    listener_put();
}

PmemMap *pmemmap_ref(PmemMap *map)
{
    qatomic_inc(&map->refs);
    return map;
}

void pmemmap_unref(PmemMap *map)
{
    if (map && qatomic_fetch_dec(&map->refs) == 1) {
        pmemmap_layout_free(map->snap);
        g_free(map);
    }
}

/* --- the commands -----------------------------------------------------*/

static PmemMapInfo *map_info(PmemMap *map, PmemMapLayout *l)
{
    PmemMapInfo *info = g_new0(PmemMapInfo, 1);
    PmemMapRangeList **tail = &info->ranges;
    guint i;

    info->mode = map->snapshot ? PMEM_MAP_MODE_SNAPSHOT : PMEM_MAP_MODE_LIVE;
    info->protection = map->snapshot ? PMEM_MAP_PROTECTION_SEALED :
                       map->write ? PMEM_MAP_PROTECTION_WRITABLE :
                       l->reopenable ? PMEM_MAP_PROTECTION_READ_ONLY_FD :
                       PMEM_MAP_PROTECTION_READ_ONLY_FILE;
    info->generation = l->generation;
    for (i = 0; i < l->ranges->len; i++) {
        PmemAccessV2MapRange *r = &g_array_index(l->ranges,
                                                 PmemAccessV2MapRange, i);
        PmemMapRange *range = g_new0(PmemMapRange, 1);

        range->start = r->start;
        range->length = r->length;
        range->block = g_strdup(r->name);
        range->rom = r->flags & PMEMACCESS_V2_RANGE_ROM;
        if (r->fd_index != PMEMACCESS_V2_MAP_NO_FD) {
            range->has_fd_index = true;
            range->fd_index = r->fd_index;
            range->has_offset = true;
            range->offset = r->offset;
        }
        QAPI_LIST_APPEND(tail, range);
    }
    return info;
}

PmemMapInfo *qmp_pmemmap(const char *server,
                         bool has_mode, PmemMapMode mode,
                         bool has_write, bool write, Error **errp)
{
    g_autoptr(PmemMapLayout) layout = NULL;
    PmemMapInfo *info;
    PmemMap *map;

    server = server ?: "pmemaccess";
    write = has_write && write;
    if (!pmemaccess_server_exists(server, errp)) {
        return NULL;
    }
    if (has_mode && mode == PMEM_MAP_MODE_SNAPSHOT && write) {
        error_setg(errp, "A snapshot cannot be writable");
        return NULL;
    }
    if (write && !pmemaccess_server_allows_write_by_id(server)) {
        error_setg(errp, "pmemaccess server '%s' was started without "
                   "write: it cannot offer writable mappings", server);
        return NULL;
    }
    map = g_new0(PmemMap, 1);
    map->refs = 1;
    map->write = write;
    if (write) {
        /* writes through the mapping bypass dirty tracking */
        error_setg(&map->migration_blocker, "guest RAM is mapped writable "
                   "by pmemmap on pmemaccess server '%s'", server);
        if (migrate_add_blocker(&map->migration_blocker, errp) < 0) {
            g_free(map);
            return NULL;
        }
    }
    listener_get();
    map->snapshot = has_mode && mode == PMEM_MAP_MODE_SNAPSHOT;
    if (map->snapshot) {
        map->snap = snapshot_take(errp);
        layout = map->snap ? layout_dup(map->snap, errp) : NULL;
    } else {
        /* check now that guest RAM can be shared, and describe it */
        layout = live_layout(write, errp);
    }
    if (!layout || !pmemaccess_server_offer_map(server, map, errp)) {
        pmemmap_withdraw(map);
        pmemmap_unref(map);
        return NULL;
    }
    info = map_info(map, layout);
    trace_pmemmap_offer(server, map->snapshot, write, layout->ranges->len);
    pmemmap_unref(map);
    return info;
}

void qmp_pmemunmap(const char *server, Error **errp)
{
    pmemaccess_server_offer_map(server ?: "pmemaccess", NULL, errp);
}
