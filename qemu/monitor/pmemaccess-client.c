/*
 * pmemaccess: one client connection, served on its own thread
 *
 * The first byte tells the protocol: 'Q' starts a version 2 hello, any
 * other byte is the first of a version 1 (LibVMI) request.  See
 * docs/interop/pmemaccess.rst.
 *
 * Memory use per client is fixed: one input and one output buffer of
 * PMEMACCESS_CHUNK bytes, whatever lengths the client sends.  Replies are
 * assembled in the output buffer, so a small read or a batch goes out in
 * one sendmsg().
 *
 * Time is bounded too: a client may stay idle between requests for as
 * long as it likes, but once the first byte of a request has arrived,
 * the rest of it must arrive and its reply must be taken within the
 * server's request timeout, or the connection is closed.  Only the wait
 * for a request's first bytes blocks; every other recv() and send() is
 * non-blocking, and waits in a poll() against that deadline.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/bswap.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "system/cpus.h"
#include "pmemaccess-int.h"
#include "trace.h"

/*
 * QEMU ignores SIGPIPE (os-posix.c); where the host has MSG_NOSIGNAL, a
 * peer gone meanwhile does not even raise it.
 */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

QEMU_BUILD_BUG_ON(sizeof(PmemAccessV1Request) != 24);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2ClientHello) != 16);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2ServerHello) != 40);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2Range) != 24);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2Request) != 40);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2Segment) != 16);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2Reply) != 32);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2MapHead) != 24);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2MapRange) != 96);
QEMU_BUILD_BUG_ON(sizeof(PmemAccessV2Vmcoreinfo) != 128);
/* A whole READV segment list fits in the input buffer */
QEMU_BUILD_BUG_ON(PMEMACCESS_MAX_SEGMENTS * sizeof(PmemAccessV2Segment) >
                  PMEMACCESS_CHUNK);

struct PmemAccessClient {
    PmemAccessServer *server;
    QemuThread *thread;         /* the server's: it joins it */
    QIOChannelSocket *sioc;
    QIOChannel *ioc;
    uint8_t *in;                /* PMEMACCESS_CHUNK bytes */
    uint8_t *out;               /* PMEMACCESS_CHUNK bytes */
    size_t out_len;             /* bytes of out waiting to be sent */
    bool paused;                /* vCPUs paused: out must not be flushed */
    QemuMutex lock;             /* protects the two members below */
    bool ending;                /* shut down: no more paused work */
    struct PausedWork *paused_work; /* waiting for the main loop */
    int64_t deadline;           /* monotonic us, 0 between requests */
    uint32_t status[PMEMACCESS_MAX_SEGMENTS];
};

/* --- I/O ---------------------------------------------------------------*/

/*
 * Wait until the socket is ready for @events; false on an error, or when
 * the current request is out of time.
 */
static bool client_wait(PmemAccessClient *c, short events)
{
    struct pollfd pfd = { .fd = c->sioc->fd, .events = events };

    /* never wait for the client with the guest paused */
    assert(!c->paused);

    for (;;) {
        int timeout = -1;
        int ret;

        if (c->deadline) {
            int64_t left = c->deadline - g_get_monotonic_time();

            if (left <= 0) {
                trace_pmemaccess_client_bad_request(c, "request timeout");
                return false;
            }
            timeout = MIN(left / 1000 + 1, INT_MAX);
        }
        ret = poll(&pfd, 1, timeout);
        if (ret > 0) {
            return true;
        }
        if (ret < 0 && errno != EINTR) {
            return false;
        }
    }
}

/*
 * After a recv() or send() that failed with @errno: true to try again
 * (interrupted, or the socket is ready after a wait), false to give up.
 */
static bool client_retry(PmemAccessClient *c, short events)
{
    if (errno == EINTR) {
        return true;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return client_wait(c, events);
    }
    return false;
}

static bool recv_all(PmemAccessClient *c, void *buf, size_t len)
{
    while (len) {
        ssize_t n = recv(c->sioc->fd, buf, len, MSG_DONTWAIT);

        if (n < 0 && client_retry(c, POLLIN)) {
            continue;
        }
        if (n <= 0) {
            return false;           /* EOF or error */
        }
        buf = (uint8_t *)buf + n;
        len -= n;
    }
    return true;
}

/*
 * The next request, @len bytes.  Its first bytes may take as long as
 * the client likes (one blocking recv(), which usually gets it all);
 * from then on the request's time runs.  False at EOF.
 */
static bool recv_request(PmemAccessClient *c, void *buf, size_t len)
{
    int64_t timeout = pmemaccess_server_request_timeout(c->server);
    ssize_t n;

    c->deadline = 0;
    do {
        n = recv(c->sioc->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return false;
    }
    if (timeout) {
        c->deadline = g_get_monotonic_time() + timeout * G_USEC_PER_SEC;
    }
    return recv_all(c, (uint8_t *)buf + n, len - n);
}

/* A MAP reply carries at most 64 descriptors (pmemmap.c's PMEMMAP_MAX_FDS) */
#define PMEMACCESS_V2_MAP_MAX_FDS 64

/* Send @len bytes, with @nfds descriptors attached to the first ones sent */
static bool send_with_fds(PmemAccessClient *c, const void *buf, size_t len,
                          const int *fds, size_t nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * PMEMACCESS_V2_MAP_MAX_FDS)];
    } control;
    struct msghdr msg = { 0 };
    struct cmsghdr *cmsg;

    assert(nfds <= PMEMACCESS_V2_MAP_MAX_FDS && (len || !nfds));
    if (nfds) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    while (len) {
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
        ssize_t n;

        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        n = sendmsg(c->sioc->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (!client_retry(c, POLLOUT)) {
                return false;
            }
            continue;
        }
        msg.msg_control = NULL;     /* the descriptors went with these */
        msg.msg_controllen = 0;
        buf = (const uint8_t *)buf + n;
        len -= n;
    }
    return true;
}

static bool send_all(PmemAccessClient *c, const void *buf, size_t len)
{
    return send_with_fds(c, buf, len, NULL, 0);
}

static bool out_flush(PmemAccessClient *c)
{
    assert(!c->paused);
    if (c->out_len && !send_all(c, c->out, c->out_len)) {
        return false;
    }
    c->out_len = 0;
    return true;
}

/*
 * Room at the end of the output buffer, flushed first if it is full;
 * 0 only on an I/O error.
 */
static size_t out_room(PmemAccessClient *c)
{
    if (c->out_len == PMEMACCESS_CHUNK && !out_flush(c)) {
        return 0;
    }
    return PMEMACCESS_CHUNK - c->out_len;
}

/* Append @len bytes of @data, or zeros if @data is NULL. */
static bool out_put(PmemAccessClient *c, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len) {
        size_t l = MIN(len, out_room(c));

        if (!l) {
            return false;
        }
        if (p) {
            memcpy(c->out + c->out_len, p, l);
            p += l;
        } else {
            memset(c->out + c->out_len, 0, l);
        }
        c->out_len += l;
        len -= l;
    }
    return true;
}

/*
 * Append @len bytes of guest memory, checked beforehand, to the reply.
 * If they can no longer be read (the memory map or the page tables
 * changed since the check), the reply cannot be completed honestly and
 * the connection must end: return false.
 */
static bool out_mem(PmemAccessClient *c, const PmemAccessSpace *space,
                    uint64_t addr, uint64_t len)
{
    while (len) {
        size_t l = MIN(len, out_room(c));
        uint64_t fail;

        if (!l) {
            return false;
        }
        if (pmemaccess_mem_read(space, addr, c->out + c->out_len, l, &fail)) {
            trace_pmemaccess_client_changed(c, fail);
            return false;
        }
        c->out_len += l;
        addr += l;
        len -= l;
    }
    return true;
}

/*
 * Send the pending output, then @len bytes of guest-physical memory
 * (checked beforehand) straight from guest RAM, without copying them.
 * The RCU read lock, which keeps guest RAM mapped, is held only across a
 * non-blocking sendmsg(): a slow client never holds up RCU reclamation,
 * and waits for room in its socket without the lock.
 */
static bool out_phys_direct(PmemAccessClient *c, uint64_t addr, uint64_t len)
{
    int fd = c->sioc->fd;

    while (len || c->out_len) {
        struct iovec iov[2];
        struct msghdr msg = { .msg_iov = iov };
        uint64_t contiguous = 0;
        ssize_t n = -1;

        if (c->out_len) {
            iov[msg.msg_iovlen++] = (struct iovec) {
                .iov_base = c->out, .iov_len = c->out_len,
            };
        }
        WITH_RCU_READ_LOCK_GUARD() {
            if (len) {
                void *p = pmemaccess_mem_map(addr, len, &contiguous);

                if (!p) {
                    trace_pmemaccess_client_changed(c, addr);
                    return false;
                }
                iov[msg.msg_iovlen++] = (struct iovec) {
                    .iov_base = p, .iov_len = MIN(contiguous, 4 * MiB),
                };
            }
            n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        if (n < 0) {
            if (!client_retry(c, POLLOUT)) {
                return false;
            }
            continue;
        }
        if (c->out_len) {
            size_t k = MIN((size_t)n, c->out_len);

            memmove(c->out, c->out + k, c->out_len - k);
            c->out_len -= k;
            n -= k;
        }
        addr += n;
        len -= n;
    }
    return true;
}

/* --- pausing the guest for one request ---------------------------------*/

/*
 * A request with the PAUSED flag is served by the main loop, in a bottom
 * half, with the BQL: the main thread is the one that pauses and resumes
 * the vCPUs, also for a guest reset or an S3 wakeup, and two threads
 * doing so at once clear each other's stop requests (a client in
 * pause_all_vcpus(), which drops the BQL while it waits, racing a guest
 * reboot would hang the main loop).  The client thread waits meanwhile,
 * holding nothing; the request's reply is assembled in its buffer, and
 * sent once the vCPUs run again.
 *
 * Stopping the server (main loop too) waits for the client threads, so
 * it cancels the work first: the bottom half then finds nothing to do,
 * and the client ends.  The work is shared by the two: each holds a
 * reference.
 */
enum {
    PAUSED_WAITING,
    PAUSED_DONE,
    PAUSED_CANCELLED,
};

typedef struct PausedWork {
    void (*fn)(void *opaque);
    void *opaque;
    int state;                  /* PAUSED_*, main loop; atomic */
    int refs;
    QemuEvent done;
} PausedWork;

static void paused_work_unref(PausedWork *w)
{
    if (qatomic_fetch_dec(&w->refs) == 1) {
        qemu_event_destroy(&w->done);
        g_free(w);
    }
}

static void paused_work_bh(void *opaque)
{
    PausedWork *w = opaque;

    if (qatomic_read(&w->state) == PAUSED_WAITING) {
        assert(!qemu_in_vcpu_thread());
        pause_all_vcpus();
        w->fn(w->opaque);
        resume_all_vcpus();     /* does nothing if the VM was stopped */
        qatomic_set(&w->state, PAUSED_DONE);
        qemu_event_set(&w->done);
    }
    paused_work_unref(w);
}

/* Run @fn(@opaque) with the vCPUs paused; false if the client is ending */
static bool run_paused(PmemAccessClient *c, void (*fn)(void *opaque),
                       void *opaque)
{
    PausedWork *w = g_new0(PausedWork, 1);
    bool done;

    w->fn = fn;
    w->opaque = opaque;
    w->refs = 2;
    qemu_event_init(&w->done, false);
    qemu_mutex_lock(&c->lock);
    if (c->ending) {
        qemu_mutex_unlock(&c->lock);
        qemu_event_destroy(&w->done);
        g_free(w);
        return false;
    }
    c->paused_work = w;
    qemu_mutex_unlock(&c->lock);

    c->paused = true;
    /*
     * Not qemu_get_aio_context(): its bottom halves also run in nested
     * aio_poll() calls, e.g. on a vCPU thread writing pflash, which
     * cannot pause itself; the iohandler context runs only in the main
     * loop proper, as the monitor's dispatcher does.
     */
    aio_bh_schedule_oneshot(iohandler_get_aio_context(), paused_work_bh, w);
    qemu_event_wait(&w->done);
    c->paused = false;

    qemu_mutex_lock(&c->lock);
    c->paused_work = NULL;
    qemu_mutex_unlock(&c->lock);
    done = qatomic_read(&w->state) == PAUSED_DONE;
    paused_work_unref(w);
    return done;
}

/* --- version 1: LibVMI -------------------------------------------------*/

/*
 * v1 READ: @len bytes, then a status byte.  The data of a failed read is
 * zeros; @valid false fails it from the start (a range that wraps).
 */
static bool v1_read(PmemAccessClient *c, uint64_t addr, uint64_t len,
                    bool valid)
{
    uint8_t status = 1;
    uint64_t fail, done;

    if (!valid) {
        status = 0;
        if (!out_put(c, NULL, len)) {
            return false;
        }
    } else if (len + 1 <= PMEMACCESS_CHUNK - c->out_len) {
        /* data and status in one sendmsg(): LibVMI reads them at once */
        uint8_t *data = c->out + c->out_len;

        if (pmemaccess_mem_read(NULL, addr, data, len, &fail)) {
            memset(data, 0, len);
            status = 0;
        }
        c->out_len += len;
    } else if (pmemaccess_mem_check(NULL, addr, len, false, &fail)) {
        status = 0;
        if (!out_put(c, NULL, len)) {
            return false;
        }
    } else {
        for (done = 0; done < len; done += PMEMACCESS_CHUNK) {
            uint64_t l = MIN(PMEMACCESS_CHUNK, len - done);

            if (!status || !out_mem(c, NULL, addr + done, l)) {
                status = 0;
                if (!out_put(c, NULL, l)) {
                    return false;
                }
            }
        }
    }
    pmemaccess_server_count(c->server, status ? len : 0, 0, !status);
    return out_put(c, &status, 1) && out_flush(c);
}

/* v1 WRITE: take @len bytes of data, then answer a status byte. */
static bool v1_write(PmemAccessClient *c, uint64_t addr, uint64_t len,
                     bool valid)
{
    bool ok = valid && pmemaccess_server_allows_write(c->server);
    uint64_t fail, done;

    /* all or nothing, as far as the memory map allows */
    if (ok && len && pmemaccess_mem_check(NULL, addr, len, true, &fail)) {
        ok = false;
    }

    for (done = 0; done < len; done += PMEMACCESS_CHUNK) {
        uint64_t l = MIN(PMEMACCESS_CHUNK, len - done);

        if (!recv_all(c, c->in, l)) {
            return false;
        }
        if (ok && pmemaccess_mem_write(addr + done, c->in, l, &fail)) {
            ok = false;
        }
    }
    pmemaccess_server_count(c->server, 0, ok ? len : 0, !ok);
    return out_put(c, &(uint8_t){ ok }, 1) && out_flush(c);
}

static void serve_v1(PmemAccessClient *c, uint8_t first)
{
    PmemAccessV1Request req;

    ((uint8_t *)&req)[0] = first;
    if (!recv_all(c, (uint8_t *)&req + 1, sizeof(req) - 1)) {
        return;
    }
    for (;;) {
        uint8_t type = req.type & 0xff;
        uint64_t addr = req.address, len = req.length;
        bool ok, valid;

        trace_pmemaccess_v1_request(c, type, addr, len);
        if (type == PMEMACCESS_V1_QUIT) {
            return;
        }
        if ((type != PMEMACCESS_V1_READ && type != PMEMACCESS_V1_WRITE) ||
            len > PMEMACCESS_MAX_PAYLOAD) {
            /* v1 has no way to say so and stay in sync with the client */
            trace_pmemaccess_client_bad_request(c, "v1 type or length");
            pmemaccess_server_count(c->server, 0, 0, true);
            return;
        }
        valid = !len || addr + len - 1 >= addr;
        ok = type == PMEMACCESS_V1_READ ? v1_read(c, addr, len, valid) :
                                          v1_write(c, addr, len, valid);
        if (!ok || !recv_request(c, &req, sizeof(req))) {
            return;
        }
    }
}

/* --- version 2 ---------------------------------------------------------*/

static bool v2_reply(PmemAccessClient *c, const PmemAccessV2Request *req,
                     uint32_t error, uint64_t len, uint64_t fail_addr)
{
    PmemAccessV2Reply r = {
        .magic = cpu_to_le32(PMEMACCESS_V2_REPLY_MAGIC),
        .error = cpu_to_le32(error),
        .cookie = cpu_to_le64(req->cookie),
        .length = cpu_to_le64(len),
        .address = cpu_to_le64(error ? fail_addr : 0),
    };

    if (error) {
        trace_pmemaccess_v2_error(c, req->cookie, error, fail_addr);
    }
    return out_put(c, &r, sizeof(r));
}

/* An error reply with no data; the connection goes on. */
static bool v2_fail(PmemAccessClient *c, const PmemAccessV2Request *req,
                    uint32_t error, uint64_t fail_addr)
{
    pmemaccess_server_count(c->server, 0, 0, true);
    return v2_reply(c, req, error, 0, fail_addr);
}

static bool v2_put_ranges(PmemAccessClient *c, GArray *ranges)
{
    guint i;

    for (i = 0; i < ranges->len; i++) {
        PmemAccessV2Range *r = &g_array_index(ranges, PmemAccessV2Range, i);
        PmemAccessV2Range le = {
            .start = cpu_to_le64(r->start),
            .length = cpu_to_le64(r->length),
            .flags = cpu_to_le32(r->flags),
        };

        if (!out_put(c, &le, sizeof(le))) {
            return false;
        }
    }
    return true;
}

/* Check a range's length against @max and for wrapping. */
static uint32_t v2_check_length(uint64_t addr, uint64_t len, uint64_t max)
{
    if (len == 0) {
        return PMEMACCESS_V2_EINVAL;
    }
    if (len > max) {
        return PMEMACCESS_V2_ETOOBIG;
    }
    if (addr + len - 1 < addr) {
        return PMEMACCESS_V2_EOVERFLOW;
    }
    return PMEMACCESS_V2_OK;
}

/* Requests served with the guest paused must fit in one buffer. */
QEMU_BUILD_BUG_ON(PMEMACCESS_MAX_PAUSED_PAYLOAD !=
                  PMEMACCESS_CHUNK - sizeof(PmemAccessV2Reply));

static uint64_t v2_max_reply(const PmemAccessV2Request *req)
{
    if (req->flags & PMEMACCESS_V2_FLAG_PAUSED) {
        return PMEMACCESS_MAX_PAUSED_PAYLOAD;
    }
    return PMEMACCESS_MAX_PAYLOAD;
}

static bool v2_read(PmemAccessClient *c, const PmemAccessV2Request *req,
                    const PmemAccessSpace *space)
{
    uint64_t fail = req->address;
    uint32_t err;

    err = v2_check_length(req->address, req->length, v2_max_reply(req));
    if (err) {
        return v2_fail(c, req, err, fail);
    }
    if (sizeof(PmemAccessV2Reply) + req->length <=
        PMEMACCESS_CHUNK - c->out_len) {
        /* Read right behind the reply header; take it back on failure */
        size_t at = c->out_len;

        err = pmemaccess_mem_read(space, req->address,
                                  c->out + at + sizeof(PmemAccessV2Reply),
                                  req->length, &fail);
        if (err) {
            return v2_fail(c, req, err, fail);
        }
        v2_reply(c, req, PMEMACCESS_V2_OK, req->length, 0);
        c->out_len += req->length;
    } else {
        err = pmemaccess_mem_check(space, req->address, req->length, false,
                                   &fail);
        if (err) {
            return v2_fail(c, req, err, fail);
        }
        if (!v2_reply(c, req, PMEMACCESS_V2_OK, req->length, 0)) {
            return false;
        }
        if (space->virtual ? !out_mem(c, space, req->address, req->length) :
            !out_phys_direct(c, req->address, req->length)) {
            return false;
        }
    }
    pmemaccess_server_count(c->server, req->length, 0, false);
    return true;
}

/*
 * Take READV's segment list into c->in, before any pausing.  A list that
 * is too long cannot be skipped safely: answer and end the connection.
 */
static bool v2_readv_recv(PmemAccessClient *c, const PmemAccessV2Request *req)
{
    if (req->length > PMEMACCESS_MAX_SEGMENTS) {
        v2_fail(c, req, PMEMACCESS_V2_ETOOBIG, 0);
        out_flush(c);
        return false;
    }
    return recv_all(c, c->in, req->length * sizeof(PmemAccessV2Segment));
}

static bool v2_readv(PmemAccessClient *c, const PmemAccessV2Request *req,
                     const PmemAccessSpace *space)
{
    PmemAccessV2Segment *seg = (PmemAccessV2Segment *)c->in;
    uint64_t n = req->length, total = 0, ok_total = 0, fail, i;
    uint64_t status_len = ROUND_UP(n * sizeof(uint32_t), 8);
    uint32_t err = PMEMACCESS_V2_OK;

    if (n == 0) {
        return v2_fail(c, req, PMEMACCESS_V2_EINVAL, 0);
    }
    for (i = 0; i < n && !err; i++) {
        seg[i].address = le64_to_cpu(seg[i].address);
        seg[i].length = le64_to_cpu(seg[i].length);
        err = v2_check_length(seg[i].address, seg[i].length,
                              PMEMACCESS_MAX_PAYLOAD);
        total += seg[i].length;
        if (!err && status_len + total > v2_max_reply(req)) {
            err = PMEMACCESS_V2_ETOOBIG;
        }
    }
    if (err) {
        return v2_fail(c, req, err, seg[i - 1].address);
    }

    for (i = 0; i < n; i++) {
        c->status[i] = pmemaccess_mem_check(space, seg[i].address,
                                            seg[i].length, false, &fail);
        if (!c->status[i]) {
            ok_total += seg[i].length;
        }
        c->status[i] = cpu_to_le32(c->status[i]);
    }
    if (!v2_reply(c, req, PMEMACCESS_V2_OK, status_len + ok_total, 0) ||
        !out_put(c, c->status, n * sizeof(uint32_t)) ||
        !out_put(c, NULL, status_len - n * sizeof(uint32_t))) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (!c->status[i] &&
            !out_mem(c, space, seg[i].address, seg[i].length)) {
            return false;
        }
    }
    pmemaccess_server_count(c->server, ok_total, 0, ok_total < total);
    return true;
}

typedef struct PausedWrite {
    uint64_t addr;
    const void *buf;
    uint64_t len;
    uint64_t *fail;
    uint32_t err;
} PausedWrite;

static void paused_write(void *opaque)
{
    PausedWrite *w = opaque;

    w->err = pmemaccess_mem_write(w->addr, w->buf, w->len, w->fail);
}

/*
 * WRITE: the data follows the request and is always consumed, so that a
 * refused write leaves the stream in sync; @err, if set, refuses it.
 */
static bool v2_write(PmemAccessClient *c, const PmemAccessV2Request *req,
                     uint32_t err)
{
    uint64_t addr = req->address, len = req->length, done, fail = addr;

    if (len > PMEMACCESS_MAX_PAYLOAD) {
        /* The data cannot be skipped safely: end here */
        v2_fail(c, req, PMEMACCESS_V2_ETOOBIG, addr);
        out_flush(c);
        return false;
    }
    if (!err) {
        err = v2_check_length(addr, len, v2_max_reply(req));
    }
    if (!err && !pmemaccess_server_allows_write(c->server)) {
        err = PMEMACCESS_V2_EPERM;
    }
    if (!err) {
        err = pmemaccess_mem_check(NULL, addr, len, true, &fail);
    }
    if (!err && (req->flags & PMEMACCESS_V2_FLAG_PAUSED)) {
        PausedWrite w = { .addr = addr, .buf = c->in, .len = len,
                          .fail = &fail };

        /* Take all the data first: never wait for the client paused */
        if (!recv_all(c, c->in, len)) {
            return false;
        }
        if (!run_paused(c, paused_write, &w)) {
            return false;
        }
        err = w.err;
    } else {
        for (done = 0; done < len; done += PMEMACCESS_CHUNK) {
            uint64_t l = MIN(PMEMACCESS_CHUNK, len - done);

            if (!recv_all(c, c->in, l)) {
                return false;
            }
            if (!err) {
                err = pmemaccess_mem_write(addr + done, c->in, l, &fail);
            }
        }
    }
    if (err) {
        return v2_fail(c, req, err, fail);
    }
    pmemaccess_server_count(c->server, 0, len, false);
    return v2_reply(c, req, PMEMACCESS_V2_OK, 0, 0);
}

static bool v2_layout(PmemAccessClient *c, const PmemAccessV2Request *req)
{
    uint64_t ram_size;
    g_autoptr(GArray) ranges = pmemaccess_mem_layout(&ram_size);
    uint32_t head[2] = { cpu_to_le32(ranges->len), 0 };

    pmemaccess_server_count(c->server, 0, 0, false);
    return v2_reply(c, req, PMEMACCESS_V2_OK,
                    sizeof(head) + ranges->len * sizeof(PmemAccessV2Range),
                    0) &&
           out_put(c, head, sizeof(head)) &&
           v2_put_ranges(c, ranges);
}

/*
 * MAP: the layout of guest memory, with its fds riding on the reply
 * (SCM_RIGHTS).  They are the server's own fresh descriptions, closed
 * once sent.
 */
static bool v2_map(PmemAccessClient *c, const PmemAccessV2Request *req)
{
    PmemMap *map = pmemaccess_server_get_map(c->server);
    g_autoptr(PmemMapLayout) layout = NULL;
    PmemAccessV2MapHead head;
    Error *err = NULL;
    size_t len;
    guint i;

    if (!map) {
        return v2_fail(c, req, PMEMACCESS_V2_ENOMAP, 0);
    }
    layout = pmemmap_layout(map, &err);
    pmemmap_unref(map);
    if (!layout) {
        /* e.g. RAM hotplugged since pmemmap that cannot be shared */
        trace_pmemaccess_client_map_failed(c, error_get_pretty(err));
        error_free(err);
        return v2_fail(c, req, PMEMACCESS_V2_ENOMAP, 0);
    }
    len = sizeof(head) + layout->ranges->len * sizeof(PmemAccessV2MapRange);
    if (sizeof(PmemAccessV2Reply) + len > PMEMACCESS_CHUNK) {
        return v2_fail(c, req, PMEMACCESS_V2_ETOOBIG, 0);
    }

    /* the fds must go with the first byte of this reply */
    if (!out_flush(c) ||
        !v2_reply(c, req, PMEMACCESS_V2_OK, len, 0)) {
        return false;
    }
    head = (PmemAccessV2MapHead) {
        .generation = cpu_to_le64(layout->generation),
        .nr_ranges = cpu_to_le32(layout->ranges->len),
        .nr_fds = cpu_to_le32(layout->fds->len),
        .flags = cpu_to_le32(layout->flags),
    };
    out_put(c, &head, sizeof(head));
    for (i = 0; i < layout->ranges->len; i++) {
        PmemAccessV2MapRange r = g_array_index(layout->ranges,
                                               PmemAccessV2MapRange, i);

        r.start = cpu_to_le64(r.start);
        r.length = cpu_to_le64(r.length);
        r.offset = cpu_to_le64(r.offset);
        r.fd_index = cpu_to_le32(r.fd_index);
        r.flags = cpu_to_le32(r.flags);
        out_put(c, &r, sizeof(r));
    }
    if (!send_with_fds(c, c->out, c->out_len, (int *)layout->fds->data,
                       layout->fds->len)) {
        return false;
    }
    c->out_len = 0;
    pmemaccess_server_count(c->server, 0, 0, false);
    return true;
}

static bool v2_generation(PmemAccessClient *c, const PmemAccessV2Request *req)
{
    PmemMap *map = pmemaccess_server_get_map(c->server);
    uint64_t gen = cpu_to_le64(pmemmap_generation());

    if (!map) {
        return v2_fail(c, req, PMEMACCESS_V2_ENOMAP, 0);
    }
    pmemmap_unref(map);
    pmemaccess_server_count(c->server, 0, 0, false);
    return v2_reply(c, req, PMEMACCESS_V2_OK, sizeof(gen), 0) &&
           out_put(c, &gen, sizeof(gen));
}

static bool v2_vmcoreinfo(PmemAccessClient *c,
                          const PmemAccessV2Request *req)
{
    g_autoptr(GByteArray) data = NULL;
    uint32_t err;

    data = pmemaccess_vmcoreinfo(&err);
    if (!data) {
        return v2_fail(c, req, err, 0);
    }
    pmemaccess_server_count(c->server, 0, 0, false);
    return v2_reply(c, req, PMEMACCESS_V2_OK, data->len, 0) &&
           out_put(c, data->data, data->len);
}

/* A request that is valid as far as its header goes, READV's list read */
static bool v2_dispatch(PmemAccessClient *c, const PmemAccessV2Request *req,
                        const PmemAccessSpace *space)
{
    bool ok;

    switch (req->type) {
    case PMEMACCESS_V2_READ:
        ok = v2_read(c, req, space);
        break;
    case PMEMACCESS_V2_READV:
        ok = v2_readv(c, req, space);
        break;
    case PMEMACCESS_V2_LAYOUT:
        ok = v2_layout(c, req);
        break;
    case PMEMACCESS_V2_MAP:
        ok = v2_map(c, req);
        break;
    case PMEMACCESS_V2_VMCOREINFO:
        ok = v2_vmcoreinfo(c, req);
        break;
    default:
        ok = v2_generation(c, req);
        break;
    }
    return ok;
}

typedef struct PausedRequest {
    PmemAccessClient *c;
    const PmemAccessV2Request *req;
    const PmemAccessSpace *space;
    bool ok;
} PausedRequest;

static void paused_request(void *opaque)
{
    PausedRequest *p = opaque;

    p->ok = v2_dispatch(p->c, p->req, p->space);
}

/* Serve one request; false ends the connection. */
static bool v2_request(PmemAccessClient *c, PmemAccessV2Request *req)
{
    const uint16_t known = PMEMACCESS_V2_FLAG_VIRTUAL |
                           PMEMACCESS_V2_FLAG_LA57 |
                           PMEMACCESS_V2_FLAG_PAUSED;
    bool virtual = req->flags & PMEMACCESS_V2_FLAG_VIRTUAL;
    PmemAccessSpace space = {
        .virtual = virtual,
        .la57 = req->flags & PMEMACCESS_V2_FLAG_LA57,
        .root = req->root,
    };

    trace_pmemaccess_v2_request(c, req->type, req->flags, req->cookie,
                                req->address, req->length);
    if (req->type == PMEMACCESS_V2_DISCONNECT) {
        return false;
    }
    if (req->type == PMEMACCESS_V2_WRITE) {
        bool bad = (req->flags & ~known) || virtual || space.la57;

        return v2_write(c, req, bad ? PMEMACCESS_V2_EINVAL : 0);
    }
    if (req->type > PMEMACCESS_V2_VMCOREINFO) {
        return v2_fail(c, req, PMEMACCESS_V2_EUNSUPPORTED, 0);
    }
    if ((req->flags & ~known) || (space.la57 && !virtual) ||
        (req->type >= PMEMACCESS_V2_LAYOUT &&
         (req->flags & (PMEMACCESS_V2_FLAG_VIRTUAL |
                        PMEMACCESS_V2_FLAG_PAUSED)))) {
        if (req->type == PMEMACCESS_V2_READV && req->length) {
            /* its segment list follows and cannot be trusted: end here */
            v2_fail(c, req, PMEMACCESS_V2_EINVAL, 0);
            out_flush(c);
            return false;
        }
        return v2_fail(c, req, PMEMACCESS_V2_EINVAL, 0);
    }

    if (req->type == PMEMACCESS_V2_READV && !v2_readv_recv(c, req)) {
        return false;
    }
    if (req->flags & PMEMACCESS_V2_FLAG_PAUSED) {
        PausedRequest p = { .c = c, .req = req, .space = &space };

        return run_paused(c, paused_request, &p) && p.ok;
    }
    return v2_dispatch(c, req, &space);
}

static bool v2_hello(PmemAccessClient *c)
{
    PmemAccessV2ClientHello ch;
    PmemAccessV2ServerHello sh = {
        .magic = PMEMACCESS_V2_SERVER_MAGIC,
        .version = cpu_to_le32(PMEMACCESS_V2_VERSION),
        .flags = cpu_to_le32(pmemaccess_server_allows_write(c->server) ?
                             PMEMACCESS_V2_HELLO_WRITE : 0),
        .max_payload = cpu_to_le32(PMEMACCESS_MAX_PAYLOAD),
        .max_segments = cpu_to_le32(PMEMACCESS_MAX_SEGMENTS),
    };
    g_autoptr(GArray) ranges = NULL;
    uint64_t ram_size;

    ch.magic[0] = 'Q';
    if (!recv_all(c, ch.magic + 1, sizeof(ch) - 1)) {
        return false;
    }
    if (memcmp(ch.magic, PMEMACCESS_V2_CLIENT_MAGIC, sizeof(ch.magic))) {
        trace_pmemaccess_client_bad_request(c, "hello magic");
        return false;
    }
    ranges = pmemaccess_mem_layout(&ram_size);
    sh.ram_size = cpu_to_le64(ram_size);
    sh.nr_ranges = cpu_to_le32(ranges->len);
    if (!out_put(c, &sh, sizeof(sh)) || !v2_put_ranges(c, ranges) ||
        !out_flush(c)) {
        return false;
    }
    if (le32_to_cpu(ch.version) != PMEMACCESS_V2_VERSION || ch.flags) {
        trace_pmemaccess_client_bad_request(c, "hello version or flags");
        return false;
    }
    return true;
}

static void serve_v2(PmemAccessClient *c)
{
    PmemAccessV2Request req;

    if (!v2_hello(c)) {
        return;
    }
    while (recv_request(c, &req, sizeof(req))) {
        if (le32_to_cpu(req.magic) != PMEMACCESS_V2_REQUEST_MAGIC) {
            trace_pmemaccess_client_bad_request(c, "request magic");
            pmemaccess_server_count(c->server, 0, 0, true);
            return;
        }
        req.type = le16_to_cpu(req.type);
        req.flags = le16_to_cpu(req.flags);
        req.cookie = le64_to_cpu(req.cookie);
        req.address = le64_to_cpu(req.address);
        req.length = le64_to_cpu(req.length);
        req.root = le64_to_cpu(req.root);
        if (!v2_request(c, &req) || !out_flush(c)) {
            return;
        }
    }
}

/* --- the thread --------------------------------------------------------*/

static void *client_thread(void *opaque)
{
    PmemAccessClient *c = opaque;
    PmemAccessServer *s = c->server;
    QemuThread *thread = c->thread;
    uint8_t first;

    rcu_register_thread();
    if (recv_request(c, &first, 1)) {
        if (first == PMEMACCESS_V2_CLIENT_MAGIC[0]) {
            trace_pmemaccess_client_start(c, 2);
            serve_v2(c);
        } else {
            trace_pmemaccess_client_start(c, 1);
            serve_v1(c, first);
        }
    }
    trace_pmemaccess_client_end(c);
    rcu_unregister_thread();

    /*
     * Leave the server's list before closing: server_stop() shuts down
     * the sockets of the clients listed, and once closed, this fd number
     * may already belong to another socket.
     */
    pmemaccess_server_client_done(s, c);
    qio_channel_close(c->ioc, NULL);
    object_unref(OBJECT(c->sioc));
    qemu_mutex_destroy(&c->lock);
    g_free(c->in);
    g_free(c->out);
    g_free(c);
    pmemaccess_server_client_exit(s, thread);
    return NULL;
}

/*
 * Serve @sioc on a new thread, @thread, that the server joins; the client
 * owns @sioc from now on.
 */
PmemAccessClient *pmemaccess_client_start(PmemAccessServer *s,
                                          QIOChannelSocket *sioc,
                                          QemuThread *thread)
{
    PmemAccessClient *c = g_new0(PmemAccessClient, 1);

    c->server = s;
    c->thread = thread;
    c->sioc = sioc;
    c->ioc = QIO_CHANNEL(sioc);
    c->in = g_malloc(PMEMACCESS_CHUNK);
    c->out = g_malloc(PMEMACCESS_CHUNK);
    qemu_mutex_init(&c->lock);
    qio_channel_set_blocking(c->ioc, true, NULL);
    /* 15 characters at most, or Linux keeps no name */
    qemu_thread_create(thread, "pmemacc-client", client_thread, c,
                       QEMU_THREAD_JOINABLE);
    return c;
}

/*
 * Wake the client's thread from any blocking read or write, or from its
 * wait for paused work, to end it.  Main loop, with the BQL: no paused
 * work runs meanwhile.
 */
void pmemaccess_client_shutdown(PmemAccessClient *c)
{
    PausedWork *w;

    qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    qemu_mutex_lock(&c->lock);
    c->ending = true;
    w = c->paused_work;
    if (w && qatomic_read(&w->state) == PAUSED_WAITING) {
        qatomic_set(&w->state, PAUSED_CANCELLED);
        qemu_event_set(&w->done);
    }
    qemu_mutex_unlock(&c->lock);
}
