/*
 * writeback.c - the pool limit and writeback to the swap file.
 *
 * At store time (engine_make_room), as zswap since 5.6: a pool over its limit
 * counts pool_limit_hit and is shrunk, oldest pages first, until it is below
 * accept_threshold_percent of the limit; only then are stores accepted again.
 * Shrinking frees one pool page at a time: a raw page (store_incompressible)
 * if there is one, else zbud's reclaim_page(8), which calls engine_evict on
 * the objects of its least recently used page.
 *
 * Writing one page back: take a swap slot first (a full swap file fails fast),
 * then under e->lock check that the entry still owns the handle and is idle,
 * decompress into a page buffer and mark the entry ZS_WRITEBACK; write the
 * slot without the lock; then, under the lock again, the entry names the
 * slot and the pool object is freed.  A load in between copies the bytes from
 * the buffer; an entry dropped in between is ZS_ORPHAN and freed here.  A
 * failed write leaves the entry in the pool as it was.
 *
 * The trace (ZSWAPSIM_TRACE) gets each page written back, and each shrink
 * a caller asks for (the shim's shrinker) as the number of pages it wanted
 * freed, so that a replay asks its own pool for as many.
 */
#include "config.h"

#include <sched.h>
#include <string.h>

#include "engine_impl.h"
#include "pagesrc.h"
#include "swapfile.h"

/* Under e->lock: put the page's bytes in buf (for a raw page, its own bytes)
 * and mark the entry as under writeback.  0 or -EIO. */
static int writeback_begin(struct zs_engine *e, struct zs_entry *ent, unsigned char *buf)
{
	if (ent->kind == ZS_RAW) {
		zs_list_del(&ent->raw_lru);
		ent->wbbuf = ent->raw;
	} else {
		const unsigned char *obj = zpool_map(e->pool, ent->handle);
		int n = zs_decompress(e->dpool, obj + ZS_OBJ_HDR, ent->length, buf, ZS_PAGE_SIZE);

		zpool_unmap(e->pool, ent->handle);
		if (n != (int)ZS_PAGE_SIZE) {
			STAT_INC(e, decompress_fail);
			return -EIO;
		}
		ent->wbbuf = buf;
	}
	ent->flags |= ZS_WRITEBACK;
	return 0;
}

/* Without e->lock: write the page to its slot, then settle the entry.
 * Returns 0 when the entry's pool storage was freed (written, or orphaned),
 * else -errno with the entry back as it was. */
static int writeback_finish(struct zs_engine *e, struct zs_entry *ent, uint64_t slot)
{
	struct zs_storage old;
	int ret;

	ret = zs_swapfile_write(e->swap, slot, ent->wbbuf);
	if (ret) {
		STAT_INC(e, swap_write_errors);
		zs_swapfile_free(e->swap, slot);
	}

	zs_lock(&e->lock);
	/* A load copying from wbbuf outside the lock: let it finish first. */
	while (ent->flags & ZS_LOADING) {
		zs_unlock(&e->lock);
		sched_yield();
		zs_lock(&e->lock);
	}
	ent->flags &= ~ZS_WRITEBACK;
	ent->wbbuf = NULL;
	old = engine_detach(ent);
	if (ent->flags & ZS_ORPHAN) {
		zs_entry_free(e->index, ent);
		if (ret == 0)
			zs_swapfile_free(e->swap, slot);
		ret = 0;
	} else if (ret == 0) {
		engine_account(e, ent, -1);
		ent->kind = ZS_SWAP;
		ent->slot = slot;
		engine_account(e, ent, +1);
		STAT_INC(e, written_back_pages);
		zs_trace_writeback(e->trace, ent->key); /* a leaf lock */
	} else {
		if (ent->kind == ZS_RAW)
			zs_list_add(&ent->raw_lru, e->raw_lru.prev); /* still the oldest */
		old.kind = ZS_SAME; /* nothing to release */
	}
	zs_unlock(&e->lock);
	engine_release(e, old);
	return ret;
}

/* A swap slot for a writeback, taken before any work is done for it. */
static int slot_get(struct zs_engine *e, uint64_t *slot)
{
	int ret = zs_swapfile_alloc(e->swap, slot);

	if (ret)
		STAT_INC(e, swap_full);
	return ret;
}

/* The pool's evict callback: write back the object `handle`. */
int engine_evict(struct zpool *pool, unsigned long handle, void *arg)
{
	struct zs_engine *e = arg;
	unsigned char buf[ZS_PAGE_SIZE];
	struct zs_entry *ent;
	uint64_t slot;
	uintptr_t key;
	int ret;

	if ((ret = slot_get(e, &slot)))
		return ret;
	key = __atomic_load_n((uintptr_t *)zpool_map(pool, handle), __ATOMIC_RELAXED);
	zpool_unmap(pool, handle);
	zs_lock(&e->lock);
	/* An object not yet published, or being loaded, is not ours to move.
	 * Its key may be stale bytes then: the handle check settles it, since
	 * only the entry that owns a handle names it. */
	ent = zs_index_find(e->index, key);
	if (!ent || ent->kind != ZS_POOL || ent->handle != handle || ent->flags) {
		STAT_INC(e, writeback_skipped);
		zs_unlock(&e->lock);
		zs_swapfile_free(e->swap, slot);
		return -EEXIST; /* as zswap's writeback for an entry it cannot take */
	}
	ret = writeback_begin(e, ent, buf);
	zs_unlock(&e->lock);
	if (ret) {
		zs_swapfile_free(e->swap, slot);
		return ret;
	}
	return writeback_finish(e, ent, slot);
}

/* Write back the oldest idle raw page: 0, -EAGAIN (none idle), -errno. */
static int writeback_raw(struct zs_engine *e)
{
	struct zs_list *pos;
	struct zs_entry *ent = NULL;
	uint64_t slot;
	int tries = 0, ret;

	if ((ret = slot_get(e, &slot)))
		return ret;
	zs_lock(&e->lock);
	for (pos = e->raw_lru.prev; pos != &e->raw_lru && tries < ZS_RECLAIM_RETRIES;
	     pos = pos->prev, tries++) {
		struct zs_entry *cand = zs_container_of(pos, struct zs_entry, raw_lru);

		if (!cand->flags) {
			ent = cand;
			break;
		}
	}
	if (ent)
		writeback_begin(e, ent, NULL);
	zs_unlock(&e->lock);
	if (!ent) {
		zs_swapfile_free(e->swap, slot);
		return -EAGAIN;
	}
	return writeback_finish(e, ent, slot);
}

/* Free one pool page by writeback.  Raw pages go first: each holds a whole
 * page for one stored page, so writing them back frees the most memory per
 * write (before 6.18 such pages went to the swap device directly). */
static int writeback_one(struct zs_engine *e)
{
	int ret = -EAGAIN;

	if (zs_swapfile_used(e->swap) == zs_swapfile_slots(e->swap)) {
		STAT_INC(e, swap_full);
		return -ENOSPC;
	}
	if (zs_count_read(&e->raw_pages))
		ret = writeback_raw(e);
	if (ret == -EAGAIN)
		ret = zpool_reclaim(e->pool, ZS_RECLAIM_RETRIES);
	return ret;
}

static int shrink_to(struct zs_engine *e, uint64_t target)
{
	while (zs_engine_pool_bytes(e) > target) {
		int ret = writeback_one(e);

		if (ret) /* e.g. -EINVAL: nothing left; -ENOSPC: swap file full */
			return zs_engine_pool_bytes(e) <= target ? 0 : ret;
	}
	return 0;
}

/* A caller's shrink (the shim's shrinker) is an event of the trace: the
 * pages it asked to free, which a replay asks of its own pool. */
int zs_engine_shrink(struct zs_engine *e, uint64_t target)
{
	uint64_t pages = engine_pool_pages(e);

	if (pages > target / ZS_PAGE_SIZE)
		zs_trace_shrink(e->trace, pages - target / ZS_PAGE_SIZE);
	return shrink_to(e, target);
}

/* Store-time limit check, as zswap since 5.6: over the limit, shrink until
 * the pool is below the accept threshold before accepting again. */
int engine_make_room(struct zs_engine *e)
{
	if (engine_pool_pages(e) > e->limit_pages) {
		STAT_INC(e, pool_limit_hit);
		__atomic_store_n(&e->reached_full, true, __ATOMIC_RELAXED);
	}
	if (!__atomic_load_n(&e->reached_full, __ATOMIC_RELAXED))
		return 0;
	if (engine_pool_pages(e) >= e->accept_pages &&
	    shrink_to(e, e->accept_pages ? (e->accept_pages - 1) * ZS_PAGE_SIZE : 0)) {
		STAT_INC(e, reject_reclaim_fail);
		return -ENOMEM;
	}
	__atomic_store_n(&e->reached_full, false, __ATOMIC_RELAXED);
	return 0;
}
