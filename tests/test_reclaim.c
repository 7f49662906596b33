/*
 * test_reclaim.c - the clock policy over real pages: a working set four
 * times the limit is brought under it by freezing the cold part, the hot
 * part stays in memory, every byte survives, and with nothing cold left the
 * shrinker writes the pool back.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "pagegen.h"
#include "reclaim.h"
#include "tap.h"

#define NPAGES 4096 /* 16 MiB managed */
#define HOT 256
#define PG(i) (base + ((size_t)(i) << ZS_PAGE_SHIFT))

static struct zs_pager pager;
static struct zs_engine *engine;
static char *base;
static char tmpdir[] = "/tmp/zs-reclaim-XXXXXX";

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	if (!zs_pager_fault(&pager, (uintptr_t)si->si_addr, (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0))
		signal(SIGSEGV, SIG_DFL);
}

static void setup(uint64_t limit, unsigned int pool_percent)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	struct zs_options o;
	char err[256];
	int i;

	zs_options_defaults(&o);
	o.mem_limit = limit;
	o.max_pool_percent = pool_percent;
	strcpy(o.swapfile, tmpdir);
	if (zs_engine_create(&o, &engine, err, sizeof(err)) ||
	    zs_pager_create(&pager, engine, 64 << 20, err, sizeof(err))) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	sigaction(SIGSEGV, &sa, NULL);
	base = zs_region_alloc(&pager.region, NPAGES * ZS_PAGE_SIZE, 0, 0);
	mprotect(base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	zs_pager_map(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	for (i = 0; i < NPAGES; i++)
		zs_page_generate(ZS_PAGE_HEAP, (uint64_t)i, PG(i));
}

static void teardown(void)
{
	zs_pager_unmap(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE);
	zs_pager_destroy(&pager);
	zs_engine_destroy(engine);
}

static int mismatches(void)
{
	unsigned char want[ZS_PAGE_SIZE];
	int i, bad = 0;

	for (i = 0; i < NPAGES; i++) {
		zs_page_generate(ZS_PAGE_HEAP, (uint64_t)i, want);
		bad += memcmp(PG(i), want, ZS_PAGE_SIZE) != 0;
	}
	return bad;
}

static void touch_hot(void)
{
	volatile char sink;
	int i;

	for (i = 0; i < HOT; i++)
		sink = *PG(i);
	(void)sink;
}

static void test_limit(void)
{
	struct zs_reclaim r;
	uint64_t limit = NPAGES / 4 * ZS_PAGE_SIZE, resident, charge;
	int calls, ret = -EAGAIN;
	struct zs_pager_stats ps;

	setup(limit, 20);
	zs_reclaim_init(&r, &pager, limit, true);
	charge = zs_reclaim_charge(&r, &resident);
	ok(resident >= NPAGES - 16, "the working set is in memory (%llu pages)",
	   (unsigned long long)resident);
	for (calls = 0; calls < 200 && ret == -EAGAIN; calls++) {
		touch_hot(); /* the program keeps using its hot pages */
		ret = zs_reclaim_run(&r, NPAGES / ZS_RECLAIM_WINDOW); /* a revolution a call */
	}
	charge = zs_reclaim_charge(&r, &resident);
	is(ret, 0, "reclaim reports the charge under the limit after %d calls", calls);
	ok(charge <= limit / ZS_PAGE_SIZE, "the charge (%llu pages: %llu in memory + the pool) is "
	   "within the limit (%llu)", (unsigned long long)charge, (unsigned long long)resident,
	   (unsigned long long)(limit / ZS_PAGE_SIZE));
	zs_pager_stats(&pager, &ps);
	ok(ps.frozen_pages > NPAGES / 2, "most of the cold pages are frozen (%llu)",
	   (unsigned long long)ps.frozen_pages);
	ok(ps.thaws == 0, "hot pages were never frozen, so never thawed");
	is(mismatches(), 0, "every byte is intact");
	zs_reclaim_fini(&r);
	teardown();
}

static void test_no_limit(void)
{
	struct zs_reclaim r;

	setup(1ULL << 30, 20);
	zs_reclaim_init(&r, &pager, 0, true);
	is(zs_reclaim_run(&r, 64), 0, "no limit: nothing to do");
	is(pager.stats.samples, 0, "and nothing touched");
	zs_reclaim_fini(&r);
	teardown();
}

/* With the pool allowed to take the whole limit, freezing fills it past
 * what the limit leaves: the shrinker writes it back. */
static void test_shrinker(void)
{
	uint64_t limit = NPAGES / 4 * ZS_PAGE_SIZE, charge;
	struct zs_reclaim r;
	struct zs_stats s;
	int calls, ret = -EAGAIN;

	setup(limit, 100);
	zs_reclaim_init(&r, &pager, limit, true);
	for (calls = 0; calls < 200 && ret == -EAGAIN; calls++) {
		touch_hot();
		ret = zs_reclaim_run(&r, NPAGES / ZS_RECLAIM_WINDOW);
	}
	charge = zs_reclaim_charge(&r, NULL);
	zs_engine_stats(engine, &s);
	ok(ret == 0 && charge <= limit / ZS_PAGE_SIZE, "under the limit (%llu pages) after %d calls",
	   (unsigned long long)charge, calls);
	ok(r.shrunk_pages > 0 && s.written_back_pages > 0,
	   "the shrinker wrote the pool back (%llu pool pages, %llu pages written)",
	   (unsigned long long)r.shrunk_pages, (unsigned long long)s.written_back_pages);
	is(mismatches(), 0, "every byte is intact, from the pool or the swap file");
	zs_reclaim_fini(&r);
	teardown();
}

/* Room under the limit: the last measured charge plus what was brought in
 * since.  A fill of fresh pages uses the room up; reclaim makes it again. */
static void test_room(void)
{
	uint64_t limit = NPAGES / 4 * ZS_PAGE_SIZE, pages = NPAGES / 4;
	char *m;
	struct zs_reclaim r;
	volatile char *p;
	uint64_t i;
	int calls, ret = -EAGAIN;

	setup(limit, 20);
	zs_reclaim_init(&r, &pager, limit, true);
	zs_pager_unmap(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE); /* start empty */
	madvise(base, NPAGES * ZS_PAGE_SIZE, MADV_DONTNEED);
	m = zs_region_alloc(&pager.region, NPAGES * ZS_PAGE_SIZE, 0, 0);
	zs_pager_map_fresh(&pager, (uintptr_t)m, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	zs_reclaim_charge(&r, NULL);
	ok(zs_reclaim_has_room(&r, ZS_PAGER_FRESH_BLOCK), "empty: room for a block");
	for (p = (volatile char *)m, i = 0; i < pages; i += ZS_PAGER_FRESH_BLOCK)
		p[i << ZS_PAGE_SHIFT] = 1; /* first touches, a block each */
	ok(!zs_reclaim_has_room(&r, ZS_PAGER_FRESH_BLOCK),
	   "a limit's worth of first touches since the measure: no room");
	for (i = 0; i < pages; i++)
		p[i << ZS_PAGE_SHIFT] = 1; /* really in memory */
	for (calls = 0; calls < 200 && ret == -EAGAIN; calls++)
		ret = zs_reclaim_run(&r, NPAGES / ZS_RECLAIM_WINDOW);
	ok(ret == 0 && zs_reclaim_has_room(&r, ZS_PAGER_FRESH_BLOCK),
	   "reclaim made room again (%d calls)", calls);
	zs_pager_unmap(&pager, (uintptr_t)m, NPAGES * ZS_PAGE_SIZE);
	zs_reclaim_fini(&r);
	zs_pager_destroy(&pager);
	zs_engine_destroy(engine);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		skip_all("no temporary directory");
	test_limit();
	test_no_limit();
	test_shrinker();
	test_room();
	rmdir(tmpdir);
	return done_testing();
}
