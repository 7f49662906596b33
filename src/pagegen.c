/*
 * pagegen.c - reproducible test pages (see pagegen.h).
 */
#include "config.h"

#include <string.h>

#include "common.h"
#include "pagegen.h"

static const char *const words[] = {
	"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with",
	"be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which",
	"but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can",
	"her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so",
	"no", "memory", "page", "kernel", "compressed", "swap", "pool", "process", "buffer",
	"thread", "signal", "handler", "allocation", "writeback", "latency", "program",
	"system", "device", "because", "between", "through", "without", "under", "limit",
	"entry", "object", "reclaim", "cache", "table", "should", "could", "another",
	"different", "measured", "machine", "result", "number", "function", "returns",
};

static const char *const names[] = { "zswap", "zbud", "lz4", "python", "sqlite", "sort",
				      "config", "value", "item", "node" };

uint64_t zs_rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

const char *zs_page_kind_name(enum zs_page_kind kind)
{
	static const char *const n[] = { "text", "heap", "zero", "same", "random" };

	return kind < ZS_PAGE_NKINDS ? n[kind] : "?";
}

static void gen_text(uint64_t *r, char *p)
{
	size_t at = 0, nwords = ZS_ARRAY_SIZE(words);

	while (at < ZS_PAGE_SIZE) {
		uint64_t x = zs_rand_next(r);
		/* Zipf-like: low indexes far more often. */
		size_t i = (size_t)((x & 0xffff) * (x & 0xffff) % (nwords * nwords)) / nwords;
		const char *w = words[i];
		size_t n = strlen(w);

		if (at + n + 2 > ZS_PAGE_SIZE) {
			memset(p + at, ' ', ZS_PAGE_SIZE - at);
			break;
		}
		memcpy(p + at, w, n);
		at += n;
		p[at++] = (x >> 20) % 13 == 0 ? '.' : (x >> 20) % 7 == 0 ? ',' : ' ';
		if ((x >> 32) % 17 == 0)
			p[at - 1] = '\n';
	}
}

/* Structs of 16..128 bytes: a pointer into a 1 MiB arena, a small counter,
 * a type tag, a short name, zero padding. */
static void gen_heap(uint64_t *r, char *p)
{
	size_t at = 0;
	uint64_t base = 0x00005600a0000000ULL + ((zs_rand_next(r) & 0xff) << 20);

	memset(p, 0, ZS_PAGE_SIZE);
	while (at + 16 <= ZS_PAGE_SIZE) {
		uint64_t x = zs_rand_next(r);
		size_t size = 16 * (1 + x % 8), room = ZS_PAGE_SIZE - at;
		uint64_t ptr = base + ((x >> 8) & 0xfffff & ~7ULL);
		uint32_t count = (uint32_t)((x >> 40) % 100), tag = (uint32_t)((x >> 48) % 6);
		const char *name = names[(x >> 52) % ZS_ARRAY_SIZE(names)];

		if (size > room)
			size = room;
		memcpy(p + at, &ptr, 8);
		memcpy(p + at + 8, &count, 4);
		memcpy(p + at + 12, &tag, 4);
		if (size >= 32)
			memcpy(p + at + 16, name, strlen(name));
		at += size;
	}
}

void zs_page_generate(enum zs_page_kind kind, uint64_t seed, void *page)
{
	uint64_t r = seed * 0x2545F4914F6CDD1DULL + kind, w;
	uint64_t *words64 = page;
	size_t i;

	switch (kind) {
	case ZS_PAGE_TEXT:
		gen_text(&r, page);
		break;
	case ZS_PAGE_HEAP:
		gen_heap(&r, page);
		break;
	case ZS_PAGE_ZERO:
		memset(page, 0, ZS_PAGE_SIZE);
		break;
	case ZS_PAGE_SAME:
		w = zs_rand_next(&r) | 1;
		for (i = 0; i < ZS_PAGE_SIZE / 8; i++)
			words64[i] = w;
		break;
	default:
		for (i = 0; i < ZS_PAGE_SIZE / 8; i++)
			words64[i] = zs_rand_next(&r);
	}
}

enum zs_page_kind zs_page_kind_mixed(uint64_t seed)
{
	uint64_t r = seed ^ 0xA5A5A5A5ULL, x = zs_rand_next(&r) % 100;

	if (x < 45)
		return ZS_PAGE_HEAP;
	if (x < 80)
		return ZS_PAGE_TEXT;
	if (x < 90)
		return ZS_PAGE_ZERO;
	if (x < 95)
		return ZS_PAGE_SAME;
	return ZS_PAGE_RANDOM;
}
