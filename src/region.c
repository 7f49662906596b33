/*
 * region.c - the managed reservation and its range allocator (see region.h).
 *
 * Free ranges are kept in an array sorted by address, disjoint and never
 * adjacent (adjacent ranges are merged on free), in memory of our own that
 * doubles when full.  Allocation is first fit by address, which keeps
 * managed memory dense at the bottom of the reservation; lookups of a given
 * address are binary searches.
 *
 * Locking: r->lock protects the free array and pages_out.  base, end and
 * state never change after create, so readers need no lock.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "region.h"

#define ZS_RANGES_MIN 256

int zs_region_create(uint64_t bytes, struct zs_region *r)
{
	uint64_t size = (bytes + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
	void *base;

	memset(r, 0, sizeof(*r));
	base = zs_sys_mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	r->state = zs_map_anon(size >> ZS_PAGE_SHIFT);
	r->free = zs_map_anon(ZS_RANGES_MIN * sizeof(*r->free));
	if (!r->state || !r->free) {
		zs_sys_munmap(base, size);
		zs_unmap(r->state, size >> ZS_PAGE_SHIFT);
		zs_unmap(r->free, ZS_RANGES_MIN * sizeof(*r->free));
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock.mutex, NULL);
	r->base = (uintptr_t)base;
	r->end = r->base + size;
	r->capacity = ZS_RANGES_MIN;
	r->free[0] = (struct zs_free_range){ r->base, r->end };
	r->nfree = 1;
	return 0;
}

void zs_region_destroy(struct zs_region *r)
{
	if (!r->base)
		return;
	zs_sys_munmap((void *)r->base, r->end - r->base);
	zs_unmap(r->state, (r->end - r->base) >> ZS_PAGE_SHIFT);
	zs_unmap(r->free, r->capacity * sizeof(*r->free));
	pthread_mutex_destroy(&r->lock.mutex);
	memset(r, 0, sizeof(*r));
}

/* Room for one more range: 0 or -ENOMEM. */
static int reserve_one(struct zs_region *r)
{
	struct zs_free_range *bigger;

	if (r->nfree < r->capacity)
		return 0;
	bigger = zs_map_anon(2 * r->capacity * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	memcpy(bigger, r->free, r->nfree * sizeof(*bigger));
	zs_unmap(r->free, r->capacity * sizeof(*bigger));
	r->free = bigger;
	r->capacity *= 2;
	return 0;
}

static void insert_at(struct zs_region *r, size_t i, uintptr_t start, uintptr_t end)
{
	memmove(&r->free[i + 1], &r->free[i], (r->nfree - i) * sizeof(*r->free));
	r->free[i] = (struct zs_free_range){ start, end };
	r->nfree++;
}

static void remove_at(struct zs_region *r, size_t i, size_t n)
{
	memmove(&r->free[i], &r->free[i + n], (r->nfree - i - n) * sizeof(*r->free));
	r->nfree -= n;
}

/* Take [a, b) out of free range i, which contains it.  0 or -ENOMEM. */
static int carve(struct zs_region *r, size_t i, uintptr_t a, uintptr_t b)
{
	struct zs_free_range *f = &r->free[i];

	if (f->start < a && b < f->end) {
		if (reserve_one(r))
			return -ENOMEM;
		f = &r->free[i];
		insert_at(r, i + 1, b, f->end);
		f->end = a;
	} else if (f->start < a) {
		f->end = a;
	} else if (b < f->end) {
		f->start = b;
	} else {
		remove_at(r, i, 1);
	}
	r->pages_out += (b - a) >> ZS_PAGE_SHIFT;
	return 0;
}

/* The index of the first free range that ends after addr. */
static size_t first_ending_after(const struct zs_region *r, uintptr_t addr)
{
	size_t lo = 0, hi = r->nfree;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->free[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uintptr_t find_hole(const struct zs_region *r, size_t size, size_t align, size_t *index)
{
	size_t i;

	for (i = 0; i < r->nfree; i++) {
		uintptr_t a = (r->free[i].start + align - 1) & ~(uintptr_t)(align - 1);

		if (a >= r->free[i].start && a + size <= r->free[i].end && a + size > a) {
			*index = i;
			return a;
		}
	}
	return 0;
}

void *zs_region_alloc(struct zs_region *r, size_t size, size_t align, uintptr_t at)
{
	uintptr_t a = 0;
	size_t i;

	size = (size + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
	if (align < ZS_PAGE_SIZE)
		align = ZS_PAGE_SIZE;
	if (size == 0 || (align & (align - 1)))
		return NULL;
	zs_lock(&r->lock);
	if (at) {
		i = first_ending_after(r, at);
		if (i < r->nfree && r->free[i].start <= at && at + size <= r->free[i].end &&
		    at + size > at && !(at & ~ZS_PAGE_MASK))
			a = at;
	} else {
		a = find_hole(r, size, align, &i);
	}
	if (a && carve(r, i, a, a + size))
		a = 0;
	zs_unlock(&r->lock);
	return (void *)a;
}

void zs_region_free(struct zs_region *r, void *addr, size_t size)
{
	uintptr_t start = (uintptr_t)addr & ZS_PAGE_MASK;
	uintptr_t end = ((uintptr_t)addr + size + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
	uint64_t freed;
	size_t i, j;

	if (start < r->base)
		start = r->base;
	if (end > r->end)
		end = r->end;
	if (start >= end)
		return;
	freed = (end - start) >> ZS_PAGE_SHIFT;
	zs_lock(&r->lock);
	/* Free ranges that overlap or touch [start, end) merge with it; pages
	 * already free (a double free) are not counted twice. */
	i = first_ending_after(r, start - 1);
	for (j = i; j < r->nfree && r->free[j].start <= end; j++) {
		uintptr_t lo = r->free[j].start > start ? r->free[j].start : start;
		uintptr_t hi = r->free[j].end < end ? r->free[j].end : end;

		if (lo < hi)
			freed -= (hi - lo) >> ZS_PAGE_SHIFT;
		if (r->free[j].start < start)
			start = r->free[j].start;
		if (r->free[j].end > end)
			end = r->free[j].end;
	}
	if (j > i) {
		r->free[i] = (struct zs_free_range){ start, end };
		remove_at(r, i + 1, j - i - 1);
	} else if (reserve_one(r) == 0) {
		insert_at(r, i, start, end);
	} else {
		freed = 0; /* no memory for the list: the range stays out */
	}
	r->pages_out -= freed;
	zs_unlock(&r->lock);
}

bool zs_region_next_used(struct zs_region *r, uintptr_t addr, uintptr_t *start, uintptr_t *end)
{
	size_t i;
	bool found = false;

	if (addr < r->base)
		addr = r->base;
	zs_lock(&r->lock);
	/* Used space is the gaps between free ranges (and around them). */
	i = first_ending_after(r, addr);
	if (i < r->nfree && r->free[i].start <= addr) {
		addr = r->free[i].end; /* addr is free: skip to the end of its range */
		i++;
	}
	if (addr < r->end) {
		*start = addr;
		*end = i < r->nfree ? r->free[i].start : r->end;
		found = *start < *end;
	}
	zs_unlock(&r->lock);
	return found;
}

uint64_t zs_region_pages_out(const struct zs_region *r)
{
	return zs_count_read(&r->pages_out);
}

int zs_region_validate(struct zs_region *r, char *buf, size_t len)
{
	uint64_t free_pages = 0;
	size_t i;
	int ret = 0;

	zs_lock(&r->lock);
	for (i = 0; i < r->nfree && !ret; i++) {
		const struct zs_free_range *f = &r->free[i];

		if (f->start >= f->end || f->start < r->base || f->end > r->end ||
		    ((f->start | f->end) & ~ZS_PAGE_MASK)) {
			snprintf(buf, len, "region: bad free range %zu", i);
			ret = -EUCLEAN;
		} else if (i && f->start <= r->free[i - 1].end) {
			snprintf(buf, len, "region: free ranges %zu and %zu overlap or touch", i - 1, i);
			ret = -EUCLEAN;
		}
		free_pages += (f->end - f->start) >> ZS_PAGE_SHIFT;
	}
	if (!ret && free_pages + r->pages_out != (r->end - r->base) >> ZS_PAGE_SHIFT) {
		snprintf(buf, len, "region: %llu free + %llu out pages do not add up",
			 (unsigned long long)free_pages, (unsigned long long)r->pages_out);
		ret = -EUCLEAN;
	}
	zs_unlock(&r->lock);
	return ret;
}
