/*
 * QMP read-guest-memory and write-guest-memory
 *
 * Guest memory through QMP itself, for clients that reach QEMU only
 * through it (libvirt's qemu-monitor-command, qmp-shell, drgn --qemu).
 * The access checks and the page-table walk are pmemaccess's: only RAM
 * and ROM are read, only RAM written, never MMIO.  Sizes are bounded;
 * larger transfers belong on pmemaccess or pmemmap.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vm-introspection.h"
#include "qemu/base64.h"
#include "qemu/config-file.h"
#include "qemu/option.h"
#include "monitor/pmemaccess.h"
#include "pmemaccess-int.h"
#include "trace.h"

/* The most bytes one read-guest-memory or write-guest-memory moves */
#define GUEST_MEMORY_QMP_MAX (1u << 20)

/* -introspection write=on: QMP writes to guest memory are allowed */
static bool guest_memory_write_allowed(void)
{
    QemuOptsList *list = qemu_find_opts_err("introspection", NULL);
    QemuOpts *opts = list ? qemu_opts_find(list, NULL) : NULL;

    return opts && qemu_opt_get_bool(opts, "write", false);
}

/* Say why pmemaccess refused [@addr, +@len), naming the failing address */
static void set_access_error(uint32_t err, bool virtual, uint64_t fail_addr,
                             Error **errp)
{
    switch (err) {
    case PMEMACCESS_V2_EUNSUPPORTED:
        error_setg(errp, "This target has no page-table walk: give "
                   "guest-physical addresses (no 'root')");
        break;
    case PMEMACCESS_V2_EFAULT:
        error_setg(errp, "Virtual address 0x%" PRIx64 " is not mapped by "
                   "the page tables at 'root'", fail_addr);
        break;
    case PMEMACCESS_V2_EPERM:
        error_setg(errp, "%s address 0x%" PRIx64 " is read-only memory "
                   "(ROM): refused", virtual ? "Virtual" : "Guest-physical",
                   fail_addr);
        break;
    default:
        error_setg(errp, "%s address 0x%" PRIx64 " is not RAM or ROM "
                   "(MMIO or unassigned): refused",
                   virtual ? "Virtual" : "Guest-physical", fail_addr);
        break;
    }
}

static bool check_range(uint64_t addr, uint64_t size, uint32_t max,
                        const char *what, Error **errp)
{
    if (size > max) {
        error_setg(errp, "Cannot %s more than %u bytes of guest memory "
                   "through QMP (asked for %" PRIu64 "); use pmemaccess or "
                   "pmemmap for large transfers", what, max, size);
        return false;
    }
    if (size && addr + size - 1 < addr) {
        error_setg(errp, "Range 0x%" PRIx64 " + %" PRIu64 " wraps past the "
                   "end of the address space", addr, size);
        return false;
    }
    return true;
}

GuestMemoryData *qmp_read_guest_memory(uint64_t addr, uint64_t size,
                                       bool has_root, uint64_t root,
                                       bool has_la57, bool la57,
                                       Error **errp)
{
    PmemAccessSpace space = {
        .virtual = has_root,
        .la57 = has_la57 && la57,
        .root = root,
    };
    g_autofree uint8_t *buf = NULL;
    GuestMemoryData *data;
    uint64_t fail_addr = addr;
    uint32_t err;

    trace_read_guest_memory(addr, size, has_root, root);
    if (has_la57 && !has_root) {
        error_setg(errp, "'la57' needs 'root'");
        return NULL;
    }
    if (!check_range(addr, size, GUEST_MEMORY_QMP_MAX, "read", errp)) {
        return NULL;
    }
    pmemaccess_walk_init();
    buf = g_malloc(size);
    err = pmemaccess_mem_read(&space, addr, buf, size, &fail_addr);
    if (err) {
        set_access_error(err, has_root, fail_addr, errp);
        return NULL;
    }
    data = g_new0(GuestMemoryData, 1);
    data->data = g_base64_encode(buf, size);
    return data;
}

void qmp_write_guest_memory(uint64_t addr, const char *data, Error **errp)
{
    g_autofree uint8_t *buf = NULL;
    uint64_t fail_addr = addr;
    size_t len, max_len;
    uint32_t err;

    if (!guest_memory_write_allowed()) {
        error_setg(errp, "Writing guest memory through QMP is disabled; "
                   "start QEMU with -introspection write=on to allow it");
        return;
    }
    /* Do not decode what is sure to be refused */
    max_len = strlen(data) / 4 * 3;
    if (max_len > GUEST_MEMORY_QMP_MAX + 2 &&
        !check_range(addr, max_len - 2, GUEST_MEMORY_QMP_MAX, "write",
                     errp)) {
        return;
    }
    buf = qbase64_decode(data, -1, &len, errp);
    if (!buf) {
        return;
    }
    trace_write_guest_memory(addr, len);
    if (!check_range(addr, len, GUEST_MEMORY_QMP_MAX, "write", errp)) {
        return;
    }
    if (!len) {
        return;
    }
    err = pmemaccess_mem_write(addr, buf, len, &fail_addr);
    if (err) {
        set_access_error(err, false, fail_addr, errp);
    }
}
