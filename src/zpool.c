/*
 * zpool.c - the table of compressed-page allocators and the glue that binds
 * one to its owner's evict callback (see zpool.h).  Adding an allocator is one
 * row in `drivers`.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common.h"
#include "z3fold.h"
#include "zbud.h"
#include "zpool.h"
#include "zsmalloc.h"

static const struct zpool_driver *const drivers[] = {
	&zbud_zpool_driver,
	&z3fold_zpool_driver,
	&zsmalloc_zpool_driver,
};

const struct zpool_driver *zpool_find(const char *name)
{
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(drivers); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

static char names[128];

static void names_build(void)
{
	size_t i, at = 0;

	for (i = 0; i < ZS_ARRAY_SIZE(drivers); i++)
		at += (size_t)snprintf(names + at, sizeof(names) - at, "%s%s", i ? ", " : "",
				       drivers[i]->name);
}

const char *zpool_names(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, names_build);
	return names;
}

int zpool_create(const char *name, struct zs_pagesrc *src, zpool_evict_fn evict,
		 void *evict_arg, struct zpool **out)
{
	const struct zpool_driver *driver = zpool_find(name);
	struct zpool *pool;

	if (!driver)
		return -EINVAL;
	pool = zs_map_anon(sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->driver = driver;
	pool->evict = evict;
	pool->evict_arg = evict_arg;
	pool->priv = driver->create(src, pool);
	if (!pool->priv) {
		zs_unmap(pool, sizeof(*pool));
		return -ENOMEM;
	}
	*out = pool;
	return 0;
}

void zpool_destroy(struct zpool *pool)
{
	if (!pool)
		return;
	pool->driver->destroy(pool->priv);
	zs_unmap(pool, sizeof(*pool));
}
