/*
 * reclaim.h - when and what to freeze: the policy the shim's reclaim thread
 * runs over the pager.
 *
 * The limit counts what Linux charges a memory cgroup: the managed pages in
 * memory and, since 5.19, the compressed pool.  Over the limit, a clock hand
 * sweeps the managed pages in windows: pages sampled on its last pass and not
 * touched since are cold and get frozen; pages in memory get sampled.  It is
 * the kernel's second chance (an active and an inactive list) with the
 * reference bit read by protection faults, since a process cannot read its
 * own accessed bits.  When freezing alone cannot bring the charge down (the
 * pool's own share is what grew), the shrinker writes the pool's oldest
 * pages back to the swap file.
 *
 * The VMA budget: every run of protected pages splits its mapping, and the
 * process must stay far from vm.max_map_count (its own mmap and malloc fail
 * there).  Below the budget the hand samples; above it, it samples only the
 * runs that join protected neighbours (they merge areas: pager.c); above one
 * and a half times it, it unsamples, merging the areas back.
 *
 * First touches and thaws are charged as they happen (zs_reclaim_has_room):
 * between two measurements, the pages brought in since are added to the
 * last charge, so a program filling or reading memory faster than the clock
 * freezes it is made to wait for room, as the kernel makes a task reclaim
 * at its cgroup's limit.
 */
#ifndef ZS_RECLAIM_H
#define ZS_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "pager.h"

#define ZS_RECLAIM_WINDOW 256 /* pages per step of the hand */
#define ZS_RECLAIM_MEASURE_NS (10 * 1000 * 1000) /* mincore over all, at most this often, */
#define ZS_RECLAIM_MEASURE_PAGES 16384 /* in calls this long (and 16x its own cost apart) */

struct zs_reclaim {
	struct zs_pager *pager;
	uint64_t limit_pages;       /* 0: no limit, never reclaim */
	uint64_t high_pages;        /* reclaim from this... */
	uint64_t low_pages;         /* ...down to this, for hysteresis */
	bool shrinker;
	uintptr_t hand;
	unsigned char *vec;         /* mincore of one window */
	unsigned char *measure_vec; /* mincore of ZS_RECLAIM_MEASURE_PAGES, to measure */
	uint64_t windows, revolutions, shrunk_pages;
	uint64_t resident_pages;    /* managed pages in memory, last measured */
	uint64_t vma_budget;        /* sample only below this (pager's estimate); 0: none */
	uint64_t frozen_this_rev;   /* pages frozen since the hand last wrapped */
	unsigned int dry_revs;      /* whole revolutions in a row that froze nothing */
	uint64_t charge_pages;      /* the charge last measured or estimated... */
	uint64_t brought_at;        /* ...and the pager's first_touches + thaws then */
	uint64_t measured_ns;       /* when resident_pages was measured (taking */
	uint64_t measure_cost_ns;   /* this long), and the */
	uint64_t measured_brought, measured_freezes; /* pager's counts then */
};

/* 0 or -ENOMEM. */
int zs_reclaim_init(struct zs_reclaim *r, struct zs_pager *p, uint64_t limit_bytes, bool shrinker);
void zs_reclaim_fini(struct zs_reclaim *r);

/* Managed pages in memory (not sampled pages' twins: every page mincore
 * reports), and the charge: those plus the pool, in pages. */
uint64_t zs_reclaim_charge(struct zs_reclaim *r, uint64_t *resident);

/* Whether `pages` more pages (at most a 64th of the limit) fit under
 * the limit: the last measured charge, plus the pages brought in since.
 * Lock-free and async-signal-safe: the shim's fault handler asks it. */
bool zs_reclaim_has_room(struct zs_reclaim *r, uint64_t pages);

/* If the charge is near the limit (high_pages), work (at most `max_windows` windows)
 * to bring it to the low mark.  0: under the limit now; -EAGAIN: still
 * over, call again; -ENOSPC: nothing left to freeze or write back. */
int zs_reclaim_run(struct zs_reclaim *r, size_t max_windows);

#endif
