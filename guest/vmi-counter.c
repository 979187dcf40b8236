/*
 * vmi-counter: the real-guest fixture's moving target.
 *
 * Two counters, each in its own locked page, incremented forever in a
 * fixed order: first A, then B.  At every instant A == B or A == B + 1,
 * so a reader that sees both at one instant (a paused batch) always finds
 * 0 <= A - B <= 1, while two reads at different instants of a running
 * guest need not.  Each page starts with a tag naming the page and this
 * process's pid, written at run time so that the only copies in guest RAM
 * are these pages (the binary holds the format, not the tag).  It counts
 * in bursts with short naps, so the guest stays busy but not pegged:
 *
 *     "vmi-counter A pid=<pid>\n"  then, at offset 64, the u64 counter A
 *     "vmi-counter B pid=<pid>\n"  then, at offset 64, the u64 counter B
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define COUNTER_OFFSET 64

static volatile uint64_t *counter_page(char name, long page_size)
{
    char *page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (page == MAP_FAILED || mlock(page, page_size) < 0) {
        perror("vmi-counter");
        _exit(1);
    }
    snprintf(page, COUNTER_OFFSET, "vmi-counter %c pid=%d\n", name,
             (int)getpid());
    return (volatile uint64_t *)(page + COUNTER_OFFSET);
}

int main(void)
{
    long page_size = sysconf(_SC_PAGESIZE);
    volatile uint64_t *a = counter_page('A', page_size);
    volatile uint64_t *b = counter_page('B', page_size);

    /* Bursts, then a nap, so the guest is busy but not pegged. */
    for (;;) {
        for (int i = 0; i < 100000; i++) {
            *a += 1;
            *b += 1;
        }
        usleep(1000);
    }
}
