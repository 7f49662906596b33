/*
 * index.h - the engine's entries and the index that finds them by key.
 *
 * An entry says where one stored page is: kept as one word, compressed in the
 * pool, raw in a page of its own, or in the swap file.  Entries live in slabs
 * of our own (never malloc) and keep their address for life; the index is an
 * open-addressing hash table of entry pointers (linear probing, deletion by
 * backward shift, so removal never allocates).
 *
 * Locking: none inside; the engine's lock covers every call.  find, remove
 * and entry_free are async-signal-safe; reserve may map memory.
 */
#ifndef ZS_INDEX_H
#define ZS_INDEX_H

#include <stdint.h>

#include "list.h"

enum zs_entry_kind {
	ZS_SAME,        /* value: the word the page is filled with */
	ZS_POOL,        /* handle, length: compressed in the pool */
	ZS_RAW,         /* raw: a page of its own (store_incompressible) */
	ZS_SWAP,        /* slot: in the swap file */
};

enum zs_entry_flags {
	ZS_LOADING = 1,   /* a load is reading it outside the lock */
	ZS_WRITEBACK = 2, /* being written back; wbbuf holds the page's bytes */
	ZS_ORPHAN = 4,    /* dropped from the index during writeback; the writer frees it */
};

struct zs_entry {
	uintptr_t key;
	uint8_t kind;
	uint8_t flags;
	uint32_t length;
	union {
		uint64_t value;
		unsigned long handle;
		void *raw;
		uint64_t slot;
	};
	const void *wbbuf;
	union {
		struct zs_list raw_lru;   /* ZS_RAW: the engine's raw pages, oldest last */
		uint32_t shadow[3];       /* ZS_POOL: where each pool model put it (shadow.h) */
	};
};

struct zs_index;

int zs_index_create(struct zs_index **out);
void zs_index_destroy(struct zs_index *idx);

/* A fresh entry, or NULL when no memory could be mapped. */
struct zs_entry *zs_entry_alloc(struct zs_index *idx);
void zs_entry_free(struct zs_index *idx, struct zs_entry *e);

/* Make sure one more insert fits: 0 or -ENOMEM. */
int zs_index_reserve(struct zs_index *idx);
/* Insert an entry whose key is absent (after zs_index_reserve). */
void zs_index_insert(struct zs_index *idx, struct zs_entry *e);
struct zs_entry *zs_index_find(const struct zs_index *idx, uintptr_t key);
void zs_index_remove(struct zs_index *idx, struct zs_entry *e);
uint64_t zs_index_count(const struct zs_index *idx);

/* Call fn on every entry, then empty the index (fn may free the entry). */
void zs_index_drain(struct zs_index *idx, void (*fn)(struct zs_entry *e, void *arg), void *arg);
/* Call fn on every entry; stop at the first nonzero return and return it. */
int zs_index_walk(const struct zs_index *idx, int (*fn)(struct zs_entry *e, void *arg), void *arg);

#endif
