/*
 * test_shadow.c - the pool models and compressor shadows (shadow.h).
 *
 * What is checked, and how:
 *   zbud model   ~20000 random allocs and frees through the model and through
 *                the real zbud (zpool.h) side by side: the page counts must
 *                be equal after every operation (the model follows zbud's
 *                policy exactly), and the model's validator must pass;
 *   z3fold       the same with the real z3fold: the model agrees within a
 *                tolerance stated below (z3fold may place a middle object
 *                where the model's single run of free chunks does not);
 *   zsmalloc     the model is the kernel's zsmalloc, not zsmalloc.c: it is
 *                checked by its class geometry (facts of Linux 6.3+), and
 *                validated and emptied through the same sequences;
 *   engine       the same pages through an engine on each allocator: the
 *                models of zbud and z3fold in one run equal the real pools of
 *                the other runs (no writeback); every run reports the same
 *                models; the live line is the live pool; every compressor saw
 *                every compressed page, and the live one's bytes are the
 *                pool's compressed_bytes plus what it made of the pages the
 *                pool refused;
 *   fork         a child rebuilds the models from its index (a thread of
 *                the parent may have left them half changed): they validate
 *                and hold every object of the pool.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "engine.h"
#include "pagegen.h"
#include "pagesrc.h"
#include "shadow.h"
#include "zpool.h"
#include "tap.h"

#define OBJECTS 4096
#define BAIL_OUT(...) (printf("Bail out! " __VA_ARGS__), printf("\n"), exit(1))
#define OPS 20000

static uint64_t rng_state = 0x5eed;

static uint64_t rnd(uint64_t n)
{
	uint64_t x = (rng_state += 0x9E3779B97F4A7C15ULL);

	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return (x ^ (x >> 31)) % n;
}

static int model_index(const char *pool)
{
	unsigned int k;

	for (k = 0; k < ZS_SHADOW_POOLS; k++)
		if (!strcmp(zs_shadow_pool_name(k), pool))
			return (int)k;
	return -1;
}

struct obj {
	size_t size;
	unsigned long handle;
	uint32_t ids[ZS_SHADOW_POOLS];
};

/* Sizes as zswap makes them: mostly 1-3 KiB, some tiny, some near a page. */
static size_t random_size(size_t max)
{
	size_t r = rnd(10), size = r < 2 ? 1 + rnd(300) : r < 9 ? 600 + rnd(2400) : 3000 + rnd(1100);

	return size > max ? max : size;
}

/* Drive `pool` and the shadow with the same allocs and frees.  Returns the
 * largest page difference seen, relative to the live pool, in percent. */
static unsigned int side_by_side(const char *name, bool exact)
{
	static struct obj objs[OBJECTS];
	struct zs_pagesrc *src;
	struct zs_shadow *s;
	struct zpool *pool;
	int k = model_index(name), bad_validate = 0, bad_density = 0, mismatch = 0;
	unsigned int worst = 0, i;
	uint64_t held = 0;
	char msg[256];

	if (zs_pagesrc_create(0, &src) || zpool_create(name, src, NULL, NULL, &pool) ||
	    zs_shadow_create(true, NULL, false, NULL, 0, &s))
		BAIL_OUT("cannot create %s", name);
	memset(objs, 0, sizeof(objs));
	for (i = 0; i < OPS; i++) {
		struct obj *o = &objs[rnd(OBJECTS)];
		uint64_t live, model;

		if (o->size) {
			zpool_free(pool, o->handle);
			zs_shadow_remove(s, o->ids);
			o->size = 0;
			held--;
		} else {
			size_t size = random_size(zpool_max_size(pool));

			if (zpool_alloc(pool, size, &o->handle))
				continue;
			o->size = size;
			zs_shadow_add(s, size, o->ids);
			held++;
		}
		live = zpool_total_pages(pool);
		model = zs_shadow_pool_pages(s, (unsigned int)k);
		if (zs_shadow_validate(s, msg, sizeof(msg)))
			bad_validate++;
		if (live > held)
			bad_density++;
		if (exact && live != model)
			mismatch++;
		if (live > 64) {
			uint64_t d = live > model ? live - model : model - live;

			if (d * 100 / live > worst)
				worst = (unsigned int)(d * 100 / live);
		}
	}
	is(bad_validate, 0, "%s: the models validate after each of %d operations", name, OPS);
	is(bad_density, 0, "%s: the pool never holds more pages than objects", name);
	if (exact)
		is(mismatch, 0, "%s: the model's page count equals the pool's after every operation",
		   name);
	for (i = 0; i < OBJECTS; i++)
		if (objs[i].size) {
			zpool_free(pool, objs[i].handle);
			zs_shadow_remove(s, objs[i].ids);
		}
	is(zs_shadow_pool_pages(s, (unsigned int)k), 0, "%s: the model is empty at the end", name);
	zs_shadow_destroy(s);
	zpool_destroy(pool);
	zs_pagesrc_destroy(src);
	return worst;
}

static void test_pools(void)
{
	unsigned int worst;

	side_by_side("zbud", true);
	/* The model packs by z3fold's rules, but may choose another page when
	 * a page's free chunks are split: 10% is the tolerance. */
	worst = side_by_side("z3fold", false);
	ok(worst <= 10, "z3fold: its model stays within 10%% of the pool's pages (worst %u%%)",
	   worst);
	side_by_side("zsmalloc", false);
}

/* The kernel's zsmalloc geometry (4 KiB pages, chains of up to 8 pages, an
 * 8-byte handle in each slot). */
static void test_classes(void)
{
	struct zs_shadow *s;
	uint32_t ids[ZS_SHADOW_POOLS];
	unsigned int k = (unsigned int)model_index("zsmalloc"), i;

	if (zs_shadow_create(true, NULL, false, NULL, 0, &s))
		BAIL_OUT("shadow");
	zs_shadow_add(s, 24, ids);
	is(zs_shadow_pool_pages(s, k), 1, "24 bytes: a 32-byte slot, a one-page zspage");
	for (i = 1; i < 128; i++)
		zs_shadow_add(s, 24, ids);
	is(zs_shadow_pool_pages(s, k), 1, "128 of them share the page");
	zs_shadow_add(s, 24, ids);
	is(zs_shadow_pool_pages(s, k), 2, "the 129th opens a second");
	zs_shadow_add(s, 3256, ids);
	is(zs_shadow_pool_pages(s, k), 6, "3256 bytes: 3264-byte slots, 5 in a 4-page zspage");
	zs_shadow_add(s, 3250, ids);
	is(zs_shadow_pool_pages(s, k), 6, "3250 bytes share that class");
	zs_shadow_add(s, 3640, ids);
	is(zs_shadow_pool_pages(s, k), 7, "3640 bytes: a page of its own (huge class)");
	zs_shadow_add(s, 4096, ids);
	is(zs_shadow_pool_pages(s, k), 8, "a whole page's worth: a page of its own");
	zs_shadow_add(s, 4097, ids);
	is(ids[k], ZS_SHADOW_NONE, "above a page: refused");
	zs_shadow_destroy(s);
}

static uint64_t field(const char *text, const char *line_start, const char *name)
{
	const char *l = strstr(text, line_start), *f;

	if (!l || !(f = strstr(l, name)))
		return UINT64_MAX;
	return strtoull(f + strlen(name), NULL, 10);
}

struct run {
	struct zs_stats st;
	char text[4096];
};

/* 4000 mixed pages through an engine on `zpool`, no limit reached. */
static void run_engine(const char *zpool, struct run *r)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct zs_options opt;
	struct zs_engine *e;
	char err[256];
	size_t at = 0;
	uint64_t i;

	zs_options_defaults(&opt);
	snprintf(opt.zpool, sizeof(opt.zpool), "%s", zpool);
	opt.shadow_compressors = true;
	opt.mem_limit = UINT64_C(1) << 30;
	if (zs_engine_create(&opt, &e, err, sizeof(err)))
		BAIL_OUT("engine: %s", err);
	for (i = 0; i < 4000; i++) {
		zs_page_generate(zs_page_kind_mixed(i), i, page);
		zs_engine_store(e, (i + 1) << ZS_PAGE_SHIFT, page);
	}
	zs_engine_stats(e, &r->st);
	r->text[0] = '\0';
	zs_engine_shadow_format(e, r->text, sizeof(r->text), &at);
	ok(zs_engine_validate(e, err, sizeof(err)) == 0, "%s: the engine and its shadows validate",
	   zpool);
	zs_engine_invalidate_all(e);
	at = 0;
	zs_engine_shadow_format(e, r->text + strlen(r->text) + 1,
				sizeof(r->text) - strlen(r->text) - 1, &at);
	is(field(r->text + strlen(r->text) + 1, "shadow_zpool zsmalloc", "pool_total_size "), 0,
	   "%s: after invalidate_all every model is empty", zpool);
	is(field(r->text + strlen(r->text) + 1, "shadow_zpool zsmalloc", "peak_pool_total_size "),
	   field(r->text, "shadow_zpool zsmalloc", "peak_pool_total_size "),
	   "%s: the peak outlives the pages", zpool);
	is(field(r->text, "shadow_zpool zbud", "peak_pool_total_size "),
	   field(r->text, "shadow_zpool zbud", "pool_total_size "),
	   "%s: a pool that only grew peaks at its size", zpool);
	zs_engine_destroy(e);
}

static void test_engine(void)
{
	static struct run zbud, z3fold, zsm;
	uint64_t compressed, lz4;

	run_engine("zbud", &zbud);
	run_engine("z3fold", &z3fold);
	run_engine("zsmalloc", &zsm);
	is(field(zsm.text, "shadow_zpool zbud", "pool_total_size "), zbud.st.pool_total_size,
	   "the zbud model of a zsmalloc run holds what a zbud pool held");
	is(field(zsm.text, "shadow_zpool z3fold", "pool_total_size "), z3fold.st.pool_total_size,
	   "the z3fold model of a zsmalloc run holds what a z3fold pool held");
	is(field(zbud.text, "shadow_zpool zbud", "pool_total_size "), zbud.st.pool_total_size,
	   "the live pool's line is the live pool");
	is(field(zbud.text, "shadow_zpool zsmalloc", "pool_total_size "),
	   field(z3fold.text, "shadow_zpool zsmalloc", "pool_total_size "),
	   "two runs of the same pages report the same zsmalloc model");
	diag("zsmalloc model %llu bytes, zsmalloc.c %llu bytes, z3fold model %llu, z3fold %llu",
	     (unsigned long long)field(zbud.text, "shadow_zpool zsmalloc", "pool_total_size "),
	     (unsigned long long)zsm.st.pool_total_size,
	     (unsigned long long)field(zbud.text, "shadow_zpool z3fold", "pool_total_size "),
	     (unsigned long long)z3fold.st.pool_total_size);
	is(field(zbud.text, "shadow_zpool z3fold", "stored_pages "),
	   zbud.st.stored_pages - zbud.st.same_filled_pages, "every model saw every page in the pool");
	compressed = zbud.st.stored_pages - zbud.st.same_filled_pages + zbud.st.reject_compress_poor;
	lz4 = field(zbud.text, "shadow_compressor lz4 ", "compressed_bytes ");
	ok(lz4 >= zbud.st.compressed_bytes &&
	   lz4 <= zbud.st.compressed_bytes + zbud.st.reject_compress_poor * ZS_PAGE_SIZE,
	   "the live compressor's bytes are the pool's, and at most a page each refused one");
	is(field(zbud.text, "shadow_compressor zstd", "pages "), compressed,
	   "another compressor compressed the same pages, those the pool refused included");
	ok(field(zbud.text, "shadow_compressor lz4hc", "compressed_bytes ") <= lz4,
	   "lz4hc makes no more bytes than lz4 of the same pages");
}

/* After fork, in the child: the models are emptied and filled again from
 * the index; they must validate and hold every object of the pool (packed
 * anew, in the index's order, so not page for page as the live pool). */
static void test_fork(void)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct zs_options opt;
	struct zs_engine *e;
	struct zs_stats st;
	char err[256], text[4096];
	size_t at = 0;
	int status;
	pid_t pid;
	uint64_t i;

	zs_options_defaults(&opt);
	opt.mem_limit = UINT64_C(1) << 30;
	if (zs_engine_create(&opt, &e, err, sizeof(err)))
		BAIL_OUT("engine: %s", err);
	for (i = 0; i < 2000; i++) {
		zs_page_generate(zs_page_kind_mixed(i), i, page);
		zs_engine_store(e, (i + 1) << ZS_PAGE_SHIFT, page);
	}
	for (i = 0; i < 2000; i += 3)
		zs_engine_invalidate(e, (i + 1) << ZS_PAGE_SHIFT);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		zs_engine_after_fork_child(e);
		zs_engine_stats(e, &st);
		text[0] = '\0';
		zs_engine_shadow_format(e, text, sizeof(text), &at);
		if (zs_engine_validate(e, err, sizeof(err)))
			_exit(1);
		_exit(field(text, "shadow_zpool z3fold", "stored_pages ") !=
			      st.stored_pages - st.same_filled_pages ? 2 : 0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0,
	   "a child after fork rebuilds the models: they validate and hold every object");
	zs_engine_destroy(e);
}

int main(void)
{
	test_classes();
	test_pools();
	test_engine();
	test_fork();
	return done_testing();
}
