/*
 * z3fold.h - z3fold, Linux's three-objects-per-page allocator for compressed
 * pages (mm/z3fold.c, 4.8 to 6.14), rebuilt in user space on zbud's
 * geometry.  Design notes in z3fold.c.
 */
#ifndef ZS_Z3FOLD_H
#define ZS_Z3FOLD_H

#include <stddef.h>
#include <stdint.h>

#include "zpool.h"

#define Z3FOLD_NCHUNKS_ORDER 6
#define Z3FOLD_CHUNK_SHIFT (ZS_PAGE_SHIFT - Z3FOLD_NCHUNKS_ORDER)
#define Z3FOLD_CHUNK_SIZE (1UL << Z3FOLD_CHUNK_SHIFT)
#define Z3FOLD_HDR_SIZE Z3FOLD_CHUNK_SIZE
#define Z3FOLD_TOTAL_CHUNKS (ZS_PAGE_SIZE >> Z3FOLD_CHUNK_SHIFT)
/* Chunks left for data once the header has chunk 0. */
#define Z3FOLD_NCHUNKS (Z3FOLD_TOTAL_CHUNKS - 1)
/* Largest object: every data chunk (no headless pages, see z3fold.c). */
#define Z3FOLD_MAX_SIZE (ZS_PAGE_SIZE - Z3FOLD_HDR_SIZE)

struct z3fold_pool;

/* The evict callback: 0 when the object was written out and freed. */
typedef int (*z3fold_evict_fn)(struct z3fold_pool *pool, unsigned long handle);

/* A pool drawing its pages from `src`; `evict` may be NULL (no reclaim).
 * NULL when out of memory. */
struct z3fold_pool *z3fold_create_pool(struct zs_pagesrc *src, z3fold_evict_fn evict);
/* Frees every page still held; the caller must have no allocation in use. */
void z3fold_destroy_pool(struct z3fold_pool *pool);

/* Store `size` bytes: 0 and *handle; -EINVAL for size 0; -ENOSPC above
 * Z3FOLD_MAX_SIZE; -ENOMEM when no page can be had.  Thread-safe. */
int z3fold_alloc(struct z3fold_pool *pool, size_t size, unsigned long *handle);
/* Free an object.  Thread-safe and async-signal-safe (zs_lock). */
void z3fold_free(struct z3fold_pool *pool, unsigned long handle);
/* Evict the objects of the least recently allocated-into page: 0 when a
 * page was freed; -EINVAL without an evict callback, with an empty pool or
 * with retries 0; -EAGAIN when `retries` pages stayed in use. */
int z3fold_reclaim_page(struct z3fold_pool *pool, unsigned int retries);
/* The object's address, pinned in place until z3fold_unmap().
 * Async-signal-safe (zs_lock). */
void *z3fold_map(struct z3fold_pool *pool, unsigned long handle);
void z3fold_unmap(struct z3fold_pool *pool, unsigned long handle);
/* Pages held by the pool (lock-free read). */
uint64_t z3fold_get_pool_size(struct z3fold_pool *pool);
/* "first", "middle" or "last": where the object sits now. */
const char *z3fold_buddy_name(struct z3fold_pool *pool, unsigned long handle);
/* Walk every list and page: 0, or -EUCLEAN with the first broken invariant
 * described in buf. */
int z3fold_validate(struct z3fold_pool *pool, char *buf, size_t len);
/* The owner set by the zpool glue (for its evict callback). */
void z3fold_set_owner(struct z3fold_pool *pool, void *owner);
void *z3fold_get_owner(struct z3fold_pool *pool);

extern const struct zpool_driver z3fold_zpool_driver;

#endif
