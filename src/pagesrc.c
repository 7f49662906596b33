/*
 * pagesrc.c - pool pages from regions of our own (see pagesrc.h).
 *
 * Layout of a region, aligned to its own size so that page -> region is a
 * mask:
 *
 *   +--------+--------+--------+-- ... --+
 *   | header | page 1 | page 2 |         |   ZS_REGION_PAGES pages
 *   +--------+--------+--------+-- ... --+
 *
 * The header page holds the region list link and a bitmap with one bit per
 * page, set while the page is free and *released* (MADV_DONTNEED: costs no
 * memory).  Free pages that are still resident sit on the cache list, linked
 * through their first word.  A free never releases while the cache has room
 * for ZS_CACHE_MAX pages: a release is a system call and a TLB flush, and
 * frees happen in the fault handler (a thaw empties a pool page every
 * second time).  zs_pagesrc_trim, from the reclaim thread, releases the
 * cache down to ZS_CACHE_PAGES.  Allocation takes the cache first (hot
 * pages, which also spares the kernel clearing a new one), then the lowest
 * released page of the first region that has one, then maps a new region.
 * A run of consecutive pages (zs_pages_alloc, for zsmalloc's zspages) is
 * taken from released pages only, inside one bitmap word; its pages are
 * freed one by one like any other.
 *
 * Locking: src->lock (a zs_lock) protects everything; the counters are also
 * read without it.
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "fault.h"
#include "pagesrc.h"

#define ZS_REGION_SHIFT 26 /* 64 MiB */
#define ZS_REGION_SIZE (1UL << ZS_REGION_SHIFT)
#define ZS_REGION_PAGES (ZS_REGION_SIZE >> ZS_PAGE_SHIFT)
#define ZS_REGION_WORDS (ZS_REGION_PAGES / 64)
#define ZS_CACHE_PAGES 64 /* kept after a trim */
#define ZS_CACHE_MAX 1024 /* at most, between two trims (4 MiB) */

struct zs_region {
	struct zs_region *next;
	uint64_t nfree;            /* released pages in this region */
	uint64_t free_bits[ZS_REGION_WORDS];
};
_Static_assert(sizeof(struct zs_region) <= ZS_PAGE_SIZE, "region header fits its page");

struct zs_cached {
	struct zs_cached *next;
};

struct zs_pagesrc {
	struct zs_lock lock;
	struct zs_region *regions;
	struct zs_cached *cache;
	uint64_t ncached;
	uint64_t used;
	uint64_t max_pages;
};

int zs_pagesrc_create(uint64_t max_pages, struct zs_pagesrc **out)
{
	struct zs_pagesrc *src = zs_map_anon(sizeof(*src));

	if (!src)
		return -ENOMEM;
	pthread_mutex_init(&src->lock.mutex, NULL);
	src->max_pages = max_pages;
	*out = src;
	return 0;
}

void zs_pagesrc_destroy(struct zs_pagesrc *src)
{
	struct zs_region *r, *next;

	if (!src)
		return;
	for (r = src->regions; r; r = next) {
		next = r->next;
		zs_unmap(r, ZS_REGION_SIZE);
	}
	pthread_mutex_destroy(&src->lock.mutex);
	zs_unmap(src, sizeof(*src));
}

/* Map a region aligned to its size: map twice the size, trim both ends. */
static struct zs_region *region_map(void)
{
	char *raw, *start;
	uint64_t i;
	struct zs_region *r;

	raw = zs_map_anon(2 * ZS_REGION_SIZE);
	if (!raw)
		return NULL;
	start = (char *)(((uintptr_t)raw + ZS_REGION_SIZE - 1) & ~(ZS_REGION_SIZE - 1));
	if (start > raw)
		zs_sys_munmap(raw, start - raw);
	zs_sys_munmap(start + ZS_REGION_SIZE, raw + ZS_REGION_SIZE - start);
	r = (struct zs_region *)start;
	for (i = 0; i < ZS_REGION_WORDS; i++)
		r->free_bits[i] = ~0ULL;
	r->free_bits[0] &= ~1ULL; /* page 0 is the header */
	r->nfree = ZS_REGION_PAGES - 1;
	return r;
}

static void *region_take(struct zs_region *r)
{
	uint64_t i;

	for (i = 0; i < ZS_REGION_WORDS; i++) {
		if (r->free_bits[i]) {
			unsigned int bit = __builtin_ctzll(r->free_bits[i]);

			r->free_bits[i] &= ~(1ULL << bit);
			r->nfree--;
			return (char *)r + ((i * 64 + bit) << ZS_PAGE_SHIFT);
		}
	}
	return NULL;
}

static void *take_locked(struct zs_pagesrc *src)
{
	struct zs_region *r;

	if (src->cache) {
		struct zs_cached *c = src->cache;

		src->cache = c->next;
		src->ncached--;
		return c;
	}
	for (r = src->regions; r; r = r->next)
		if (r->nfree)
			return region_take(r);
	r = region_map();
	if (!r)
		return NULL;
	r->next = src->regions;
	src->regions = r;
	return region_take(r);
}

void *zs_page_alloc(struct zs_pagesrc *src)
{
	void *page = NULL;

	if (zs_fault_hit(ZS_FAULT_PAGE_ALLOC))
		return NULL;
	zs_lock(&src->lock);
	if (!src->max_pages || src->used < src->max_pages)
		page = take_locked(src);
	if (page)
		zs_count_add(&src->used, 1);
	zs_unlock(&src->lock);
	return page;
}

/* The lowest run of n released pages inside one bitmap word, or NULL. */
static void *region_take_run(struct zs_region *r, unsigned int n)
{
	uint64_t i, run;
	unsigned int k, bit;

	for (i = 0; i < ZS_REGION_WORDS; i++) {
		for (run = r->free_bits[i], k = 1; k < n; k++)
			run &= r->free_bits[i] >> k;
		if (run) {
			bit = __builtin_ctzll(run);
			r->free_bits[i] &= ~((n == 64 ? ~0ULL : (1ULL << n) - 1) << bit);
			r->nfree -= n;
			return (char *)r + ((i * 64 + bit) << ZS_PAGE_SHIFT);
		}
	}
	return NULL;
}

static void *take_run_locked(struct zs_pagesrc *src, unsigned int n)
{
	struct zs_region *r;
	void *run;

	for (r = src->regions; r; r = r->next)
		if (r->nfree >= n && (run = region_take_run(r, n)))
			return run;
	r = region_map();
	if (!r)
		return NULL;
	r->next = src->regions;
	src->regions = r;
	return region_take_run(r, n);
}

void *zs_pages_alloc(struct zs_pagesrc *src, unsigned int n)
{
	void *run = NULL;

	if (n <= 1)
		return n ? zs_page_alloc(src) : NULL;
	if (n > 64 || zs_fault_hit(ZS_FAULT_PAGE_ALLOC))
		return NULL;
	zs_lock(&src->lock);
	if (!src->max_pages || src->used + n <= src->max_pages)
		run = take_run_locked(src, n);
	if (run)
		zs_count_add(&src->used, n);
	zs_unlock(&src->lock);
	return run;
}

/* Give a page that is on no list back to the kernel, then mark it free. */
static void release(struct zs_pagesrc *src, void *page)
{
	struct zs_region *r = (struct zs_region *)((uintptr_t)page & ~(ZS_REGION_SIZE - 1));
	uint64_t index = ((uintptr_t)page - (uintptr_t)r) >> ZS_PAGE_SHIFT;

	zs_sys_madvise(page, ZS_PAGE_SIZE, MADV_DONTNEED);
	zs_lock(&src->lock);
	r->free_bits[index / 64] |= 1ULL << (index % 64);
	r->nfree++;
	zs_unlock(&src->lock);
}

void zs_page_free(struct zs_pagesrc *src, void *page)
{
	zs_lock(&src->lock);
	zs_count_sub(&src->used, 1);
	if (src->ncached < ZS_CACHE_MAX) {
		struct zs_cached *c = page;

		c->next = src->cache;
		src->cache = c;
		src->ncached++;
		zs_unlock(&src->lock);
		return;
	}
	zs_unlock(&src->lock);
	release(src, page);
}

void zs_pagesrc_trim(struct zs_pagesrc *src)
{
	struct zs_cached *c, *tail = NULL, *next;
	uint64_t kept;

	zs_signals_block(); /* once, for every lock below */
	zs_lock(&src->lock);
	/* Keep the most recently freed (the head: hottest), cut the rest. */
	for (c = src->cache, kept = 1; c && kept < ZS_CACHE_PAGES; c = c->next, kept++)
		;
	if (c && src->ncached > ZS_CACHE_PAGES) {
		tail = c->next;
		c->next = NULL;
		src->ncached = ZS_CACHE_PAGES;
	}
	zs_unlock(&src->lock);
	for (c = tail; c; c = next) {
		next = c->next; /* before the release zeroes the page */
		release(src, c);
	}
	zs_signals_unblock();
}

uint64_t zs_pagesrc_used(const struct zs_pagesrc *src)
{
	return zs_count_read(&src->used);
}

uint64_t zs_pagesrc_cached(const struct zs_pagesrc *src)
{
	return zs_count_read(&src->ncached);
}

void zs_pagesrc_after_fork_child(struct zs_pagesrc *src)
{
	zs_lock_reset(&src->lock);
}
