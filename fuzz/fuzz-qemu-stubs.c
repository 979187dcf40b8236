/*
 * What pmemaccess's client, memory and page-walk code need from the rest
 * of QEMU, for the fuzz target: a small fake guest-physical address space
 * (RAM, ROM, RAM above 4 GiB whose odd 4 KiB blocks are discarded, as
 * virtio-mem discards unplugged blocks, nothing else), one CPU whose class
 * has x86-64's page walk, QIOChannel over a plain fd, and no-op locks,
 * RCU, tracing and vCPU pausing.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <malloc.h>
#include "qapi/error.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qom/object.h"
#include "system/memory.h"
#include "io/channel-socket.h"
#include "trace/control.h"
#include "system/cpus.h"
#include "block/aio.h"
#include "qemu/main-loop.h"
#include "system/pmemmap.h"
#include "qemu/module.h"
#include "qemu/log.h"
#include "hw/core/cpu.h"
#include "hw/core/sysemu-cpu-ops.h"
#include "../qemu/monitor/pmemaccess-int.h"
#include "fuzz-qemu-stubs.h"

/* --- the machine's CPU: x86-64's page walk (target/i386/introspection.c) -*/

PageTableWalkFunc x86_cpu_walk_page_tables;

static const SysemuCPUOps fake_sysemu_ops = {
    .walk_page_tables = x86_cpu_walk_page_tables,
};
static CPUClass fake_cpu_class = { .sysemu_ops = &fake_sysemu_ops };
static CPUState fake_cpu;
CPUTailQ cpus_queue = QTAILQ_HEAD_INITIALIZER(cpus_queue);

ObjectClass *object_get_class(Object *obj)
{
    return obj->class;
}

ObjectClass *object_class_dynamic_cast_assert(ObjectClass *class,
                                              const char *typename,
                                              const char *file, int line,
                                              const char *func)
{
    return class;
}

void fuzz_cpu_init(void)
{
    OBJECT(&fake_cpu)->class = (ObjectClass *)&fake_cpu_class;
    QTAILQ_INSERT_TAIL(&cpus_queue, &fake_cpu, node);
    pmemaccess_walk_init();
}

/* --- the fake guest-physical address space ------------------------------*/

typedef struct FakeRegion {
    uint64_t start, size;
    MemoryRegion mr;
    uint8_t *host;
    uint8_t *initial;
} FakeRegion;

static FakeRegion regions[] = {
    { .start = 0, .size = FUZZ_RAM_SIZE },
    { .start = FUZZ_HIGH_RAM, .size = FUZZ_HIGH_RAM_SIZE },
    { .start = FUZZ_ROM, .size = FUZZ_ROM_SIZE },
};
static MemoryRegion unassigned;
static FlatView flatview;

/* RAM above 4 GiB has a RamDiscardManager: its odd blocks are discarded */
#define FAKE_DISCARD_BLOCK  (4 * KiB)
static char fake_rdm;

RamDiscardManager *memory_region_get_ram_discard_manager(MemoryRegion *mr)
{
    return mr == &regions[1].mr ? (RamDiscardManager *)&fake_rdm : NULL;
}

uint64_t ram_discard_manager_get_min_granularity(const RamDiscardManager *rdm,
                                                 const MemoryRegion *mr)
{
    g_assert(rdm == (RamDiscardManager *)&fake_rdm);
    return FAKE_DISCARD_BLOCK;
}

bool ram_discard_manager_is_populated(const RamDiscardManager *rdm,
                                      const MemoryRegionSection *section)
{
    uint64_t first = section->offset_within_region / FAKE_DISCARD_BLOCK;
    uint64_t end = section->offset_within_region +
                   int128_get64(section->size);

    g_assert(rdm == (RamDiscardManager *)&fake_rdm);
    g_assert(int128_get64(section->size) > 0);
    g_assert(end <= regions[1].size);
    for (; first * FAKE_DISCARD_BLOCK < end; first++) {
        if (first & 1) {
            return false;
        }
    }
    return true;
}
AddressSpace address_space_memory = { .current_map = &flatview };
bool fuzz_write_allowed;

static bool written;

void fuzz_memory_reset(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(regions); i++) {
        FakeRegion *r = &regions[i];

        if (!r->host) {
            r->host = g_malloc(r->size);
            r->initial = g_malloc(r->size);
            r->mr.ram = true;
            r->mr.readonly = r->start == FUZZ_ROM;
            /* a recognisable pattern; as page-table entries, present */
            for (uint64_t off = 0; off < r->size; off += 8) {
                uint64_t v = (r->start + off) | 0x67;

                memcpy(r->initial + off, &v, 8);
            }
            written = true;
        }
        if (written) {
            memcpy(r->host, r->initial, r->size);
        }
    }
    written = false;
}

static FakeRegion *find(hwaddr addr)
{
    for (size_t i = 0; i < ARRAY_SIZE(regions); i++) {
        if (addr >= regions[i].start &&
            addr - regions[i].start < regions[i].size) {
            return &regions[i];
        }
    }
    return NULL;
}

MemoryRegion *flatview_translate(FlatView *fv, hwaddr addr, hwaddr *xlat,
                                 hwaddr *plen, bool is_write,
                                 MemTxAttrs attrs)
{
    FakeRegion *r = find(addr);

    if (!r) {
        /* unassigned up to the next region */
        hwaddr next = UINT64_MAX;

        for (size_t i = 0; i < ARRAY_SIZE(regions); i++) {
            if (regions[i].start > addr && regions[i].start < next) {
                next = regions[i].start;
            }
        }
        *xlat = addr;
        *plen = MIN(*plen, next - addr);
        return &unassigned;
    }
    *xlat = addr - r->start;
    *plen = MIN(*plen, r->size - *xlat);
    return &r->mr;
}

void *memory_region_get_ram_ptr(MemoryRegion *mr)
{
    FakeRegion *r = container_of(mr, FakeRegion, mr);

    g_assert(mr != &unassigned);
    return r->host;
}

bool memory_region_is_ram_device(MemoryRegion *mr)
{
    return false;
}

/*
 * Writes map guest RAM: a pointer into writable RAM, or a "bounce
 * buffer" (never written back) for anything else, as QEMU's map does.
 */
static uint8_t bounce[4096];

void *address_space_map(AddressSpace *as, hwaddr addr, hwaddr *plen,
                        bool is_write, MemTxAttrs attrs)
{
    FakeRegion *r = find(addr);

    if (!r || r->mr.readonly) {
        *plen = MIN(*plen, sizeof(bounce));
        return bounce;
    }
    *plen = MIN(*plen, r->size - (addr - r->start));
    return r->host + (addr - r->start);
}

void address_space_unmap(AddressSpace *as, void *buffer, hwaddr len,
                         bool is_write, hwaddr access_len)
{
    if (buffer != bounce && access_len) {
        written = true;
    }
}

RAMBlock *qemu_ram_block_from_host(void *ptr, bool round_offset,
                                   ram_addr_t *offset)
{
    static RAMBlock *fake_block = (RAMBlock *)&fake_block;

    return ptr == bounce ? NULL : fake_block;
}

void flatview_for_each_range(FlatView *fv, flatview_cb cb, void *opaque)
{
    for (size_t i = 0; i < ARRAY_SIZE(regions); i++) {
        if (cb(int128_make64(regions[i].start),
               int128_make64(regions[i].size), &regions[i].mr, 0, opaque)) {
            return;
        }
    }
}

/* --- the server a client asks things of ---------------------------------*/

bool pmemaccess_server_allows_write(PmemAccessServer *s)
{
    return fuzz_write_allowed;
}

PmemMap *pmemaccess_server_get_map(PmemAccessServer *s)
{
    return NULL;                /* MAP: nothing offered */
}

void pmemaccess_server_count(PmemAccessServer *s, uint64_t bytes_read,
                             uint64_t bytes_written, bool error)
{
}

void pmemaccess_server_client_done(PmemAccessServer *s, void *client)
{
}

void pmemaccess_server_client_exit(PmemAccessServer *s, QemuThread *thread)
{
}

int64_t pmemaccess_server_request_timeout(PmemAccessServer *s)
{
    return 0;                   /* the harness ends each input with EOF */
}

GByteArray *pmemaccess_vmcoreinfo(uint32_t *err)
{
    *err = PMEMACCESS_V2_ENODATA;
    return NULL;
}

uint64_t pmemmap_generation(void)
{
    return 1;
}

PmemMapLayout *pmemmap_layout(PmemMap *map, Error **errp)
{
    error_setg(errp, "not in the fuzz target");
    return NULL;
}

void pmemmap_layout_free(PmemMapLayout *layout)
{
}

void pmemmap_unref(PmemMap *map)
{
}

/* --- QIOChannel over the socket's fd -------------------------------------*/

static int fd_of(QIOChannel *ioc)
{
    return ((QIOChannelSocket *)ioc)->fd;
}

int qio_channel_write_all(QIOChannel *ioc, const void *data, size_t len,
                          Error **errp)
{
    const char *buf = data;

    while (len) {
        ssize_t n = write(fd_of(ioc), buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

int qio_channel_writev_full_all(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds,
                                int flags, Error **errp)
{
    for (size_t i = 0; i < niov; i++) {
        if (qio_channel_write_all(ioc, iov[i].iov_base, iov[i].iov_len,
                                  errp)) {
            return -1;
        }
    }
    return 0;
}

bool qio_channel_set_blocking(QIOChannel *ioc, bool enabled, Error **errp)
{
    return true;
}

int qio_channel_close(QIOChannel *ioc, Error **errp)
{
    return 0;                   /* the harness closes its own fds */
}

int qio_channel_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                         Error **errp)
{
    return 0;
}

Object *object_dynamic_cast_assert(Object *obj, const char *typename,
                                   const char *file, int line,
                                   const char *func)
{
    return obj;
}

void object_unref(void *obj)
{
}

/* --- the client's buffers, recycled ------------------------------------*/

static void *chunks[2];

void *fuzz_g_malloc(size_t size)
{
    if (size == PMEMACCESS_CHUNK) {
        for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
            if (chunks[i]) {
                void *p = chunks[i];

                chunks[i] = NULL;
                return p;
            }
        }
    }
    return g_malloc(size);
}

void fuzz_g_free(void *p)
{
    for (size_t i = 0; p && i < ARRAY_SIZE(chunks); i++) {
        if (!chunks[i] && malloc_usable_size(p) == PMEMACCESS_CHUNK) {
            chunks[i] = p;
            return;
        }
    }
    g_free(p);
}

/* --- threads, locks, RCU, tracing, vCPUs: one thread, nothing to do -----*/

void qemu_thread_create(QemuThread *thread, const char *name,
                        void *(*start_routine)(void *), void *arg, int mode)
{
    start_routine(arg);         /* the client runs to its end, inline */
}

int qemu_get_thread_id(void)
{
    return getpid();
}

void qemu_mutex_init(QemuMutex *mutex)
{
}

void qemu_mutex_destroy(QemuMutex *mutex)
{
}

static void mutex_lock(QemuMutex *mutex, const char *file, int line)
{
}

QemuMutexLockFunc qemu_mutex_lock_func = mutex_lock;

void qemu_mutex_unlock_impl(QemuMutex *mutex, const char *file,
                            const int line)
{
}

void bql_lock_impl(const char *file, int line)
{
}

void bql_unlock(void)
{
}

/* QEMU 7.2's names, which its bql_lock() compatibility inlines call */
void qemu_mutex_lock_iothread_impl(const char *file, int line);
void qemu_mutex_unlock_iothread(void);

void qemu_mutex_lock_iothread_impl(const char *file, int line)
{
}

void qemu_mutex_unlock_iothread(void)
{
}

/* Paused requests run their bottom half at once, on the client's thread */
AioContext *iohandler_get_aio_context(void)
{
    return NULL;
}

bool qemu_in_vcpu_thread(void)
{
    return false;
}

void aio_bh_schedule_oneshot_full(AioContext *ctx, QEMUBHFunc *cb,
                                  void *opaque, const char *name)
{
    cb(opaque);
}

void qemu_event_init(QemuEvent *ev, bool init)
{
}

void qemu_event_set(QemuEvent *ev)
{
}

void qemu_event_wait(QemuEvent *ev)
{
}

void qemu_event_destroy(QemuEvent *ev)
{
}

void pause_all_vcpus(void)
{
}

void resume_all_vcpus(void)
{
}

static struct rcu_reader_data reader;
unsigned long rcu_gp_ctr;
QemuEvent rcu_gp_event;

struct rcu_reader_data *get_ptr_rcu_reader(void)
{
    return &reader;
}

void rcu_register_thread(void)
{
}

void rcu_unregister_thread(void)
{
}

int trace_events_enabled_count;
unsigned qemu_loglevel;

void trace_event_register_group(TraceEvent **events)
{
}

void error_free(Error *err)
{
}

const char *error_get_pretty(const Error *err)
{
    return "error";
}

void error_setg_internal(Error **errp, const char *src, int line,
                         const char *func, const char *fmt, ...)
{
    if (errp) {
        *errp = (Error *)1;     /* only ever passed to error_free() */
    }
}

bool message_with_timestamp;

void qemu_log(const char *fmt, ...)
{
}

void register_module_init(void (*fn)(void), module_init_type type)
{
}
