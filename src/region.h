/*
 * region.h - the managed address space: one reservation from which every page
 * the preloaded library may freeze is handed out, and one state byte per page.
 *
 * Keeping all managed memory in one reserved range makes the fault handler's
 * question "is this address ours, and in which state?" a bounds check and an
 * array index, without locks, in a signal handler.  The reservation is
 * PROT_NONE and MAP_NORESERVE: it costs one VMA and no memory until ranges of
 * it are handed out and made accessible by their user.
 *
 * Ranges are handed out page-granular and aligned, first fit by address, and
 * may be returned in any pieces (jemalloc splits and merges extents).
 */
#ifndef ZS_REGION_H
#define ZS_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* A page's state byte. */
#define ZS_PS_PROT_MASK 0x07   /* the protection the program asked for (PROT_*) */
#define ZS_PS_STATE_MASK 0x18
#define ZS_PS_PRESENT 0x00     /* accessible with the program's protection */
#define ZS_PS_SAMPLED 0x08     /* PROT_NONE to see a reference; contents in place */
#define ZS_PS_FROZEN 0x10      /* contents in the engine, page dropped; PROT_NONE
                                  unless GUARDED */
#define ZS_PS_BUSY 0x18        /* being frozen or thawed: wait for it */
#define ZS_PS_FRESH 0x20       /* with SAMPLED: never touched yet, reads as zeros */
#define ZS_PS_GUARDED 0x20     /* with FROZEN: dropped under a guard marker, with the
                                  program's protection (no area of its own) */
#define ZS_PS_LOCKED 0x40      /* mlock'd: never frozen */
#define ZS_PS_MAPPED 0x80      /* part of a live managed mapping */

struct zs_region {
	uintptr_t base, end;        /* the reservation, [base, end) */
	uint8_t *state;             /* one byte per page of the reservation */
	/* free ranges, below, under lock */
	struct zs_lock lock;
	struct zs_free_range *free;
	size_t nfree, capacity;
	uint64_t pages_out;         /* pages handed out */
};

struct zs_free_range {
	uintptr_t start, end;
};

/* Reserve `bytes` (rounded up to pages).  0 or -ENOMEM. */
int zs_region_create(uint64_t bytes, struct zs_region *r);
void zs_region_destroy(struct zs_region *r);

/* Lock-free and async-signal-safe. */
static inline bool zs_region_contains(const struct zs_region *r, uintptr_t addr)
{
	return addr - r->base < r->end - r->base;
}

static inline uint8_t *zs_region_state(const struct zs_region *r, uintptr_t addr)
{
	return &r->state[(addr - r->base) >> ZS_PAGE_SHIFT];
}

/* A range of `size` bytes aligned to `align` (both powers-of-two multiples of
 * the page size for align; size rounded up to pages), still PROT_NONE; NULL
 * when the reservation has no such hole.  With `at` nonzero: exactly that
 * range if it is free, else NULL.  Thread-safe (not in handlers). */
void *zs_region_alloc(struct zs_region *r, size_t size, size_t align, uintptr_t at);
/* Give back [addr, addr + size): any pages handed out, in any pieces.
 * The caller has made them PROT_NONE again. */
void zs_region_free(struct zs_region *r, void *addr, size_t size);
/* The first range handed out that ends after `addr`, as [*start, *end):
 * true, or false when there is none.  Thread-safe (not in handlers). */
bool zs_region_next_used(struct zs_region *r, uintptr_t addr, uintptr_t *start, uintptr_t *end);
/* In a child after fork: reset the lock. */
static inline void zs_region_after_fork_child(struct zs_region *r)
{
	zs_lock_reset(&r->lock);
}

/* Pages handed out now. */
uint64_t zs_region_pages_out(const struct zs_region *r);
/* Check the free list (sorted, disjoint, not adjacent, inside): 0 or
 * -EUCLEAN with a message. */
int zs_region_validate(struct zs_region *r, char *buf, size_t len);

#endif
