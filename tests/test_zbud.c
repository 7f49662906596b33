/*
 * test_zbud.c - the zbud pool through its own API (zbud.h).
 *
 * What is checked, and how:
 *   geometry     size limits and where FIRST and LAST objects sit in a page;
 *   placement    best fit by bucket and newest first, with pages built so
 *                that exactly one answer is right;
 *   model        ~20000 random alloc/free/reclaim operations checked against
 *                a model written here from the design notes (pages with two
 *                chunk counts, unbuddied lists and the LRU as ordered arrays,
 *                head first).  The model predicts the page and buddy of every
 *                allocation and, for every reclaim, the handles evict is
 *                called with and the return value.  zbud_validate runs after
 *                every operation and every object carries a byte pattern
 *                checked when it is freed or evicted, so overlapping objects
 *                show up;
 *   reclaim      the evict protocol case by case;
 *   footprint    pages go back to the page source; injected page failures;
 *   threads      four allocating threads and one reclaiming thread, each
 *                object owned through one atomic word (see struct tslot).
 *
 * Pages are recognised by address (handle & ~4095); a fresh page may reuse
 * the address of a freed one, so the model only requires a fresh page not
 * to be one it still holds.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fault.h"
#include "pagegen.h"
#include "pagesrc.h"
#include "zbud.h"
#include "tap.h"

#define PAGE_OF(h) ((h) & ~(unsigned long)(ZS_PAGE_SIZE - 1))
#define CHUNKS(size) (((size) + ZBUD_CHUNK_SIZE - 1) / ZBUD_CHUNK_SIZE)
/* The size that takes exactly `c` chunks. */
#define SIZE_OF(c) ((size_t)(c) * ZBUD_CHUNK_SIZE)

static uint64_t rng_state = 0x5eed;

static uint64_t rnd(uint64_t n)
{
	uint64_t x = (rng_state += 0x9E3779B97F4A7C15ULL);

	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return (x ^ (x >> 31)) % n;
}

/* Byte patterns: every object is filled from its own seed. */

static void fill(void *p, size_t size, uint32_t seed)
{
	unsigned char *b = p;
	uint32_t x = seed | 1;
	size_t i;

	for (i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (unsigned char)(x >> 16);
	}
}

static bool intact(const void *p, size_t size, uint32_t seed)
{
	const unsigned char *b = p;
	uint32_t x = seed | 1;
	size_t i;

	for (i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		if (b[i] != (unsigned char)(x >> 16))
			return false;
	}
	return true;
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

/* zbud_validate, with "ok" in msg when it passes. */
static bool valid(struct zbud_pool *pool, char *msg, size_t len)
{
	snprintf(msg, len, "ok");
	return zbud_validate(pool, msg, len) == 0;
}

static unsigned long alloc_ok(struct zbud_pool *pool, size_t size)
{
	unsigned long h = 0;

	if (zbud_alloc(pool, size, &h) != 0) {
		printf("Bail out! zbud_alloc(%zu) failed\n", size);
		exit(1);
	}
	return h;
}

/* ---- Geometry ---------------------------------------------------------- */

static void test_geometry(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, NULL);
	unsigned long h = 1, big, tiny, two;
	char msg[256];

	ok(pool != NULL, "pool created");
	is(zbud_alloc(pool, 0, &h), -EINVAL, "size 0 is -EINVAL");
	is(zbud_alloc(pool, ZBUD_MAX_SIZE + 1, &h), -ENOSPC, "size 3969 is -ENOSPC");
	is(zbud_alloc(pool, 100000, &h), -ENOSPC, "size 100000 is -ENOSPC");
	is(h, 1, "a refused alloc leaves *handle alone");
	is(zbud_get_pool_size(pool), 0, "refused allocs take no page");

	big = alloc_ok(pool, 3968);
	is(zbud_get_pool_size(pool), 1, "3968 bytes fit in one page");
	is(big - PAGE_OF(big), ZBUD_HDR_SIZE, "FIRST starts right after the 64-byte header");
	ok(strcmp(zbud_buddy_name(big), "first") == 0, "buddy name of FIRST is \"first\"");

	/* 3968 bytes are 62 chunks: one chunk is left, for a 1-chunk LAST. */
	two = 1;
	is(zbud_alloc(pool, 65, &two), 0, "a 2-chunk object is accepted");
	ok(PAGE_OF(two) != PAGE_OF(big), "a 2-chunk object does not fit next to 62 chunks");
	tiny = alloc_ok(pool, 64);
	is(PAGE_OF(tiny), PAGE_OF(big), "a 1-chunk object pairs with 62 chunks");
	is(tiny + 64, PAGE_OF(big) + ZS_PAGE_SIZE, "LAST ends at the end of the page");
	ok(strcmp(zbud_buddy_name(tiny), "last") == 0, "buddy name of LAST is \"last\"");
	ok(valid(pool, msg, sizeof(msg)), "validate after geometry allocs: %s", msg);

	zbud_free(pool, big);
	zbud_free(pool, tiny);
	zbud_free(pool, two);
	is(zbud_get_pool_size(pool), 0, "all pages freed");
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

/* LAST of every size: handle + chunks * 64 == page + 4096. */
static void test_last_geometry(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, NULL);
	unsigned int c, bad = 0, invalid = 0;
	char msg[256];

	for (c = 1; c <= ZBUD_NCHUNKS - 1; c++) {
		/* The empty pool takes FIRST in a new page, LAST fills the rest. */
		unsigned long first = alloc_ok(pool, SIZE_OF(ZBUD_NCHUNKS - c));
		unsigned long last = alloc_ok(pool, SIZE_OF(c) - 1);

		if (PAGE_OF(last) != PAGE_OF(first) ||
		    last + SIZE_OF(c) != PAGE_OF(first) + ZS_PAGE_SIZE ||
		    first != PAGE_OF(first) + ZBUD_HDR_SIZE) {
			if (!bad++)
				diag("LAST of %u chunks at page+%lu (pages %#lx, %#lx)",
				     c, last - PAGE_OF(last), PAGE_OF(first), PAGE_OF(last));
		}
		if (!valid(pool, msg, sizeof(msg)) && !invalid++)
			diag("FIRST %u + LAST %u chunks: %s", (unsigned int)ZBUD_NCHUNKS - c, c,
			     msg);
		zbud_free(pool, first);
		zbud_free(pool, last);
	}
	is(invalid, 0, "zbud_validate accepts every full page (FIRST + LAST = 63 chunks)");
	is(bad, 0, "LAST of c = 1..62 chunks ends at the page end, next to FIRST of 63 - c");
	is(zbud_get_pool_size(pool), 0, "no page left");
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

static void test_map(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, NULL);
	unsigned long a = alloc_ok(pool, 1000), b = alloc_ok(pool, 2000);
	void *pa = zbud_map(pool, a), *pb = zbud_map(pool, b);

	ok(pa != NULL && pb != NULL, "zbud_map gives an address");
	fill(pa, 1000, 1);
	fill(pb, 2000, 2);
	zbud_unmap(pool, a);
	zbud_unmap(pool, b);
	ok(intact(zbud_map(pool, a), 1000, 1), "FIRST is writable and keeps its bytes");
	ok(intact(zbud_map(pool, b), 2000, 2), "LAST is writable and keeps its bytes");
	zbud_free(pool, a);
	zbud_free(pool, b);
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

/* ---- Placement: best fit by bucket, newest first ------------------------ */

static void test_best_fit(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, NULL);
	/* 50, 45 and 40 chunks cannot pair: pages with 13, 18 and 23 free. */
	unsigned long p13 = alloc_ok(pool, SIZE_OF(50));
	unsigned long p18 = alloc_ok(pool, SIZE_OF(45));
	unsigned long p23 = alloc_ok(pool, SIZE_OF(40));
	unsigned long h;
	char msg[256];

	ok(PAGE_OF(p13) != PAGE_OF(p18) && PAGE_OF(p18) != PAGE_OF(p23) &&
	   PAGE_OF(p13) != PAGE_OF(p23), "three large objects take three pages");
	h = alloc_ok(pool, SIZE_OF(15));
	is(PAGE_OF(h), PAGE_OF(p18), "15 chunks go to the page with 18 free, not 23");
	h = alloc_ok(pool, SIZE_OF(10));
	is(PAGE_OF(h), PAGE_OF(p13), "10 chunks go to the page with 13 free, not 23");
	h = alloc_ok(pool, SIZE_OF(24));
	ok(PAGE_OF(h) != PAGE_OF(p23) && PAGE_OF(h) != PAGE_OF(p13) && PAGE_OF(h) != PAGE_OF(p18),
	   "24 chunks do not fit 23 free: a new page");
	h = alloc_ok(pool, SIZE_OF(23));
	is(PAGE_OF(h), PAGE_OF(p23), "23 chunks fill the page with 23 free exactly");
	ok(valid(pool, msg, sizeof(msg)), "validate after best fit: %s", msg);
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

static void test_newest_first(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, NULL);
	unsigned long p[3], l[3], h;
	char msg[256];
	int i;

	for (i = 0; i < 3; i++)
		p[i] = alloc_ok(pool, SIZE_OF(40)); /* 3 pages, 23 free each */
	for (i = 2; i >= 0; i--) {
		l[i] = alloc_ok(pool, SIZE_OF(10));
		is(PAGE_OF(l[i]), PAGE_OF(p[i]), "same bucket: the newest page (%d) first", i);
	}
	/* Freeing re-files at the head: page 0, then page 2. */
	zbud_free(pool, l[0]);
	zbud_free(pool, l[2]);
	h = alloc_ok(pool, SIZE_OF(5));
	is(PAGE_OF(h), PAGE_OF(p[2]), "the page re-filed last is taken first");
	h = alloc_ok(pool, SIZE_OF(5));
	is(PAGE_OF(h), PAGE_OF(p[0]), "then the one re-filed before it");
	/* A page whose FIRST was freed takes the next object as FIRST. */
	zbud_free(pool, p[1]);
	h = alloc_ok(pool, SIZE_OF(3));
	is(h, PAGE_OF(l[1]) + ZBUD_HDR_SIZE, "an empty FIRST slot is used before LAST");
	ok(valid(pool, msg, sizeof(msg)), "validate after newest first: %s", msg);
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

/* ---- The model ------------------------------------------------------------
 * An ordered array of page numbers, head at index 0.
 */
struct seq {
	int *v;
	int n, cap;
};

static void seq_push_head(struct seq *s, int x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			exit(1);
	}
	memmove(s->v + 1, s->v, s->n * sizeof(*s->v));
	s->v[0] = x;
	s->n++;
}

static bool seq_remove(struct seq *s, int x)
{
	int i;

	for (i = 0; i < s->n; i++) {
		if (s->v[i] == x) {
			memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
			s->n--;
			return true;
		}
	}
	return false;
}

struct mpage {
	unsigned long addr;
	unsigned int chunks[2]; /* FIRST, LAST */
};

struct model {
	struct mpage *pages;      /* every page ever, by number; never reused */
	int npages, cap;
	struct seq unbuddied[ZBUD_NCHUNKS];
	struct seq buddied;
	struct seq lru;           /* pages held and not under reclaim */
};

static unsigned int m_free_chunks(const struct mpage *p)
{
	return ZBUD_NCHUNKS - p->chunks[0] - p->chunks[1];
}

static unsigned long m_handle(const struct mpage *p, int bud)
{
	return bud == 0 ? p->addr + ZBUD_HDR_SIZE
			: p->addr + ZS_PAGE_SIZE - SIZE_OF(p->chunks[1]);
}

static void m_file(struct model *m, int pg)
{
	struct mpage *p = &m->pages[pg];

	if (p->chunks[0] && p->chunks[1])
		seq_push_head(&m->buddied, pg);
	else
		seq_push_head(&m->unbuddied[m_free_chunks(p)], pg);
}

static void m_unfile(struct model *m, int pg)
{
	if (!seq_remove(&m->buddied, pg))
		seq_remove(&m->unbuddied[m_free_chunks(&m->pages[pg])], pg);
}

/* The page the next allocation of `chunks` goes to, or -1 for a new page. */
static int m_pick(const struct model *m, unsigned int chunks)
{
	unsigned int i;

	for (i = chunks; i < ZBUD_NCHUNKS; i++)
		if (m->unbuddied[i].n)
			return m->unbuddied[i].v[0];
	return -1;
}

static int m_find(const struct model *m, unsigned long addr)
{
	int i;

	for (i = 0; i < m->lru.n; i++)
		if (m->pages[m->lru.v[i]].addr == addr)
			return m->lru.v[i];
	return -1;
}

static int m_new_page(struct model *m, unsigned long addr)
{
	if (m->npages == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->pages = realloc(m->pages, m->cap * sizeof(*m->pages));
		if (!m->pages)
			exit(1);
	}
	m->pages[m->npages].addr = addr;
	m->pages[m->npages].chunks[0] = m->pages[m->npages].chunks[1] = 0;
	return m->npages++;
}

static void m_destroy(struct model *m)
{
	unsigned int i;

	for (i = 0; i < ZBUD_NCHUNKS; i++)
		free(m->unbuddied[i].v);
	free(m->buddied.v);
	free(m->lru.v);
	free(m->pages);
}

/* ---- The randomised run --------------------------------------------------- */

struct obj {
	unsigned long handle;
	size_t size;
	uint32_t seed;
};

struct evcall {
	unsigned long handle;
	int ret;
};

#define MAX_EVCALLS 32

/* What the random run shares with its evict callback. */
static struct run {
	struct zbud_pool *pool;
	struct obj *objs;
	int nobjs, cap;
	struct evcall calls[MAX_EVCALLS];
	int ncalls;
	uint64_t size_before;     /* pool pages when reclaim started */
	unsigned long pattern_errors, unknown_evicts, shrunk_in_evict;
	/* What the run exercised, for the log. */
	unsigned long n_refused, n_last, n_full, n_evicts, n_evict_busy;
	unsigned long n_reclaimed, n_eagain, n_einval;
} run;

static int obj_find(unsigned long handle)
{
	int i;

	for (i = 0; i < run.nobjs; i++)
		if (run.objs[i].handle == handle)
			return i;
	return -1;
}

static void obj_add(unsigned long handle, size_t size, uint32_t seed)
{
	if (run.nobjs == run.cap) {
		run.cap = run.cap ? 2 * run.cap : 256;
		run.objs = realloc(run.objs, run.cap * sizeof(*run.objs));
		if (!run.objs)
			exit(1);
	}
	run.objs[run.nobjs++] = (struct obj){ handle, size, seed };
}

/* Check the pattern, free the object in zbud and forget it. */
static void obj_release(int i)
{
	struct obj *o = &run.objs[i];

	if (!intact(zbud_map(run.pool, o->handle), o->size, o->seed))
		run.pattern_errors++;
	zbud_unmap(run.pool, o->handle);
	zbud_free(run.pool, o->handle);
	run.objs[i] = run.objs[--run.nobjs];
}

/* Fails (-EBUSY) one time in three; otherwise frees the object. */
static int run_evict(struct zbud_pool *pool, unsigned long handle)
{
	int i = obj_find(handle), ret;

	ret = rnd(3) == 0 ? -EBUSY : 0;
	if (i < 0) {
		run.unknown_evicts++;
		ret = -EBUSY;
	}
	if (run.ncalls < MAX_EVCALLS)
		run.calls[run.ncalls] = (struct evcall){ handle, ret };
	run.ncalls++;
	run.n_evicts++;
	run.n_evict_busy += ret != 0;
	if (ret == 0) {
		obj_release(i);
		if (zbud_get_pool_size(pool) != run.size_before)
			run.shrunk_in_evict++;
	}
	return ret;
}

static const struct zbud_ops run_ops = { .evict = run_evict };

/* Check an allocation against the model and apply it: "" or what differs. */
static void m_alloc(struct model *m, size_t size, int ret, unsigned long h, char *why, size_t len)
{
	unsigned int chunks = CHUNKS(size);
	int pg, bud, want = size == 0 ? -EINVAL : size > ZBUD_MAX_SIZE ? -ENOSPC : 0;

	if (ret != want || ret) {
		if (ret != want)
			snprintf(why, len, "alloc(%zu) returned %d, model %d", size, ret, want);
		return;
	}
	pg = m_pick(m, chunks);
	if (pg < 0) {
		if (m_find(m, PAGE_OF(h)) >= 0) {
			snprintf(why, len, "alloc(%zu) reused a held page, model: new", size);
			return;
		}
		pg = m_new_page(m, PAGE_OF(h));
	} else if (PAGE_OF(h) != m->pages[pg].addr) {
		snprintf(why, len, "alloc(%zu) chose page %#lx, model %#lx", size, PAGE_OF(h),
			 m->pages[pg].addr);
		return;
	} else {
		m_unfile(m, pg);
	}
	bud = m->pages[pg].chunks[0] == 0 ? 0 : 1;
	m->pages[pg].chunks[bud] = chunks;
	m_file(m, pg);
	seq_remove(&m->lru, pg);
	seq_push_head(&m->lru, pg);
	if (h != m_handle(&m->pages[pg], bud))
		snprintf(why, len, "alloc(%zu) handle page+%lu, model %s at page+%lu", size,
			 h - PAGE_OF(h), bud ? "LAST" : "FIRST",
			 m_handle(&m->pages[pg], bud) - PAGE_OF(h));
}

static void m_free(struct model *m, unsigned long h)
{
	int pg = m_find(m, PAGE_OF(h));
	struct mpage *p = &m->pages[pg];

	m_unfile(m, pg);
	p->chunks[h == p->addr + ZBUD_HDR_SIZE ? 0 : 1] = 0;
	if (p->chunks[0] || p->chunks[1])
		m_file(m, pg);
	else
		seq_remove(&m->lru, pg);
}

/* One evict call the model expects: false when the log disagrees. */
static bool m_expect_evict(struct mpage *p, int bud, int *k, int *ret, char *why, size_t len)
{
	unsigned long h = m_handle(p, bud);

	if (*k >= run.ncalls || run.calls[*k].handle != h) {
		snprintf(why, len, "reclaim: evict call %d was %#lx, model %#lx (%s of %#lx)", *k,
			 *k < run.ncalls ? run.calls[*k].handle : 0UL, h, bud ? "LAST" : "FIRST",
			 p->addr);
		return false;
	}
	*ret = run.calls[(*k)++].ret;
	if (*ret == 0)
		p->chunks[bud] = 0;
	return true;
}

/* Replay a reclaim on the model from the evict log; "" when it agrees. */
static void m_reclaim(struct model *m, unsigned int retries, int ret, char *why, size_t len)
{
	int want = -EAGAIN, k = 0, ev;
	unsigned int t;

	if (retries == 0 || m->lru.n == 0)
		want = -EINVAL;
	for (t = 0; want == -EAGAIN && t < retries && m->lru.n; t++) {
		int pg = m->lru.v[m->lru.n - 1];
		struct mpage *p = &m->pages[pg];

		m_unfile(m, pg);
		seq_remove(&m->lru, pg);
		ev = 0;
		if (p->chunks[0] && !m_expect_evict(p, 0, &k, &ev, why, len))
			return;
		if (ev == 0 && p->chunks[1] && !m_expect_evict(p, 1, &k, &ev, why, len))
			return;
		if (!p->chunks[0] && !p->chunks[1]) {
			want = 0;
		} else {
			m_file(m, pg);
			seq_push_head(&m->lru, pg);
		}
	}
	if (k != run.ncalls)
		snprintf(why, len, "reclaim(%u): %d evict calls, model %d", retries, run.ncalls, k);
	else if (ret != want)
		snprintf(why, len, "reclaim(%u) returned %d, model %d", retries, ret, want);
}

static size_t random_size(void)
{
	uint64_t r = rnd(100);

	if (r == 0)
		return 0;
	if (r < 40)
		return 1 + rnd(512);   /* small objects pair often */
	return 1 + rnd(4000);  /* includes 3969..4000 (-ENOSPC) */
}

static void op_alloc(struct model *m, char *why, size_t len)
{
	size_t size = random_size();
	unsigned long h = 0;
	uint32_t seed = (uint32_t)rnd(1u << 31);
	int ret = zbud_alloc(run.pool, size, &h);

	m_alloc(m, size, ret, h, why, len);
	if (ret) {
		run.n_refused++;
		return;
	}
	fill(zbud_map(run.pool, h), size, seed);
	zbud_unmap(run.pool, h);
	obj_add(h, size, seed);
	run.n_last += h != PAGE_OF(h) + ZBUD_HDR_SIZE;
	if (!why[0])
		run.n_full += m_free_chunks(&m->pages[m_find(m, PAGE_OF(h))]) == 0;
}

static void op_free(struct model *m)
{
	int i = (int)rnd(run.nobjs);
	unsigned long h = run.objs[i].handle;

	obj_release(i);
	m_free(m, h);
}

static void op_reclaim(struct model *m, char *why, size_t len)
{
	unsigned int retries = rnd(50) == 0 ? 0 : 1 + (unsigned int)rnd(8);
	int ret;

	run.ncalls = 0;
	run.size_before = zbud_get_pool_size(run.pool);
	ret = zbud_reclaim_page(run.pool, retries);
	m_reclaim(m, retries, ret, why, len);
	run.n_reclaimed += ret == 0;
	run.n_eagain += ret == -EAGAIN;
	run.n_einval += ret == -EINVAL;
}

/* One random operation; "" in why unless the model disagreed. */
static void random_op(struct model *m, char *why, size_t len)
{
	uint64_t r = rnd(100);
	int alloc_pct = run.nobjs < 400 ? 60 : 40;

	if (r < (uint64_t)alloc_pct || run.nobjs == 0)
		op_alloc(m, why, len);
	else if (r < 85)
		op_free(m);
	else
		op_reclaim(m, why, len);
}

static void test_random_model(void)
{
	struct zs_pagesrc *src = new_src();
	struct model m = { 0 };
	char why[256] = "", msg[256] = "", first_invalid[300] = "";
	unsigned long invalid = 0, nops = 20000, i;

	run.pool = zbud_create_pool(src, &run_ops);
	for (i = 0; i < nops && !why[0]; i++) {
		random_op(&m, why, sizeof(why));
		if (!why[0] && zbud_get_pool_size(run.pool) != (uint64_t)m.lru.n)
			snprintf(why, sizeof(why), "pool has %lu pages, model %d",
				 (unsigned long)zbud_get_pool_size(run.pool), m.lru.n);
		if (!valid(run.pool, msg, sizeof(msg)) && !invalid++)
			snprintf(first_invalid, sizeof(first_invalid), "op %lu: %s", i, msg);
	}
	diag("random run: %lu operations, %d objects and %d pages live at the end", i, run.nobjs,
	     m.lru.n);
	diag("%lu allocs refused, %lu as LAST, %lu filled a page; %lu evict calls (%lu busy); "
	     "reclaim 0: %lu, -EAGAIN: %lu, -EINVAL: %lu", run.n_refused, run.n_last, run.n_full,
	     run.n_evicts, run.n_evict_busy, run.n_reclaimed, run.n_eagain, run.n_einval);
	if (why[0])
		diag("first mismatch at op %lu: %s", i - 1, why);
	ok(!why[0], "every alloc and reclaim matched the model over %lu operations", i);
	if (invalid)
		diag("zbud_validate failed %lu times, first at %s", invalid, first_invalid);
	is(invalid, 0, "zbud_validate passed after every operation");
	is(run.pattern_errors, 0, "every object intact when freed or evicted");
	is(run.unknown_evicts, 0, "evict was only called with live handles");
	is(run.shrunk_in_evict, 0, "a page under reclaim is not freed by zbud_free");
	while (run.nobjs)
		obj_release(0);
	is(zbud_get_pool_size(run.pool), 0, "freeing every object empties the pool");
	is(zs_pagesrc_used(src), 0, "and the page source");
	zbud_destroy_pool(run.pool);
	zs_pagesrc_destroy(src);
	m_destroy(&m);
	free(run.objs);
	memset(&run, 0, sizeof(run));
}

/* ---- Reclaim protocol, case by case -------------------------------------- */

static struct {
	unsigned long calls[16];
	int ncalls;
	int fail_from;            /* calls from this index on fail */
	bool free_on_success;
	uint64_t size_in_evict, used_in_evict;
	struct zs_pagesrc *src;
} ev;

static int scripted_evict(struct zbud_pool *pool, unsigned long handle)
{
	int n = ev.ncalls++;

	if (n < 16)
		ev.calls[n] = handle;
	if (n >= ev.fail_from)
		return -EBUSY;
	if (ev.free_on_success) {
		zbud_free(pool, handle);
		ev.size_in_evict = zbud_get_pool_size(pool);
		ev.used_in_evict = zs_pagesrc_used(ev.src);
	}
	return 0;
}

static const struct zbud_ops scripted_ops = { .evict = scripted_evict };

static void ev_reset(int fail_from)
{
	memset(ev.calls, 0, sizeof(ev.calls));
	ev.ncalls = 0;
	ev.fail_from = fail_from;
	ev.free_on_success = true;
}

static void test_reclaim_first_fails(struct zbud_pool *pool)
{
	unsigned long f = alloc_ok(pool, 1000), l = alloc_ok(pool, 1000);
	char msg[256];

	ok(PAGE_OF(f) == PAGE_OF(l), "two buddies in one page");
	ev_reset(0);
	is(zbud_reclaim_page(pool, 1), -EAGAIN, "FIRST busy: -EAGAIN after 1 retry");
	is(ev.ncalls, 1, "LAST is skipped when evicting FIRST failed");
	is(ev.calls[0], f, "FIRST was tried");
	is(zbud_get_pool_size(pool), 1, "the page stays");
	ok(valid(pool, msg, sizeof(msg)), "validate: %s", msg);

	ev_reset(1); /* FIRST goes, LAST busy: the page keeps LAST only */
	is(zbud_reclaim_page(pool, 1), -EAGAIN, "LAST busy: -EAGAIN");
	is(ev.ncalls, 2, "both buddies tried");
	is(ev.calls[1], l, "LAST tried after FIRST");
	f = alloc_ok(pool, 10);
	is(f, PAGE_OF(l) + ZBUD_HDR_SIZE, "the half-evicted page was re-filed: FIRST reused");
	zbud_free(pool, f);
	zbud_free(pool, l);
	is(zbud_get_pool_size(pool), 0, "pool empty");
}

static void test_reclaim_lru(struct zbud_pool *pool)
{
	unsigned long a = alloc_ok(pool, SIZE_OF(40)), b = alloc_ok(pool, SIZE_OF(40));
	unsigned long c = alloc_ok(pool, SIZE_OF(40)), h;
	char msg[256];

	ev_reset(0);
	is(zbud_reclaim_page(pool, 5), -EAGAIN, "every evict busy: -EAGAIN");
	is(ev.ncalls, 5, "one evict per retry");
	ok(ev.calls[0] == a && ev.calls[1] == b && ev.calls[2] == c && ev.calls[3] == a &&
	   ev.calls[4] == b, "oldest first, each failed page re-filed at the LRU head");
	/* LRU is now c (tail), a, b (head); unbuddied[23] head is b, then a. */
	h = alloc_ok(pool, SIZE_OF(10));
	is(PAGE_OF(h), PAGE_OF(b), "the last page re-filed is the newest unbuddied page");
	ev_reset(16);
	is(zbud_reclaim_page(pool, 1), 0, "reclaim frees the LRU tail");
	is(ev.calls[0], c, "the tail was the page not tried last");
	is(zbud_get_pool_size(pool), 2, "one page fewer");
	ok(valid(pool, msg, sizeof(msg)), "validate: %s", msg);
	ev_reset(16);
	is(zbud_reclaim_page(pool, 1), 0, "next reclaim");
	is(ev.calls[0], a, "takes a: b was allocated into more recently");
	zbud_free(pool, b);
	zbud_free(pool, h);
}

static void test_reclaim_free_in_evict(struct zbud_pool *pool, struct zs_pagesrc *src)
{
	unsigned long f = alloc_ok(pool, 500), l = alloc_ok(pool, 500);
	char msg[256];

	ev_reset(16);
	is(zbud_reclaim_page(pool, 3), 0, "both buddies evicted: 0");
	ok(ev.ncalls == 2 && ev.calls[0] == f && ev.calls[1] == l, "FIRST then LAST");
	is(ev.size_in_evict, 1, "zbud_free in evict keeps the page (pool size)");
	is(ev.used_in_evict, 1, "zbud_free in evict keeps the page (page source)");
	is(zbud_get_pool_size(pool), 0, "reclaim freed the emptied page");
	is(zs_pagesrc_used(src), 0, "and returned it to the page source");
	ok(valid(pool, msg, sizeof(msg)), "validate: %s", msg);
}

static void test_reclaim_einval(struct zs_pagesrc *src)
{
	static const struct zbud_ops no_evict = { .evict = NULL };
	struct zbud_pool *none = zbud_create_pool(src, NULL);
	struct zbud_pool *nofn = zbud_create_pool(src, &no_evict);
	struct zbud_pool *pool = zbud_create_pool(src, &scripted_ops);
	unsigned long a = alloc_ok(none, 100), b = alloc_ok(nofn, 100), c;

	is(zbud_reclaim_page(none, 8), -EINVAL, "NULL ops: -EINVAL");
	is(zbud_reclaim_page(nofn, 8), -EINVAL, "NULL evict: -EINVAL");
	ev_reset(16);
	is(zbud_reclaim_page(pool, 8), -EINVAL, "empty pool: -EINVAL");
	c = alloc_ok(pool, 100);
	is(zbud_reclaim_page(pool, 0), -EINVAL, "retries 0: -EINVAL");
	is(ev.ncalls, 0, "evict never called");
	is(zbud_get_pool_size(none) + zbud_get_pool_size(nofn) + zbud_get_pool_size(pool), 3,
	   "nothing reclaimed");
	zbud_free(none, a);
	zbud_free(nofn, b);
	zbud_free(pool, c);
	zbud_destroy_pool(none);
	zbud_destroy_pool(nofn);
	zbud_destroy_pool(pool);
}

static void test_reclaim(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, &scripted_ops);

	ev.src = src;
	test_reclaim_first_fails(pool);
	test_reclaim_lru(pool);
	test_reclaim_free_in_evict(pool, src);
	zbud_destroy_pool(pool);
	test_reclaim_einval(src);
	is(zs_pagesrc_used(src), 0, "reclaim tests leave no page behind");
	zs_pagesrc_destroy(src);
}

/* ---- Footprint and injected failures ------------------------------------- */

#define FOOT_OBJS 8000

static void test_footprint(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, NULL);
	static unsigned long h[FOOT_OBJS];
	unsigned long i, j, t;
	char msg[256];

	for (i = 0; i < FOOT_OBJS; i++)
		h[i] = alloc_ok(pool, 1 + rnd(2500));
	diag("%d objects in %lu pages", FOOT_OBJS, (unsigned long)zbud_get_pool_size(pool));
	ok(zbud_get_pool_size(pool) >= FOOT_OBJS / 2, "at most two objects a page");
	is(zs_pagesrc_used(src), zbud_get_pool_size(pool), "pages in use match the pool size");
	for (i = FOOT_OBJS - 1; i > 0; i--) { /* free in random order */
		j = rnd(i + 1);
		t = h[i], h[i] = h[j], h[j] = t;
	}
	for (i = 0; i < FOOT_OBJS; i++)
		zbud_free(pool, h[i]);
	is(zbud_get_pool_size(pool), 0, "every page freed: pool size 0");
	is(zs_pagesrc_used(src), 0, "every page back in the page source");
	ok(valid(pool, msg, sizeof(msg)), "validate the empty pool: %s", msg);
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

/* Freed pages stay cached (no release in the freeing thread) up to 4 MiB;
 * a trim keeps the 64 most recently freed, which the next allocations
 * get back first, and releases the rest: they read as zero again. */
static void test_cache_trim(void)
{
	struct zs_pagesrc *src = new_src();
	static unsigned char *pg[300];
	unsigned char *again;
	int i, zeroed = 0;

	for (i = 0; i < 300; i++) {
		pg[i] = zs_page_alloc(src);
		memset(pg[i], 0xa5, ZS_PAGE_SIZE);
	}
	for (i = 0; i < 300; i++)
		zs_page_free(src, pg[i]);
	is(zs_pagesrc_cached(src), 300, "300 freed pages all cached, none released");
	zs_pagesrc_trim(src);
	is(zs_pagesrc_cached(src), 64, "a trim keeps 64");
	for (i = 0; i < 236; i++)
		zeroed += pg[i][8] == 0;
	is(zeroed, 236, "the 236 freed first were released (read as zero)");
	ok(pg[299][8] == 0xa5 && pg[236][8] == 0xa5, "the 64 freed last are kept as they were");
	again = zs_page_alloc(src);
	ok(again == pg[299], "the next allocation takes the last freed");
	zs_page_free(src, again);
	zs_pagesrc_trim(src);
	is(zs_pagesrc_cached(src), 64, "a trim at 64 releases nothing");
	zs_pagesrc_destroy(src);
}

static void test_page_alloc_fault(void)
{
	struct zs_pagesrc *src = new_src();
	struct zbud_pool *pool = zbud_create_pool(src, NULL);
	unsigned long a = alloc_ok(pool, 3000), h = 7, b;
	char msg[256];

	fill(zbud_map(pool, a), 3000, 9);
	zs_fault_arm(ZS_FAULT_PAGE_ALLOC, 0, 1);
	is(zbud_alloc(pool, 2000, &h), -ENOMEM, "no page to be had: -ENOMEM");
	is(h, 7, "handle untouched");
	is(zbud_get_pool_size(pool), 1, "pool size unchanged");
	ok(valid(pool, msg, sizeof(msg)), "pool valid after -ENOMEM: %s", msg);
	ok(intact(zbud_map(pool, a), 3000, 9), "existing object intact");
	zs_fault_arm(ZS_FAULT_PAGE_ALLOC, 0, 3);
	is(zbud_alloc(pool, 500, &b), 0, "an object that fits a held page needs no new page");
	is(PAGE_OF(b), PAGE_OF(a), "and goes into it");
	zs_fault_arm(ZS_FAULT_PAGE_ALLOC, 0, 0);
	is(zbud_alloc(pool, 2000, &h), 0, "disarmed: alloc works again");
	is(zbud_get_pool_size(pool), 2, "with a second page");
	zbud_free(pool, a);
	zbud_free(pool, b);
	zbud_free(pool, h);
	is(zs_pagesrc_used(src), 0, "all pages back");
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

/* A capped page source: the pool gets -ENOMEM at the cap. */
static void test_capped_source(void)
{
	struct zs_pagesrc *src = NULL;
	struct zbud_pool *pool;
	unsigned long a, b, h;

	if (zs_pagesrc_create(2, &src)) {
		ok(0, "capped page source created");
		return;
	}
	pool = zbud_create_pool(src, NULL);
	a = alloc_ok(pool, 3000);
	b = alloc_ok(pool, 3000);
	is(zbud_alloc(pool, 3000, &h), -ENOMEM, "page source cap of 2 pages: -ENOMEM");
	zbud_free(pool, a);
	is(zbud_alloc(pool, 3000, &h), 0, "a freed page can be had again");
	zbud_free(pool, b);
	zbud_free(pool, h);
	zbud_destroy_pool(pool);
	zs_pagesrc_destroy(src);
}

/* ---- Threads ---------------------------------------------------------------
 * Each object is owned through one word: 0 (empty), its handle (live), or
 * handle | 1 (claimed, being freed).  The owner thread and the evictor both
 * claim with a compare-and-swap; only the winner checks and frees it.  The
 * size and seed are written before the handle is published.
 */
#define NTHREADS 4
#define TSLOTS 64
#define TOPS 100000
#define MAX_RECLAIMS 400000

struct tslot {
	unsigned long word;
	size_t size;
	uint32_t seed;
};

static struct {
	struct zbud_pool *pool;
	struct tslot slots[NTHREADS][TSLOTS];
	int done;
	unsigned long errors, evicted, reclaims;
} th;

static bool tslot_claim(struct tslot *s, unsigned long h)
{
	return __atomic_compare_exchange_n(&s->word, &h, h | 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static void tslot_release(struct tslot *s, unsigned long h)
{
	if (!intact(zbud_map(th.pool, h), s->size, s->seed))
		__atomic_fetch_add(&th.errors, 1, __ATOMIC_RELAXED);
	zbud_unmap(th.pool, h);
	zbud_free(th.pool, h);
	__atomic_store_n(&s->word, 0, __ATOMIC_RELEASE);
}

static int thread_evict(struct zbud_pool *pool, unsigned long handle)
{
	struct tslot *s = &th.slots[0][0];
	int i;

	for (i = 0; i < NTHREADS * TSLOTS; i++) {
		if (__atomic_load_n(&s[i].word, __ATOMIC_ACQUIRE) != handle)
			continue;
		if (!tslot_claim(&s[i], handle))
			return -EBUSY;
		tslot_release(&s[i], handle);
		__atomic_fetch_add(&th.evicted, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return -EBUSY; /* not published yet, or being freed by its owner */
}

static const struct zbud_ops thread_ops = { .evict = thread_evict };

static void worker_step(struct tslot *s, uint64_t *r)
{
	unsigned long w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE), h;

	if (w == 0) {
		s->size = 1 + zs_rand_next(r) % ZBUD_MAX_SIZE;
		s->seed = (uint32_t)zs_rand_next(r);
		if (zbud_alloc(th.pool, s->size, &h) != 0) {
			__atomic_fetch_add(&th.errors, 1, __ATOMIC_RELAXED);
			return;
		}
		fill(zbud_map(th.pool, h), s->size, s->seed);
		zbud_unmap(th.pool, h);
		__atomic_store_n(&s->word, h, __ATOMIC_RELEASE);
	} else if (!(w & 1) && tslot_claim(s, w)) {
		tslot_release(s, w);
	}
}

static void *worker(void *arg)
{
	struct tslot *mine = th.slots[(uintptr_t)arg];
	uint64_t r = 1000 + (uintptr_t)arg;
	int i;

	for (i = 0; i < TOPS; i++)
		worker_step(&mine[zs_rand_next(&r) % TSLOTS], &r);
	/* The first to finish stops the reclaimer: the others still run, so
	 * objects survive to be checked at the end. */
	__atomic_store_n(&th.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *reclaimer(void *arg)
{
	unsigned long n = 0;

	while (!__atomic_load_n(&th.done, __ATOMIC_ACQUIRE) && n < MAX_RECLAIMS) {
		zbud_reclaim_page(th.pool, 1 + n % 8);
		n++;
	}
	th.reclaims = n;
	return NULL;
}

static unsigned long check_and_free_all(void)
{
	unsigned long live = 0;
	int t, i;

	for (t = 0; t < NTHREADS; t++) {
		for (i = 0; i < TSLOTS; i++) {
			struct tslot *s = &th.slots[t][i];

			if (s->word & 1)
				th.errors++; /* nobody may still hold a claim */
			else if (s->word && ++live)
				tslot_release(s, s->word);
		}
	}
	return live;
}

static void test_threads(void)
{
	struct zs_pagesrc *src = new_src();
	pthread_t w[NTHREADS], rec;
	unsigned long live;
	char msg[256];
	uintptr_t t;

	th.pool = zbud_create_pool(src, &thread_ops);
	pthread_create(&rec, NULL, reclaimer, NULL);
	for (t = 0; t < NTHREADS; t++)
		pthread_create(&w[t], NULL, worker, (void *)t);
	for (t = 0; t < NTHREADS; t++)
		pthread_join(w[t], NULL);
	pthread_join(rec, NULL);
	diag("threads: %d x %d ops, %lu reclaims, %lu objects evicted", NTHREADS, TOPS,
	     th.reclaims, th.evicted);
	ok(valid(th.pool, msg, sizeof(msg)), "validate after the threads: %s", msg);
	live = check_and_free_all();
	diag("%lu objects were live at the end", live);
	is(th.errors, 0, "no failed alloc, no corrupted object, no claim left");
	is(zbud_get_pool_size(th.pool), 0, "freeing the survivors empties the pool");
	is(zs_pagesrc_used(src), 0, "and the page source");
	zbud_destroy_pool(th.pool);
	zs_pagesrc_destroy(src);
}

int main(void)
{
	test_geometry();
	test_last_geometry();
	test_map();
	test_best_fit();
	test_newest_first();
	test_random_model();
	test_reclaim();
	test_footprint();
	test_cache_trim();
	test_page_alloc_fault();
	test_capped_source();
	test_threads();
	return done_testing();
}
