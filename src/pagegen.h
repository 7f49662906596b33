/*
 * pagegen.h - reproducible pages of the kinds a real program swaps: text,
 * heap objects, zeros, one repeated word, random bytes.  The demo, the
 * benchmark and the tests generate pages from (kind, seed) and regenerate
 * them to check every byte that comes back.
 */
#ifndef ZS_PAGEGEN_H
#define ZS_PAGEGEN_H

#include <stdint.h>

enum zs_page_kind {
	ZS_PAGE_TEXT,    /* English-like words and punctuation (LZ4 ~2:1) */
	ZS_PAGE_HEAP,    /* small structs: pointers, counters, short strings (~3:1) */
	ZS_PAGE_ZERO,    /* all zero bytes */
	ZS_PAGE_SAME,    /* one nonzero 64-bit word repeated */
	ZS_PAGE_RANDOM,  /* random bytes: does not compress */
	ZS_PAGE_NKINDS
};

/* "text", "heap", "zero", "same", "random". */
const char *zs_page_kind_name(enum zs_page_kind kind);
/* Fill a 4 KiB page; the same (kind, seed) always gives the same bytes. */
void zs_page_generate(enum zs_page_kind kind, uint64_t seed, void *page);
/* A mix like a real heap's, by seed: mostly heap and text, some zero,
 * same-filled and random pages. */
enum zs_page_kind zs_page_kind_mixed(uint64_t seed);

/* splitmix64: the generator behind every page. */
uint64_t zs_rand_next(uint64_t *state);

#endif
