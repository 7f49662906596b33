/*
 * zbud.c - zbud in user space: two compressed objects ("buddies") per page.
 *
 * Why buddies: pairing is cheap and predictable.  Every page holds at most
 * two objects, so density is never worse than 1 and never better than 2, and
 * freeing either object can only ever free or re-file one page; no compaction
 * is needed.  The price is that two objects above half a page never pair.
 *
 * Page layout, in 64-byte chunks (all geometry follows ZBUD_NCHUNKS_ORDER):
 *
 *   chunk 0      1 .. first       ...free...      last ..         63
 *   +--------+-----------------+-------------+----------------------+
 *   | header | FIRST buddy --> |             | <-- LAST buddy       |
 *   +--------+-----------------+-------------+----------------------+
 *
 * FIRST starts right after the header and LAST ends at the end of the page,
 * so the free space is always one run in the middle, and a handle (the
 * object's address) says by its offset which buddy it is: FIRST sits at
 * offset ZBUD_HDR_SIZE, a LAST object never does because it is at most
 * ZBUD_NCHUNKS - 1 chunks long.
 *
 * Pool state, all under pool->lock:
 *   unbuddied[i]  pages with one buddy and exactly i free chunks, newest at
 *                 the head; alloc takes the head of the first non-empty list
 *                 from the object's own size up (best fit by bucket)
 *   buddied       pages with both buddies in use
 *   lru           every page not under reclaim, most recently allocated-into
 *                 at the head; reclaim takes the tail
 *
 * Reclaim protocol: reclaim unlinks the LRU tail, marks it under_reclaim and
 * drops the lock to call evict on FIRST, then LAST (LAST is skipped when FIRST
 * failed).  A successful evict frees its object with zbud_free(), which only
 * zeroes the buddy's chunk count while the page is under reclaim: the page
 * stays reclaim's to free (now empty) or to re-file at the LRU head.
 *
 * Signal safety: pool->lock is a zs_lock (held with asynchronous signals
 * blocked), zbud_map/unmap take no lock, so map and free may be called from a
 * signal handler on any thread.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "list.h"
#include "pagesrc.h"
#include "zbud.h"

_Static_assert(ZBUD_NCHUNKS == 63, "4 KiB pages of 64 chunks, one for the header");
_Static_assert(ZBUD_MAX_SIZE == 3968, "the largest object leaves one chunk free");

struct zbud_header {
	struct zs_list buddy;   /* on unbuddied[] or buddied */
	struct zs_list lru;
	unsigned int first_chunks;
	unsigned int last_chunks;
	bool under_reclaim;
};
_Static_assert(sizeof(struct zbud_header) <= ZBUD_HDR_SIZE, "the header fits chunk 0");

struct zbud_pool {
	struct zs_lock lock;
	struct zs_list unbuddied[ZBUD_NCHUNKS];
	struct zs_list buddied;
	struct zs_list lru;
	uint64_t pages_nr;       /* also read without the lock */
	uint64_t reclaiming;     /* pages off every list, under reclaim */
	struct zs_pagesrc *src;
	const struct zbud_ops *ops;
	void *owner;
};

enum buddy { FIRST, LAST };

static unsigned int size_to_chunks(size_t size)
{
	return (size + ZBUD_CHUNK_SIZE - 1) >> ZBUD_CHUNK_SHIFT;
}

static struct zbud_header *handle_to_header(unsigned long handle)
{
	return (struct zbud_header *)(handle & ZS_PAGE_MASK);
}

static enum buddy handle_to_buddy(unsigned long handle)
{
	return (handle & ~ZS_PAGE_MASK) == ZBUD_HDR_SIZE ? FIRST : LAST;
}

static unsigned long encode_handle(struct zbud_header *zhdr, enum buddy bud)
{
	unsigned long page = (unsigned long)zhdr;

	if (bud == FIRST)
		return page + ZBUD_HDR_SIZE;
	return page + ZS_PAGE_SIZE - (zhdr->last_chunks << ZBUD_CHUNK_SHIFT);
}

static unsigned int num_free_chunks(const struct zbud_header *zhdr)
{
	return ZBUD_NCHUNKS - zhdr->first_chunks - zhdr->last_chunks;
}

static struct zbud_header *init_page(void *page)
{
	struct zbud_header *zhdr = page;

	zhdr->first_chunks = 0;
	zhdr->last_chunks = 0;
	zhdr->under_reclaim = false;
	zs_list_init(&zhdr->buddy);
	zs_list_init(&zhdr->lru);
	return zhdr;
}

/* Put a page with at least one buddy on the list that fits its fill. */
static void file_page(struct zbud_pool *pool, struct zbud_header *zhdr)
{
	if (zhdr->first_chunks == 0 || zhdr->last_chunks == 0)
		zs_list_add(&zhdr->buddy, &pool->unbuddied[num_free_chunks(zhdr)]);
	else
		zs_list_add(&zhdr->buddy, &pool->buddied);
}

/* Take an empty page out of the pool; the caller hands it back to the page
 * source after dropping the lock (that may cost an madvise). */
static void *unlink_page(struct zbud_pool *pool, struct zbud_header *zhdr)
{
	zs_list_del(&zhdr->lru);
	zs_count_sub(&pool->pages_nr, 1);
	return zhdr;
}

struct zbud_pool *zbud_create_pool(struct zs_pagesrc *src, const struct zbud_ops *ops)
{
	struct zbud_pool *pool = zs_map_anon(sizeof(*pool));
	unsigned int i;

	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->lock.mutex, NULL);
	for (i = 0; i < ZBUD_NCHUNKS; i++)
		zs_list_init(&pool->unbuddied[i]);
	zs_list_init(&pool->buddied);
	zs_list_init(&pool->lru);
	pool->src = src;
	pool->ops = ops;
	return pool;
}

void zbud_destroy_pool(struct zbud_pool *pool)
{
	if (!pool)
		return;
	while (!zs_list_empty(&pool->lru)) {
		struct zbud_header *zhdr = zs_container_of(pool->lru.next, struct zbud_header, lru);

		zs_list_del(&zhdr->buddy);
		zs_page_free(pool->src, unlink_page(pool, zhdr));
	}
	pthread_mutex_destroy(&pool->lock.mutex);
	zs_unmap(pool, sizeof(*pool));
}

/* The head of the first non-empty unbuddied list that fits, or NULL. */
static struct zbud_header *find_unbuddied(struct zbud_pool *pool, unsigned int chunks)
{
	unsigned int i;

	for (i = chunks; i < ZBUD_NCHUNKS; i++) {
		if (!zs_list_empty(&pool->unbuddied[i])) {
			struct zbud_header *zhdr = zs_container_of(pool->unbuddied[i].next,
								   struct zbud_header, buddy);
			zs_list_del(&zhdr->buddy);
			return zhdr;
		}
	}
	return NULL;
}

int zbud_alloc(struct zbud_pool *pool, size_t size, unsigned long *handle)
{
	struct zbud_header *zhdr;
	unsigned int chunks;
	enum buddy bud;

	if (size == 0)
		return -EINVAL;
	if (size > ZBUD_MAX_SIZE)
		return -ENOSPC;
	chunks = size_to_chunks(size);

	zs_lock(&pool->lock);
	zhdr = find_unbuddied(pool, chunks);
	if (zhdr) {
		bud = zhdr->first_chunks == 0 ? FIRST : LAST;
	} else {
		void *page = zs_page_alloc(pool->src);

		if (!page) {
			zs_unlock(&pool->lock);
			return -ENOMEM;
		}
		zhdr = init_page(page);
		zs_count_add(&pool->pages_nr, 1);
		bud = FIRST;
	}
	if (bud == FIRST)
		zhdr->first_chunks = chunks;
	else
		zhdr->last_chunks = chunks;
	file_page(pool, zhdr);
	zs_list_del(&zhdr->lru);
	zs_list_add(&zhdr->lru, &pool->lru);
	*handle = encode_handle(zhdr, bud);
	zs_unlock(&pool->lock);
	return 0;
}

void zbud_free(struct zbud_pool *pool, unsigned long handle)
{
	struct zbud_header *zhdr = handle_to_header(handle);
	void *empty = NULL;

	zs_lock(&pool->lock);
	if (handle_to_buddy(handle) == FIRST)
		zhdr->first_chunks = 0;
	else
		zhdr->last_chunks = 0;
	if (!zhdr->under_reclaim) {
		zs_list_del(&zhdr->buddy);
		if (zhdr->first_chunks == 0 && zhdr->last_chunks == 0)
			empty = unlink_page(pool, zhdr);
		else
			file_page(pool, zhdr);
	}
	zs_unlock(&pool->lock);
	if (empty)
		zs_page_free(pool->src, empty);
}

/* Take the LRU tail off every list for reclaim; NULL when the LRU is empty
 * (other threads may be reclaiming every page). */
static struct zbud_header *take_lru_tail(struct zbud_pool *pool, unsigned long handles[2])
{
	struct zbud_header *zhdr;

	if (zs_list_empty(&pool->lru))
		return NULL;
	zhdr = zs_container_of(pool->lru.prev, struct zbud_header, lru);
	zs_list_del(&zhdr->lru);
	zs_list_del(&zhdr->buddy);
	zhdr->under_reclaim = true;
	pool->reclaiming++;
	handles[0] = zhdr->first_chunks ? encode_handle(zhdr, FIRST) : 0;
	handles[1] = zhdr->last_chunks ? encode_handle(zhdr, LAST) : 0;
	return zhdr;
}

/* After the evictions: unlink the page if they emptied it (true; the caller
 * frees it), else re-file it as the most recently used page. */
static bool finish_reclaim(struct zbud_pool *pool, struct zbud_header *zhdr)
{
	zhdr->under_reclaim = false;
	pool->reclaiming--;
	if (zhdr->first_chunks == 0 && zhdr->last_chunks == 0) {
		unlink_page(pool, zhdr);
		return true;
	}
	file_page(pool, zhdr);
	zs_list_add(&zhdr->lru, &pool->lru);
	return false;
}

int zbud_reclaim_page(struct zbud_pool *pool, unsigned int retries)
{
	struct zbud_header *emptied = NULL;
	unsigned int i;
	int ret = -EAGAIN;

	zs_lock(&pool->lock);
	if (!pool->ops || !pool->ops->evict || zs_list_empty(&pool->lru) || retries == 0) {
		zs_unlock(&pool->lock);
		return -EINVAL;
	}
	for (i = 0; i < retries; i++) {
		unsigned long handles[2];
		struct zbud_header *zhdr = take_lru_tail(pool, handles);

		if (!zhdr)
			break;
		zs_unlock(&pool->lock);
		if (!handles[0] || pool->ops->evict(pool, handles[0]) == 0)
			if (handles[1])
				pool->ops->evict(pool, handles[1]);
		zs_lock(&pool->lock);
		if (finish_reclaim(pool, zhdr)) {
			emptied = zhdr;
			ret = 0;
			break;
		}
	}
	zs_unlock(&pool->lock);
	if (emptied)
		zs_page_free(pool->src, emptied);
	return ret;
}

void *zbud_map(struct zbud_pool *pool, unsigned long handle)
{
	return (void *)handle;
}

void zbud_unmap(struct zbud_pool *pool, unsigned long handle)
{
}

uint64_t zbud_get_pool_size(struct zbud_pool *pool)
{
	return zs_count_read(&pool->pages_nr);
}

const char *zbud_buddy_name(unsigned long handle)
{
	return handle_to_buddy(handle) == FIRST ? "first" : "last";
}

void zbud_set_owner(struct zbud_pool *pool, void *owner)
{
	pool->owner = owner;
}

void *zbud_get_owner(struct zbud_pool *pool)
{
	return pool->owner;
}

/* Validation: every page sits on exactly one buddy list that matches its
 * fill, once on the LRU, and the counts add up to pages_nr. */

static int broken(char *buf, size_t len, const char *what, const void *page)
{
	snprintf(buf, len, "zbud: %s (page %p)", what, page);
	return -EUCLEAN;
}

static int check_page(const struct zbud_header *zhdr, int list, char *buf, size_t len)
{
	if (zhdr->under_reclaim)
		return broken(buf, len, "listed page marked under reclaim", zhdr);
	if (zhdr->first_chunks + zhdr->last_chunks > ZBUD_NCHUNKS)
		return broken(buf, len, "buddies overlap", zhdr);
	if (list < 0)
		return zhdr->first_chunks && zhdr->last_chunks ? 0 :
			broken(buf, len, "page on buddied list lacks a buddy", zhdr);
	if ((zhdr->first_chunks == 0) == (zhdr->last_chunks == 0))
		return broken(buf, len, "unbuddied page without exactly one buddy", zhdr);
	if (num_free_chunks(zhdr) != (unsigned int)list)
		return broken(buf, len, "page on the wrong unbuddied list", zhdr);
	return 0;
}

static int check_lists(struct zbud_pool *pool, uint64_t *listed, char *buf, size_t len)
{
	struct zs_list *pos;
	int i, ret;

	for (i = -1; i < (int)ZBUD_NCHUNKS; i++) {
		struct zs_list *head = i < 0 ? &pool->buddied : &pool->unbuddied[i];

		zs_list_for_each(pos, head) {
			struct zbud_header *zhdr = zs_container_of(pos, struct zbud_header, buddy);

			ret = check_page(zhdr, i, buf, len);
			if (ret)
				return ret;
			if (zs_list_empty(&zhdr->lru))
				return broken(buf, len, "listed page missing from the LRU", zhdr);
			(*listed)++;
		}
	}
	return 0;
}

int zbud_validate(struct zbud_pool *pool, char *buf, size_t len)
{
	uint64_t listed = 0, on_lru = 0;
	struct zs_list *pos;
	int ret;

	zs_lock(&pool->lock);
	ret = check_lists(pool, &listed, buf, len);
	zs_list_for_each(pos, &pool->lru)
		if (++on_lru > pool->pages_nr)
			break;
	if (!ret && on_lru != listed)
		ret = broken(buf, len, "LRU and buddy lists disagree", NULL);
	if (!ret && listed + pool->reclaiming != pool->pages_nr)
		ret = broken(buf, len, "page count disagrees with the lists", NULL);
	zs_unlock(&pool->lock);
	return ret;
}

/* The zpool glue: route zbud's evict to the owner's callback. */

static int zpool_evict(struct zbud_pool *pool, unsigned long handle)
{
	struct zpool *owner = zbud_get_owner(pool);

	return owner->evict ? owner->evict(owner, handle, owner->evict_arg) : -EINVAL;
}

static const struct zbud_ops zpool_ops = { .evict = zpool_evict };

static void *zp_create(struct zs_pagesrc *src, struct zpool *owner)
{
	struct zbud_pool *pool = zbud_create_pool(src, owner->evict ? &zpool_ops : NULL);

	if (pool)
		zbud_set_owner(pool, owner);
	return pool;
}

static void zp_destroy(void *priv) { zbud_destroy_pool(priv); }
static int zp_alloc(void *priv, size_t size, unsigned long *h) { return zbud_alloc(priv, size, h); }
static void zp_free(void *priv, unsigned long h) { zbud_free(priv, h); }
static int zp_reclaim(void *priv, unsigned int retries) { return zbud_reclaim_page(priv, retries); }
static void *zp_map(void *priv, unsigned long h) { return zbud_map(priv, h); }
static void zp_unmap(void *priv, unsigned long h) { zbud_unmap(priv, h); }
static uint64_t zp_total_pages(void *priv) { return zbud_get_pool_size(priv); }
static int zp_validate(void *priv, char *buf, size_t len) { return zbud_validate(priv, buf, len); }
static const char *zp_describe(void *priv, unsigned long h) { return zbud_buddy_name(h); }
static void zp_after_fork_child(void *priv) { zs_lock_reset(&((struct zbud_pool *)priv)->lock); }

const struct zpool_driver zbud_zpool_driver = {
	.name = "zbud",
	.max_size = ZBUD_MAX_SIZE,
	.create = zp_create,
	.destroy = zp_destroy,
	.alloc = zp_alloc,
	.free = zp_free,
	.reclaim = zp_reclaim,
	.map = zp_map,
	.unmap = zp_unmap,
	.total_pages = zp_total_pages,
	.validate = zp_validate,
	.describe = zp_describe,
	.after_fork_child = zp_after_fork_child,
};
