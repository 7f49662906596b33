/*
 * test_region.c - the managed reservation's range allocator against a model
 * (one bit per page), with the validator after every step: first fit by
 * address, alignment, fixed-address requests, frees in arbitrary pieces and
 * double frees.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pagegen.h"
#include "region.h"
#include "tap.h"

#define NPAGES 4096 /* a 16 MiB reservation */

static unsigned char used[NPAGES];

static int valid(struct zs_region *r)
{
	char msg[256];

	if (zs_region_validate(r, msg, sizeof(msg)) == 0)
		return 1;
	diag("%s", msg);
	return 0;
}

/* The model's first fit: the lowest aligned run of free pages. */
static long model_fit(size_t pages, size_t align_pages)
{
	size_t p, k;

	for (p = 0; p + pages <= NPAGES; p += align_pages) {
		for (k = 0; k < pages && !used[p + k]; k++)
			;
		if (k == pages)
			return (long)p;
	}
	return -1;
}

static void test_basics(struct zs_region *r)
{
	char *a, *b;

	ok(zs_region_contains(r, r->base) && !zs_region_contains(r, r->end) &&
	   !zs_region_contains(r, r->base - 1), "contains() is exact at both ends");
	a = zs_region_alloc(r, 1, 0, 0);
	ok((uintptr_t)a == r->base, "the first page goes first");
	b = zs_region_alloc(r, 3 * ZS_PAGE_SIZE, 4 * ZS_PAGE_SIZE, 0);
	ok((uintptr_t)b == r->base + 4 * ZS_PAGE_SIZE, "alignment is honoured");
	ok(zs_region_alloc(r, ZS_PAGE_SIZE, 0, r->base) == NULL, "a taken fixed address is refused");
	ok(zs_region_alloc(r, ZS_PAGE_SIZE, 0, r->base + ZS_PAGE_SIZE) ==
	   (void *)(r->base + ZS_PAGE_SIZE), "a free fixed address is granted");
	is(zs_region_pages_out(r), 5, "pages out counted");
	zs_region_free(r, a, 2 * ZS_PAGE_SIZE);
	zs_region_free(r, a, ZS_PAGE_SIZE); /* double free */
	is(zs_region_pages_out(r), 3, "a double free is counted once");
	zs_region_free(r, b + ZS_PAGE_SIZE, ZS_PAGE_SIZE); /* a piece from the middle */
	zs_region_free(r, b, ZS_PAGE_SIZE);
	zs_region_free(r, b + 2 * ZS_PAGE_SIZE, ZS_PAGE_SIZE);
	is(zs_region_pages_out(r), 0, "pieces add up");
	is(r->nfree, 1, "everything merged back into one range");
	ok(valid(r), "valid");
	ok(zs_region_alloc(r, (NPAGES + 1) * ZS_PAGE_SIZE, 0, 0) == NULL, "too big: NULL");
	ok(zs_region_alloc(r, ZS_PAGE_SIZE, 3 * ZS_PAGE_SIZE, 0) == NULL,
	   "an alignment that is not a power of two: NULL");
}

static void test_random(struct zs_region *r)
{
	uint64_t rnd = 7;
	int op, bad = 0, invalid = 0;

	memset(used, 0, sizeof(used));
	for (op = 0; op < 20000 && !bad && !invalid; op++) {
		size_t pages = 1 + zs_rand_next(&rnd) % 64;
		size_t start = zs_rand_next(&rnd) % NPAGES, k;

		if (zs_rand_next(&rnd) % 2) {
			size_t align = (size_t)1 << (zs_rand_next(&rnd) % 4);
			long want = model_fit(pages, align);
			char *got = zs_region_alloc(r, pages * ZS_PAGE_SIZE, align * ZS_PAGE_SIZE, 0);

			bad += want < 0 ? got != NULL
					: (uintptr_t)got != r->base + (uintptr_t)want * ZS_PAGE_SIZE;
			for (k = 0; want >= 0 && k < pages; k++)
				used[want + k] = 1;
		} else {
			if (start + pages > NPAGES)
				pages = NPAGES - start;
			zs_region_free(r, (void *)(r->base + start * ZS_PAGE_SIZE), pages * ZS_PAGE_SIZE);
			memset(used + start, 0, pages);
		}
		invalid += !valid(r);
	}
	is(op, 20000, "20000 random allocations and frees in pieces match the model");
	ok(!bad && !invalid, "same addresses as first fit, always valid");
}

static void test_next_used(struct zs_region *r)
{
	uintptr_t start, end, seen = 0;
	char *a = zs_region_alloc(r, 2 * ZS_PAGE_SIZE, 0, 0);
	char *b = zs_region_alloc(r, ZS_PAGE_SIZE, 0, r->base + 10 * ZS_PAGE_SIZE);

	ok(zs_region_next_used(r, r->base, &start, &end) && start == (uintptr_t)a &&
	   end == (uintptr_t)a + 2 * ZS_PAGE_SIZE, "next_used finds the first range");
	ok(zs_region_next_used(r, (uintptr_t)a + ZS_PAGE_SIZE, &start, &end) &&
	   start == (uintptr_t)a + ZS_PAGE_SIZE, "from inside a range: the rest of it");
	ok(zs_region_next_used(r, end, &start, &end) && start == (uintptr_t)b &&
	   end == (uintptr_t)b + ZS_PAGE_SIZE, "then the next one");
	ok(!zs_region_next_used(r, end, &start, &end), "then none");
	for (start = r->base; zs_region_next_used(r, start, &start, &end); start = end)
		seen += (end - start) >> ZS_PAGE_SHIFT;
	is(seen, zs_region_pages_out(r), "walking the used ranges counts every page out");
	zs_region_free(r, a, 2 * ZS_PAGE_SIZE);
	zs_region_free(r, b, ZS_PAGE_SIZE);
}

int main(void)
{
	struct zs_region r;

	if (zs_region_create(NPAGES * ZS_PAGE_SIZE, &r))
		skip_all("cannot reserve 16 MiB");
	test_basics(&r);
	test_next_used(&r);
	test_random(&r);
	zs_region_destroy(&r);
	ok(zs_region_create(1ULL << 40, &r) == 0, "a 1 TiB reservation costs nothing up front");
	zs_region_destroy(&r);
	return done_testing();
}
