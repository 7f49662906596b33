/*
 * zbud.h - zbud, the "buddy" allocator for compressed pages that Linux merged
 * in 3.11 (mm/zbud.c), rebuilt in user space.  Design notes in zbud.c.
 */
#ifndef ZS_ZBUD_H
#define ZS_ZBUD_H

#include <stddef.h>
#include <stdint.h>

#include "zpool.h"

#define ZBUD_NCHUNKS_ORDER 6
#define ZBUD_CHUNK_SHIFT (ZS_PAGE_SHIFT - ZBUD_NCHUNKS_ORDER)
#define ZBUD_CHUNK_SIZE (1UL << ZBUD_CHUNK_SHIFT)
#define ZBUD_HDR_SIZE ZBUD_CHUNK_SIZE
/* Chunks left for data once the header has chunk 0. */
#define ZBUD_NCHUNKS ((ZS_PAGE_SIZE - ZBUD_HDR_SIZE) >> ZBUD_CHUNK_SHIFT)
/* Largest object: one chunk less than the data chunks, so a LAST object
 * never starts right after the header where FIRST does, and a handle's
 * offset tells which buddy it is. */
#define ZBUD_MAX_SIZE (ZS_PAGE_SIZE - ZBUD_HDR_SIZE - ZBUD_CHUNK_SIZE)

struct zbud_pool;

struct zbud_ops {
	/* 0 when the object was written out and freed with zbud_free(). */
	int (*evict)(struct zbud_pool *pool, unsigned long handle);
};

/* A pool drawing its pages from `src`; `ops` may be NULL (no reclaim).
 * NULL when out of memory. */
struct zbud_pool *zbud_create_pool(struct zs_pagesrc *src, const struct zbud_ops *ops);
/* Frees every page still held; the caller must have no allocation in use. */
void zbud_destroy_pool(struct zbud_pool *pool);

/* Store `size` bytes: 0 and *handle; -EINVAL for size 0; -ENOSPC above
 * ZBUD_MAX_SIZE; -ENOMEM when no page can be had.  Thread-safe. */
int zbud_alloc(struct zbud_pool *pool, size_t size, unsigned long *handle);
/* Free an object.  Thread-safe and async-signal-safe (zs_lock, see common.h). */
void zbud_free(struct zbud_pool *pool, unsigned long handle);
/* Evict the objects of the least recently allocated-into page:
 * 0 when a page was freed; -EINVAL without an evict callback, with an empty
 * pool or with retries 0; -EAGAIN when `retries` pages stayed in use. */
int zbud_reclaim_page(struct zbud_pool *pool, unsigned int retries);
/* The object's address: valid until it is freed.  Async-signal-safe, lock-free. */
void *zbud_map(struct zbud_pool *pool, unsigned long handle);
void zbud_unmap(struct zbud_pool *pool, unsigned long handle);
/* Pages held by the pool (lock-free read). */
uint64_t zbud_get_pool_size(struct zbud_pool *pool);
/* "first" or "last": which buddy the handle is. */
const char *zbud_buddy_name(unsigned long handle);
/* Walk every list and check every count: 0, or -EUCLEAN with the first broken
 * invariant described in buf. */
int zbud_validate(struct zbud_pool *pool, char *buf, size_t len);
/* The owner set by the zpool glue (for its evict callback). */
void zbud_set_owner(struct zbud_pool *pool, void *owner);
void *zbud_get_owner(struct zbud_pool *pool);

extern const struct zpool_driver zbud_zpool_driver;

#endif
