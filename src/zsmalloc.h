/*
 * zsmalloc.h - zsmalloc, the size-class allocator that Linux's zram and
 * zswap use (mm/zsmalloc.c), rebuilt in user space.  Design notes in
 * zsmalloc.c.
 */
#ifndef ZS_ZSMALLOC_H
#define ZS_ZSMALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "zpool.h"

#define ZSMALLOC_HDR_SIZE 64          /* the zspage header, at its start */
#define ZSMALLOC_OBJ_HDR sizeof(unsigned long) /* the handle, before each object */
#define ZSMALLOC_MIN_SLOT 32
#define ZSMALLOC_CLASS_DELTA 16
#define ZSMALLOC_MAX_PAGES 4          /* pages in a zspage, at most */
/* The largest slot: one per one-page zspage. */
#define ZSMALLOC_MAX_SLOT (ZS_PAGE_SIZE - ZSMALLOC_HDR_SIZE)
#define ZSMALLOC_NR_CLASSES \
	((ZSMALLOC_MAX_SLOT - ZSMALLOC_MIN_SLOT) / ZSMALLOC_CLASS_DELTA + 1)
/* Largest object: the largest slot less its handle. */
#define ZSMALLOC_MAX_SIZE (ZSMALLOC_MAX_SLOT - ZSMALLOC_OBJ_HDR)
/* Objects alive at once, at most (the handle table is reserved whole). */
#define ZSMALLOC_MAX_HANDLES (1UL << 22)

struct zsmalloc_pool;

/* The evict callback: 0 when the object was written out and freed. */
typedef int (*zsmalloc_evict_fn)(struct zsmalloc_pool *pool, unsigned long handle);

/* A pool drawing its pages from `src`; `evict` may be NULL (no reclaim).
 * NULL when out of memory. */
struct zsmalloc_pool *zsmalloc_create_pool(struct zs_pagesrc *src, zsmalloc_evict_fn evict);
/* Frees every page still held; the caller must have no allocation in use. */
void zsmalloc_destroy_pool(struct zsmalloc_pool *pool);

/* Store `size` bytes: 0 and *handle; -EINVAL for size 0; -ENOSPC above
 * ZSMALLOC_MAX_SIZE; -ENOMEM when no page or handle can be had.
 * Thread-safe. */
int zsmalloc_alloc(struct zsmalloc_pool *pool, size_t size, unsigned long *handle);
/* Free an object; may compact (see zsmalloc.c).  Thread-safe and
 * async-signal-safe (zs_lock). */
void zsmalloc_free(struct zsmalloc_pool *pool, unsigned long handle);
/* Evict every object of the least recently allocated-into zspage: 0 when
 * one was freed; -EINVAL without an evict callback, with an empty pool or
 * with retries 0; -EAGAIN when `retries` zspages stayed in use. */
int zsmalloc_reclaim_page(struct zsmalloc_pool *pool, unsigned int retries);
/* The object's address; it stays in place (compaction passes its zspage
 * by) until zsmalloc_unmap().  Async-signal-safe (zs_lock). */
void *zsmalloc_map(struct zsmalloc_pool *pool, unsigned long handle);
void zsmalloc_unmap(struct zsmalloc_pool *pool, unsigned long handle);
/* Compact every size class now: the pages freed. */
uint64_t zsmalloc_compact(struct zsmalloc_pool *pool);
/* Pages held by the pool (lock-free read). */
uint64_t zsmalloc_get_pool_size(struct zsmalloc_pool *pool);
/* "class-SIZE": the size class of the object, by its slot size. */
const char *zsmalloc_class_name(struct zsmalloc_pool *pool, unsigned long handle);
/* Walk every class, zspage and the handle table: 0, or -EUCLEAN with the
 * first broken invariant described in buf. */
int zsmalloc_validate(struct zsmalloc_pool *pool, char *buf, size_t len);
/* The owner set by the zpool glue (for its evict callback). */
void zsmalloc_set_owner(struct zsmalloc_pool *pool, void *owner);
void *zsmalloc_get_owner(struct zsmalloc_pool *pool);

extern const struct zpool_driver zsmalloc_zpool_driver;

#endif
