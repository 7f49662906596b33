/*
 * zpool.h - the interface between the engine and a compressed-page allocator,
 * after Linux's zpool: the engine never knows which allocator it runs on.
 *
 * An allocator stores objects of 1 .. zpool_max_size() bytes and names each by
 * an opaque handle; map() turns a handle into an address until unmap().  When
 * the pool must shrink, reclaim() picks the allocator's least recently used
 * page and calls the owner's evict callback for each object in it; a
 * successful evict has written the object elsewhere and freed its handle.
 *
 * Thread-safety: every call may come from any thread.  Async-signal-safety:
 * map, unmap and free (the engine's load path) are; alloc and reclaim are not
 * meant for handlers.
 */
#ifndef ZS_ZPOOL_H
#define ZS_ZPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zs_pagesrc;
struct zpool;

/* Evict the object `handle`: 0 when it was written elsewhere and freed,
 * -errno to leave it in place.  Called without any allocator lock held. */
typedef int (*zpool_evict_fn)(struct zpool *pool, unsigned long handle, void *arg);

struct zpool_driver {
	const char *name;
	size_t max_size;   /* largest object, in bytes */
	void *(*create)(struct zs_pagesrc *src, struct zpool *owner);
	void (*destroy)(void *priv);
	int (*alloc)(void *priv, size_t size, unsigned long *handle);
	void (*free)(void *priv, unsigned long handle);
	int (*reclaim)(void *priv, unsigned int retries);
	void *(*map)(void *priv, unsigned long handle);
	void (*unmap)(void *priv, unsigned long handle);
	uint64_t (*total_pages)(void *priv);
	/* Check every invariant; 0, or -EUCLEAN with a message in buf. */
	int (*validate)(void *priv, char *buf, size_t len);
	/* Where the object sits, for allocator studies ("first", "last"). */
	const char *(*describe)(void *priv, unsigned long handle);
	/* In a child after fork: reset the allocator's locks. */
	void (*after_fork_child)(void *priv);
};

struct zpool {
	const struct zpool_driver *driver;
	void *priv;
	zpool_evict_fn evict;
	void *evict_arg;
};

/* The allocator named `name` ("zbud"), or NULL. */
const struct zpool_driver *zpool_find(const char *name);
/* The names of every allocator, for messages: "zbud, z3fold, zsmalloc". */
const char *zpool_names(void);

/* 0, -EINVAL for an unknown name, -ENOMEM. */
int zpool_create(const char *name, struct zs_pagesrc *src, zpool_evict_fn evict,
		 void *evict_arg, struct zpool **out);
void zpool_destroy(struct zpool *pool);

/* 0; -EINVAL for size 0; -ENOSPC above zpool_max_size(); -ENOMEM. */
static inline int zpool_alloc(struct zpool *pool, size_t size, unsigned long *handle)
{
	return pool->driver->alloc(pool->priv, size, handle);
}

static inline void zpool_free(struct zpool *pool, unsigned long handle)
{
	pool->driver->free(pool->priv, handle);
}

/* 0 when a page was freed; -EINVAL (no evict callback, empty, retries 0);
 * -EAGAIN when `retries` pages could not be emptied. */
static inline int zpool_reclaim(struct zpool *pool, unsigned int retries)
{
	return pool->driver->reclaim(pool->priv, retries);
}

static inline void *zpool_map(struct zpool *pool, unsigned long handle)
{
	return pool->driver->map(pool->priv, handle);
}

static inline void zpool_unmap(struct zpool *pool, unsigned long handle)
{
	pool->driver->unmap(pool->priv, handle);
}

static inline uint64_t zpool_total_pages(struct zpool *pool)
{
	return pool->driver->total_pages(pool->priv);
}

static inline size_t zpool_max_size(struct zpool *pool)
{
	return pool->driver->max_size;
}

static inline int zpool_validate(struct zpool *pool, char *buf, size_t len)
{
	return pool->driver->validate(pool->priv, buf, len);
}

static inline const char *zpool_describe(struct zpool *pool, unsigned long handle)
{
	return pool->driver->describe(pool->priv, handle);
}

#endif
