/*
 * engine_impl.h - the engine's insides, shared by engine.c (store, load,
 * life cycle), writeback.c (limit and writeback) and engine_check.c (the
 * validator).  Not an interface: nothing outside src/engine*.c and
 * src/writeback.c includes it.  Locking rules: see the top of engine.c.
 */
#ifndef ZS_ENGINE_IMPL_H
#define ZS_ENGINE_IMPL_H

#include <stdbool.h>

#include "common.h"
#include "compress.h"
#include "engine.h"
#include "index.h"
#include "shadow.h"
#include "trace.h"
#include "zpool.h"

#define ZS_OBJ_HDR sizeof(uintptr_t)
#define ZS_NCTX 8
#define ZS_RECLAIM_RETRIES 8

/* What a store needs to compress without allocating: one per storer. */
struct zs_ctx {
	pthread_mutex_t lock;
	void *state;
	unsigned char dst[ZS_COMPRESS_BOUND];
};

struct zs_engine {
	struct zs_lock lock;
	struct zs_options opt;
	const struct zs_compressor *comp;
	struct zs_pagesrc *pages;
	struct zpool *pool;
	struct zs_swapfile *swap;
	struct zs_index *index;
	struct zs_list raw_lru;      /* ZS_RAW entries, newest first */
	uint64_t raw_pages;          /* pages held by raw entries, orphans included */
	uint64_t limit_pages, accept_pages;
	bool reached_full;
	struct zs_stats stats;
	struct zs_ctx *ctx;
	struct zs_dpool *dpool;      /* decompression workspaces (compress.h) */
	struct zs_shadow *shadow;    /* the other pools and compressors (shadow.h) */
	struct zs_trace *trace;      /* ZSWAPSIM_TRACE, or NULL (trace.h) */
};

/* Storage detached from an entry, released outside e->lock. */
struct zs_storage {
	uint8_t kind;
	union {
		unsigned long handle;
		void *raw;
		uint64_t slot;
	};
};

#define STAT_INC(e, name) zs_count_add(&(e)->stats.name, 1)

/* Gauges: count an entry in (+1) or out (-1) for its kind. */
void engine_account_into(struct zs_stats *s, const struct zs_entry *ent, int sign);
void engine_account(struct zs_engine *e, struct zs_entry *ent, int sign);
/* Pages the pool holds: the allocator's and the raw pages. */
uint64_t engine_pool_pages(struct zs_engine *e);
/* The storage an entry names (under e->lock). */
struct zs_storage engine_detach(struct zs_entry *ent);
/* Free storage detached from its entry; async-signal-safe. */
void engine_release(struct zs_engine *e, struct zs_storage s);
/* Take an entry out of the index under e->lock; release what it returns
 * after unlocking. */
struct zs_storage engine_drop(struct zs_engine *e, struct zs_entry *ent);

/* writeback.c: the pool's evict callback, and the store-time limit check
 * (0, or -ENOMEM counted as reject_reclaim_fail). */
int engine_evict(struct zpool *pool, unsigned long handle, void *arg);
int engine_make_room(struct zs_engine *e);

#endif
