/*
 * pmemaccess wire protocol: guest-physical memory over a UNIX socket
 *
 * docs/interop/pmemaccess.rst is the specification; this header gives the
 * same constants and layouts to QEMU and to clients.  It depends on
 * nothing but <stdint.h>.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PMEMACCESS_PROTO_H
#define PMEMACCESS_PROTO_H

#include <stdint.h>

/*
 * Version 1: LibVMI's protocol, unchanged.  Native byte order.  Requests
 * are 24 bytes; only the low byte of @type counts (old clients declare it
 * uint8_t and leave padding after it).
 *
 * READ answers @length bytes followed by one status byte (1 success,
 * 0 failure; the data of a failed read is zeros).  WRITE is followed by
 * @length bytes of data and answers one status byte.  QUIT closes.
 */
typedef struct PmemAccessV1Request {
    uint64_t type;
    uint64_t address;
    uint64_t length;
} PmemAccessV1Request;

#define PMEMACCESS_V1_QUIT          0
#define PMEMACCESS_V1_READ          1
#define PMEMACCESS_V1_WRITE         2

/*
 * Version 2.  Every integer is little-endian.  A v2 client starts with
 * its hello, whose first byte ('Q') is never a v1 request type.
 */
#define PMEMACCESS_V2_CLIENT_MAGIC  "QPMEMv2\n"
#define PMEMACCESS_V2_SERVER_MAGIC  "QPMEMsrv"
#define PMEMACCESS_V2_VERSION       2

typedef struct PmemAccessV2ClientHello {
    char magic[8];                  /* PMEMACCESS_V2_CLIENT_MAGIC */
    uint32_t version;               /* PMEMACCESS_V2_VERSION */
    uint32_t flags;                 /* reserved, 0 */
} PmemAccessV2ClientHello;

/* PmemAccessV2ServerHello.flags */
#define PMEMACCESS_V2_HELLO_WRITE   (1u << 0)   /* WRITE is allowed */

typedef struct PmemAccessV2ServerHello {
    char magic[8];                  /* PMEMACCESS_V2_SERVER_MAGIC */
    uint32_t version;               /* PMEMACCESS_V2_VERSION */
    uint32_t flags;                 /* PMEMACCESS_V2_HELLO_* */
    uint32_t max_payload;           /* most data bytes in one request */
    uint32_t max_segments;          /* most segments in one READV */
    uint64_t ram_size;              /* sum of the RAM ranges' lengths */
    uint32_t nr_ranges;             /* PmemAccessV2Range entries follow */
    uint32_t reserved;
} PmemAccessV2ServerHello;

/* PmemAccessV2Range.flags */
#define PMEMACCESS_V2_RANGE_ROM     (1u << 0)   /* read-only memory */

typedef struct PmemAccessV2Range {
    uint64_t start;                 /* guest-physical address */
    uint64_t length;
    uint32_t flags;                 /* PMEMACCESS_V2_RANGE_* */
    uint32_t reserved;
} PmemAccessV2Range;

#define PMEMACCESS_V2_REQUEST_MAGIC 0x51524d50u     /* "PMRQ" */
#define PMEMACCESS_V2_REPLY_MAGIC   0x50524d50u     /* "PMRP" */

/* PmemAccessV2Request.type */
#define PMEMACCESS_V2_DISCONNECT    0
#define PMEMACCESS_V2_READ          1
#define PMEMACCESS_V2_WRITE         2
#define PMEMACCESS_V2_READV         3
#define PMEMACCESS_V2_LAYOUT        4
#define PMEMACCESS_V2_MAP           5   /* fds of guest RAM, see pmemmap */
#define PMEMACCESS_V2_GENERATION    6   /* the memory map's generation */
#define PMEMACCESS_V2_VMCOREINFO    7   /* the guest kernel's vmcoreinfo */

/* PmemAccessV2Request.flags */
#define PMEMACCESS_V2_FLAG_VIRTUAL  (1u << 0)   /* addresses are virtual */
#define PMEMACCESS_V2_FLAG_LA57     (1u << 1)   /* 5-level paging */
#define PMEMACCESS_V2_FLAG_PAUSED   (1u << 2)   /* vCPUs paused meanwhile */

typedef struct PmemAccessV2Request {
    uint32_t magic;                 /* PMEMACCESS_V2_REQUEST_MAGIC */
    uint16_t type;                  /* PMEMACCESS_V2_DISCONNECT... */
    uint16_t flags;                 /* PMEMACCESS_V2_FLAG_* */
    uint64_t cookie;                /* echoed in the reply */
    uint64_t address;               /* READ, WRITE: first byte */
    uint64_t length;                /* READ, WRITE: bytes; READV: segments */
    uint64_t root;                  /* FLAG_VIRTUAL: page-table root (CR3) */
} PmemAccessV2Request;

/* A READV request is followed by this many segments. */
typedef struct PmemAccessV2Segment {
    uint64_t address;
    uint64_t length;
} PmemAccessV2Segment;

/* PmemAccessV2Reply.error, and READV's per-segment status */
#define PMEMACCESS_V2_OK            0
#define PMEMACCESS_V2_EINVAL        1   /* malformed request */
#define PMEMACCESS_V2_EUNSUPPORTED  2   /* unknown type */
#define PMEMACCESS_V2_ETOOBIG       3   /* over max_payload/max_segments */
#define PMEMACCESS_V2_EOVERFLOW     4   /* range wraps past 2^64 */
#define PMEMACCESS_V2_ENOTRAM       5   /* MMIO or unassigned: refused */
#define PMEMACCESS_V2_EPERM         6   /* write refused, or ROM */
#define PMEMACCESS_V2_EFAULT        7   /* virtual address not mapped */
#define PMEMACCESS_V2_ENOMAP        8   /* MAP: nothing offered (pmemmap) */
#define PMEMACCESS_V2_ENODATA       9   /* VMCOREINFO: none published */

typedef struct PmemAccessV2Reply {
    uint32_t magic;                 /* PMEMACCESS_V2_REPLY_MAGIC */
    uint32_t error;                 /* PMEMACCESS_V2_OK or an error */
    uint64_t cookie;                /* the request's */
    uint64_t length;                /* data bytes that follow */
    uint64_t address;               /* on error: the first failing address */
} PmemAccessV2Reply;

/*
 * MAP reply data: a PmemAccessV2MapHead, then nr_ranges
 * PmemAccessV2MapRange.  The reply header carries nr_fds file
 * descriptors (SCM_RIGHTS); fd_index picks one of them.  Mapping
 * [offset, offset + length) of that fd gives the range's guest memory.
 */
#define PMEMACCESS_V2_MAP_WRITABLE  (1u << 0)   /* fds allow writing */
#define PMEMACCESS_V2_MAP_SNAPSHOT  (1u << 1)   /* a copy, not live RAM */
#define PMEMACCESS_V2_MAP_SEALED    (1u << 2)   /* nobody can write the fds */

typedef struct PmemAccessV2MapHead {
    uint64_t generation;            /* see PMEMACCESS_V2_GENERATION */
    uint32_t nr_ranges;
    uint32_t nr_fds;
    uint32_t flags;                 /* PMEMACCESS_V2_MAP_* */
    uint32_t reserved;
} PmemAccessV2MapHead;

#define PMEMACCESS_V2_MAP_NO_FD     0xffffffffu /* range is not mappable */
#define PMEMACCESS_V2_MAP_NAME_LEN  64

typedef struct PmemAccessV2MapRange {
    uint64_t start;                 /* guest-physical address */
    uint64_t length;
    uint64_t offset;                /* in the fd */
    uint32_t fd_index;              /* or PMEMACCESS_V2_MAP_NO_FD */
    uint32_t flags;                 /* PMEMACCESS_V2_RANGE_* */
    char name[PMEMACCESS_V2_MAP_NAME_LEN];  /* RAM block, NUL-terminated */
} PmemAccessV2MapRange;

/*
 * VMCOREINFO reply data: a PmemAccessV2Vmcoreinfo, then text_len bytes of
 * the note's text ("KEY=value" lines, as QMP query-vmcoreinfo's "raw").
 * @valid tells which fields the note had; the others are 0.
 */
#define PMEMACCESS_V2_VMCI_OSRELEASE        (1u << 0)
#define PMEMACCESS_V2_VMCI_PAGE_SIZE        (1u << 1)
#define PMEMACCESS_V2_VMCI_KERNEL_OFFSET    (1u << 2)
#define PMEMACCESS_V2_VMCI_PHYS_BASE        (1u << 3)
#define PMEMACCESS_V2_VMCI_SWAPPER_PG_DIR   (1u << 4)
#define PMEMACCESS_V2_VMCI_INIT_UTS_NS      (1u << 5)
#define PMEMACCESS_V2_VMCI_PAGE_TABLE_ROOT  (1u << 6)
#define PMEMACCESS_V2_VMCI_LA57             (1u << 7)   /* 5-level paging */
#define PMEMACCESS_V2_VMCI_OSRELEASE_LEN    64

typedef struct PmemAccessV2Vmcoreinfo {
    uint32_t valid;                 /* PMEMACCESS_V2_VMCI_* */
    uint32_t text_len;              /* bytes of text that follow */
    uint64_t paddr;                 /* guest-physical address of the note */
    uint64_t kernel_offset;         /* KASLR offset (KERNELOFFSET) */
    int64_t phys_base;              /* NUMBER(phys_base) */
    uint64_t swapper_pg_dir;        /* SYMBOL(swapper_pg_dir), virtual */
    uint64_t init_uts_ns;           /* SYMBOL(init_uts_ns), virtual */
    uint64_t page_table_root;       /* swapper_pg_dir's physical address */
    uint64_t page_size;             /* PAGESIZE */
    char osrelease[PMEMACCESS_V2_VMCI_OSRELEASE_LEN];  /* NUL-terminated */
} PmemAccessV2Vmcoreinfo;

/* The server's limits */
#define PMEMACCESS_MAX_PAYLOAD      (64u * 1024 * 1024)
#define PMEMACCESS_MAX_SEGMENTS     4096u
/* A PAUSED request's reply data (or WRITE data) must fit in this */
#define PMEMACCESS_MAX_PAUSED_PAYLOAD (256u * 1024 - 32)

#endif /* PMEMACCESS_PROTO_H */
