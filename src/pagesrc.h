/*
 * pagesrc.h - whole pages for the compressed pool, mapped by zswapsim itself.
 *
 * Pool pages never come from malloc: the pool's real footprint must follow
 * its size, and in the preloaded library malloc is the program's heap.  Pages
 * are carved from 64 MiB regions mapped once (one VMA each, never split).  A
 * freed page is kept resident for reuse, up to 4 MiB of them; trimming gives
 * all but a few back to the kernel (MADV_DONTNEED), off the fault path.
 */
#ifndef ZS_PAGESRC_H
#define ZS_PAGESRC_H

#include <stdint.h>

#include "common.h"

struct zs_pagesrc;

/* Returns 0 or -ENOMEM; max_pages caps the pages in use (0 = no cap). */
int zs_pagesrc_create(uint64_t max_pages, struct zs_pagesrc **out);
/* Unmaps every region: every page handed out is gone. */
void zs_pagesrc_destroy(struct zs_pagesrc *src);

/* A page of zero or stale bytes, or NULL when none can be had.
 * Thread-safe; async-signal-safe (zs_lock). */
void *zs_page_alloc(struct zs_pagesrc *src);
/* Thread-safe; async-signal-safe (zs_lock). */
void zs_page_free(struct zs_pagesrc *src, void *page);
/* `n` (1 .. 64) pages at consecutive addresses, or NULL.  Each is an
 * ordinary page afterwards: it counts in zs_pagesrc_used() and goes back
 * one by one with zs_page_free(), in any order.  n > 1 never comes from the
 * reuse cache, only from released or new pages (zero bytes), and a run
 * never crosses a 64-page boundary.  Thread-safe; async-signal-safe. */
void *zs_pages_alloc(struct zs_pagesrc *src, unsigned int n);

/* Release the reuse cache down to its most recent few pages.  Thread-safe;
 * may be slow (a system call a page): the reclaim thread's work.  Until it
 * runs (and without a limit, the shim runs no reclaim thread) up to 4 MiB
 * of free pages stay resident, outside pool_total_size. */
void zs_pagesrc_trim(struct zs_pagesrc *src);
/* In a child after fork: reset the lock. */
void zs_pagesrc_after_fork_child(struct zs_pagesrc *src);
/* Pages handed out and not freed. */
uint64_t zs_pagesrc_used(const struct zs_pagesrc *src);
/* Pages kept resident though free (the reuse cache). */
uint64_t zs_pagesrc_cached(const struct zs_pagesrc *src);

#endif
