/*
 * test_zpools.c - every allocator of zpool.c's table, through the zpool
 * interface only, by name: "zbud", "z3fold", "zsmalloc".
 *
 * What is checked, for each:
 *   limits     -EINVAL for size 0, -ENOSPC above max_size, max_size itself
 *              accepted, a refused alloc leaves *handle alone, reclaim
 *              without an evict callback is -EINVAL;
 *   random     6000 alloc/free/reclaim operations, sizes 1 .. max_size,
 *              fixed seed, evict callbacks that succeed and (a third of the
 *              time) fail.  After every operation: the driver's validate()
 *              and density, stated precisely as "between calls, a pool that
 *              holds pages holds at least as many objects as pages"
 *              (objects / zpool_total_pages() >= 1).  Every object carries a
 *              byte pattern from its own seed, checked through map() when it
 *              is freed or evicted and, every 50 operations and after every
 *              reclaim, for every live object, so overlapping objects and
 *              objects moved wrongly (z3fold's middle, zsmalloc's compaction)
 *              show up;
 *   reclaim    a full pool whose evict always fails keeps every object and
 *              page (-EAGAIN); then evicts that succeed empty it, each
 *              object evicted exactly once;
 *   race       an object freed (and another allocated) between reclaim
 *              reading its handle and evict mapping it: the handle is not
 *              handed out again while the reclaim runs;
 *   engine     zs_engine_create with opt.zpool set, 3000 generated pages
 *              stored under a pool limit of 96 KiB (writeback forced), then
 *              every page loaded back and compared byte for byte; validate
 *              twice in a row (the engine's own maps must be unmapped);
 *   threads    four owners and a reclaimer (zsmalloc: also compacting)
 *              at once, every object checked when freed or evicted;
 *   specifics  z3fold's roles and the move of a lone middle object (not
 *              while mapped); zsmalloc's compaction of a class, and density
 *              restored after a reclaim that empties a zspage.
 * The density each allocator reaches on the engine (no limit) is printed
 * as a diagnostic.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "engine.h"
#include "pagegen.h"
#include "pagesrc.h"
#include "z3fold.h"
#include "zpool.h"
#include "zsmalloc.h"
#include "tap.h"

static const char *const drivers[] = { "zbud", "z3fold", "zsmalloc" };

#define MAX_OBJECTS 1024

static uint64_t rng_state = 0x20240228;

static uint64_t rnd(uint64_t n)
{
	return zs_rand_next(&rng_state) % n;
}

struct object {
	unsigned long handle;
	size_t size;
	uint32_t seed;
	bool live;
};

/* The pool under test and its objects (one at a time). */
static struct {
	struct zpool *pool;
	struct object obj[MAX_OBJECTS];
	unsigned int live;
	bool evict_fails;        /* the evict callback refuses */
	bool evict_blind;        /* it frees without a map to check the bytes */
	unsigned long evicted, refused, bad_evicts, corrupt;
} t;

static void pattern(void *p, size_t size, uint32_t seed, bool check, bool *good)
{
	unsigned char *b = p;
	uint32_t x = seed | 1;
	size_t i;

	for (i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		if (!check)
			b[i] = (unsigned char)(x >> 16);
		else if (b[i] != (unsigned char)(x >> 16))
			*good = false;
	}
}

static bool object_intact(struct object *o)
{
	bool good = true;

	pattern(zpool_map(t.pool, o->handle), o->size, o->seed, true, &good);
	zpool_unmap(t.pool, o->handle);
	return good;
}

static struct object *find_handle(unsigned long handle)
{
	unsigned int i;

	for (i = 0; i < MAX_OBJECTS; i++)
		if (t.obj[i].live && t.obj[i].handle == handle)
			return &t.obj[i];
	return NULL;
}

static void forget(struct object *o)
{
	if (!object_intact(o))
		t.corrupt++;
	zpool_free(t.pool, o->handle);
	o->live = false;
	t.live--;
}

static int evict(struct zpool *pool, unsigned long handle, void *arg)
{
	struct object *o = find_handle(handle);

	if (!o || pool != t.pool) {
		t.bad_evicts++;
		return -ENOENT;
	}
	if (t.evict_fails) {
		t.refused++;
		return -EBUSY;
	}
	if (t.evict_blind) {
		zpool_free(t.pool, o->handle);
		o->live = false;
		t.live--;
	} else {
		forget(o);
	}
	t.evicted++;
	return 0;
}

static struct zs_pagesrc *new_src(void)
{
	struct zs_pagesrc *src = NULL;

	if (zs_pagesrc_create(0, &src)) {
		printf("Bail out! zs_pagesrc_create failed\n");
		exit(1);
	}
	return src;
}

static struct zpool *new_pool(const char *name, struct zs_pagesrc *src, zpool_evict_fn fn)
{
	struct zpool *pool = NULL;

	if (zpool_create(name, src, fn, NULL, &pool)) {
		printf("Bail out! zpool_create(%s) failed\n", name);
		exit(1);
	}
	memset(&t, 0, sizeof(t));
	t.pool = pool;
	return pool;
}

/* 0, or the error; the object is filled with its pattern. */
static int alloc_object(struct object *o, size_t size)
{
	int ret = zpool_alloc(t.pool, size, &o->handle);
	bool unused;

	if (ret)
		return ret;
	o->size = size;
	o->seed = (uint32_t)rnd(1u << 31);
	o->live = true;
	t.live++;
	pattern(zpool_map(t.pool, o->handle), size, o->seed, false, &unused);
	zpool_unmap(t.pool, o->handle);
	return 0;
}

/* validate() passes and density holds; else a diagnostic, once. */
static bool pool_ok(const char *when, unsigned long op)
{
	uint64_t pages = zpool_total_pages(t.pool);
	char msg[256];

	if (zpool_validate(t.pool, msg, sizeof(msg))) {
		diag("after %s (operation %lu): %s", when, op, msg);
		return false;
	}
	if (pages && t.live < pages) {
		diag("after %s (operation %lu): %u objects in %llu pages", when, op, t.live,
		     (unsigned long long)pages);
		return false;
	}
	return true;
}

/* ---- the page source's runs (zsmalloc's zspages) -------------------------- */

static void test_page_runs(void)
{
	struct zs_pagesrc *src = NULL;
	unsigned char *run[3], *one;
	unsigned int n, k, zero = 1;

	if (zs_pagesrc_create(10, &src)) {
		ok(0, "capped page source created");
		return;
	}
	one = zs_page_alloc(src);
	zs_page_free(src, one);   /* a cached page: never part of a run */
	for (n = 2; n <= 4; n++) {
		run[n - 2] = zs_pages_alloc(src, n);
		for (k = 0; run[n - 2] && k < n * ZS_PAGE_SIZE; k++)
			zero &= run[n - 2][k] == 0;
		if (run[n - 2])
			memset(run[n - 2], 0xa5, n * ZS_PAGE_SIZE);
	}
	ok(run[0] && run[1] && run[2], "runs of 2, 3 and 4 consecutive pages");
	ok(zero, "fresh runs read as zero (released pages only, not the cache)");
	ok(run[0] != one && run[1] != one && run[2] != one && (!run[0] ||
	   run[0] + 2 * ZS_PAGE_SIZE <= run[1] || run[1] + 3 * ZS_PAGE_SIZE <= run[0]),
	   "runs do not overlap each other or the cached page");
	is(zs_pagesrc_used(src), 9, "9 pages in use");
	ok(zs_pages_alloc(src, 2) == NULL, "a run of 2 over the cap of 10 is refused");
	ok(zs_pages_alloc(src, 0) == NULL && zs_pages_alloc(src, 65) == NULL,
	   "runs of 0 or 65 pages are refused");
	for (n = 2; n <= 4; n++)
		for (k = n; run[n - 2] && k-- > 0;)
			zs_page_free(src, run[n - 2] + k * ZS_PAGE_SIZE);
	is(zs_pagesrc_used(src), 0, "each page of a run goes back on its own");
	zs_pagesrc_destroy(src);
}

/* ---- limits --------------------------------------------------------------- */

static void test_limits(const char *name)
{
	struct zs_pagesrc *src = new_src();
	struct zpool *pool = new_pool(name, src, NULL);
	size_t max = zpool_max_size(pool);
	unsigned long h = 7;
	struct object o;

	is(zpool_alloc(pool, 0, &h), -EINVAL, "%s: size 0 is -EINVAL", name);
	is(zpool_alloc(pool, max + 1, &h), -ENOSPC, "%s: size %zu is -ENOSPC", name, max + 1);
	is(zpool_alloc(pool, 1UL << 20, &h), -ENOSPC, "%s: 1 MiB is -ENOSPC", name);
	is(h, 7, "%s: a refused alloc leaves *handle alone", name);
	is(zpool_total_pages(pool), 0, "%s: refused allocs take no page", name);
	is(alloc_object(&o, max), 0, "%s: max_size %zu is accepted", name, max);
	is(zpool_total_pages(pool), 1, "%s: and takes one page", name);
	ok(object_intact(&o), "%s: an object of max_size keeps its bytes", name);
	ok(zpool_describe(pool, o.handle) != NULL, "%s: describe names it: %s", name,
	   zpool_describe(pool, o.handle));
	is(zpool_reclaim(pool, 8), -EINVAL, "%s: reclaim without evict is -EINVAL", name);
	ok(pool_ok("limits", 0), "%s: validate after the limits", name);
	forget(&o);
	is(zpool_total_pages(pool), 0, "%s: the page goes back", name);
	is(zs_pagesrc_used(src), 0, "%s: the page source has every page back", name);
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
}

/* ---- random operations ------------------------------------------------------ */

/* Sizes 1 .. max; a fifth of them near four fixed sizes, so that some
 * classes hold many objects and zsmalloc compacts across zspages. */
static size_t random_size(size_t max)
{
	static const size_t common[] = { 100, 700, 1500, 2100 };
	uint64_t u = rnd(100);

	if (u < 20)
		return common[rnd(4)] + rnd(8);
	if (u < 40)
		return 1 + rnd(64);
	if (u < 60)
		return 1 + rnd(1024);
	if (u < 95)
		return 1 + rnd(max);
	return max - rnd(64);
}

static unsigned int check_all(void)
{
	unsigned int i, bad = 0;

	for (i = 0; i < MAX_OBJECTS; i++)
		if (t.obj[i].live && !object_intact(&t.obj[i]))
			bad++;
	return bad;
}

struct tally {
	unsigned long allocs, frees, reclaims, reclaimed, invalid, bad_reclaims, corrupt;
};

/* One random operation; false when the pool is broken after it. */
static bool random_op(size_t max, unsigned long op, struct tally *n)
{
	struct object *o = &t.obj[rnd(MAX_OBJECTS)];
	uint64_t u = rnd(100), pages = zpool_total_pages(t.pool);
	unsigned long evicted = t.evicted;
	int ret;

	if (u < 5) {
		t.evict_fails = rnd(3) == 0;
		ret = zpool_reclaim(t.pool, 1 + (unsigned int)rnd(8));
		n->reclaims++;
		if (ret == 0) {
			n->reclaimed++;
			if (zpool_total_pages(t.pool) >= pages || t.evicted == evicted)
				n->bad_reclaims++;
		} else if (ret != -EAGAIN && !(ret == -EINVAL && pages == 0)) {
			n->bad_reclaims++;
		}
		n->corrupt += check_all();
		return pool_ok("reclaim", op);
	}
	if (o->live) {
		forget(o);
		n->frees++;
		return pool_ok("free", op);
	}
	ret = alloc_object(o, random_size(max));
	if (ret)
		n->invalid++;
	n->allocs++;
	return pool_ok("alloc", op);
}

static void test_random(const char *name)
{
	struct zs_pagesrc *src = new_src();
	struct zpool *pool = new_pool(name, src, evict);
	size_t max = zpool_max_size(pool);
	struct tally n = { 0 };
	unsigned long op, broken = 0, i;

	for (op = 0; op < 6000 && !broken; op++) {
		if (!random_op(max, op, &n))
			broken++;
		if (op % 50 == 0)
			n.corrupt += check_all();
	}
	is(broken, 0, "%s: validate and density after each of %lu random operations", name, op);
	is(n.corrupt + t.corrupt, 0, "%s: every object keeps its bytes (map after moves, "
	   "free, evict)", name);
	is(n.invalid, 0, "%s: every alloc of 1 .. %zu bytes succeeds", name, max);
	is(n.bad_reclaims, 0, "%s: reclaim 0 frees a page and evicts, else -EAGAIN", name);
	is(t.bad_evicts, 0, "%s: evict is only called with live handles", name);
	ok(n.reclaimed > 10 && t.refused > 10 && n.frees > 1000,
	   "%s: %lu allocs, %lu frees, %lu reclaims (%lu freed a page), %lu evicted, %lu refused",
	   name, n.allocs, n.frees, n.reclaims, n.reclaimed, t.evicted, t.refused);
	for (i = 0; i < MAX_OBJECTS; i++)
		if (t.obj[i].live)
			forget(&t.obj[i]);
	is(zpool_total_pages(pool), 0, "%s: all pages freed with the last object", name);
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
}

/* ---- reclaim ---------------------------------------------------------------- */

static void test_reclaim(const char *name)
{
	struct zs_pagesrc *src = new_src();
	struct zpool *pool = new_pool(name, src, evict);
	unsigned int i, bad = 0, rounds = 0;
	uint64_t pages;
	int ret;

	for (i = 0; i < 300; i++)
		if (alloc_object(&t.obj[i], 1 + rnd(1500)))
			bad++;
	is(bad, 0, "%s: 300 objects stored", name);
	pages = zpool_total_pages(pool);
	t.evict_fails = true;
	is(zpool_reclaim(pool, 8), -EAGAIN, "%s: evict failing: reclaim is -EAGAIN", name);
	is(zpool_reclaim(pool, 0), -EINVAL, "%s: retries 0 is -EINVAL", name);
	ok(t.refused >= 8, "%s: each of the 8 tries asked evict (%lu refusals)", name, t.refused);
	is(zpool_total_pages(pool), pages, "%s: no page freed", name);
	is(t.live, 300, "%s: no object lost", name);
	is(check_all(), 0, "%s: every object intact after failed reclaims", name);
	ok(pool_ok("failed reclaims", 0), "%s: validate after failed reclaims", name);
	t.evict_fails = false;
	while ((ret = zpool_reclaim(pool, 8)) == 0 && rounds++ < 1000)
		if (!pool_ok("reclaim", rounds))
			bad++;
	is(ret, -EINVAL, "%s: reclaim empties the pool, then -EINVAL", name);
	is(bad, 0, "%s: validate after every reclaim", name);
	is(t.evicted, 300, "%s: every object evicted once", name);
	is(t.corrupt + t.bad_evicts, 0, "%s: intact when evicted, handles all live", name);
	is(zpool_total_pages(pool), 0, "%s: no page left", name);
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
}

/* The window between reclaim reading a handle and evict running: the
 * owner frees the object and another thread allocates.  The handle must not
 * be handed out again while the reclaim runs, and mapping it stays safe. */
static struct {
	unsigned int calls;
	unsigned long reused, stale_maps;
} race;

static int race_evict(struct zpool *pool, unsigned long handle, void *arg)
{
	struct object *o = find_handle(handle);

	if (!o)
		return -ENOENT;
	if (race.calls++ == 0) {
		forget(o);                   /* the owner's free, just before */
		if (alloc_object(&t.obj[10], 100) == 0 && t.obj[10].handle == handle)
			race.reused++;
		zpool_map(pool, handle);     /* what evict does first: no crash */
		zpool_unmap(pool, handle);
		race.stale_maps++;
		return -EEXIST;              /* as zswap, for an entry gone */
	}
	forget(o);
	return 0;
}

static void test_reclaim_race(const char *name)
{
	struct zs_pagesrc *src = new_src();
	struct zpool *pool = new_pool(name, src, race_evict);
	unsigned int i;

	memset(&race, 0, sizeof(race));
	alloc_object(&t.obj[0], 100);
	alloc_object(&t.obj[1], 100);
	is(zpool_reclaim(pool, 1), -EAGAIN, "%s: evict of an object freed meanwhile fails: "
	   "-EAGAIN", name);
	is(race.reused, 0, "%s: a handle freed under reclaim is not handed out again", name);
	is(race.stale_maps, 1, "%s: evict mapped the freed handle safely", name);
	ok(pool_ok("the race", 0), "%s: validate after the race", name);
	is(check_all(), 0, "%s: the other objects intact", name);
	for (i = 0; i < MAX_OBJECTS; i++)
		if (t.obj[i].live)
			forget(&t.obj[i]);
	is(zpool_total_pages(pool), 0, "%s: no page left", name);
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
}

/* ---- through the engine --------------------------------------------------- */

static char tmpdir[] = "/tmp/zs-zpools-XXXXXX";

#define ENGINE_PAGES 3000

static struct zs_engine *engine_for(const char *name, uint64_t max_pool_size)
{
	struct zs_options o;
	struct zs_engine *e = NULL;
	char err[256];

	zs_options_defaults(&o);
	snprintf(o.zpool, sizeof(o.zpool), "%s", name);
	o.mem_limit = 1ULL << 30;
	o.max_pool_size = max_pool_size;
	strcpy(o.swapfile, tmpdir);
	if (zs_engine_create(&o, &e, err, sizeof(err))) {
		printf("Bail out! engine with %s: %s\n", name, err);
		exit(1);
	}
	return e;
}

static uintptr_t key_of(unsigned int i)
{
	return (uintptr_t)(i + 1) << ZS_PAGE_SHIFT;
}

/* Store the generated pages; a page the pool refuses goes to the swap file
 * as the kernel would write it.  The failures. */
static unsigned int store_all(struct zs_engine *e)
{
	unsigned char page[ZS_PAGE_SIZE];
	unsigned int i, failed = 0;

	for (i = 0; i < ENGINE_PAGES; i++) {
		int ret;

		zs_page_generate(zs_page_kind_mixed(i), i, page);
		ret = zs_engine_store(e, key_of(i), page);
		if (ret == -E2BIG)
			ret = zs_engine_swap_out(e, key_of(i), page);
		if (ret)
			failed++;
	}
	return failed;
}

static bool engine_valid(struct zs_engine *e)
{
	char msg[256];

	if (zs_engine_validate(e, msg, sizeof(msg)) == 0)
		return true;
	diag("%s", msg);
	return false;
}

static void test_engine(const char *name)
{
	struct zs_engine *e = engine_for(name, 96 << 10);
	unsigned char page[ZS_PAGE_SIZE], want[ZS_PAGE_SIZE];
	unsigned int i, failed, wrong = 0;
	struct zs_stats s;

	failed = store_all(e);
	zs_engine_stats(e, &s);
	is(failed, 0, "%s engine: %d pages stored under a 96 KiB pool", name, ENGINE_PAGES);
	ok(s.written_back_pages > ENGINE_PAGES / 2,
	   "%s engine: the limit forced writeback (%llu pages written back)", name,
	   (unsigned long long)s.written_back_pages);
	ok(s.pool_limit_hit > 0, "%s engine: the pool reached its limit %llu times", name,
	   (unsigned long long)s.pool_limit_hit);
	ok(engine_valid(e), "%s engine: validate after the stores", name);
	ok(engine_valid(e), "%s engine: validate again (its own maps were all unmapped)", name);
	for (i = 0; i < ENGINE_PAGES; i++) {
		zs_page_generate(zs_page_kind_mixed(i), i, want);
		if (zs_engine_load(e, key_of(i), page) || memcmp(page, want, ZS_PAGE_SIZE))
			wrong++;
	}
	is(wrong, 0, "%s engine: every byte of %d pages loaded back", name, ENGINE_PAGES);
	ok(engine_valid(e), "%s engine: validate after the loads", name);
	zs_engine_destroy(e);
}

/* The density the allocator reaches with no limit: objects per pool page. */
static void test_engine_density(const char *name)
{
	struct zs_engine *e = engine_for(name, 0);
	struct zs_stats s;
	uint64_t objects, pages;

	store_all(e);
	zs_engine_stats(e, &s);
	objects = s.stored_pages - s.same_filled_pages - s.stored_incompressible_pages;
	pages = s.pool_total_size / ZS_PAGE_SIZE;
	ok(pages && objects >= pages, "%s engine density: %llu objects in %llu pages = %.2f",
	   name, (unsigned long long)objects, (unsigned long long)pages,
	   pages ? (double)objects / (double)pages : 0.0);
	zs_engine_destroy(e);
}

/* ---- threads ------------------------------------------------------------------
 * Four threads allocate, fill, check and free objects of their own while a
 * fifth reclaims (and, for zsmalloc, compacts every class) without pause,
 * so objects are evicted and moved while their owners map them.  Each
 * object is owned through one word, as in test_zbud: 0, its handle, or
 * that with bit 0 set while someone (owner or evictor) claimed it to free
 * it.  The word holds handle << 1: z3fold's handles (page + slot) and
 * zsmalloc's (table indices) may be odd, so the claim needs a bit of its own.
 */
#define NTHREADS 4
#define TSLOTS 64
#define TOPS 20000

struct tslot {
	unsigned long word;       /* 0, handle << 1, or (handle << 1) | 1 */
	size_t size;
	uint32_t seed;
};

static struct {
	struct zpool *pool;
	bool zsmalloc;
	struct tslot slots[NTHREADS][TSLOTS];
	int done;
	unsigned long errors, evicted, reclaims;
} th;

static bool tslot_claim(struct tslot *s, unsigned long w)
{
	return __atomic_compare_exchange_n(&s->word, &w, w | 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static void tslot_release(struct tslot *s, unsigned long handle)
{
	bool good = true;

	pattern(zpool_map(th.pool, handle), s->size, s->seed, true, &good);
	zpool_unmap(th.pool, handle);
	if (!good)
		__atomic_fetch_add(&th.errors, 1, __ATOMIC_RELAXED);
	zpool_free(th.pool, handle);
	__atomic_store_n(&s->word, 0, __ATOMIC_RELEASE);
}

static int thread_evict(struct zpool *pool, unsigned long handle, void *arg)
{
	struct tslot *s = &th.slots[0][0];
	int i;

	for (i = 0; i < NTHREADS * TSLOTS; i++) {
		if (__atomic_load_n(&s[i].word, __ATOMIC_ACQUIRE) != handle << 1)
			continue;
		if (!tslot_claim(&s[i], handle << 1))
			return -EBUSY;
		tslot_release(&s[i], handle);
		__atomic_fetch_add(&th.evicted, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return -EBUSY; /* not published yet, or being freed by its owner */
}

static void worker_step(struct tslot *s, uint64_t *r, size_t max)
{
	unsigned long w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE), h;
	bool unused;

	if (w == 0) {
		s->size = 1 + zs_rand_next(r) % max;
		s->seed = (uint32_t)zs_rand_next(r);
		if (zpool_alloc(th.pool, s->size, &h) != 0) {
			__atomic_fetch_add(&th.errors, 1, __ATOMIC_RELAXED);
			return;
		}
		pattern(zpool_map(th.pool, h), s->size, s->seed, false, &unused);
		zpool_unmap(th.pool, h);
		__atomic_store_n(&s->word, h << 1, __ATOMIC_RELEASE);
	} else if (!(w & 1) && tslot_claim(s, w)) {
		tslot_release(s, w >> 1);
	}
}

static void *worker(void *arg)
{
	struct tslot *mine = th.slots[(uintptr_t)arg];
	size_t max = zpool_max_size(th.pool);
	uint64_t r = 1000 + (uintptr_t)arg;
	int i;

	for (i = 0; i < TOPS; i++)
		worker_step(&mine[zs_rand_next(&r) % TSLOTS], &r, max);
	__atomic_store_n(&th.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *reclaimer(void *arg)
{
	unsigned long n = 0;

	while (!__atomic_load_n(&th.done, __ATOMIC_ACQUIRE)) {
		zpool_reclaim(th.pool, 1 + n % 8);
		if (th.zsmalloc)
			zsmalloc_compact(th.pool->priv);
		n++;
	}
	th.reclaims = n;
	return NULL;
}

static void test_threads(const char *name)
{
	struct zs_pagesrc *src = new_src();
	pthread_t w[NTHREADS], rec;
	unsigned long live = 0;
	char msg[256];
	uintptr_t k;
	int i;

	memset(&th, 0, sizeof(th));
	th.pool = new_pool(name, src, thread_evict);
	th.zsmalloc = !strcmp(name, "zsmalloc");
	pthread_create(&rec, NULL, reclaimer, NULL);
	for (k = 0; k < NTHREADS; k++)
		pthread_create(&w[k], NULL, worker, (void *)k);
	for (k = 0; k < NTHREADS; k++)
		pthread_join(w[k], NULL);
	pthread_join(rec, NULL);
	diag("%s threads: %d x %d ops, %lu reclaims, %lu objects evicted", name, NTHREADS, TOPS,
	     th.reclaims, th.evicted);
	snprintf(msg, sizeof(msg), "ok");
	ok(zpool_validate(th.pool, msg, sizeof(msg)) == 0, "%s threads: validate after: %s",
	   name, msg);
	for (k = 0; k < NTHREADS; k++) {
		for (i = 0; i < TSLOTS; i++) {
			struct tslot *s = &th.slots[k][i];

			if (s->word & 1)
				th.errors++;
			else if (s->word && ++live)
				tslot_release(s, s->word >> 1);
		}
	}
	is(th.errors, 0, "%s threads: no failed alloc, no corrupted object, no claim left "
	   "(%lu live at the end)", name, live);
	is(zpool_total_pages(th.pool), 0, "%s threads: the survivors freed, the pool is empty",
	   name);
	zpool_destroy(th.pool);
	zs_pagesrc_destroy(src);
}

/* ---- allocator specifics ---------------------------------------------------- */

static void test_z3fold_roles(void)
{
	struct zs_pagesrc *src = new_src();
	struct zpool *pool = new_pool("z3fold", src, NULL);
	struct object *a = &t.obj[0], *b = &t.obj[1], *c = &t.obj[2], *a2 = &t.obj[3];
	unsigned long page;
	char *p;

	alloc_object(a, 640);
	alloc_object(b, 640);
	alloc_object(c, 640);
	page = (unsigned long)zpool_map(pool, a->handle) & ZS_PAGE_MASK;
	zpool_unmap(pool, a->handle);
	is(zpool_total_pages(pool), 1, "z3fold: three objects of 10 chunks share one page");
	ok(!strcmp(zpool_describe(pool, a->handle), "first") &&
	   !strcmp(zpool_describe(pool, b->handle), "last") &&
	   !strcmp(zpool_describe(pool, c->handle), "middle"),
	   "z3fold: first, last, then middle");
	p = zpool_map(pool, c->handle);
	is((unsigned long)p - page, 64 + 640, "z3fold: the middle object starts right after FIRST");
	forget(a);
	forget(b);
	ok(!strcmp(zpool_describe(pool, c->handle), "middle") && zpool_map(pool, c->handle) == p,
	   "z3fold: a mapped lone middle object stays where it is");
	zpool_unmap(pool, c->handle);
	zpool_unmap(pool, c->handle);
	ok(pool_ok("a mapped middle", 0), "z3fold: validate with a lone middle object");
	alloc_object(a2, 640);
	is(zpool_total_pages(pool), 1, "z3fold: FIRST fits before the middle object again");
	forget(a2);
	ok(!strcmp(zpool_describe(pool, c->handle), "first"),
	   "z3fold: a free compacts the lone middle object to the start: now first");
	p = zpool_map(pool, c->handle);
	zpool_unmap(pool, c->handle);
	is((unsigned long)p - page, 64, "z3fold: its handle now maps to the page start + 64");
	ok(object_intact(c), "z3fold: the moved object keeps its bytes");
	ok(pool_ok("compaction", 0), "z3fold: validate after compaction");
	forget(c);
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
}

/* Free objects in place: `keep` of every `of`, by index in [from, to). */
static void thin(unsigned int from, unsigned int to, unsigned int keep, unsigned int of)
{
	unsigned int i;

	for (i = from; i < to; i++)
		if (t.obj[i].live && (i - from) % of >= keep)
			forget(&t.obj[i]);
}

static void test_zsmalloc_compaction(void)
{
	struct zs_pagesrc *src = new_src();
	struct zpool *pool = new_pool("zsmalloc", src, NULL);
	unsigned int i, failed = 0, invalid = 0;
	uint64_t before;

	is(zpool_total_pages(pool), 0, "zsmalloc: an empty pool");
	failed += alloc_object(&t.obj[0], 2100) != 0;
	is(zpool_total_pages(pool), 1,
	   "zsmalloc: the first object of a 4-page class takes a 1-page zspage (density rule 1)");
	forget(&t.obj[0]);
	for (i = 0; i < 400; i++)
		failed += alloc_object(&t.obj[i], 20) != 0;
	for (i = 400; i < 470; i++)
		failed += alloc_object(&t.obj[i], 2100) != 0;
	is(failed, 0, "zsmalloc: 400 objects of 20 bytes, 70 of 2100");
	ok(!strcmp(zpool_describe(pool, t.obj[400].handle), "class-2112"),
	   "zsmalloc: 2100 bytes and the handle go in class-2112 (%s)",
	   zpool_describe(pool, t.obj[400].handle));
	diag("zsmalloc: %u objects in %llu pages", t.live,
	     (unsigned long long)zpool_total_pages(pool));
	for (i = 0; i < 400; i++) {
		forget(&t.obj[i]);
		invalid += !pool_ok("free", i);
	}
	thin(400, 470, 2, 7);
	invalid += !pool_ok("thinning", 0);
	is(invalid, 0, "zsmalloc: density held by compaction as the objects go");
	ok(zpool_total_pages(pool) <= t.live, "zsmalloc: %u objects of 2100 bytes in %llu pages",
	   t.live, (unsigned long long)zpool_total_pages(pool));
	is(check_all(), 0, "zsmalloc: every moved object keeps its bytes");
	thin(0, 470, 0, 1);

	for (i = 0; i < 600; i++)
		failed += alloc_object(&t.obj[i], 1000) != 0;
	thin(0, 600, 1, 4);
	before = zpool_total_pages(pool);
	is(zsmalloc_compact(pool->priv), before - 38, "zsmalloc_compact frees %llu pages of %llu",
	   (unsigned long long)(before - 38), (unsigned long long)before);
	is(zpool_total_pages(pool), 38, "zsmalloc: 150 objects of 1000 bytes fill 38 pages");
	is(check_all(), 0, "zsmalloc: every compacted object keeps its bytes");
	ok(pool_ok("zsmalloc_compact", 0), "zsmalloc: validate after compaction");
	thin(0, 600, 0, 1);
	is(zpool_total_pages(pool), 0, "zsmalloc: no page left");
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
}

/* A reclaim that empties a zspage of many small objects leaves a few large
 * ones in a zspage of more pages than objects: density must be restored
 * before reclaim returns, as after a free. */
static void test_zsmalloc_reclaim_density(void)
{
	struct zs_pagesrc *src = new_src();
	struct zpool *pool = new_pool("zsmalloc", src, evict);
	unsigned int i, failed = 0;

	for (i = 0; i < 36; i++)
		failed += alloc_object(&t.obj[i], 100) != 0;
	for (i = 36; i < 43; i++)
		failed += alloc_object(&t.obj[i], 2100) != 0;
	is(failed, 0, "zsmalloc: 36 objects of 100 bytes, 7 of 2100");
	is(zpool_total_pages(pool), 5, "zsmalloc: one page of class-112, a 4-page zspage of "
	   "class-2112 (the surplus allowed it)");
	thin(36, 43, 1, 3);
	is(t.live, 39, "zsmalloc: 3 of the 2100-byte objects left");
	t.evict_blind = true; /* no unmap during the reclaim to restore density */
	is(zpool_reclaim(pool, 1), 0, "zsmalloc: reclaim empties the LRU tail, class-112");
	is(t.evicted, 36, "zsmalloc: its 36 objects evicted");
	ok(pool_ok("reclaim", 0), "zsmalloc: density restored after the reclaim (%u objects, "
	   "%llu pages)", t.live, (unsigned long long)zpool_total_pages(pool));
	is(zpool_total_pages(pool), 2, "zsmalloc: 3 objects of 2112-byte slots trimmed to 2 pages");
	is(check_all(), 0, "zsmalloc: the trimmed objects keep their bytes");
	thin(0, 43, 0, 1);
	is(zpool_total_pages(pool), 0, "zsmalloc: no page left");
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
}

int main(void)
{
	unsigned int i;

	ok(!strcmp(zpool_names(), "zbud, z3fold, zsmalloc"), "zpool_names: %s", zpool_names());
	test_page_runs();
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	for (i = 0; i < ZS_ARRAY_SIZE(drivers); i++) {
		ok(zpool_find(drivers[i]) != NULL, "zpool_find(\"%s\")", drivers[i]);
		test_limits(drivers[i]);
		test_random(drivers[i]);
		test_reclaim(drivers[i]);
		test_reclaim_race(drivers[i]);
		test_engine(drivers[i]);
		test_engine_density(drivers[i]);
		test_threads(drivers[i]);
	}
	test_z3fold_roles();
	test_zsmalloc_compaction();
	test_zsmalloc_reclaim_density();
	rmdir(tmpdir);
	return done_testing();
}
