/*
 * zsmalloc.c - zsmalloc in user space: objects in size classes, carved from
 * zspages of one to four pages, behind indirect handles so they can move.
 *
 * Size classes.  An object of `size` bytes needs a slot of size + 8 (the
 * handle is kept in front of the object, as Linux keeps it in the object's
 * first word); slots come in classes 16 bytes apart, from 32 bytes up to
 * 4032 (251 classes).  Each class has its own zspages: N pages, 1 <= N <= 4,
 * N chosen once per class to waste the least room per page, so slots cross
 * page boundaries.  A zspage here is simply N pages at consecutive
 * addresses (zs_pages_alloc), so map() returns a plain pointer; Linux chains
 * scattered pages and copies a straddling object into a per-CPU buffer
 * instead.  Classes whose slots gain nothing from several pages end up with
 * one-page zspages of one slot: an object above 2008 bytes that no class
 * packs better takes a whole page of its own.
 *
 * The rule exactly, for a slot of S bytes: for N = 1 .. 4, waste(N) =
 * N * 4096 - 64 - floor((N * 4096 - 64) / S) * S; the class takes the N of
 * least waste(N) / N, the fewest pages on a tie.  Classes of equal geometry
 * are not merged (Linux merges them into the larger): each keeps its own
 * zspages, so two sizes Linux would pack together never share one here.
 *
 * Placement: alloc takes the head of its class's partial list, or a new
 * zspage (rule 1 below); within a zspage, the most recently freed slot (a
 * new zspage hands out its slots lowest first).  A zspage goes back to the
 * head of its list (partial or full) whenever an alloc, a free, a trim or a
 * compaction move into it changes its count, and when a reclaim leaves it
 * in use.
 *
 * Zspage layout (the header is the first 64 bytes; slot size S):
 *
 *   page 0                page 1                    page N-1
 *   +------+--------+--------+--------+-- ... --+--------+------+
 *   |header| slot 0 | slot 1 | slot 2 |         | slot k |waste |
 *   +------+--------+--------+--------+-- ... --+--------+------+
 *   a slot in use: [ (handle << 1) | 1 ][ object ... ]
 *   a free slot:   [ next free slot << 1 ]       (a list from free_head)
 *
 * Handles.  A handle is an index into one table (reserved whole, costing
 * memory only as it is used), whose entry is the zspage address plus the
 * slot number (below 4096, the zspage being page aligned); free entries
 * are chained.  Moving an object rewrites its entry, so handles stay valid.
 *
 * Pool state, all under pool->lock (one lock: density, below, is a whole
 * pool property and compaction may act on any class):
 *   class->partial  zspages of the class with a free slot; alloc takes the
 *                   head, or makes a new zspage
 *   class->full     zspages with every slot in use
 *   lru             every zspage not under reclaim, most recently
 *                   allocated-into at the head; reclaim takes the tail
 *   objects, pages_nr  counts for the density rule
 *
 * Density never below 1: between calls (no map outstanding, no reclaim in
 * flight), whenever the pool holds pages, objects >= pages_nr.  Three rules
 * keep it:
 *   1. a new zspage takes at most objects - pages_nr + 1 pages (fewer than
 *      its class's choice while the pool has no surplus), and any zspage's
 *      first object pays for its first page;
 *   2. after a free (or an unmap, or a reclaim) leaves objects < pages_nr,
 *      every class is compacted: objects move from the emptiest zspages of
 *      the class into the fullest, and emptied zspages are freed;
 *   3. if that is not enough, zspages holding fewer objects than pages are
 *      trimmed: their objects move to the lowest slots and the pages past
 *      the last one go back.  A slot is at most 4032 bytes, so after a trim
 *      a zspage of k objects has at most k pages, and the sum holds.
 * An empty zspage is freed at once.
 *
 * Maps and moves.  map() pins the zspage (pins counts maps outstanding) and
 * compaction and trimming pass pinned zspages by; unmap() unpins and, if the
 * rule was left waiting for it, restores density.  map does not keep the
 * lock until unmap: the engine decompresses into its caller's page between
 * the two, and a page of the caller must never be written under one of our
 * locks (a fault there must be able to load).
 *
 * Reclaim protocol, as zbud's and as zsmalloc's zs_reclaim_page in Linux
 * 6.2 to 6.4: reclaim unlinks the LRU tail zspage, marks it under_reclaim
 * and, without the lock, evicts its objects in slot order, stopping at the
 * first failure.  A free meanwhile only frees the slot; the zspage stays
 * reclaim's to free (empty) or re-file at the LRU head.  The freed object's
 * handle is kept (still naming its slot) until the reclaim ends, chained
 * from z->deferred through the slot's second word: reclaim may already
 * have read that handle and be about to pass it to evict, which maps it.
 * Released at once, the handle could name another object by then, or a
 * free table entry that map would take for a zspage (zbud and z3fold have
 * no such window: their handles are addresses in the page under reclaim).
 *
 * Signal safety: map, unmap and free take only pool->lock (a zs_lock) and
 * the page source's; the moves they may make copy memory of ours.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "list.h"
#include "pagesrc.h"
#include "zsmalloc.h"

#define SLOT_NONE 0xffffu                 /* end of a free-slot list */
#define SLOT_MASK (ZS_PAGE_SIZE - 1)      /* slot bits of a handle entry */
#define HANDLE_FREE SLOT_MASK             /* the slot of a free entry */

_Static_assert(ZSMALLOC_NR_CLASSES == 251, "classes 32 .. 4032 bytes, 16 apart");
_Static_assert((ZSMALLOC_MAX_PAGES * ZS_PAGE_SIZE - ZSMALLOC_HDR_SIZE) / ZSMALLOC_MIN_SLOT
	       < HANDLE_FREE, "slot numbers fit a handle entry");

struct zspage {
	struct zs_list list;      /* class->partial or class->full */
	struct zs_list lru;
	uint16_t class_idx;
	uint16_t npages;
	uint16_t capacity;        /* slots */
	uint16_t inuse;
	uint16_t free_head;       /* first free slot, or SLOT_NONE */
	uint16_t pins;            /* maps outstanding: nothing moves */
	uint16_t deferred;        /* under reclaim: slots freed, handles kept */
	bool under_reclaim;
};
_Static_assert(sizeof(struct zspage) <= ZSMALLOC_HDR_SIZE, "the header fits");
_Static_assert(ZSMALLOC_MIN_SLOT >= 2 * sizeof(unsigned long) &&
	       ZSMALLOC_MAX_HANDLES <= (~0UL >> 16), "a freed slot holds a deferred handle link");

struct size_class {
	struct zs_list partial;
	struct zs_list full;
	unsigned int size;        /* slot bytes */
	unsigned int pages;       /* pages of its zspages, by choice */
	char name[16];            /* "class-SIZE" */
};

struct zsmalloc_pool {
	struct zs_lock lock;
	struct size_class classes[ZSMALLOC_NR_CLASSES];
	struct zs_list lru;
	unsigned long *handles;   /* ZSMALLOC_MAX_HANDLES entries */
	unsigned long handles_used; /* entries ever handed out, 0 never */
	unsigned long free_handle;  /* chain of free entries, 0: none */
	uint64_t pages_nr;        /* also read without the lock */
	int64_t objects;
	uint64_t reclaiming;      /* zspages off every list, under reclaim */
	uint64_t reclaiming_pages;
	uint64_t pins;            /* maps outstanding, in all */
	struct zs_pagesrc *src;
	zsmalloc_evict_fn evict;
	void *owner;
};

/* Geometry. */

static unsigned int class_index(size_t size)
{
	size_t slot = size + ZSMALLOC_OBJ_HDR;

	if (slot <= ZSMALLOC_MIN_SLOT)
		return 0;
	return (unsigned int)((slot - ZSMALLOC_MIN_SLOT + ZSMALLOC_CLASS_DELTA - 1) /
			      ZSMALLOC_CLASS_DELTA);
}

static unsigned int capacity_of(const struct size_class *c, unsigned int npages)
{
	return (unsigned int)((npages * ZS_PAGE_SIZE - ZSMALLOC_HDR_SIZE) / c->size);
}

/* Pages needed for `inuse` objects packed from slot 0. */
static unsigned int pages_needed(const struct size_class *c, unsigned int inuse)
{
	return (unsigned int)((ZSMALLOC_HDR_SIZE + (unsigned long)inuse * c->size +
			       ZS_PAGE_SIZE - 1) >> ZS_PAGE_SHIFT);
}

/* Zspage pages for the class: the least waste per page, fewest on a tie. */
static void class_init(struct size_class *c, unsigned int idx)
{
	unsigned long waste, best_waste = ~0UL;
	unsigned int n;

	c->size = ZSMALLOC_MIN_SLOT + idx * ZSMALLOC_CLASS_DELTA;
	for (n = 1; n <= ZSMALLOC_MAX_PAGES; n++) {
		waste = n * ZS_PAGE_SIZE - ZSMALLOC_HDR_SIZE - capacity_of(c, n) * c->size;
		/* waste / n < best_waste / pages, without division */
		if (best_waste == ~0UL || waste * c->pages < best_waste * n) {
			best_waste = waste;
			c->pages = n;
		}
	}
	zs_list_init(&c->partial);
	zs_list_init(&c->full);
	snprintf(c->name, sizeof(c->name), "class-%u", c->size);
}

static unsigned long *slot_word(struct zspage *z, const struct size_class *c, unsigned int i)
{
	return (unsigned long *)((char *)z + ZSMALLOC_HDR_SIZE + (unsigned long)i * c->size);
}

static bool slot_used(struct zspage *z, const struct size_class *c, unsigned int i)
{
	return *slot_word(z, c, i) & 1;
}

static struct zspage *entry_zspage(unsigned long entry)
{
	return (struct zspage *)(entry & ZS_PAGE_MASK);
}

static struct size_class *class_of(struct zsmalloc_pool *pool, const struct zspage *z)
{
	return &pool->classes[z->class_idx];
}

/* The handle table. */

static unsigned long handle_get(struct zsmalloc_pool *pool)
{
	unsigned long h = pool->free_handle;

	if (h)
		pool->free_handle = pool->handles[h] >> ZS_PAGE_SHIFT;
	else if (pool->handles_used < ZSMALLOC_MAX_HANDLES)
		h = pool->handles_used++;
	return h;
}

static void handle_put(struct zsmalloc_pool *pool, unsigned long h)
{
	pool->handles[h] = pool->free_handle << ZS_PAGE_SHIFT | HANDLE_FREE;
	pool->free_handle = h;
}

/* Slots. */

static void file_zspage(struct zspage *z, struct size_class *c)
{
	zs_list_del(&z->list);
	zs_list_add(&z->list, z->inuse == z->capacity ? &c->full : &c->partial);
}

static unsigned int take_slot(struct zsmalloc_pool *pool, struct zspage *z, unsigned long h)
{
	struct size_class *c = class_of(pool, z);
	unsigned int i = z->free_head;
	unsigned long *w = slot_word(z, c, i);

	z->free_head = (uint16_t)(*w >> 1);
	*w = h << 1 | 1;
	z->inuse++;
	pool->handles[h] = (unsigned long)z | i;
	return i;
}

static void put_slot(struct zsmalloc_pool *pool, struct zspage *z, unsigned int i)
{
	*slot_word(z, class_of(pool, z), i) = (unsigned long)z->free_head << 1;
	z->free_head = (uint16_t)i;
	z->inuse--;
}

/* Chain the slots from `from` up as free, lowest first. */
static void chain_free(struct zspage *z, const struct size_class *c, unsigned int from)
{
	unsigned int i;

	z->free_head = SLOT_NONE;
	for (i = z->capacity; i-- > from;) {
		*slot_word(z, c, i) = (unsigned long)z->free_head << 1;
		z->free_head = (uint16_t)i;
	}
}

/* Zspages. */

/* A new zspage for the class, on its partial list: rule 1 caps its pages
 * at the pool's surplus of objects over pages, plus one. */
static struct zspage *new_zspage(struct zsmalloc_pool *pool, unsigned int idx)
{
	struct size_class *c = &pool->classes[idx];
	int64_t surplus = pool->objects - (int64_t)pool->pages_nr;
	unsigned int n = c->pages;
	struct zspage *z;

	if (surplus + 1 < (int64_t)n)
		n = surplus < 0 ? 1 : (unsigned int)surplus + 1;
	z = zs_pages_alloc(pool->src, n);
	if (!z && n > 1)
		z = zs_pages_alloc(pool->src, n = 1);
	if (!z)
		return NULL;
	memset(z, 0, sizeof(*z));
	zs_list_init(&z->list);
	zs_list_init(&z->lru);
	z->class_idx = (uint16_t)idx;
	z->npages = (uint16_t)n;
	z->capacity = (uint16_t)capacity_of(c, n);
	chain_free(z, c, 0);
	zs_count_add(&pool->pages_nr, n);
	zs_list_add(&z->list, &c->partial);
	return z;
}

/* Unlink an empty zspage and give its pages back (under the lock: the
 * page source's lock comes after ours). */
static void free_zspage(struct zsmalloc_pool *pool, struct zspage *z)
{
	unsigned int k, n = z->npages;

	zs_list_del(&z->list);
	zs_list_del(&z->lru);
	zs_count_sub(&pool->pages_nr, n);
	for (k = n; k-- > 0;)
		zs_page_free(pool->src, (char *)z + ((unsigned long)k << ZS_PAGE_SHIFT));
}

/* Move the object in slot i of src to a free slot of dst (same class). */
static void move_object(struct zsmalloc_pool *pool, struct zspage *src, unsigned int i,
			struct zspage *dst)
{
	struct size_class *c = class_of(pool, src);
	unsigned long *from = slot_word(src, c, i), h = *from >> 1;
	unsigned int j = dst->free_head;
	unsigned long *to = slot_word(dst, c, j);

	dst->free_head = (uint16_t)(*to >> 1);
	memcpy(to, from, c->size);
	dst->inuse++;
	pool->handles[h] = (unsigned long)dst | j;
	put_slot(pool, src, i);
}

/* The emptiest unpinned partial zspage and the fullest other one. */
static bool compact_pair(struct size_class *c, struct zspage **src, struct zspage **dst)
{
	struct zs_list *pos;

	*src = *dst = NULL;
	zs_list_for_each(pos, &c->partial) {
		struct zspage *z = zs_container_of(pos, struct zspage, list);

		if (!z->pins && (!*src || z->inuse < (*src)->inuse))
			*src = z;
	}
	zs_list_for_each(pos, &c->partial) {
		struct zspage *z = zs_container_of(pos, struct zspage, list);

		if (z != *src && (!*dst || z->inuse > (*dst)->inuse))
			*dst = z;
	}
	return *src && *dst;
}

/* Rule 2: empty the class's emptiest zspages into its fullest until no two
 * partial zspages are left to pair.  Returns the pages freed. */
static uint64_t compact_class(struct zsmalloc_pool *pool, struct size_class *c)
{
	struct zspage *src, *dst;
	uint64_t freed = 0;
	unsigned int i;

	while (compact_pair(c, &src, &dst)) {
		for (i = 0; src->inuse && dst->inuse < dst->capacity; i++)
			if (slot_used(src, c, i))
				move_object(pool, src, i, dst);
		file_zspage(dst, c);
		if (!src->inuse) {
			freed += src->npages;
			free_zspage(pool, src);
		}
	}
	return freed;
}

/* Rule 3: pack the objects into the lowest slots and free the pages past
 * them. */
static void trim_zspage(struct zsmalloc_pool *pool, struct zspage *z, struct size_class *c)
{
	unsigned int lo = 0, hi = z->capacity - 1, keep = pages_needed(c, z->inuse), k;

	for (;;) {
		while (lo < hi && slot_used(z, c, lo))
			lo++;
		while (hi > lo && !slot_used(z, c, hi))
			hi--;
		if (lo >= hi)
			break;
		memcpy(slot_word(z, c, lo), slot_word(z, c, hi), c->size);
		pool->handles[*slot_word(z, c, lo) >> 1] = (unsigned long)z | lo;
		*slot_word(z, c, hi) = 0;
	}
	for (k = z->npages; k-- > keep;)
		zs_page_free(pool->src, (char *)z + ((unsigned long)k << ZS_PAGE_SHIFT));
	zs_count_sub(&pool->pages_nr, z->npages - keep);
	z->npages = (uint16_t)keep;
	z->capacity = (uint16_t)capacity_of(c, keep);
	chain_free(z, c, z->inuse);
	file_zspage(z, c);
}

static void trim_class(struct zsmalloc_pool *pool, struct size_class *c)
{
	struct zs_list *pos, *next;

	for (pos = c->partial.next; pos != &c->partial; pos = next) {
		struct zspage *z = zs_container_of(pos, struct zspage, list);

		next = pos->next;
		if (!z->pins && pages_needed(c, z->inuse) < z->npages)
			trim_zspage(pool, z, c);
	}
}

static bool density_ok(const struct zsmalloc_pool *pool)
{
	return pool->objects >= (int64_t)pool->pages_nr;
}

/* Rules 2 and 3, as far as pins allow. */
static void restore_density(struct zsmalloc_pool *pool)
{
	unsigned int i;

	for (i = 0; i < ZSMALLOC_NR_CLASSES && !density_ok(pool); i++)
		compact_class(pool, &pool->classes[i]);
	for (i = 0; i < ZSMALLOC_NR_CLASSES && !density_ok(pool); i++)
		trim_class(pool, &pool->classes[i]);
}

/* The pool. */

struct zsmalloc_pool *zsmalloc_create_pool(struct zs_pagesrc *src, zsmalloc_evict_fn evict)
{
	struct zsmalloc_pool *pool = zs_map_anon(sizeof(*pool));
	unsigned int i;

	if (!pool)
		return NULL;
	pool->handles = zs_map_anon(ZSMALLOC_MAX_HANDLES * sizeof(unsigned long));
	if (!pool->handles) {
		zs_unmap(pool, sizeof(*pool));
		return NULL;
	}
	pthread_mutex_init(&pool->lock.mutex, NULL);
	for (i = 0; i < ZSMALLOC_NR_CLASSES; i++)
		class_init(&pool->classes[i], i);
	zs_list_init(&pool->lru);
	pool->handles_used = 1;
	pool->src = src;
	pool->evict = evict;
	return pool;
}

void zsmalloc_destroy_pool(struct zsmalloc_pool *pool)
{
	if (!pool)
		return;
	while (!zs_list_empty(&pool->lru))
		free_zspage(pool, zs_container_of(pool->lru.next, struct zspage, lru));
	pthread_mutex_destroy(&pool->lock.mutex);
	zs_unmap(pool->handles, ZSMALLOC_MAX_HANDLES * sizeof(unsigned long));
	zs_unmap(pool, sizeof(*pool));
}

int zsmalloc_alloc(struct zsmalloc_pool *pool, size_t size, unsigned long *handle)
{
	unsigned int idx;
	struct size_class *c;
	struct zspage *z;
	unsigned long h;

	if (size == 0)
		return -EINVAL;
	if (size > ZSMALLOC_MAX_SIZE)
		return -ENOSPC;
	idx = class_index(size);
	c = &pool->classes[idx];

	zs_lock(&pool->lock);
	h = handle_get(pool);
	z = zs_list_empty(&c->partial) ? NULL :
		zs_container_of(c->partial.next, struct zspage, list);
	if (h && !z)
		z = new_zspage(pool, idx);
	if (!h || !z) {
		if (h)
			handle_put(pool, h);
		zs_unlock(&pool->lock);
		return -ENOMEM;
	}
	take_slot(pool, z, h);
	pool->objects++;
	file_zspage(z, c);
	zs_list_del(&z->lru);
	zs_list_add(&z->lru, &pool->lru);
	*handle = h;
	zs_unlock(&pool->lock);
	return 0;
}

void zsmalloc_free(struct zsmalloc_pool *pool, unsigned long handle)
{
	struct zspage *z;
	unsigned int i;

	zs_lock(&pool->lock);
	z = entry_zspage(pool->handles[handle]);
	i = pool->handles[handle] & SLOT_MASK;
	put_slot(pool, z, i);
	pool->objects--;
	if (z->under_reclaim) {
		slot_word(z, class_of(pool, z), i)[1] = handle << 16 | z->deferred;
		z->deferred = (uint16_t)i;
	} else {
		handle_put(pool, handle);
		if (!z->inuse)
			free_zspage(pool, z);
		else
			file_zspage(z, class_of(pool, z));
		restore_density(pool);
	}
	zs_unlock(&pool->lock);
}

/* The handle of the first object at slot *i or above, *i moved past it;
 * 0 when there is none. */
static unsigned long next_object(struct zsmalloc_pool *pool, struct zspage *z, unsigned int *i)
{
	struct size_class *c = class_of(pool, z);

	for (; *i < z->capacity; (*i)++)
		if (slot_used(z, c, *i))
			return *slot_word(z, c, (*i)++) >> 1;
	return 0;
}

/* Take the LRU tail off every list for reclaim; NULL when the LRU is empty. */
static struct zspage *take_lru_tail(struct zsmalloc_pool *pool)
{
	struct zspage *z;

	if (zs_list_empty(&pool->lru))
		return NULL;
	z = zs_container_of(pool->lru.prev, struct zspage, lru);
	zs_list_del(&z->lru);
	zs_list_del(&z->list);
	z->under_reclaim = true;
	z->deferred = SLOT_NONE;
	pool->reclaiming++;
	pool->reclaiming_pages += z->npages;
	return z;
}

/* Give back the handles of the objects freed during the reclaim. */
static void release_deferred(struct zsmalloc_pool *pool, struct zspage *z)
{
	struct size_class *c = class_of(pool, z);
	unsigned int i = z->deferred;

	while (i != SLOT_NONE) {
		unsigned long link = slot_word(z, c, i)[1];

		handle_put(pool, link >> 16);
		i = (unsigned int)(link & SLOT_NONE);
	}
	z->deferred = SLOT_NONE;
}

/* After the evictions: free the zspage if they emptied it (true), else
 * re-file it as the most recently used.  Either way the frees made during
 * the evictions may have left density below 1: restore it. */
static bool finish_reclaim(struct zsmalloc_pool *pool, struct zspage *z)
{
	bool emptied = !z->inuse;

	release_deferred(pool, z);
	z->under_reclaim = false;
	pool->reclaiming--;
	pool->reclaiming_pages -= z->npages;
	if (emptied) {
		free_zspage(pool, z);
	} else {
		file_zspage(z, class_of(pool, z));
		zs_list_add(&z->lru, &pool->lru);
	}
	restore_density(pool);
	return emptied;
}

int zsmalloc_reclaim_page(struct zsmalloc_pool *pool, unsigned int retries)
{
	unsigned int t, i;
	unsigned long h;
	int ret = -EAGAIN;

	zs_lock(&pool->lock);
	if (!pool->evict || zs_list_empty(&pool->lru) || retries == 0) {
		zs_unlock(&pool->lock);
		return -EINVAL;
	}
	for (t = 0; t < retries; t++) {
		struct zspage *z = take_lru_tail(pool);

		if (!z)
			break;
		for (i = 0; (h = next_object(pool, z, &i));) {
			int failed;

			zs_unlock(&pool->lock);
			failed = pool->evict(pool, h);
			zs_lock(&pool->lock);
			if (failed)
				break;
		}
		if (finish_reclaim(pool, z)) {
			ret = 0;
			break;
		}
	}
	zs_unlock(&pool->lock);
	return ret;
}

void *zsmalloc_map(struct zsmalloc_pool *pool, unsigned long handle)
{
	unsigned long entry;
	struct zspage *z;
	void *addr;

	zs_lock(&pool->lock);
	entry = pool->handles[handle];
	z = entry_zspage(entry);
	z->pins++;
	pool->pins++;
	addr = slot_word(z, class_of(pool, z), entry & SLOT_MASK) + 1;
	zs_unlock(&pool->lock);
	return addr;
}

void zsmalloc_unmap(struct zsmalloc_pool *pool, unsigned long handle)
{
	struct zspage *z;

	zs_lock(&pool->lock);
	z = entry_zspage(pool->handles[handle]);
	z->pins--;
	pool->pins--;
	if (!z->pins && !density_ok(pool))
		restore_density(pool);
	zs_unlock(&pool->lock);
}

uint64_t zsmalloc_compact(struct zsmalloc_pool *pool)
{
	uint64_t freed = 0;
	unsigned int i;

	zs_lock(&pool->lock);
	for (i = 0; i < ZSMALLOC_NR_CLASSES; i++)
		freed += compact_class(pool, &pool->classes[i]);
	zs_unlock(&pool->lock);
	return freed;
}

uint64_t zsmalloc_get_pool_size(struct zsmalloc_pool *pool)
{
	return zs_count_read(&pool->pages_nr);
}

const char *zsmalloc_class_name(struct zsmalloc_pool *pool, unsigned long handle)
{
	const char *name;

	zs_lock(&pool->lock);
	name = class_of(pool, entry_zspage(pool->handles[handle]))->name;
	zs_unlock(&pool->lock);
	return name;
}

void zsmalloc_set_owner(struct zsmalloc_pool *pool, void *owner)
{
	pool->owner = owner;
}

void *zsmalloc_get_owner(struct zsmalloc_pool *pool)
{
	return pool->owner;
}

/* Validation: every listed zspage belongs to its class, has the geometry
 * of its page count, holds 1 .. capacity objects (all of them exactly when
 * on the full list), a free list of exactly its free slots, and is on the
 * LRU; every object's handle entry names its slot back; the counts add up;
 * and between calls density is at least 1. */

static int broken(char *buf, size_t len, const char *what, const void *zspage)
{
	snprintf(buf, len, "zsmalloc: %s (zspage %p)", what, zspage);
	return -EUCLEAN;
}

static int check_slots(struct zsmalloc_pool *pool, struct zspage *z, char *buf, size_t len)
{
	struct size_class *c = class_of(pool, z);
	unsigned int i, used = 0, nfree = 0, free_slots = (unsigned int)(z->capacity - z->inuse);

	for (i = 0; i < z->capacity; i++) {
		unsigned long w = *slot_word(z, c, i), h = w >> 1;

		if (!(w & 1))
			continue;
		used++;
		if (h == 0 || h >= pool->handles_used)
			return broken(buf, len, "slot holds no valid handle", z);
		if (pool->handles[h] != ((unsigned long)z | i))
			return broken(buf, len, "handle entry does not name its slot", z);
	}
	if (used != z->inuse)
		return broken(buf, len, "objects in slots disagree with inuse", z);
	for (i = z->free_head; i != SLOT_NONE; i = (unsigned int)(*slot_word(z, c, i) >> 1)) {
		if (i >= z->capacity || slot_used(z, c, i))
			return broken(buf, len, "free list names a slot out of range or in use", z);
		if (++nfree > free_slots)
			return broken(buf, len, "free list longer than the free slots", z);
	}
	if (nfree != free_slots)
		return broken(buf, len, "free list misses free slots", z);
	return 0;
}

static int check_zspage(struct zsmalloc_pool *pool, struct zspage *z, unsigned int idx,
			bool full, char *buf, size_t len)
{
	struct size_class *c = &pool->classes[idx];

	if (z->class_idx != idx)
		return broken(buf, len, "zspage on another class's list", z);
	if (z->under_reclaim || z->pins)
		return broken(buf, len, "listed zspage under reclaim or mapped", z);
	if (z->npages < 1 || z->npages > ZSMALLOC_MAX_PAGES ||
	    z->capacity != capacity_of(c, z->npages))
		return broken(buf, len, "zspage geometry wrong", z);
	if (ZSMALLOC_HDR_SIZE + (unsigned long)z->capacity * c->size >
	    (unsigned long)z->npages * ZS_PAGE_SIZE)
		return broken(buf, len, "slots overrun the zspage", z);
	if (z->inuse == 0 || z->inuse > z->capacity)
		return broken(buf, len, "zspage empty or over capacity", z);
	if (full != (z->inuse == z->capacity))
		return broken(buf, len, "zspage on the wrong fullness list", z);
	if (zs_list_empty(&z->lru))
		return broken(buf, len, "listed zspage missing from the LRU", z);
	return check_slots(pool, z, buf, len);
}

struct tally {
	uint64_t zspages, pages, objects;
};

static int check_classes(struct zsmalloc_pool *pool, struct tally *t, char *buf, size_t len)
{
	unsigned int idx, full;
	struct zs_list *pos;
	int ret;

	for (idx = 0; idx < ZSMALLOC_NR_CLASSES; idx++) {
		for (full = 0; full < 2; full++) {
			struct size_class *c = &pool->classes[idx];

			zs_list_for_each(pos, full ? &c->full : &c->partial) {
				struct zspage *z = zs_container_of(pos, struct zspage, list);

				ret = check_zspage(pool, z, idx, full, buf, len);
				if (ret)
					return ret;
				if (++t->zspages > pool->pages_nr)
					return broken(buf, len, "more zspages than pages", NULL);
				t->pages += z->npages;
				t->objects += z->inuse;
			}
		}
	}
	return 0;
}

/* The handle table: live entries are the objects, the rest is chained. */
static int check_handles(struct zsmalloc_pool *pool, char *buf, size_t len)
{
	unsigned long h, nfree = 0;

	for (h = pool->free_handle; h; h = pool->handles[h] >> ZS_PAGE_SHIFT) {
		if (h >= pool->handles_used || (pool->handles[h] & SLOT_MASK) != HANDLE_FREE)
			return broken(buf, len, "handle free list names a live entry", NULL);
		if (++nfree > pool->handles_used)
			return broken(buf, len, "handle free list loops", NULL);
	}
	if (pool->handles_used - 1 - nfree != (uint64_t)pool->objects)
		return broken(buf, len, "live handles disagree with the object count", NULL);
	return 0;
}

int zsmalloc_validate(struct zsmalloc_pool *pool, char *buf, size_t len)
{
	struct tally t = { 0, 0, 0 };
	uint64_t on_lru = 0;
	struct zs_list *pos;
	int ret;

	zs_lock(&pool->lock);
	ret = check_classes(pool, &t, buf, len);
	zs_list_for_each(pos, &pool->lru)
		if (++on_lru > pool->pages_nr)
			break;
	if (!ret && on_lru != t.zspages)
		ret = broken(buf, len, "LRU and class lists disagree", NULL);
	if (!ret && t.pages + pool->reclaiming_pages != pool->pages_nr)
		ret = broken(buf, len, "page count disagrees with the zspages", NULL);
	if (!ret && !pool->reclaiming && t.objects != (uint64_t)pool->objects)
		ret = broken(buf, len, "object count disagrees with the zspages", NULL);
	if (!ret && !pool->reclaiming)
		ret = check_handles(pool, buf, len);
	if (!ret && !pool->reclaiming && !pool->pins && !density_ok(pool))
		ret = broken(buf, len, "density below 1: more pages than objects", NULL);
	zs_unlock(&pool->lock);
	return ret;
}

/* The zpool glue: route zsmalloc's evict to the owner's callback. */

static int zpool_evict(struct zsmalloc_pool *pool, unsigned long handle)
{
	struct zpool *owner = zsmalloc_get_owner(pool);

	return owner->evict ? owner->evict(owner, handle, owner->evict_arg) : -EINVAL;
}

static void *zp_create(struct zs_pagesrc *src, struct zpool *owner)
{
	struct zsmalloc_pool *pool = zsmalloc_create_pool(src, owner->evict ? zpool_evict : NULL);

	if (pool)
		zsmalloc_set_owner(pool, owner);
	return pool;
}

static void zp_destroy(void *priv) { zsmalloc_destroy_pool(priv); }
static int zp_alloc(void *priv, size_t size, unsigned long *h) { return zsmalloc_alloc(priv, size, h); }
static void zp_free(void *priv, unsigned long h) { zsmalloc_free(priv, h); }
static int zp_reclaim(void *priv, unsigned int retries) { return zsmalloc_reclaim_page(priv, retries); }
static void *zp_map(void *priv, unsigned long h) { return zsmalloc_map(priv, h); }
static void zp_unmap(void *priv, unsigned long h) { zsmalloc_unmap(priv, h); }
static uint64_t zp_total_pages(void *priv) { return zsmalloc_get_pool_size(priv); }
static int zp_validate(void *priv, char *buf, size_t len) { return zsmalloc_validate(priv, buf, len); }
static const char *zp_describe(void *priv, unsigned long h) { return zsmalloc_class_name(priv, h); }
static void zp_after_fork_child(void *priv) { zs_lock_reset(&((struct zsmalloc_pool *)priv)->lock); }

const struct zpool_driver zsmalloc_zpool_driver = {
	.name = "zsmalloc",
	.max_size = ZSMALLOC_MAX_SIZE,
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
