/*
 * reclaim.c - the clock over the managed pages (see reclaim.h).
 *
 * The hand walks the ranges the region has handed out, in address order,
 * wrapping at the end (a revolution).  At each window it first freezes the
 * pages still sampled from its previous pass (cold: nobody touched them for
 * a whole revolution), then samples the pages mincore reports in memory.
 * The charge is measured once per call (mincore over every managed range)
 * and then estimated: each frozen page leaves memory and adds its share to
 * the pool, which is read back from the engine.
 *
 * Single-threaded: the shim's reclaim thread, under its mapping lock.
 */
#include "config.h"

#include <sys/mman.h>

#include "reclaim.h"

int zs_reclaim_init(struct zs_reclaim *r, struct zs_pager *p, uint64_t limit_bytes, bool shrinker)
{
	r->pager = p;
	r->limit_pages = limit_bytes >> ZS_PAGE_SHIFT;
	/* Work in batches: from 1.5% below the limit down to 3% below, which
	 * leaves room for a fault's pages (zs_reclaim_has_room). */
	r->high_pages = r->limit_pages - r->limit_pages / 64;
	r->low_pages = r->limit_pages - r->limit_pages / 32;
	r->shrinker = shrinker;
	r->hand = 0;
	r->windows = r->revolutions = r->shrunk_pages = r->frozen_this_rev = 0;
	r->dry_revs = 0;
	r->vma_budget = 0;
	r->charge_pages = r->brought_at = 0;
	r->measured_ns = r->measured_brought = r->measured_freezes = r->measure_cost_ns = 0;
	r->vec = zs_map_anon(ZS_RECLAIM_WINDOW);
	r->measure_vec = zs_map_anon(ZS_RECLAIM_MEASURE_PAGES);
	if (r->vec && r->measure_vec)
		return 0;
	zs_reclaim_fini(r);
	return -ENOMEM;
}

void zs_reclaim_fini(struct zs_reclaim *r)
{
	zs_unmap(r->vec, ZS_RECLAIM_WINDOW);
	zs_unmap(r->measure_vec, ZS_RECLAIM_MEASURE_PAGES);
	r->vec = r->measure_vec = NULL;
}

static uint64_t count_resident(const unsigned char *vec, size_t n)
{
	uint64_t c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c += vec[i] & 1;
	return c;
}

static uint64_t pool_pages(struct zs_reclaim *r)
{
	return zs_engine_pool_bytes(r->pager->engine) >> ZS_PAGE_SHIFT;
}

/* The charge as now known, for zs_reclaim_has_room: pages brought in since
 * the pager's count was `brought` are not in it yet. */
static void publish(struct zs_reclaim *r, uint64_t charge, uint64_t brought)
{
	__atomic_store_n(&r->brought_at, brought, __ATOMIC_RELAXED);
	__atomic_store_n(&r->charge_pages, charge, __ATOMIC_RELEASE);
}

/* Pages the pager brought into memory so far: first touches and thaws. */
static uint64_t brought_in(struct zs_reclaim *r)
{
	return zs_count_read(&r->pager->stats.first_touches) + zs_count_read(&r->pager->stats.thaws);
}

bool zs_reclaim_has_room(struct zs_reclaim *r, uint64_t pages)
{
	uint64_t limit = __atomic_load_n(&r->limit_pages, __ATOMIC_RELAXED), charge, since;

	if (!limit)
		return true;
	charge = __atomic_load_n(&r->charge_pages, __ATOMIC_ACQUIRE);
	since = brought_in(r) - __atomic_load_n(&r->brought_at, __ATOMIC_RELAXED);
	if (pages > limit / 64)
		pages = limit / 64;
	return charge + since + pages <= limit;
}

static uint64_t freezes(struct zs_reclaim *r)
{
	return zs_count_read(&r->pager->stats.freezes);
}

uint64_t zs_reclaim_charge(struct zs_reclaim *r, uint64_t *resident)
{
	struct zs_region *reg = &r->pager->region;
	uintptr_t start, end, at;
	uint64_t in_memory = 0, brought = brought_in(r), charge;

	r->measured_ns = zs_now_ns();
	r->measured_brought = brought;
	r->measured_freezes = freezes(r);
	for (at = reg->base; zs_region_next_used(reg, at, &start, &end); at = end) {
		for (at = start; at < end; at += ZS_RECLAIM_MEASURE_PAGES << ZS_PAGE_SHIFT) {
			size_t n = (end - at) >> ZS_PAGE_SHIFT;

			if (n > ZS_RECLAIM_MEASURE_PAGES)
				n = ZS_RECLAIM_MEASURE_PAGES;
			if (mincore((void *)at, n << ZS_PAGE_SHIFT, r->measure_vec) == 0)
				in_memory += count_resident(r->measure_vec, n);
		}
		at = end;
	}
	r->measure_cost_ns = zs_now_ns() - r->measured_ns;
	if (resident)
		*resident = in_memory;
	__atomic_store_n(&r->resident_pages, in_memory, __ATOMIC_RELAXED);
	charge = in_memory + pool_pages(r);
	publish(r, charge, brought);
	return charge;
}

/* The next window under the hand, or false when nothing is managed. */
static bool next_window(struct zs_reclaim *r, uintptr_t *addr, size_t *n)
{
	struct zs_region *reg = &r->pager->region;
	uintptr_t start, end;

	if (!zs_region_next_used(reg, r->hand, &start, &end)) {
		r->revolutions++;
		r->dry_revs = r->frozen_this_rev ? 0 : r->dry_revs + 1;
		r->frozen_this_rev = 0;
		if (!zs_region_next_used(reg, reg->base, &start, &end))
			return false;
	}
	*addr = start;
	*n = (end - start) >> ZS_PAGE_SHIFT;
	if (*n > ZS_RECLAIM_WINDOW)
		*n = ZS_RECLAIM_WINDOW;
	r->hand = start + (*n << ZS_PAGE_SHIFT);
	return true;
}

/* One window: freeze what stayed cold, sample what is in memory (near the
 * VMA budget sampling may freeze directly: pager.c).  A window with
 * nothing to do costs no system call.  Returns the pages frozen. */
static size_t step(struct zs_reclaim *r)
{
	uint64_t before = freezes(r), vmas, frozen;
	uintptr_t addr;
	size_t n;

	if (!next_window(r, &addr, &n))
		return 0;
	r->windows++;
	if (!zs_pager_window_busy(r->pager, addr, n))
		return 0;
	zs_pager_freeze(r->pager, addr, n);
	vmas = zs_pager_vma_estimate(r->pager);
	if (r->vma_budget && vmas > r->vma_budget + r->vma_budget / 2)
		zs_pager_unsample(r->pager, addr, n);
	else if (mincore((void *)addr, n << ZS_PAGE_SHIFT, r->vec) == 0)
		zs_pager_sample(r->pager, addr, n, r->vec);
	frozen = freezes(r) - before;
	r->frozen_this_rev += frozen;
	return (size_t)frozen;
}

/* The pool's share is what is over: write its oldest pages back. */
static int shrink(struct zs_reclaim *r, uint64_t excess)
{
	uint64_t pool = pool_pages(r), target = pool > excess ? pool - excess : 0;

	if (!r->shrinker || pool == 0)
		return -ENOSPC;
	zs_engine_shrink(r->pager->engine, target << ZS_PAGE_SHIFT);
	if (pool_pages(r) >= pool)
		return -ENOSPC;
	r->shrunk_pages += pool - pool_pages(r);
	return 0;
}

/* The charge, measured (mincore over every managed page, which contends
 * with the program's faults for the kernel's mmap lock) at most every
 * ZS_RECLAIM_MEASURE_NS, and never more than a 16th of the time (its
 * cost grows with the managed size), estimated in between: the pages in
 * memory then, plus those the pager brought in since, less those it froze. */
static uint64_t charge_now(struct zs_reclaim *r, uint64_t *resident)
{
	uint64_t brought = brought_in(r), charge, in, out, every = r->measure_cost_ns * 16;

	if (every < ZS_RECLAIM_MEASURE_NS)
		every = ZS_RECLAIM_MEASURE_NS;
	if (zs_now_ns() - r->measured_ns >= every)
		return zs_reclaim_charge(r, resident);
	in = r->resident_pages + (brought - r->measured_brought);
	out = freezes(r) - r->measured_freezes;
	*resident = in > out ? in - out : 0;
	charge = *resident + pool_pages(r);
	publish(r, charge, brought);
	return charge;
}

int zs_reclaim_run(struct zs_reclaim *r, size_t max_windows)
{
	uint64_t resident, charge;
	size_t w, frozen = 0;

	if (!r->limit_pages)
		return 0;
	charge = charge_now(r, &resident);
	if (charge <= r->high_pages)
		return 0;
	for (w = 0; w < max_windows && r->dry_revs < 2; w++) {
		frozen += step(r);
		/* Frozen pages left memory; the pool holds them now. */
		charge = (resident > frozen ? resident - frozen : 0) + pool_pages(r);
		publish(r, charge, __atomic_load_n(&r->brought_at, __ATOMIC_RELAXED));
		if (charge <= r->low_pages)
			return 0;
	}
	if (r->dry_revs < 2)
		return -EAGAIN;
	/* Two whole passes froze nothing: what is in memory is hot, and what
	 * is over is the pool's share.  Then scan afresh. */
	r->dry_revs = 0;
	return shrink(r, charge - r->low_pages) == 0 ? -EAGAIN : -ENOSPC;
}
