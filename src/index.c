/*
 * index.c - entry slabs and the hash index (see index.h).
 *
 * Slabs: 64 KiB mappings; the first bytes link the slabs for destroy, the
 * rest are entries.  Free entries are chained through their key field.
 *
 * Table: `mask + 1` pointer slots, a power of two, at most 3/4 full.  A key
 * is a page address, so its low 12 bits carry nothing; the hash multiplies
 * the page number by a 64-bit odd constant (Fibonacci hashing) and keeps the
 * high bits.  Growth maps a table twice the size and reinserts everything.
 */
#include "config.h"

#include <string.h>

#include "common.h"
#include "fault.h"
#include "index.h"

#define ZS_SLAB_BYTES (64UL << 10)
#define ZS_TABLE_MIN 1024

struct zs_slab {
	struct zs_slab *next;
};

struct zs_index {
	struct zs_entry **table;
	uint64_t mask;
	unsigned int shift;        /* 64 - log2(table size) */
	uint64_t count;
	struct zs_slab *slabs;
	struct zs_entry *free;
};

static struct zs_entry **table_map(uint64_t slots)
{
	return zs_map_anon(slots * sizeof(struct zs_entry *));
}

int zs_index_create(struct zs_index **out)
{
	struct zs_index *idx = zs_map_anon(sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	idx->table = table_map(ZS_TABLE_MIN);
	if (!idx->table) {
		zs_unmap(idx, sizeof(*idx));
		return -ENOMEM;
	}
	idx->mask = ZS_TABLE_MIN - 1;
	idx->shift = 64 - __builtin_ctzll(ZS_TABLE_MIN);
	*out = idx;
	return 0;
}

void zs_index_destroy(struct zs_index *idx)
{
	struct zs_slab *s, *next;

	if (!idx)
		return;
	for (s = idx->slabs; s; s = next) {
		next = s->next;
		zs_unmap(s, ZS_SLAB_BYTES);
	}
	zs_unmap(idx->table, (idx->mask + 1) * sizeof(struct zs_entry *));
	zs_unmap(idx, sizeof(*idx));
}

static int slab_add(struct zs_index *idx)
{
	struct zs_slab *s;
	struct zs_entry *e;
	size_t first = (sizeof(*s) + sizeof(*e) - 1) / sizeof(*e), n = ZS_SLAB_BYTES / sizeof(*e);

	s = zs_map_anon(ZS_SLAB_BYTES);
	if (!s)
		return -ENOMEM;
	s->next = idx->slabs;
	idx->slabs = s;
	for (e = (struct zs_entry *)s + first; e < (struct zs_entry *)s + n; e++) {
		e->key = (uintptr_t)idx->free;
		idx->free = e;
	}
	return 0;
}

struct zs_entry *zs_entry_alloc(struct zs_index *idx)
{
	struct zs_entry *e;

	if (zs_fault_hit(ZS_FAULT_ENTRY_ALLOC))
		return NULL;
	if (!idx->free && slab_add(idx))
		return NULL;
	e = idx->free;
	idx->free = (struct zs_entry *)e->key;
	memset(e, 0, sizeof(*e));
	return e;
}

void zs_entry_free(struct zs_index *idx, struct zs_entry *e)
{
	e->key = (uintptr_t)idx->free;
	idx->free = e;
}

static uint64_t slot_of(const struct zs_index *idx, uintptr_t key)
{
	return ((key >> ZS_PAGE_SHIFT) * 0x9E3779B97F4A7C15ULL) >> idx->shift;
}

static void place(struct zs_index *idx, struct zs_entry *e)
{
	uint64_t i = slot_of(idx, e->key);

	while (idx->table[i])
		i = (i + 1) & idx->mask;
	idx->table[i] = e;
}

static int grow(struct zs_index *idx)
{
	uint64_t old_slots = idx->mask + 1, i;
	struct zs_entry **old = idx->table, **table;

	table = table_map(old_slots * 2);
	if (!table)
		return -ENOMEM;
	idx->table = table;
	idx->mask = old_slots * 2 - 1;
	idx->shift--;
	for (i = 0; i < old_slots; i++)
		if (old[i])
			place(idx, old[i]);
	zs_unmap(old, old_slots * sizeof(*old));
	return 0;
}

int zs_index_reserve(struct zs_index *idx)
{
	if ((idx->count + 1) * 4 > (idx->mask + 1) * 3)
		return grow(idx);
	return 0;
}

void zs_index_insert(struct zs_index *idx, struct zs_entry *e)
{
	place(idx, e);
	idx->count++;
}

struct zs_entry *zs_index_find(const struct zs_index *idx, uintptr_t key)
{
	uint64_t i = slot_of(idx, key);

	for (; idx->table[i]; i = (i + 1) & idx->mask)
		if (idx->table[i]->key == key)
			return idx->table[i];
	return NULL;
}

void zs_index_remove(struct zs_index *idx, struct zs_entry *e)
{
	uint64_t hole = slot_of(idx, e->key), i;

	while (idx->table[hole] != e)
		hole = (hole + 1) & idx->mask;
	/* Backward shift: pull later entries of the probe run into the hole
	 * unless their home slot lies cyclically in (hole, i]. */
	for (i = (hole + 1) & idx->mask; idx->table[i]; i = (i + 1) & idx->mask) {
		uint64_t home = slot_of(idx, idx->table[i]->key);

		if (((i - home) & idx->mask) >= ((i - hole) & idx->mask)) {
			idx->table[hole] = idx->table[i];
			hole = i;
		}
	}
	idx->table[hole] = NULL;
	idx->count--;
}

uint64_t zs_index_count(const struct zs_index *idx)
{
	return idx->count;
}

void zs_index_drain(struct zs_index *idx, void (*fn)(struct zs_entry *e, void *arg), void *arg)
{
	uint64_t i;

	for (i = 0; i <= idx->mask; i++) {
		struct zs_entry *e = idx->table[i];

		idx->table[i] = NULL;
		if (e)
			fn(e, arg);
	}
	idx->count = 0;
}

int zs_index_walk(const struct zs_index *idx, int (*fn)(struct zs_entry *e, void *arg), void *arg)
{
	uint64_t i;
	int ret;

	for (i = 0; i <= idx->mask; i++)
		if (idx->table[i] && (ret = fn(idx->table[i], arg)))
			return ret;
	return 0;
}
