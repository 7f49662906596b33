/*
 * engine_check.c - the engine's validator: walks the index under e->lock and
 * checks every entry against its storage (pool object header, swap slot, raw
 * LRU) and every gauge against a recount, after the pool's own validator.
 * For tests; not on any fast path.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "engine_impl.h"
#include "swapfile.h"

struct tally {
	struct zs_engine *e;
	struct zs_stats seen;
	char *buf;
	size_t len;
};

/* The key at the head of a pool object (every map is paired with an
 * unmap: z3fold and zsmalloc pin the object in between). */
static uintptr_t pool_key(struct zs_engine *e, unsigned long handle)
{
	uintptr_t key;

	memcpy(&key, zpool_map(e->pool, handle), sizeof(key));
	zpool_unmap(e->pool, handle);
	return key;
}

static int check_entry(struct zs_entry *ent, void *arg)
{
	struct tally *t = arg;
	uintptr_t key;

	if (ent->flags)
		snprintf(t->buf, t->len, "engine: entry %#lx busy (flags %u) with the lock held",
			 (unsigned long)ent->key, ent->flags);
	else if (ent->kind == ZS_POOL && (key = pool_key(t->e, ent->handle)) != ent->key)
		snprintf(t->buf, t->len, "engine: pool object of %#lx names key %#lx",
			 (unsigned long)ent->key, (unsigned long)key);
	else if (ent->kind == ZS_POOL && (ent->length == 0 || ent->length > ZS_COMPRESS_BOUND))
		snprintf(t->buf, t->len, "engine: entry %#lx has length %u",
			 (unsigned long)ent->key, ent->length);
	else if (ent->kind == ZS_RAW && zs_list_empty(&ent->raw_lru))
		snprintf(t->buf, t->len, "engine: raw entry %#lx is not on the raw LRU",
			 (unsigned long)ent->key);
	else if (ent->kind == ZS_SWAP && !zs_swapfile_slot_used(t->e->swap, ent->slot))
		snprintf(t->buf, t->len, "engine: entry %#lx names free swap slot %llu",
			 (unsigned long)ent->key, (unsigned long long)ent->slot);
	else {
		engine_account_into(&t->seen, ent, +1);
		return 0;
	}
	return -EUCLEAN;
}

static int check_gauges(struct zs_engine *e, const struct zs_stats *seen, char *buf, size_t len)
{
	struct zs_stats now;
	uint64_t raw_on_lru = 0;
	struct zs_list *pos;

	zs_engine_stats(e, &now);
	zs_list_for_each(pos, &e->raw_lru)
		raw_on_lru++;
#define GAUGE(field) \
	if (now.field != seen->field) \
		return snprintf(buf, len, "engine: " #field " is %llu, the index holds %llu", \
				(unsigned long long)now.field, \
				(unsigned long long)seen->field), -EUCLEAN;
	GAUGE(stored_pages)
	GAUGE(same_filled_pages)
	GAUGE(stored_incompressible_pages)
	GAUGE(compressed_bytes)
	GAUGE(swap_pages)
#undef GAUGE
	if (raw_on_lru != seen->stored_incompressible_pages || e->raw_pages != raw_on_lru)
		return snprintf(buf, len, "engine: %llu raw pages held, %llu on the raw LRU",
				(unsigned long long)e->raw_pages,
				(unsigned long long)raw_on_lru), -EUCLEAN;
	if (zs_swapfile_used(e->swap) != seen->swap_pages)
		return snprintf(buf, len, "engine: %llu swap slots in use for %llu entries",
				(unsigned long long)zs_swapfile_used(e->swap),
				(unsigned long long)seen->swap_pages), -EUCLEAN;
	return 0;
}

int zs_engine_validate(struct zs_engine *e, char *buf, size_t len)
{
	struct tally t = { .e = e, .buf = buf, .len = len };
	int ret;

	zs_lock(&e->lock);
	ret = zpool_validate(e->pool, buf, len);
	if (!ret)
		ret = zs_index_walk(e->index, check_entry, &t);
	if (!ret)
		ret = check_gauges(e, &t.seen, buf, len);
	if (!ret)
		ret = zs_shadow_validate(e->shadow, buf, len);
	zs_unlock(&e->lock);
	return ret;
}
