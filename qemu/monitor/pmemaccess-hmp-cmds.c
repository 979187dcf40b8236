/*
 * pmemaccess: HMP commands
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vm-introspection.h"
#include "qobject/qdict.h"
#include "qemu/cutils.h"

/*
 * pmemaccess [-w] PATH|fd:NAME [ID]
 *
 * A server started by hand runs until pmemaccess-stop, whatever its
 * form; its identifier is printed when it is not the one asked for.
 */
void hmp_pmemaccess(Monitor *mon, const QDict *qdict)
{
    const char *where = qdict_get_str(qdict, "path");
    const char *id = qdict_get_try_str(qdict, "id");
    bool write = qdict_get_try_bool(qdict, "write", false);
    SocketAddress addr = { .type = SOCKET_ADDRESS_TYPE_FD };
    g_autoptr(PmemAccessStartInfo) info = NULL;
    const char *fdname;
    Error *err = NULL;

    if (strstart(where, "fd:", &fdname)) {
        addr.u.fd.str = (char *)fdname;
        info = qmp_pmemaccess(NULL, &addr, id, true, write, false, 0,
                              true, PMEM_ACCESS_LIFETIME_UNTIL_STOPPED,
                              false, 0, false, 0, &err);
    } else {
        info = qmp_pmemaccess(where, NULL, id, true, write, false, 0,
                              true, PMEM_ACCESS_LIFETIME_UNTIL_STOPPED,
                              false, 0, false, 0, &err);
    }
    if (info && !id && strcmp(info->id, "pmemaccess")) {
        monitor_printf(mon, "pmemaccess server '%s' started\n", info->id);
    }
    hmp_handle_error(mon, err);
}

void hmp_pmemaccess_stop(Monitor *mon, const QDict *qdict)
{
    const char *id = qdict_get_try_str(qdict, "id");
    Error *err = NULL;

    qmp_pmemaccess_stop(id, &err);
    hmp_handle_error(mon, err);
}

void hmp_info_pmemaccess(Monitor *mon, const QDict *qdict)
{
    g_autoptr(PmemAccessInfoList) list = qmp_query_pmemaccess(NULL);
    PmemAccessInfoList *l;

    if (!list) {
        monitor_printf(mon, "No pmemaccess servers\n");
        return;
    }
    for (l = list; l; l = l->next) {
        PmemAccessInfo *i = l->value;

        monitor_printf(mon, "%s: %s:%s write=%s lifetime=%s\n", i->id,
                       SocketAddressType_str(i->addr->type),
                       i->addr->type == SOCKET_ADDRESS_TYPE_UNIX ?
                       i->addr->u.q_unix.path : i->addr->u.fd.str,
                       i->write ? "on" : "off",
                       PmemAccessLifetime_str(i->lifetime));
        monitor_printf(mon, "  clients %" PRId64 "/%" PRId64
                       ", connections %" PRIu64 ", refused %" PRIu64 "\n",
                       i->clients, i->max_clients, i->connections,
                       i->refused);
        monitor_printf(mon, "  requests %" PRIu64 ", errors %" PRIu64
                       ", bytes read %" PRIu64 ", bytes written %" PRIu64
                       "\n", i->requests, i->errors, i->bytes_read,
                       i->bytes_written);
    }
}

/* pmemmap [-w] [-s] [server] */
void hmp_pmemmap(Monitor *mon, const QDict *qdict)
{
    const char *server = qdict_get_try_str(qdict, "server");
    bool write = qdict_get_try_bool(qdict, "write", false);
    bool snapshot = qdict_get_try_bool(qdict, "snapshot", false);
    g_autoptr(PmemMapInfo) info = NULL;
    PmemMapRangeList *r;
    Error *err = NULL;

    info = qmp_pmemmap(server, true,
                       snapshot ? PMEM_MAP_MODE_SNAPSHOT : PMEM_MAP_MODE_LIVE,
                       true, write, &err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "%s, %s, generation %" PRIu64 "\n",
                   PmemMapMode_str(info->mode),
                   PmemMapProtection_str(info->protection), info->generation);
    for (r = info->ranges; r; r = r->next) {
        PmemMapRange *range = r->value;

        monitor_printf(mon, "  %016" PRIx64 "-%016" PRIx64 " %-4s %-20s",
                       range->start, range->start + range->length - 1,
                       range->rom ? "rom" : "ram", range->block);
        if (range->has_fd_index) {
            monitor_printf(mon, " fd #%" PRId64 " @ 0x%" PRIx64 "\n",
                           range->fd_index, range->offset);
        } else {
            monitor_printf(mon, " (not mappable)\n");
        }
    }
}

void hmp_pmemunmap(Monitor *mon, const QDict *qdict)
{
    const char *server = qdict_get_try_str(qdict, "server");
    Error *err = NULL;

    qmp_pmemunmap(server, &err);
    hmp_handle_error(mon, err);
}
