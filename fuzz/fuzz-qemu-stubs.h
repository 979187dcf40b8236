/*
 * The fuzz target's fake guest-physical address space.
 *
 * Copyright (c) 2026 The qemu-vmi authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef FUZZ_QEMU_STUBS_H
#define FUZZ_QEMU_STUBS_H

#define FUZZ_RAM_SIZE       (256 * KiB)         /* RAM at 0 */
#define FUZZ_HIGH_RAM       (4 * GiB)           /* RAM above 4 GiB */
#define FUZZ_HIGH_RAM_SIZE  (64 * KiB)
#define FUZZ_ROM            0xffff0000ULL       /* ROM below 4 GiB */
#define FUZZ_ROM_SIZE       (64 * KiB)

/* Make the fake CPU the machine's, so that virtual reads walk. */
void fuzz_cpu_init(void);

/* Fill the fake RAM and ROM with their initial pattern again. */
void fuzz_memory_reset(void);

/* Whether the server allows WRITE (the input's first byte decides). */
extern bool fuzz_write_allowed;

/*
 * The client's g_malloc()/g_free(), renamed by the Makefile for
 * pmemaccess-client.c only: PMEMACCESS_CHUNK buffers are recycled.
 */
void *fuzz_g_malloc(size_t size);
void fuzz_g_free(void *p);

#endif
