/*
 * scale.c - the pager and its clock over a large managed region: how fast
 * reclaim freezes, how many areas (VMAs) it leaves, and what the shim's own
 * bookkeeping costs per managed page.
 *
 * The region (16 GiB by default: 4 Mi pages) is written 64 MiB at a time,
 * and after each step the clock runs, as the shim's reclaim thread would,
 * until the charge is back under a limit of a 16th of the region (1 GiB).  Every page is filled with
 * one word (its index), so the engine keeps it as that word and the pool
 * stays empty: what is measured is the pager, the clock and the index at
 * this size, not the compressor (the engine and pager parts time that).
 *
 * Metadata is measured, not computed: the growth of the process's resident
 * set over the run, minus the managed pages still in memory and the pool,
 * divided by the managed pages.  It holds the region's state bytes, the
 * index and its entries, and the clock's vectors.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "common.h"
#include "engine.h"
#include "options.h"
#include "pager.h"
#include "reclaim.h"

#define STEP_PAGES 16384 /* 64 MiB written between two runs of the clock */

static struct zs_pager scale_pager;

static void setup(struct zs_reclaim *r, uint64_t pages, uint64_t limit, const char *dir)
{
	struct zs_engine *e;
	struct zs_options o;
	char err[256];

	zs_options_defaults(&o);
	snprintf(o.swapfile, sizeof(o.swapfile), "%s", dir);
	o.mem_limit = limit;
	if (zs_engine_create(&o, &e, err, sizeof(err)) ||
	    zs_pager_create(&scale_pager, e, (pages << ZS_PAGE_SHIFT) + (UINT64_C(64) << 20), err,
			    sizeof(err)))
		FAIL("scale: %s", err);
	if (zs_reclaim_init(r, &scale_pager, limit, true))
		FAIL("scale: no memory for the clock");
	r->vma_budget = 65530 / 3; /* the shim's share of the default vm.max_map_count */
	bench_handle_faults(&scale_pager);
}

static void fill(uint64_t *page, uint64_t index)
{
	size_t i;

	for (i = 0; i < ZS_PAGE_SIZE / sizeof(*page); i++)
		page[i] = index;
}

void bench_scale(uint64_t pages, const char *dir)
{
	uint64_t rss0, rss1, hwm, resident, t0, reclaim_ns = 0, start = bench_now_ns();
	uint64_t i, step, *base, limit = pages << ZS_PAGE_SHIFT >> 4;
	size_t vmas, max_vmas = 0;
	struct zs_pager_stats ps;
	struct zs_reclaim r;
	struct zs_stats st;
	double meta;
	int ret;

	setup(&r, pages, limit, dir);
	bench_rss(&rss0, &hwm);
	base = zs_region_alloc(&scale_pager.region, pages << ZS_PAGE_SHIFT, 0, 0);
	if (!base)
		FAIL("scale: no room for %llu pages", (unsigned long long)pages);
	/* As the shim maps a new mapping: PROT_NONE, opened a block at a time
	 * by first touches. */
	zs_pager_map_fresh(&scale_pager, (uintptr_t)base, pages << ZS_PAGE_SHIFT,
			   PROT_READ | PROT_WRITE);
	for (step = 0; step < pages; step += STEP_PAGES) {
		for (i = step; i < step + STEP_PAGES && i < pages; i++)
			fill(base + (i << ZS_PAGE_SHIFT) / sizeof(*base), i);
		t0 = bench_now_ns();
		while ((ret = zs_reclaim_run(&r, 64)) == -EAGAIN)
			;
		reclaim_ns += bench_now_ns() - t0;
		if (ret)
			FAIL("scale: the clock could not get under the limit (%d)", ret);
		zs_pager_note_vmas(&scale_pager, vmas = bench_vmas(), r.vma_budget);
		max_vmas = vmas > max_vmas ? vmas : max_vmas;
	}
	zs_reclaim_charge(&r, &resident);
	zs_pager_stats(&scale_pager, &ps);
	zs_engine_stats(scale_pager.engine, &st);
	bench_rss(&rss1, &hwm);
	for (i = 0; i < pages; i += 4099) /* a sample of pages, thawed and checked */
		if (base[(i << ZS_PAGE_SHIFT) / sizeof(*base) + 511] != i)
			FAIL("scale: page %llu lost its contents", (unsigned long long)i);
	meta = ((double)rss1 - (double)rss0 - (double)(resident << ZS_PAGE_SHIFT) -
		(double)st.pool_total_size) / (double)pages;
	printf("SCALE: %llu pages (%llu MiB) written under a %llu MiB limit in %.1f s\n"
	       "  clock: %.2f s for %llu freezes, %llu samples; %llu frozen, %llu in memory;\n"
	       "  areas: at most %zu in the process (%llu of the pager's, estimated)\n"
	       "  resident set: %llu MiB before, %llu MiB after (peak %llu MiB)\n\n",
	       (unsigned long long)pages, (unsigned long long)(pages >> 8),
	       (unsigned long long)(limit >> 20), (double)(bench_now_ns() - start) / 1e9,
	       (double)reclaim_ns / 1e9, (unsigned long long)ps.freezes,
	       (unsigned long long)ps.samples, (unsigned long long)ps.frozen_pages,
	       (unsigned long long)resident, max_vmas,
	       (unsigned long long)zs_pager_vma_estimate(&scale_pager),
	       (unsigned long long)(rss0 >> 20), (unsigned long long)(rss1 >> 20),
	       (unsigned long long)(hwm >> 20));
	bench_result("scale: reclaim throughput", "pages/s",
		     (double)ps.freezes * 1e9 / (double)(reclaim_ns ? reclaim_ns : 1), 0, 0, "");
	bench_result("scale: most VMAs in use", "areas", (double)max_vmas, 0, 0, "");
	bench_result("metadata per managed page", "bytes", meta, 0, 16, "<= 16 bytes");
}
