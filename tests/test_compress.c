/*
 * test_compress.c - every compressor in the table (compress.h).
 *
 * Round trips: every page kind of pagegen.h over several seeds, compared
 * byte for byte.  Bounds: decompression of truncated or corrupted input and
 * into too small a buffer must fail (or, where LZ4's block format cannot
 * tell, at least never yield a whole page) and must never write past
 * dst_cap; guard bytes follow every output buffer to show it.  Ratios: text
 * and heap pages compress, random pages do not.
 *
 * LZ4 blocks carry no length or checksum: input cut right after a run of
 * literals still decodes, to a shorter output, and a flipped literal byte
 * decodes to other bytes.  The engine catches both by requiring exactly
 * ZS_PAGE_SIZE bytes back, so that is what is asserted for arbitrary cuts
 * and flips; inputs that are certainly invalid must return < 0.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "compress.h"
#include "pagegen.h"
#include "tap.h"

#define NSEEDS 8
#define GUARD 64
#define GUARD_BYTE 0xA5

static const char *const names[] = { "lz4", "lz4hc" };

/* An output buffer of `cap` bytes followed by GUARD guard bytes. */
struct outbuf {
	unsigned char *p;
	size_t cap;
};

static struct outbuf out_new(size_t cap)
{
	struct outbuf o = { malloc(cap + GUARD), cap };

	if (!o.p)
		exit(1);
	memset(o.p, 0, cap);
	memset(o.p + cap, GUARD_BYTE, GUARD);
	return o;
}

static bool guard_intact(const struct outbuf *o)
{
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (o->p[o->cap + i] != GUARD_BYTE)
			return false;
	return true;
}

static void *state_for(const struct zs_compressor *c)
{
	void *state = calloc(1, c->state_size);

	if (!state)
		exit(1);
	return state;
}

/* Compress a generated page: the compressed length (or <= 0). */
static int compress_page(const struct zs_compressor *c, void *state, enum zs_page_kind kind,
			 uint64_t seed, unsigned char *page, unsigned char *dst)
{
	zs_page_generate(kind, seed, page);
	return c->compress(state, page, ZS_PAGE_SIZE, dst, ZS_COMPRESS_BOUND);
}

static void test_table(void)
{
	const char *list = zs_compressor_names();
	char copy[128], *tok, *save;
	size_t i;
	int listed = 0;

	for (i = 0; i < ZS_ARRAY_SIZE(names); i++) {
		const struct zs_compressor *c = zs_compressor_find(names[i]);

		ok(c && strcmp(c->name, names[i]) == 0, "zs_compressor_find(\"%s\")", names[i]);
		ok(c && c->state_size > 0, "%s: state_size > 0", names[i]);
		ok(c && c->compress && c->decompress, "%s: both functions set", names[i]);
	}
	ok(zs_compressor_find("zstd") == NULL, "unknown name \"zstd\": NULL");
	ok(zs_compressor_find("") == NULL, "empty name: NULL");
	ok(zs_compressor_find("lz") == NULL, "a prefix of a name: NULL");
	ok(zs_compressor_find("lz4hcx") == NULL, "a name with a suffix: NULL");
	snprintf(copy, sizeof(copy), "%s", list);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		listed += zs_compressor_find(tok) != NULL ? 1 : -100;
	is(listed, (int)ZS_ARRAY_SIZE(names), "zs_compressor_names() lists exactly the table: %s",
	   list);
}

/* Every kind, NSEEDS seeds: compress, decompress, compare every byte. */
static void test_round_trip(const struct zs_compressor *c, void *state)
{
	unsigned char page[ZS_PAGE_SIZE], dst[ZS_COMPRESS_BOUND];
	struct outbuf o = out_new(ZS_PAGE_SIZE);
	int kind, bad, n, m;
	uint64_t seed;

	for (kind = 0; kind < ZS_PAGE_NKINDS; kind++) {
		bad = 0;
		for (seed = 1; seed <= NSEEDS; seed++) {
			n = compress_page(c, state, kind, seed, page, dst);
			memset(o.p, 0, o.cap);
			m = n > 0 ? c->decompress(dst, (size_t)n, o.p, o.cap) : -1;
			if (n <= 0 || n > (int)ZS_COMPRESS_BOUND || m != (int)ZS_PAGE_SIZE ||
			    memcmp(o.p, page, ZS_PAGE_SIZE) != 0 || !guard_intact(&o)) {
				if (!bad++)
					diag("%s %s seed %lu: compressed %d, decompressed %d",
					     c->name, zs_page_kind_name(kind),
					     (unsigned long)seed, n, m);
			}
		}
		is(bad, 0, "%s: %s pages round trip byte for byte (%d seeds)", c->name,
		   zs_page_kind_name(kind), NSEEDS);
	}
	free(o.p);
}

static void test_ratio(const struct zs_compressor *c, void *state)
{
	unsigned char page[ZS_PAGE_SIZE], dst[ZS_COMPRESS_BOUND];
	int text_max = 0, heap_max = 0, random_min = INT32_MAX, zero_max = 0, n;
	uint64_t seed;

	for (seed = 1; seed <= NSEEDS; seed++) {
		n = compress_page(c, state, ZS_PAGE_TEXT, seed, page, dst);
		text_max = n > text_max ? n : text_max;
		n = compress_page(c, state, ZS_PAGE_HEAP, seed, page, dst);
		heap_max = n > heap_max ? n : heap_max;
		n = compress_page(c, state, ZS_PAGE_ZERO, seed, page, dst);
		zero_max = n > zero_max ? n : zero_max;
		n = compress_page(c, state, ZS_PAGE_RANDOM, seed, page, dst);
		random_min = n < random_min ? n : random_min;
	}
	diag("%s: largest text %d, heap %d, zero %d; smallest random %d bytes", c->name, text_max,
	     heap_max, zero_max, random_min);
	ok(text_max > 0 && text_max < (int)ZS_PAGE_SIZE, "%s: text pages compress below 4096",
	   c->name);
	ok(heap_max > 0 && heap_max < (int)ZS_PAGE_SIZE, "%s: heap pages compress below 4096",
	   c->name);
	ok(zero_max > 0 && zero_max < 64, "%s: zero pages compress below 64 bytes", c->name);
	ok(random_min >= (int)ZS_PAGE_SIZE, "%s: random pages do not compress below 4096",
	   c->name);
}

/* Compression into too small a buffer fails and stays inside it. */
static void test_compress_small_dst(const struct zs_compressor *c, void *state)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct outbuf o = out_new(ZS_PAGE_SIZE - 96);
	int n;

	zs_page_generate(ZS_PAGE_RANDOM, 7, page);
	n = c->compress(state, page, ZS_PAGE_SIZE, o.p, o.cap);
	is(n, -EINVAL, "%s: a random page into %zu bytes: -EINVAL", c->name, o.cap);
	ok(guard_intact(&o), "%s: compress wrote nothing past dst_cap", c->name);
	free(o.p);
}

/* A valid compressed page into buffers smaller than a page. */
static void test_small_dst(const struct zs_compressor *c, const unsigned char *z, int n)
{
	static const size_t caps[] = { 0, 1, 100, 2048, ZS_PAGE_SIZE - 1 };
	int bad = 0, ret;
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(caps); i++) {
		struct outbuf o = out_new(caps[i]);

		ret = c->decompress(z, (size_t)n, o.p, o.cap);
		if (ret >= 0 || !guard_intact(&o)) {
			if (!bad++)
				diag("%s: dst_cap %zu gave %d, guard %s", c->name, caps[i], ret,
				     guard_intact(&o) ? "intact" : "overwritten");
		}
		free(o.p);
	}
	is(bad, 0, "%s: dst_cap below a page: < 0, nothing written past dst_cap", c->name);
}

/* Every cut of the input: never a whole page, never past dst_cap. */
static void test_truncated(const struct zs_compressor *c, const unsigned char *z, int n)
{
	struct outbuf o = out_new(ZS_PAGE_SIZE);
	int len, ret, whole = 0, overrun = 0, refused = 0;

	for (len = 0; len < n; len++) {
		ret = c->decompress(z, (size_t)len, o.p, o.cap);
		whole += ret == (int)ZS_PAGE_SIZE;
		refused += ret < 0;
		overrun += ret > (int)o.cap || !guard_intact(&o);
	}
	diag("%s: %d of %d cuts refused, the rest decoded short", c->name, refused, n);
	is(whole, 0, "%s: no truncated input decodes to a whole page", c->name);
	is(overrun, 0, "%s: truncated input never writes past dst_cap", c->name);
	ok(c->decompress(z, 0, o.p, o.cap) < 0, "%s: empty input: < 0", c->name);
	ok(c->decompress(z, (size_t)n - 1, o.p, o.cap) < 0, "%s: last byte cut off: < 0",
	   c->name);
	ok(c->decompress(z, (size_t)n / 2, o.p, o.cap) != (int)ZS_PAGE_SIZE,
	   "%s: half the input is not a page", c->name);
	free(o.p);
}

/* Inputs that cannot be a valid block. */
static void test_invalid(const struct zs_compressor *c)
{
	/* A literal run that goes on past the end of the input. */
	unsigned char ff[200];
	/* No literals, then a match 0xffff bytes back: before the output. */
	unsigned char back[] = { 0x0F, 0xFF, 0xFF, 0x00, 0x10, 0x00 };
	struct outbuf o = out_new(ZS_PAGE_SIZE);

	memset(ff, 0xFF, sizeof(ff));
	ok(c->decompress(ff, sizeof(ff), o.p, o.cap) < 0, "%s: all 0xFF bytes: < 0", c->name);
	ok(c->decompress(back, sizeof(back), o.p, o.cap) < 0,
	   "%s: a match before the start of the output: < 0", c->name);
	ok(guard_intact(&o), "%s: invalid input wrote nothing past dst_cap", c->name);
	free(o.p);
}

/* Random byte flips: whatever comes back stays inside dst_cap. */
static void test_corrupted(const struct zs_compressor *c, const unsigned char *z, int n)
{
	unsigned char bad[ZS_COMPRESS_BOUND];
	struct outbuf o = out_new(ZS_PAGE_SIZE);
	uint64_t r = 42;
	int t, k, ret, overrun = 0, refused = 0, trials = 2000;

	for (t = 0; t < trials; t++) {
		memcpy(bad, z, (size_t)n);
		for (k = 0; k < 1 + t % 4; k++) {
			uint64_t at = zs_rand_next(&r) % (uint64_t)n;

			bad[at] ^= (unsigned char)(1 + zs_rand_next(&r) % 255);
		}
		ret = c->decompress(bad, (size_t)n, o.p, o.cap);
		refused += ret < 0;
		overrun += ret > (int)o.cap || !guard_intact(&o);
	}
	diag("%s: %d of %d corrupted inputs refused", c->name, refused, trials);
	is(overrun, 0, "%s: corrupted input never writes past dst_cap", c->name);
	ok(refused > 0, "%s: corruption is detected at least sometimes", c->name);
	free(o.p);
}

static void test_compressor(const char *name)
{
	const struct zs_compressor *c = zs_compressor_find(name);
	unsigned char page[ZS_PAGE_SIZE], z[ZS_COMPRESS_BOUND];
	void *state;
	int n;

	if (!c) {
		ok(0, "%s: in the table", name);
		return;
	}
	state = state_for(c);
	test_round_trip(c, state);
	test_ratio(c, state);
	test_compress_small_dst(c, state);
	n = compress_page(c, state, ZS_PAGE_TEXT, 3, page, z);
	ok(n > 16, "%s: a text page to damage (%d bytes)", name, n);
	if (n > 16) {
		test_small_dst(c, z, n);
		test_truncated(c, z, n);
		test_corrupted(c, z, n);
	}
	test_invalid(c);
	free(state);
}

int main(void)
{
	size_t i;

	test_table();
	for (i = 0; i < ZS_ARRAY_SIZE(names); i++)
		test_compressor(names[i]);
	return done_testing();
}
