/*
 * libpmemaccess-client: a small C client for QEMU's pmemaccess server
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "pmemaccess-client.h"

struct pmemc {
    int fd;
    uint64_t cookie;
    PmemAccessV2ServerHello hello;      /* host byte order */
    PmemAccessV2Range *ranges;
    char error[256];
};

struct pmemc_mapping {
    uint64_t start, length;             /* guest-physical */
    uint8_t *host;                      /* NULL: not mappable */
    size_t map_len;                     /* of the mmap() at host - skew */
    size_t skew;
};

struct pmemc_view {
    uint64_t generation;
    uint32_t flags;
    uint32_t n;
    struct pmemc_mapping *m;
};

static const char *const server_errors[] = {
    [PMEMACCESS_V2_EINVAL] = "malformed request",
    [PMEMACCESS_V2_EUNSUPPORTED] = "unsupported request",
    [PMEMACCESS_V2_ETOOBIG] = "request over the server's limits",
    [PMEMACCESS_V2_EOVERFLOW] = "range wraps past 2^64",
    [PMEMACCESS_V2_ENOTRAM] = "not RAM (MMIO or unassigned)",
    [PMEMACCESS_V2_EPERM] = "write refused",
    [PMEMACCESS_V2_EFAULT] = "virtual address not mapped",
    [PMEMACCESS_V2_ENOMAP] = "the server offers no mapping (pmemmap)",
    [PMEMACCESS_V2_ENODATA] = "the guest has published no vmcoreinfo "
        "(QEMU needs -device vmcoreinfo, the guest the qemu_fw_cfg module)",
};

static int fail(pmemc *c, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    return code;
}

static int sys_fail(pmemc *c, const char *what)
{
    int e = errno ? errno : EPROTO;

    return fail(c, -e, "%s: %s", what, strerror(e));
}

static int server_fail(pmemc *c, uint32_t e, uint64_t addr)
{
    const char *what = e < sizeof(server_errors) / sizeof(server_errors[0]) &&
                       server_errors[e] ? server_errors[e] : "unknown error";

    return fail(c, -(PMEMC_SERVER_ERROR + (int)e), "%s at 0x%llx", what,
                (unsigned long long)addr);
}

const char *pmemc_error(const pmemc *c)
{
    return c->error;
}

static int send_all(pmemc *c, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return sys_fail(c, "send");
        }
        p += n;
        len -= n;
    }
    return 0;
}

static int recv_all(pmemc *c, void *buf, size_t len)
{
    char *p = buf;

    while (len) {
        ssize_t n = recv(c->fd, p, len, 0);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = ECONNRESET;
            }
            return sys_fail(c, "recv");
        }
        p += n;
        len -= n;
    }
    return 0;
}

int pmemc_connect(pmemc **out, const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    PmemAccessV2ClientHello ch = {
        .magic = PMEMACCESS_V2_CLIENT_MAGIC,
        .version = htole32(PMEMACCESS_V2_VERSION),
    };
    pmemc *c = calloc(1, sizeof(*c));
    PmemAccessV2ServerHello *h;
    uint32_t i;
    int ret;

    *out = c;
    if (!c) {
        return -ENOMEM;
    }
    if (strlen(path) >= sizeof(un.sun_path)) {
        c->fd = -1;
        return fail(c, -ENAMETOOLONG, "socket path too long: %s", path);
    }
    strcpy(un.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&un, sizeof(un))) {
        return sys_fail(c, path);
    }
    h = &c->hello;
    ret = send_all(c, &ch, sizeof(ch));
    ret = ret ? ret : recv_all(c, h, sizeof(*h));
    if (ret) {
        return ret;
    }
    if (memcmp(h->magic, PMEMACCESS_V2_SERVER_MAGIC, sizeof(h->magic)) ||
        le32toh(h->version) != PMEMACCESS_V2_VERSION) {
        return fail(c, -EPROTO, "%s: not a pmemaccess v2 server", path);
    }
    h->flags = le32toh(h->flags);
    h->max_payload = le32toh(h->max_payload);
    h->max_segments = le32toh(h->max_segments);
    h->ram_size = le64toh(h->ram_size);
    h->nr_ranges = le32toh(h->nr_ranges);
    if (h->nr_ranges > 65536) {
        return fail(c, -EPROTO, "server sent %u ranges", h->nr_ranges);
    }
    c->ranges = calloc(h->nr_ranges + 1, sizeof(*c->ranges));
    if (!c->ranges) {
        return -ENOMEM;
    }
    ret = recv_all(c, c->ranges, h->nr_ranges * sizeof(*c->ranges));
    for (i = 0; !ret && i < h->nr_ranges; i++) {
        c->ranges[i].start = le64toh(c->ranges[i].start);
        c->ranges[i].length = le64toh(c->ranges[i].length);
        c->ranges[i].flags = le32toh(c->ranges[i].flags);
    }
    return ret;
}

void pmemc_close(pmemc *c)
{
    if (c) {
        if (c->fd >= 0) {
            close(c->fd);
        }
        free(c->ranges);
        free(c);
    }
}

bool pmemc_can_write(const pmemc *c)
{
    return c->hello.flags & PMEMACCESS_V2_HELLO_WRITE;
}

uint64_t pmemc_ram_size(const pmemc *c)
{
    return c->hello.ram_size;
}

uint32_t pmemc_max_payload(const pmemc *c)
{
    return c->hello.max_payload;
}

uint32_t pmemc_max_segments(const pmemc *c)
{
    return c->hello.max_segments;
}

size_t pmemc_layout(const pmemc *c, const PmemAccessV2Range **ranges)
{
    *ranges = c->ranges;
    return c->hello.nr_ranges;
}

static uint16_t space_flags(const pmemc_space *space)
{
    if (!space || !space->virtual) {
        return 0;
    }
    return PMEMACCESS_V2_FLAG_VIRTUAL |
           (space->la57 ? PMEMACCESS_V2_FLAG_LA57 : 0);
}

static int request(pmemc *c, uint16_t type, uint16_t flags, uint64_t addr,
                   uint64_t len, uint64_t root)
{
    PmemAccessV2Request req = {
        .magic = htole32(PMEMACCESS_V2_REQUEST_MAGIC),
        .type = htole16(type),
        .flags = htole16(flags),
        .cookie = htole64(++c->cookie),
        .address = htole64(addr),
        .length = htole64(len),
        .root = htole64(root),
    };

    return send_all(c, &req, sizeof(req));
}

/* The reply to the last request: error, data length, failing address */
static int reply(pmemc *c, PmemAccessV2Reply *r)
{
    int ret = recv_all(c, r, sizeof(*r));

    if (ret) {
        return ret;
    }
    if (le32toh(r->magic) != PMEMACCESS_V2_REPLY_MAGIC ||
        le64toh(r->cookie) != c->cookie) {
        errno = EPROTO;
        return sys_fail(c, "reply out of sequence");
    }
    r->error = le32toh(r->error);
    r->length = le64toh(r->length);
    r->address = le64toh(r->address);
    return r->error ? server_fail(c, r->error, r->address) : 0;
}

/*
 * The reply to a READ of @len bytes and its data.  The server sends both
 * in one message: for small reads, take them with one recv() (the only
 * reply outstanding is ours, so nothing else can come with it).
 */
static int read_reply(pmemc *c, void *buf, size_t len)
{
    uint8_t small[sizeof(PmemAccessV2Reply) + 4096];
    size_t got = 0, want = sizeof(small);
    PmemAccessV2Reply r;
    ssize_t n;
    int ret;

    if (len > 4096) {
        ret = reply(c, &r);
        if (!ret && r.length != len) {
            errno = EPROTO;
            return sys_fail(c, "READ reply length");
        }
        return ret ? ret : recv_all(c, buf, len);
    }
    want = sizeof(r) + len;
    do {
        n = recv(c->fd, small, want, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n == 0) {
            errno = ECONNRESET;
        }
        return sys_fail(c, "recv");
    }
    got = n;
    if (got < sizeof(r)) {
        ret = recv_all(c, small + got, sizeof(r) - got);
        if (ret) {
            return ret;
        }
        got = sizeof(r);
    }
    memcpy(&r, small, sizeof(r));
    if (le32toh(r.magic) != PMEMACCESS_V2_REPLY_MAGIC ||
        le64toh(r.cookie) != c->cookie ||
        (!r.error && le64toh(r.length) != len)) {
        errno = EPROTO;
        return sys_fail(c, "READ reply");
    }
    if (r.error) {
        return server_fail(c, le32toh(r.error), le64toh(r.address));
    }
    memcpy(buf, small + sizeof(r), got - sizeof(r));
    return recv_all(c, (uint8_t *)buf + (got - sizeof(r)),
                    len - (got - sizeof(r)));
}

int pmemc_read(pmemc *c, const pmemc_space *space, uint64_t addr,
               void *buf, size_t len)
{
    int ret = request(c, PMEMACCESS_V2_READ, space_flags(space), addr, len,
                      space && space->virtual ? space->root : 0);

    return ret ? ret : read_reply(c, buf, len);
}

int pmemc_readv(pmemc *c, const pmemc_space *space, bool paused,
                const pmemc_segment *segs, uint32_t n, void *buf,
                uint32_t *status)
{
    PmemAccessV2Segment wire[256];
    uint16_t flags = space_flags(space) |
                     (paused ? PMEMACCESS_V2_FLAG_PAUSED : 0);
    uint64_t status_len = ((uint64_t)n * 4 + 7) & ~7ULL, pad;
    uint64_t total = 0, ok = 0;
    uint8_t *out = buf;
    PmemAccessV2Reply r;
    uint32_t i, k;
    int ret;

    ret = request(c, PMEMACCESS_V2_READV, flags, 0, n,
                  space && space->virtual ? space->root : 0);
    for (i = 0; !ret && i < n; i += k) {
        for (k = 0; k < 256 && i + k < n; k++) {
            wire[k].address = htole64(segs[i + k].address);
            wire[k].length = htole64(segs[i + k].length);
        }
        ret = send_all(c, wire, k * sizeof(wire[0]));
    }
    ret = ret ? ret : reply(c, &r);
    ret = ret ? ret : recv_all(c, status, n * 4);
    if (ret) {
        return ret;
    }
    for (i = 0; i < n; i++) {
        status[i] = le32toh(status[i]);
    }
    if (status_len > n * 4) {
        ret = recv_all(c, &pad, status_len - n * 4);
    }
    /*
     * The data of the successful segments arrives back to back: take it
     * in one go at the start of @buf, then move each piece to its place,
     * last first (places only move up), with zeros for failed segments.
     */
    for (i = 0; i < n; i++) {
        total += segs[i].length;
        ok += status[i] ? 0 : segs[i].length;
    }
    ret = ret ? ret : recv_all(c, out, ok);
    for (i = n; !ret && i-- > 0;) {
        total -= segs[i].length;
        if (status[i]) {
            memset(out + total, 0, segs[i].length);
        } else {
            ok -= segs[i].length;
            memmove(out + total, out + ok, segs[i].length);
        }
    }
    return ret;
}

int pmemc_write(pmemc *c, uint64_t addr, const void *buf, size_t len)
{
    PmemAccessV2Reply r;
    int ret = request(c, PMEMACCESS_V2_WRITE, 0, addr, len, 0);

    ret = ret ? ret : send_all(c, buf, len);
    return ret ? ret : reply(c, &r);
}

int pmemc_generation(pmemc *c, uint64_t *generation)
{
    PmemAccessV2Reply r;
    int ret = request(c, PMEMACCESS_V2_GENERATION, 0, 0, 0, 0);

    ret = ret ? ret : reply(c, &r);
    ret = ret ? ret : recv_all(c, generation, sizeof(*generation));
    *generation = le64toh(*generation);
    return ret;
}

int pmemc_vmcoreinfo(pmemc *c, PmemAccessV2Vmcoreinfo *info, char **text)
{
    PmemAccessV2Reply r;
    char *t;
    int ret = request(c, PMEMACCESS_V2_VMCOREINFO, 0, 0, 0, 0);

    ret = ret ? ret : reply(c, &r);
    if (ret) {
        return ret;
    }
    if (r.length < sizeof(*info)) {
        errno = EPROTO;
        return sys_fail(c, "VMCOREINFO reply too short");
    }
    ret = recv_all(c, info, sizeof(*info));
    if (ret) {
        return ret;
    }
    info->valid = le32toh(info->valid);
    info->text_len = le32toh(info->text_len);
    info->paddr = le64toh(info->paddr);
    info->kernel_offset = le64toh(info->kernel_offset);
    info->phys_base = (int64_t)le64toh((uint64_t)info->phys_base);
    info->swapper_pg_dir = le64toh(info->swapper_pg_dir);
    info->init_uts_ns = le64toh(info->init_uts_ns);
    info->page_table_root = le64toh(info->page_table_root);
    info->page_size = le64toh(info->page_size);
    info->osrelease[sizeof(info->osrelease) - 1] = 0;
    if (r.length - sizeof(*info) != info->text_len) {
        errno = EPROTO;
        return sys_fail(c, "VMCOREINFO text length");
    }
    t = malloc(info->text_len + 1);
    if (!t) {
        return sys_fail(c, "malloc");
    }
    ret = recv_all(c, t, info->text_len);
    t[info->text_len] = 0;
    if (ret || !text) {
        free(t);
    } else {
        *text = t;
    }
    return ret;
}

/* --- pmemmap -------------------------------------------------------------*/

void pmemc_unmap(pmemc_view *map)
{
    uint32_t i;

    if (!map) {
        return;
    }
    for (i = 0; i < map->n; i++) {
        if (map->m[i].host) {
            munmap(map->m[i].host - map->m[i].skew, map->m[i].map_len);
        }
    }
    free(map->m);
    free(map);
}

int pmemc_map(pmemc *c, pmemc_view **out)
{
    char control[CMSG_SPACE(sizeof(int) * 64)];
    PmemAccessV2Reply r;
    struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control, .msg_controllen = sizeof(control),
    };
    PmemAccessV2MapHead head;
    long page = sysconf(_SC_PAGESIZE);
    struct cmsghdr *cmsg;
    int fds[64], nfds = 0, ret, i;
    pmemc_view *map;
    ssize_t got;

    *out = NULL;
    ret = request(c, PMEMACCESS_V2_MAP, 0, 0, 0, 0);
    if (ret) {
        return ret;
    }
    do {
        got = recvmsg(c->fd, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
            nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(cmsg), nfds * sizeof(int));
        }
    }
    if (got != sizeof(r)) {
        ret = got < 0 ? sys_fail(c, "recvmsg") :
              (errno = EPROTO, sys_fail(c, "MAP reply"));
        goto out;
    }
    /* reply() reads the header again: hand it the one we have */
    if (le32toh(r.magic) != PMEMACCESS_V2_REPLY_MAGIC ||
        le64toh(r.cookie) != c->cookie) {
        errno = EPROTO;
        ret = sys_fail(c, "MAP reply out of sequence");
        goto out;
    }
    if (le32toh(r.error)) {
        ret = server_fail(c, le32toh(r.error), 0);
        goto out;
    }
    ret = recv_all(c, &head, sizeof(head));
    if (ret) {
        goto out;
    }
    map = calloc(1, sizeof(*map));
    map->generation = le64toh(head.generation);
    map->flags = le32toh(head.flags);
    map->n = le32toh(head.nr_ranges);
    map->m = calloc(map->n + 1, sizeof(*map->m));
    for (i = 0; !ret && i < (int)map->n; i++) {
        PmemAccessV2MapRange range;
        struct pmemc_mapping *m = &map->m[i];
        uint32_t index;
        uint64_t off;

        ret = recv_all(c, &range, sizeof(range));
        if (ret) {
            break;
        }
        m->start = le64toh(range.start);
        m->length = le64toh(range.length);
        index = le32toh(range.fd_index);
        if (index == PMEMACCESS_V2_MAP_NO_FD) {
            continue;
        }
        if (index >= (uint32_t)nfds) {
            errno = EPROTO;
            ret = sys_fail(c, "MAP range names a missing fd");
            break;
        }
        off = le64toh(range.offset);
        m->skew = off % page;
        m->map_len = m->length + m->skew;
        m->host = mmap(NULL, m->map_len,
                       PROT_READ | (map->flags & PMEMACCESS_V2_MAP_WRITABLE ?
                                    PROT_WRITE : 0),
                       MAP_SHARED, fds[index], off - m->skew);
        if (m->host == MAP_FAILED) {
            m->host = NULL;
            ret = sys_fail(c, "mmap");
            break;
        }
        m->host += m->skew;
    }
    if (ret) {
        pmemc_unmap(map);
    } else {
        *out = map;
    }
out:
    for (i = 0; i < nfds; i++) {
        close(fds[i]);          /* the mappings keep what they need */
    }
    return ret;
}

void *pmemc_view_gpa(const pmemc_view *map, uint64_t gpa, size_t len)
{
    uint32_t i;

    for (i = 0; i < map->n; i++) {
        const struct pmemc_mapping *m = &map->m[i];

        if (m->host && gpa >= m->start && gpa - m->start < m->length) {
            return len <= m->length - (gpa - m->start) ?
                   m->host + (gpa - m->start) : NULL;
        }
    }
    return NULL;
}

uint64_t pmemc_view_generation(const pmemc_view *map)
{
    return map->generation;
}

uint32_t pmemc_view_flags(const pmemc_view *map)
{
    return map->flags;
}
