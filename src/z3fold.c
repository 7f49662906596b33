/*
 * z3fold.c - z3fold in user space: up to three compressed objects per page.
 *
 * Why three: zbud's two buddies leave the middle of a page empty whenever
 * both objects are small.  z3fold lets a third object live there, so pages
 * of mostly small objects hold up to three (Linux's docs: about 2.7:1
 * against zbud's 1.7:1).  Like zbud, every page holds at least one object
 * (an emptied page is freed at once), so density is never below 1.
 *
 * Page layout, in 64-byte chunks (all geometry follows Z3FOLD_NCHUNKS_ORDER):
 *
 *   chunk 0  1 .. first      start_middle ..            last ..       63
 *   +------+------------+----+-------------+-------+--------------------+
 *   |header| FIRST -->  |    |   MIDDLE    |       |       <-- LAST     |
 *   +------+------------+----+-------------+-------+--------------------+
 *
 * FIRST starts right after the header, LAST ends at the end of the page,
 * MIDDLE sits in between (placed right after FIRST).  The header records
 * three slots, each a start chunk and a length; a handle is the page address
 * plus the slot number (1..3), and an object's role is read from where its
 * slot lies: starting at chunk 1 is FIRST, ending at chunk 64 is LAST,
 * anything else MIDDLE.  So when compaction moves the middle object, only
 * its slot's start changes and its handle stays valid; Linux got the same
 * effect by rotating the buddy numbers (first_num) in the handle encoding.
 *
 * Free space of a page (the unbuddied[] index), as Linux's num_free_chunks:
 * without a middle object, every chunk FIRST and LAST leave; with one, the
 * larger of the free runs before it (when FIRST is empty) and after it
 * (when LAST is empty).  Placement: FIRST when it is empty and the object
 * fits before the middle, else LAST when it is empty, else MIDDLE when FIRST
 * and LAST are both taken.
 *
 * Pool state, all under pool->lock:
 *   unbuddied[i]  pages with fewer than three objects and i free chunks,
 *                 newest at the head; alloc takes the head of the first
 *                 non-empty list from the object's size up
 *   buddied       pages with three objects
 *   lru           every page not under reclaim, most recently allocated-into
 *                 at the head; reclaim takes the tail
 *
 * Compaction of a page, after a free (as z3fold_compact_page): a lone
 * middle object moves to the start of the page (it becomes FIRST); a middle
 * object with FIRST and 3 or more free chunks between them moves next to
 * FIRST; likewise next to LAST.  A page with any object mapped is left as
 * it is (map pins it: mapped counts its outstanding maps).
 *
 * Reclaim protocol: as zbud's.  Reclaim unlinks the LRU tail, marks it
 * under_reclaim and drops the lock to evict FIRST, MIDDLE, then LAST,
 * stopping at the first failure.  A free while the page is under reclaim
 * only clears the slot: the page stays reclaim's to free or re-file.
 *
 * Left out: Linux's "headless" pages, a whole page for one object of more
 * than 4032 bytes with its header outside the page.  Here every page keeps
 * its header, so the largest object is 4032 bytes (Z3FOLD_MAX_SIZE).
 *
 * Signal safety: pool->lock is a zs_lock; map, unmap and free take only it
 * (and free the page source's), so they may run in a signal handler.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "list.h"
#include "pagesrc.h"
#include "z3fold.h"

#define SLOTS 3
#define BIG_CHUNK_GAP 3 /* free chunks worth moving the middle object for */

_Static_assert(Z3FOLD_NCHUNKS == 63, "4 KiB pages of 64 chunks, one for the header");
_Static_assert(Z3FOLD_TOTAL_CHUNKS <= 255, "chunk numbers fit a byte");

struct z3fold_header {
	struct zs_list buddy;     /* on unbuddied[] or buddied */
	struct zs_list lru;
	uint8_t start[SLOTS];     /* first chunk of slot s's object */
	uint8_t chunks[SLOTS];    /* its length; 0: the slot is free */
	uint16_t mapped;          /* maps outstanding: no compaction */
	bool under_reclaim;
};
_Static_assert(sizeof(struct z3fold_header) <= Z3FOLD_HDR_SIZE, "the header fits chunk 0");

struct z3fold_pool {
	struct zs_lock lock;
	struct zs_list unbuddied[Z3FOLD_NCHUNKS];
	struct zs_list buddied;
	struct zs_list lru;
	uint64_t pages_nr;        /* also read without the lock */
	uint64_t reclaiming;      /* pages off every list, under reclaim */
	struct zs_pagesrc *src;
	z3fold_evict_fn evict;
	void *owner;
};

enum role { FIRST, MIDDLE, LAST };

/* Which slot has each role (-1: none), and the chunk counts. */
struct layout {
	int slot[3];
	unsigned int chunks[3];
	unsigned int start_middle;
};

static unsigned int size_to_chunks(size_t size)
{
	return (size + Z3FOLD_CHUNK_SIZE - 1) >> Z3FOLD_CHUNK_SHIFT;
}

static struct z3fold_header *handle_to_header(unsigned long handle)
{
	return (struct z3fold_header *)(handle & ZS_PAGE_MASK);
}

static int handle_to_slot(unsigned long handle)
{
	return (int)(handle & ~ZS_PAGE_MASK) - 1;
}

static enum role slot_role(const struct z3fold_header *zhdr, int s)
{
	if (zhdr->start[s] == 1)
		return FIRST;
	if (zhdr->start[s] + zhdr->chunks[s] == Z3FOLD_TOTAL_CHUNKS)
		return LAST;
	return MIDDLE;
}

static void get_layout(const struct z3fold_header *zhdr, struct layout *l)
{
	int s;

	memset(l, 0, sizeof(*l));
	l->slot[FIRST] = l->slot[MIDDLE] = l->slot[LAST] = -1;
	for (s = 0; s < SLOTS; s++) {
		enum role r;

		if (!zhdr->chunks[s])
			continue;
		r = slot_role(zhdr, s);
		l->slot[r] = s;
		l->chunks[r] = zhdr->chunks[s];
		if (r == MIDDLE)
			l->start_middle = zhdr->start[s];
	}
}

static unsigned int num_objects(const struct z3fold_header *zhdr)
{
	return !!zhdr->chunks[0] + !!zhdr->chunks[1] + !!zhdr->chunks[2];
}

static unsigned int num_free_chunks(const struct z3fold_header *zhdr)
{
	struct layout l;
	unsigned int before, after;

	get_layout(zhdr, &l);
	if (!l.chunks[MIDDLE])
		return Z3FOLD_NCHUNKS - l.chunks[FIRST] - l.chunks[LAST];
	before = l.chunks[FIRST] ? 0 : l.start_middle - 1;
	after = l.chunks[LAST] ? 0 :
		Z3FOLD_TOTAL_CHUNKS - l.start_middle - l.chunks[MIDDLE];
	return before > after ? before : after;
}

static struct z3fold_header *init_page(void *page)
{
	struct z3fold_header *zhdr = page;

	memset(zhdr, 0, sizeof(*zhdr));
	zs_list_init(&zhdr->buddy);
	zs_list_init(&zhdr->lru);
	return zhdr;
}

/* Put a page with at least one object on the list that fits its fill. */
static void file_page(struct z3fold_pool *pool, struct z3fold_header *zhdr)
{
	if (num_objects(zhdr) < SLOTS)
		zs_list_add(&zhdr->buddy, &pool->unbuddied[num_free_chunks(zhdr)]);
	else
		zs_list_add(&zhdr->buddy, &pool->buddied);
}

/* Take an empty page out of the pool; the caller hands it back to the page
 * source after dropping the lock. */
static void *unlink_page(struct z3fold_pool *pool, struct z3fold_header *zhdr)
{
	zs_list_del(&zhdr->lru);
	zs_count_sub(&pool->pages_nr, 1);
	return zhdr;
}

struct z3fold_pool *z3fold_create_pool(struct zs_pagesrc *src, z3fold_evict_fn evict)
{
	struct z3fold_pool *pool = zs_map_anon(sizeof(*pool));
	unsigned int i;

	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->lock.mutex, NULL);
	for (i = 0; i < Z3FOLD_NCHUNKS; i++)
		zs_list_init(&pool->unbuddied[i]);
	zs_list_init(&pool->buddied);
	zs_list_init(&pool->lru);
	pool->src = src;
	pool->evict = evict;
	return pool;
}

void z3fold_destroy_pool(struct z3fold_pool *pool)
{
	if (!pool)
		return;
	while (!zs_list_empty(&pool->lru)) {
		struct z3fold_header *zhdr = zs_container_of(pool->lru.next,
							     struct z3fold_header, lru);

		zs_list_del(&zhdr->buddy);
		zs_page_free(pool->src, unlink_page(pool, zhdr));
	}
	pthread_mutex_destroy(&pool->lock.mutex);
	zs_unmap(pool, sizeof(*pool));
}

/* Does [start, start + chunks) lie in the data area, clear of every slot? */
static bool fits(const struct z3fold_header *zhdr, unsigned int start, unsigned int chunks)
{
	int s;

	if (start < 1 || start + chunks > Z3FOLD_TOTAL_CHUNKS)
		return false;
	for (s = 0; s < SLOTS; s++)
		if (zhdr->chunks[s] && start < zhdr->start[s] + zhdr->chunks[s] &&
		    zhdr->start[s] < start + chunks)
			return false;
	return true;
}

/* Where an object of `chunks` goes in this page (Linux's choice of buddy):
 * its start chunk, or 0 when it does not fit. */
static unsigned int place(const struct z3fold_header *zhdr, unsigned int chunks)
{
	struct layout l;
	unsigned int start = 0;

	get_layout(zhdr, &l);
	if (!l.chunks[FIRST] && (!l.chunks[MIDDLE] || chunks < l.start_middle))
		start = 1;
	else if (!l.chunks[LAST])
		start = Z3FOLD_TOTAL_CHUNKS - chunks;
	else if (!l.chunks[MIDDLE])
		start = 1 + l.chunks[FIRST];
	return start && fits(zhdr, start, chunks) ? start : 0;
}

/* The head of the first non-empty unbuddied list that fits, unlinked, with
 * the object's start in *start; NULL when none. */
static struct z3fold_header *find_unbuddied(struct z3fold_pool *pool, unsigned int chunks,
					    unsigned int *start)
{
	unsigned int i;

	for (i = chunks; i < Z3FOLD_NCHUNKS; i++) {
		struct z3fold_header *zhdr;

		if (zs_list_empty(&pool->unbuddied[i]))
			continue;
		zhdr = zs_container_of(pool->unbuddied[i].next, struct z3fold_header, buddy);
		*start = place(zhdr, chunks);
		if (*start) {
			zs_list_del(&zhdr->buddy);
			return zhdr;
		}
	}
	return NULL;
}

int z3fold_alloc(struct z3fold_pool *pool, size_t size, unsigned long *handle)
{
	struct z3fold_header *zhdr;
	unsigned int chunks, start = 1;
	int s;

	if (size == 0)
		return -EINVAL;
	if (size > Z3FOLD_MAX_SIZE)
		return -ENOSPC;
	chunks = size_to_chunks(size);

	zs_lock(&pool->lock);
	zhdr = find_unbuddied(pool, chunks, &start);
	if (!zhdr) {
		void *page = zs_page_alloc(pool->src);

		if (!page) {
			zs_unlock(&pool->lock);
			return -ENOMEM;
		}
		zhdr = init_page(page);
		zs_count_add(&pool->pages_nr, 1);
		start = 1;
	}
	for (s = 0; zhdr->chunks[s]; s++)
		;
	zhdr->start[s] = (uint8_t)start;
	zhdr->chunks[s] = (uint8_t)chunks;
	file_page(pool, zhdr);
	zs_list_del(&zhdr->lru);
	zs_list_add(&zhdr->lru, &pool->lru);
	*handle = (unsigned long)zhdr + s + 1;
	zs_unlock(&pool->lock);
	return 0;
}

static void move_middle(struct z3fold_header *zhdr, int s, unsigned int to)
{
	char *page = (char *)zhdr;

	memmove(page + (to << Z3FOLD_CHUNK_SHIFT),
		page + ((unsigned long)zhdr->start[s] << Z3FOLD_CHUNK_SHIFT),
		(unsigned long)zhdr->chunks[s] << Z3FOLD_CHUNK_SHIFT);
	zhdr->start[s] = (uint8_t)to;
}

/* Move the middle object where it frees the most room (see the top). */
static void compact_page(struct z3fold_header *zhdr)
{
	struct layout l;
	unsigned int end_middle;
	int s;

	get_layout(zhdr, &l);
	s = l.slot[MIDDLE];
	if (s < 0 || zhdr->mapped)
		return;
	end_middle = l.start_middle + l.chunks[MIDDLE];
	if (!l.chunks[FIRST] && !l.chunks[LAST])
		move_middle(zhdr, s, 1);
	else if (l.chunks[FIRST] && !l.chunks[LAST] &&
		 l.start_middle - 1 - l.chunks[FIRST] >= BIG_CHUNK_GAP)
		move_middle(zhdr, s, 1 + l.chunks[FIRST]);
	else if (!l.chunks[FIRST] && l.chunks[LAST] &&
		 Z3FOLD_TOTAL_CHUNKS - l.chunks[LAST] - end_middle >= BIG_CHUNK_GAP)
		move_middle(zhdr, s, Z3FOLD_TOTAL_CHUNKS - l.chunks[LAST] - l.chunks[MIDDLE]);
}

void z3fold_free(struct z3fold_pool *pool, unsigned long handle)
{
	struct z3fold_header *zhdr = handle_to_header(handle);
	void *empty = NULL;

	zs_lock(&pool->lock);
	zhdr->chunks[handle_to_slot(handle)] = 0;
	zhdr->start[handle_to_slot(handle)] = 0;
	if (!zhdr->under_reclaim) {
		zs_list_del(&zhdr->buddy);
		if (num_objects(zhdr) == 0) {
			empty = unlink_page(pool, zhdr);
		} else {
			compact_page(zhdr);
			file_page(pool, zhdr);
		}
	}
	zs_unlock(&pool->lock);
	if (empty)
		zs_page_free(pool->src, empty);
}

/* Take the LRU tail off every list for reclaim, its handles in eviction
 * order (0: no object); NULL when the LRU is empty. */
static struct z3fold_header *take_lru_tail(struct z3fold_pool *pool, unsigned long handles[3])
{
	struct z3fold_header *zhdr;
	struct layout l;
	int r;

	if (zs_list_empty(&pool->lru))
		return NULL;
	zhdr = zs_container_of(pool->lru.prev, struct z3fold_header, lru);
	zs_list_del(&zhdr->lru);
	zs_list_del(&zhdr->buddy);
	zhdr->under_reclaim = true;
	pool->reclaiming++;
	get_layout(zhdr, &l);
	for (r = FIRST; r <= LAST; r++)
		handles[r] = l.slot[r] < 0 ? 0 : (unsigned long)zhdr + l.slot[r] + 1;
	return zhdr;
}

/* After the evictions: unlink the page if they emptied it (true; the caller
 * frees it), else compact it and re-file it as the most recently used. */
static bool finish_reclaim(struct z3fold_pool *pool, struct z3fold_header *zhdr)
{
	zhdr->under_reclaim = false;
	pool->reclaiming--;
	if (num_objects(zhdr) == 0) {
		unlink_page(pool, zhdr);
		return true;
	}
	compact_page(zhdr);
	file_page(pool, zhdr);
	zs_list_add(&zhdr->lru, &pool->lru);
	return false;
}

int z3fold_reclaim_page(struct z3fold_pool *pool, unsigned int retries)
{
	struct z3fold_header *emptied = NULL;
	unsigned int i;
	int r, ret = -EAGAIN;

	zs_lock(&pool->lock);
	if (!pool->evict || zs_list_empty(&pool->lru) || retries == 0) {
		zs_unlock(&pool->lock);
		return -EINVAL;
	}
	for (i = 0; i < retries; i++) {
		unsigned long handles[3];
		struct z3fold_header *zhdr = take_lru_tail(pool, handles);

		if (!zhdr)
			break;
		zs_unlock(&pool->lock);
		for (r = FIRST; r <= LAST; r++)
			if (handles[r] && pool->evict(pool, handles[r]) != 0)
				break;
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

void *z3fold_map(struct z3fold_pool *pool, unsigned long handle)
{
	struct z3fold_header *zhdr = handle_to_header(handle);
	void *addr;

	zs_lock(&pool->lock);
	zhdr->mapped++;
	addr = (char *)zhdr + ((unsigned long)zhdr->start[handle_to_slot(handle)]
			       << Z3FOLD_CHUNK_SHIFT);
	zs_unlock(&pool->lock);
	return addr;
}

void z3fold_unmap(struct z3fold_pool *pool, unsigned long handle)
{
	zs_lock(&pool->lock);
	handle_to_header(handle)->mapped--;
	zs_unlock(&pool->lock);
}

uint64_t z3fold_get_pool_size(struct z3fold_pool *pool)
{
	return zs_count_read(&pool->pages_nr);
}

const char *z3fold_buddy_name(struct z3fold_pool *pool, unsigned long handle)
{
	static const char *const names[] = { "first", "middle", "last" };
	enum role r;

	zs_lock(&pool->lock);
	r = slot_role(handle_to_header(handle), handle_to_slot(handle));
	zs_unlock(&pool->lock);
	return names[r];
}

void z3fold_set_owner(struct z3fold_pool *pool, void *owner)
{
	pool->owner = owner;
}

void *z3fold_get_owner(struct z3fold_pool *pool)
{
	return pool->owner;
}

/* Validation: every page holds 1..3 objects that lie in the data area
 * without overlapping, at most one of each role, sits on the one list its
 * fill names and once on the LRU, and the counts add up to pages_nr. */

static int broken(char *buf, size_t len, const char *what, const void *page)
{
	snprintf(buf, len, "z3fold: %s (page %p)", what, page);
	return -EUCLEAN;
}

static int check_slots(const struct z3fold_header *zhdr, char *buf, size_t len)
{
	unsigned int roles[3] = { 0, 0, 0 };
	int s, t;

	for (s = 0; s < SLOTS; s++) {
		if (!zhdr->chunks[s])
			continue;
		if (zhdr->start[s] < 1 || zhdr->start[s] + zhdr->chunks[s] > Z3FOLD_TOTAL_CHUNKS)
			return broken(buf, len, "object outside the data chunks", zhdr);
		for (t = s + 1; t < SLOTS; t++)
			if (zhdr->chunks[t] && zhdr->start[s] < zhdr->start[t] + zhdr->chunks[t] &&
			    zhdr->start[t] < zhdr->start[s] + zhdr->chunks[s])
				return broken(buf, len, "objects overlap", zhdr);
		roles[slot_role(zhdr, s)]++;
	}
	if (roles[FIRST] > 1 || roles[MIDDLE] > 1 || roles[LAST] > 1)
		return broken(buf, len, "two objects in one role", zhdr);
	return 0;
}

static int check_page(const struct z3fold_header *zhdr, int list, char *buf, size_t len)
{
	unsigned int n = num_objects(zhdr);
	int ret;

	if (zhdr->under_reclaim)
		return broken(buf, len, "listed page marked under reclaim", zhdr);
	if (zhdr->mapped)
		return broken(buf, len, "page still mapped with no call in flight", zhdr);
	ret = check_slots(zhdr, buf, len);
	if (ret)
		return ret;
	if (n == 0)
		return broken(buf, len, "empty page kept", zhdr);
	if (list < 0)
		return n == SLOTS ? 0 : broken(buf, len, "page on buddied list lacks an object", zhdr);
	if (n == SLOTS)
		return broken(buf, len, "full page on an unbuddied list", zhdr);
	if (num_free_chunks(zhdr) != (unsigned int)list)
		return broken(buf, len, "page on the wrong unbuddied list", zhdr);
	return 0;
}

static int check_lists(struct z3fold_pool *pool, uint64_t *listed, char *buf, size_t len)
{
	struct zs_list *pos;
	int i, ret;

	for (i = -1; i < (int)Z3FOLD_NCHUNKS; i++) {
		struct zs_list *head = i < 0 ? &pool->buddied : &pool->unbuddied[i];

		zs_list_for_each(pos, head) {
			struct z3fold_header *zhdr = zs_container_of(pos, struct z3fold_header,
								     buddy);

			ret = check_page(zhdr, i, buf, len);
			if (ret)
				return ret;
			if (zs_list_empty(&zhdr->lru))
				return broken(buf, len, "listed page missing from the LRU", zhdr);
			if (++*listed > pool->pages_nr)
				return broken(buf, len, "more pages listed than held", NULL);
		}
	}
	return 0;
}

int z3fold_validate(struct z3fold_pool *pool, char *buf, size_t len)
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

/* The zpool glue: route z3fold's evict to the owner's callback. */

static int zpool_evict(struct z3fold_pool *pool, unsigned long handle)
{
	struct zpool *owner = z3fold_get_owner(pool);

	return owner->evict ? owner->evict(owner, handle, owner->evict_arg) : -EINVAL;
}

static void *zp_create(struct zs_pagesrc *src, struct zpool *owner)
{
	struct z3fold_pool *pool = z3fold_create_pool(src, owner->evict ? zpool_evict : NULL);

	if (pool)
		z3fold_set_owner(pool, owner);
	return pool;
}

static void zp_destroy(void *priv) { z3fold_destroy_pool(priv); }
static int zp_alloc(void *priv, size_t size, unsigned long *h) { return z3fold_alloc(priv, size, h); }
static void zp_free(void *priv, unsigned long h) { z3fold_free(priv, h); }
static int zp_reclaim(void *priv, unsigned int retries) { return z3fold_reclaim_page(priv, retries); }
static void *zp_map(void *priv, unsigned long h) { return z3fold_map(priv, h); }
static void zp_unmap(void *priv, unsigned long h) { z3fold_unmap(priv, h); }
static uint64_t zp_total_pages(void *priv) { return z3fold_get_pool_size(priv); }
static int zp_validate(void *priv, char *buf, size_t len) { return z3fold_validate(priv, buf, len); }
static const char *zp_describe(void *priv, unsigned long h) { return z3fold_buddy_name(priv, h); }
static void zp_after_fork_child(void *priv) { zs_lock_reset(&((struct z3fold_pool *)priv)->lock); }

const struct zpool_driver z3fold_zpool_driver = {
	.name = "z3fold",
	.max_size = Z3FOLD_MAX_SIZE,
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
