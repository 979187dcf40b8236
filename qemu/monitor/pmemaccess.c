/*
 * pmemaccess: serve guest-physical memory to introspection clients
 *
 * A server listens on a UNIX socket (created by path, or passed in with
 * getfd/add-fd) on a thread of its own and starts a thread for each
 * client.  The monitor only starts, stops and queries servers; it never
 * waits for a client, so a client can never stall the main loop.
 *
 * Lifetime: the server list holds one reference on a server and each
 * client thread another; the last one frees it.  Stopping a server joins
 * its accept thread, shuts its clients' sockets down, waits for their
 * threads to end and drops the list's reference.  QEMU's exit stops
 * every server the same way (qemu_cleanup(), main thread): no client
 * thread reads guest memory while QEMU tears down.
 *
 * A while-connected server (LibVMI's) is stopped from the main loop when
 * its last client has gone, or when none came in time: a bottom half
 * that the last client thread schedules, or a timer.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qapi/clone-visitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vm-introspection.h"
#include "qapi/qapi-visit-sockets.h"
#include "qemu/atomic.h"
#include "qemu/cutils.h"
#include "qemu/event_notifier.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qemu/timer.h"
#include "monitor/monitor.h"
#include "monitor/pmemaccess.h"
#include "system/system.h"
#include "pmemaccess-int.h"
#include "trace.h"

#define PMEMACCESS_DEFAULT_ID           "pmemaccess"
#define PMEMACCESS_DEFAULT_MAX_CLIENTS  16
#define PMEMACCESS_MAX_CLIENTS          1024
#define PMEMACCESS_DEFAULT_CONNECT_TIMEOUT 30     /* seconds */
#define PMEMACCESS_MAX_CONNECT_TIMEOUT  3600
#define PMEMACCESS_DEFAULT_REQUEST_TIMEOUT 10     /* seconds, as NBD's */
#define PMEMACCESS_MAX_REQUEST_TIMEOUT  3600

struct PmemAccessServer {
    char *id;
    SocketAddress *addr;
    bool check_peer;            /* only our uid or root may connect */
    bool write;
    int64_t max_clients;
    PmemAccessLifetime lifetime;
    int64_t request_timeout;    /* seconds, 0 for none */

    QIOChannelSocket *listener;
    EventNotifier stop;
    QemuThread accept_thread;

    QemuMutex lock;             /* protects the members below */
    GPtrArray *clients;         /* PmemAccessClient */
    int refs;
    GPtrArray *threads;         /* QemuThread of each client not joined */
    GPtrArray *ended;           /* those of them that have ended */
    PmemMap *map;               /* what MAP gives, see pmemmap */
    bool closing;               /* while-connected and done: accept no more */

    /* under the BQL */
    QEMUTimer *connect_timer;   /* while-connected: none came in time */
    bool stopped;

    /* statistics, updated atomically */
    uint64_t connections;
    uint64_t refused;
    uint64_t requests;
    uint64_t errors;
    uint64_t bytes_read;
    uint64_t bytes_written;

    QTAILQ_ENTRY(PmemAccessServer) next;
};

/* Only the monitor, under the BQL, touches the list. */
static QTAILQ_HEAD(, PmemAccessServer) servers =
    QTAILQ_HEAD_INITIALIZER(servers);

static void server_free(PmemAccessServer *s)
{
    pmemmap_unref(s->map);
    g_ptr_array_free(s->clients, true);
    g_ptr_array_free(s->threads, true);
    g_ptr_array_free(s->ended, true);
    qemu_mutex_destroy(&s->lock);
    qapi_free_SocketAddress(s->addr);
    g_free(s->id);
    g_free(s);
}

static void server_unref(PmemAccessServer *s)
{
    bool last;

    qemu_mutex_lock(&s->lock);
    last = --s->refs == 0;
    qemu_mutex_unlock(&s->lock);
    if (last) {
        server_free(s);
    }
}

bool pmemaccess_server_allows_write(PmemAccessServer *s)
{
    return s->write;
}

int64_t pmemaccess_server_request_timeout(PmemAccessServer *s)
{
    return s->request_timeout;
}

void pmemaccess_server_count(PmemAccessServer *s, uint64_t bytes_read,
                             uint64_t bytes_written, bool error)
{
    qatomic_inc(&s->requests);
    if (error) {
        qatomic_inc(&s->errors);
    }
    if (bytes_read) {
        qatomic_add(&s->bytes_read, bytes_read);
    }
    if (bytes_written) {
        qatomic_add(&s->bytes_written, bytes_written);
    }
}

/* What MAP gives now, a reference for the caller, or NULL. */
PmemMap *pmemaccess_server_get_map(PmemAccessServer *s)
{
    PmemMap *map;

    qemu_mutex_lock(&s->lock);
    map = s->map ? pmemmap_ref(s->map) : NULL;
    qemu_mutex_unlock(&s->lock);
    return map;
}

static void server_stop(PmemAccessServer *s);

/* Holds a reference on @s, taken by whoever scheduled it. */
static void server_end_bh(void *opaque)
{
    PmemAccessServer *s = opaque;

    if (!s->stopped) {
        trace_pmemaccess_end(s->id, "its last client has gone");
        server_stop(s);
    }
    server_unref(s);
}

/* A client thread is done with @s: the last thing it does with it. */
void pmemaccess_server_client_done(PmemAccessServer *s, void *client)
{
    bool end;

    qemu_mutex_lock(&s->lock);
    g_ptr_array_remove_fast(s->clients, client);
    end = s->lifetime == PMEM_ACCESS_LIFETIME_WHILE_CONNECTED &&
          !s->clients->len && !s->closing;
    if (end) {
        s->closing = true;
        s->refs++;
    }
    qemu_mutex_unlock(&s->lock);
    if (end) {
        /* the main loop proper, not a nested aio_poll() (see run_paused) */
        aio_bh_schedule_oneshot(iohandler_get_aio_context(), server_end_bh, s);
    }
}

/* Client thread @thread ends: nothing of it is left but its return. */
void pmemaccess_server_client_exit(PmemAccessServer *s, QemuThread *thread)
{
    qemu_mutex_lock(&s->lock);
    g_ptr_array_add(s->ended, thread);
    qemu_mutex_unlock(&s->lock);
    server_unref(s);
}

/* Join and free the QemuThreads of @threads */
static void join_threads(GPtrArray *threads)
{
    guint i;

    for (i = 0; i < threads->len; i++) {
        qemu_thread_join(g_ptr_array_index(threads, i));
        g_free(g_ptr_array_index(threads, i));
    }
}

/* Join the client threads that have ended (accept thread) */
static void server_reap(PmemAccessServer *s)
{
    g_autoptr(GPtrArray) ended = NULL;
    guint i;

    qemu_mutex_lock(&s->lock);
    ended = s->ended;
    s->ended = g_ptr_array_new();
    for (i = 0; i < ended->len; i++) {
        g_ptr_array_remove_fast(s->threads, g_ptr_array_index(ended, i));
    }
    qemu_mutex_unlock(&s->lock);
    join_threads(ended);
}

static void server_connect_timeout(void *opaque)
{
    PmemAccessServer *s = opaque;
    bool end;

    qemu_mutex_lock(&s->lock);
    end = !s->closing && !qatomic_read(&s->connections);
    s->closing |= end;
    qemu_mutex_unlock(&s->lock);
    if (end) {
        trace_pmemaccess_end(s->id, "no client connected in time");
        server_stop(s);
    }
}

/*
 * Whether the peer runs as QEMU's user or as root: Linux tells with
 * SO_PEERCRED, the BSDs and macOS with getpeereid().  Elsewhere the
 * socket's mode 0600 is the only check.
 */
static bool peer_is_trusted(QIOChannelSocket *sioc)
{
#if defined(CONFIG_LINUX)
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(sioc->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        return false;
    }
    return cred.uid == 0 || cred.uid == geteuid();
#elif defined(CONFIG_BSD) || defined(CONFIG_DARWIN)
    uid_t uid;
    gid_t gid;

    if (getpeereid(sioc->fd, &uid, &gid) < 0) {
        return false;
    }
    return uid == 0 || uid == geteuid();
#else
    return true;
#endif
}

static void refuse(PmemAccessServer *s, QIOChannelSocket *sioc,
                   const char *why)
{
    trace_pmemaccess_refuse(s->id, why);
    qatomic_inc(&s->refused);
    object_unref(OBJECT(sioc));
}

/* Serve @sioc, just accepted, unless it must be refused. */
static void accept_one(PmemAccessServer *s, QIOChannelSocket *sioc)
{
    QemuThread *thread;

    server_reap(s);
    if (s->check_peer && !peer_is_trusted(sioc)) {
        refuse(s, sioc, "peer runs as another user");
        return;
    }
    qemu_mutex_lock(&s->lock);
    if (s->closing) {
        qemu_mutex_unlock(&s->lock);
        refuse(s, sioc, "the server is ending");
        return;
    }
    if (s->clients->len >= s->max_clients) {
        qemu_mutex_unlock(&s->lock);
        refuse(s, sioc, "too many clients");
        return;
    }
    s->refs++;
    qatomic_inc(&s->connections);
    trace_pmemaccess_accept(s->id, sioc->fd);
    thread = g_new(QemuThread, 1);
    g_ptr_array_add(s->threads, thread);
    /* under the lock, so the client cannot be done before it is listed */
    g_ptr_array_add(s->clients, pmemaccess_client_start(s, sioc, thread));
    qemu_mutex_unlock(&s->lock);
}

#define PMEMACCESS_ACCEPT_BACKOFF_MS    100

static void *accept_thread(void *opaque)
{
    PmemAccessServer *s = opaque;
    struct pollfd fds[2] = {
        { .fd = s->listener->fd, .events = POLLIN },
        { .fd = event_notifier_get_fd(&s->stop), .events = POLLIN },
    };

    for (;;) {
        QIOChannelSocket *sioc;
        Error *err = NULL;

        if (poll(fds, ARRAY_SIZE(fds), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[1].revents) {
            break;
        }
        if (!fds[0].revents) {
            continue;
        }
        sioc = qio_channel_socket_accept(s->listener, &err);
        if (sioc) {
            accept_one(s, sioc);
            continue;
        }
        /*
         * Out of file descriptors (or memory), the connection stays in
         * the backlog and poll() returns at once: wait before trying
         * again, or until the server stops.  (Also after a client that
         * went away before accept(): rare, and harmless.)
         */
        trace_pmemaccess_refuse(s->id, error_get_pretty(err));
        error_free(err);
        if (poll(&fds[1], 1, PMEMACCESS_ACCEPT_BACKOFF_MS) > 0) {
            break;
        }
    }
    return NULL;
}

static PmemAccessServer *server_find(const char *id)
{
    PmemAccessServer *s;

    QTAILQ_FOREACH(s, &servers, next) {
        if (!strcmp(s->id, id)) {
            return s;
        }
    }
    return NULL;
}

bool pmemaccess_server_exists(const char *id, Error **errp)
{
    if (!server_find(id)) {
        error_setg(errp, "No pmemaccess server '%s': start one with "
                   "pmemaccess first", id);
        return false;
    }
    return true;
}

bool pmemaccess_server_allows_write_by_id(const char *id)
{
    PmemAccessServer *s = server_find(id);

    return s && s->write;
}

bool pmemaccess_server_offer_map(const char *id, PmemMap *map,
                                 Error **errp)
{
    PmemAccessServer *s = server_find(id);
    PmemMap *old;

    if (!pmemaccess_server_exists(id, errp)) {
        return false;
    }
    qemu_mutex_lock(&s->lock);
    old = s->map;
    if (!map && !old) {
        qemu_mutex_unlock(&s->lock);
        error_setg(errp, "pmemaccess server '%s' offers no mapping", id);
        return false;
    }
    s->map = map ? pmemmap_ref(map) : NULL;
    qemu_mutex_unlock(&s->lock);
    /* clients that took the old one keep it until their MAP is sent */
    pmemmap_withdraw(old);
    pmemmap_unref(old);
    return true;
}

/*
 * Join every client thread of @s, their sockets shut down and the
 * accept thread gone.  Without the BQL meanwhile: a VMCOREINFO request
 * takes it.
 */
static void server_join_clients(PmemAccessServer *s)
{
    g_autoptr(GPtrArray) threads = NULL;

    qemu_mutex_lock(&s->lock);
    threads = s->threads;
    s->threads = g_ptr_array_new();
    qemu_mutex_unlock(&s->lock);
    if (!threads->len) {
        return;
    }
    bql_unlock();
    join_threads(threads);
    bql_lock();
    qemu_mutex_lock(&s->lock);
    g_ptr_array_set_size(s->ended, 0);      /* all of them joined */
    qemu_mutex_unlock(&s->lock);
}

static void server_stop(PmemAccessServer *s)
{
    guint i;

    trace_pmemaccess_stop(s->id);
    s->stopped = true;
    timer_free(s->connect_timer);
    s->connect_timer = NULL;
    QTAILQ_REMOVE(&servers, s, next);
    event_notifier_set(&s->stop);
    qemu_thread_join(&s->accept_thread);
    event_notifier_cleanup(&s->stop);
    /* removes the path of a socket we created, as for any QEMU listener */
    qio_channel_close(QIO_CHANNEL(s->listener), NULL);
    object_unref(OBJECT(s->listener));
    qemu_mutex_lock(&s->lock);
    for (i = 0; i < s->clients->len; i++) {
        pmemaccess_client_shutdown(g_ptr_array_index(s->clients, i));
    }
    pmemmap_withdraw(s->map);
    qemu_mutex_unlock(&s->lock);
    server_join_clients(s);
    server_unref(s);
}

void pmemaccess_cleanup(void)
{
    while (!QTAILQ_EMPTY(&servers)) {
        server_stop(QTAILQ_FIRST(&servers));
    }
}

/*
 * The socket of fdset @name ("/dev/fdset/N"), as a descriptor of our own:
 * the fdset keeps no record of it, so remove-fd frees the fdset whatever
 * became of the server.
 */
static int open_fdset(const char *name, Error **errp)
{
    int dup_fd = qemu_open(name, O_RDWR, errp);
    int fd;

    if (dup_fd < 0) {
        return -1;
    }
    fd = qemu_dup(dup_fd);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Cannot duplicate '%s'", name);
    }
    qemu_close(dup_fd);
    return fd;
}

/*
 * A listening socket passed in by the management layer: the name of an
 * fd passed with getfd, or "/dev/fdset/N" for one passed with add-fd.
 * It must be a UNIX socket.  Its path, if any, is not ours: it stays.
 */
static QIOChannelSocket *listen_passed(const char *name, int backlog,
                                       Error **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    QIOChannelSocket *ioc;
    int fd;

    if (g_str_has_prefix(name, "/dev/fdset/")) {
        fd = open_fdset(name, errp);
    } else {
        fd = monitor_get_fd(monitor_cur(), name, errp);
    }
    if (fd < 0) {
        return NULL;
    }
    if (!fd_is_socket(fd) ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        ss.ss_family != AF_UNIX) {
        error_setg(errp, "File descriptor '%s' is not a UNIX socket: guest "
                   "memory must not cross a network", name);
        close(fd);
        return NULL;
    }
    if (listen(fd, backlog) < 0) {
        error_setg_errno(errp, errno, "Cannot listen on '%s'", name);
        close(fd);
        return NULL;
    }
    ioc = qio_channel_socket_new_fd(fd, errp);
    if (!ioc) {
        close(fd);
    }
    return ioc;
}

/*
 * Listen where @s->addr says.  A socket created from a path gets mode
 * 0600, and QEMU removes its path when the listener is closed.
 */
static QIOChannelSocket *server_listen(PmemAccessServer *s, Error **errp)
{
    SocketAddress *addr = s->addr;
    QIOChannelSocket *listener;
    struct stat st;

    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_UNIX:
#ifdef CONFIG_LINUX
        if (addr->u.q_unix.has_abstract && addr->u.q_unix.abstract) {
            error_setg(errp, "pmemaccess does not listen on abstract "
                       "sockets: give a path, or pass a socket");
            return NULL;
        }
#endif
        /* socket_listen() would unlink whatever is at the path */
        if (lstat(addr->u.q_unix.path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            error_setg(errp, "'%s' exists and is not a socket",
                       addr->u.q_unix.path);
            return NULL;
        }
        s->check_peer = true;
        break;
    case SOCKET_ADDRESS_TYPE_FD:
        return listen_passed(addr->u.fd.str, s->max_clients, errp);
    default:
        error_setg(errp, "pmemaccess listens on a UNIX socket or a passed "
                   "file descriptor only: guest memory must not cross a "
                   "network");
        return NULL;
    }

    listener = qio_channel_socket_new();
    if (qio_channel_socket_listen_sync(listener, addr, s->max_clients,
                                       errp) < 0) {
        object_unref(OBJECT(listener));
        return NULL;
    }
    if (chmod(addr->u.q_unix.path, 0600) < 0) {
        error_setg_errno(errp, errno, "Cannot make '%s' private",
                         addr->u.q_unix.path);
        qio_channel_close(QIO_CHANNEL(listener), NULL);
        object_unref(OBJECT(listener));
        return NULL;
    }
    return listener;
}

/* "pmemaccess" if free, else "pmemaccess-N" with an N never given out */
static char *server_new_id(void)
{
    static unsigned int next = 1;
    char *id;

    if (!server_find(PMEMACCESS_DEFAULT_ID)) {
        return g_strdup(PMEMACCESS_DEFAULT_ID);
    }
    for (;;) {
        id = g_strdup_printf(PMEMACCESS_DEFAULT_ID "-%u", next++);
        if (!server_find(id)) {
            return id;
        }
        g_free(id);
    }
}

PmemAccessStartInfo *qmp_pmemaccess(const char *path, SocketAddress *addr,
                                    const char *id,
                                    bool has_write, bool write,
                                    bool has_max_clients,
                                    int64_t max_clients,
                                    bool has_lifetime,
                                    PmemAccessLifetime lifetime,
                                    bool has_connect_timeout,
                                    int64_t connect_timeout,
                                    bool has_request_timeout,
                                    int64_t request_timeout,
                                    Error **errp)
{
    PmemAccessStartInfo *info;
    PmemAccessServer *s;

    if (!path == !addr) {
        error_setg(errp, "Give exactly one of 'path' and 'addr'");
        return NULL;
    }
    if (path && !*path) {
        error_setg(errp, "Parameter 'path' must not be empty");
        return NULL;
    }
    if (id && server_find(id)) {
        error_setg(errp, "pmemaccess server '%s' already exists", id);
        return NULL;
    }
    if (!has_max_clients) {
        max_clients = PMEMACCESS_DEFAULT_MAX_CLIENTS;
    } else if (max_clients < 1 || max_clients > PMEMACCESS_MAX_CLIENTS) {
        error_setg(errp, "Parameter 'max-clients' must be between 1 and %d",
                   PMEMACCESS_MAX_CLIENTS);
        return NULL;
    }
    if (!has_lifetime) {
        /* LibVMI's form: it never stops the server it starts */
        lifetime = path && !id ? PMEM_ACCESS_LIFETIME_WHILE_CONNECTED :
                                 PMEM_ACCESS_LIFETIME_UNTIL_STOPPED;
    }
    if (!has_connect_timeout) {
        connect_timeout = PMEMACCESS_DEFAULT_CONNECT_TIMEOUT;
    } else if (lifetime != PMEM_ACCESS_LIFETIME_WHILE_CONNECTED) {
        error_setg(errp, "Parameter 'connect-timeout' is for a "
                   "while-connected server only");
        return NULL;
    } else if (connect_timeout < 1 ||
               connect_timeout > PMEMACCESS_MAX_CONNECT_TIMEOUT) {
        error_setg(errp, "Parameter 'connect-timeout' must be between 1 "
                   "and %d", PMEMACCESS_MAX_CONNECT_TIMEOUT);
        return NULL;
    }
    if (!has_request_timeout) {
        request_timeout = PMEMACCESS_DEFAULT_REQUEST_TIMEOUT;
    } else if (request_timeout < 0 ||
               request_timeout > PMEMACCESS_MAX_REQUEST_TIMEOUT) {
        error_setg(errp, "Parameter 'request-timeout' must be between 0 "
                   "and %d", PMEMACCESS_MAX_REQUEST_TIMEOUT);
        return NULL;
    }

    s = g_new0(PmemAccessServer, 1);
    s->id = id ? g_strdup(id) : server_new_id();
    s->write = has_write && write;
    s->max_clients = max_clients;
    s->lifetime = lifetime;
    s->request_timeout = request_timeout;
    if (path) {
        s->addr = g_new0(SocketAddress, 1);
        s->addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        s->addr->u.q_unix.path = g_strdup(path);
    } else {
        s->addr = QAPI_CLONE(SocketAddress, addr);
    }
    s->listener = server_listen(s, errp);
    if (!s->listener) {
        qapi_free_SocketAddress(s->addr);
        g_free(s->id);
        g_free(s);
        return NULL;
    }
    qio_channel_set_blocking(QIO_CHANNEL(s->listener), false, NULL);
    qemu_mutex_init(&s->lock);
    s->clients = g_ptr_array_new();
    s->refs = 1;
    s->threads = g_ptr_array_new();
    s->ended = g_ptr_array_new();
    if (event_notifier_init(&s->stop, false) < 0) {
        error_setg_errno(errp, errno, "Cannot start pmemaccess server '%s'",
                         s->id);
        qio_channel_close(QIO_CHANNEL(s->listener), NULL);
        object_unref(OBJECT(s->listener));
        server_free(s);
        return NULL;
    }
    pmemaccess_walk_init();
    qemu_thread_create(&s->accept_thread, "pmemacc-accept",
                       accept_thread, s, QEMU_THREAD_JOINABLE);
    QTAILQ_INSERT_TAIL(&servers, s, next);
    trace_pmemaccess_start(s->id, s->listener->fd, s->write,
                           PmemAccessLifetime_str(s->lifetime));
    if (lifetime == PMEM_ACCESS_LIFETIME_WHILE_CONNECTED) {
        s->connect_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                        server_connect_timeout, s);
        timer_mod(s->connect_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                  connect_timeout * 1000);
    }

    info = g_new0(PmemAccessStartInfo, 1);
    info->id = g_strdup(s->id);
    return info;
}

void qmp_pmemaccess_stop(const char *id, Error **errp)
{
    PmemAccessServer *s;

    id = id ?: PMEMACCESS_DEFAULT_ID;
    s = server_find(id);
    if (!s) {
        error_setg(errp, "No pmemaccess server '%s'", id);
        return;
    }
    server_stop(s);
}

PmemAccessInfoList *qmp_query_pmemaccess(Error **errp)
{
    PmemAccessInfoList *list = NULL, **tail = &list;
    PmemAccessServer *s;

    QTAILQ_FOREACH(s, &servers, next) {
        PmemAccessInfo *info = g_new0(PmemAccessInfo, 1);

        info->id = g_strdup(s->id);
        info->addr = QAPI_CLONE(SocketAddress, s->addr);
        info->write = s->write;
        info->max_clients = s->max_clients;
        info->lifetime = s->lifetime;
        info->request_timeout = s->request_timeout;
        qemu_mutex_lock(&s->lock);
        info->clients = s->clients->len;
        qemu_mutex_unlock(&s->lock);
        info->connections = qatomic_read(&s->connections);
        info->refused = qatomic_read(&s->refused);
        info->requests = qatomic_read(&s->requests);
        info->errors = qatomic_read(&s->errors);
        info->bytes_read = qatomic_read(&s->bytes_read);
        info->bytes_written = qatomic_read(&s->bytes_written);
        QAPI_LIST_APPEND(tail, info);
    }
    return list;
}
