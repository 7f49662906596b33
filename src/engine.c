/*
 * engine.c - store, load, invalidate and the engine's life (see engine.h);
 * the pool limit and writeback are in writeback.c, the validator in
 * engine_check.c, the shared structures in engine_impl.h.
 *
 * Data flow:
 *   store:     same-filled? -> one word in the entry
 *              else make room (limit, hysteresis, writeback) -> compress in
 *              a context -> zpool_alloc(header + data) -> copy -> publish
 *   load:      find -> one word | decompress from the pool | copy the raw
 *              page | read the swap file -> (exclusive) drop the entry
 *   writeback: zpool reclaim -> evict(handle) -> key from the object header
 *              -> decompress into a page buffer -> swap slot -> pwrite
 *              -> the entry now names the slot; the pool object is freed
 *
 * Every pool object starts with the key it belongs to (as zswap's header did
 * in 3.11), so evict can find the entry from a handle alone.
 *
 * Locking.  e->lock (a zs_lock) covers the index, every entry, raw_lru and
 * reached_full.  Order: e->lock, then the pool's lock, then the page
 * source's; e->lock, then the swap file's.  The pool calls evict with no lock
 * held.  Compression and decompression, pool allocation, swap I/O and the
 * release of storage all run outside e->lock: an entry that is being read
 * outside it carries ZS_LOADING or ZS_WRITEBACK, which keeps it from being
 * freed or written back under the reader.  Storage (a handle, a raw page, a
 * slot) is always detached from its entry under e->lock before it is freed,
 * so an entry never names storage that someone else may reuse.
 *
 * Concurrent writeback and load of one key: writeback leaves the page's bytes
 * in its buffer (wbbuf) until the slot is written, like the swap cache; a
 * load copies them from there.  Whoever drops such an entry from the index
 * marks it ZS_ORPHAN and the writer frees it when its write is done.
 *
 * Statistics are relaxed atomics in e->stats, read without the lock.
 *
 * With ZSWAPSIM_TRACE, every call records one event (trace.h) once its
 * outcome is known, while signals are still blocked (the trace's lock then
 * costs no system call; it is a leaf, taken last): a store with its outcome
 * and compressed length, a swap-out, a load (hit, from swap, miss; load or
 * load_keep), an invalidate; writeback.c records writebacks and outside
 * shrink calls.  Events of different keys may reach the trace in another
 * order than they reached the engine; the caller's order for one key is
 * kept.  destroy closes the trace first, so its teardown is no event.
 *
 * load, invalidate and the body of store block asynchronous signals once for
 * their whole duration (zs_signals_block nests), so the several zs_locks they
 * take cost two rt_sigprocmask calls in all instead of two each.  Writeback
 * (zs_engine_shrink, and make_room at the start of a store) may run long and
 * keeps signals open; each of its locks blocks them on its own.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine_impl.h"
#include "fault.h"
#include "histo.h"
#include "pagesrc.h"
#include "swapfile.h"

/* ---- accounting ---- */

/* Count an entry in (+1) or out (-1) of the gauges for its kind. */
void engine_account_into(struct zs_stats *s, const struct zs_entry *ent, int sign)
{
	uint64_t one = (uint64_t)(int64_t)sign;

	switch (ent->kind) {
	case ZS_SAME:
		zs_count_add(&s->same_filled_pages, one);
		zs_count_add(&s->stored_pages, one);
		break;
	case ZS_POOL:
		zs_count_add(&s->compressed_bytes, one * ent->length);
		zs_count_add(&s->stored_pages, one);
		break;
	case ZS_RAW:
		zs_count_add(&s->stored_incompressible_pages, one);
		zs_count_add(&s->stored_pages, one);
		break;
	case ZS_SWAP:
		zs_count_add(&s->swap_pages, one);
		break;
	}
}

/* The gauges, and the pool models, which follow what the live pool holds. */
void engine_account(struct zs_engine *e, struct zs_entry *ent, int sign)
{
	engine_account_into(&e->stats, ent, sign);
	if (ent->kind == ZS_POOL && sign > 0)
		zs_shadow_add(e->shadow, ZS_OBJ_HDR + ent->length, ent->shadow);
	else if (ent->kind == ZS_POOL)
		zs_shadow_remove(e->shadow, ent->shadow);
	else if (ent->kind == ZS_RAW)
		zs_shadow_raw(e->shadow, sign);
	if (sign > 0 && (ent->kind == ZS_POOL || ent->kind == ZS_RAW))
		zs_shadow_live(e->shadow, engine_pool_pages(e));
}

uint64_t engine_pool_pages(struct zs_engine *e)
{
	return zpool_total_pages(e->pool) + zs_count_read(&e->raw_pages);
}

uint64_t zs_engine_pool_bytes(struct zs_engine *e)
{
	return engine_pool_pages(e) * ZS_PAGE_SIZE;
}

void zs_engine_trim(struct zs_engine *e)
{
	zs_pagesrc_trim(e->pages);
}

/* ---- storage ---- */

struct zs_storage engine_detach(struct zs_entry *ent)
{
	struct zs_storage s = { .kind = ent->kind };

	if (ent->kind == ZS_POOL)
		s.handle = ent->handle;
	else if (ent->kind == ZS_RAW)
		s.raw = ent->raw;
	else if (ent->kind == ZS_SWAP)
		s.slot = ent->slot;
	return s;
}

/* Async-signal-safe: each release takes only a zs_lock. */
void engine_release(struct zs_engine *e, struct zs_storage s)
{
	switch (s.kind) {
	case ZS_POOL:
		zpool_free(e->pool, s.handle);
		break;
	case ZS_RAW:
		zs_page_free(e->pages, s.raw);
		zs_count_sub(&e->raw_pages, 1);
		break;
	case ZS_SWAP:
		zs_swapfile_free(e->swap, s.slot);
		break;
	}
}

/* Take an entry out of the index (under e->lock).  Returns its storage for
 * release after unlocking; an entry under writeback is orphaned instead and
 * its writer frees everything (the returned storage is then empty). */
struct zs_storage engine_drop(struct zs_engine *e, struct zs_entry *ent)
{
	struct zs_storage none = { .kind = ZS_SAME }, s;

	zs_index_remove(e->index, ent);
	engine_account(e, ent, -1);
	if (ent->flags & ZS_WRITEBACK) {
		ent->flags |= ZS_ORPHAN;
		return none;
	}
	if (ent->kind == ZS_RAW)
		zs_list_del(&ent->raw_lru);
	s = engine_detach(ent);
	zs_entry_free(e->index, ent);
	return s;
}

/* ---- contexts ---- */

/* Each thread starts its search at its own slot, handed out round-robin. */
static struct zs_ctx *ctx_get(struct zs_engine *e)
{
	static unsigned int next_slot;
	static __thread __attribute__((tls_model("initial-exec"))) unsigned int slot_plus_one;
	unsigned int start, i;

	if (!slot_plus_one)
		slot_plus_one = 1 + zs_count_add(&next_slot, 1) % ZS_NCTX;
	start = slot_plus_one - 1;
	for (i = 0; i < ZS_NCTX; i++) {
		struct zs_ctx *c = &e->ctx[(start + i) % ZS_NCTX];

		if (pthread_mutex_trylock(&c->lock) == 0)
			return c;
	}
	pthread_mutex_lock(&e->ctx[start].lock);
	return &e->ctx[start];
}

static void ctx_put(struct zs_ctx *c)
{
	pthread_mutex_unlock(&c->lock);
}

static int ctx_create(struct zs_engine *e)
{
	size_t state = (e->comp->state_size + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
	char *states;
	int i;

	e->ctx = zs_map_anon(ZS_NCTX * sizeof(struct zs_ctx));
	if (!e->ctx)
		return -ENOMEM;
	states = zs_map_anon(ZS_NCTX * state);
	if (!states) {
		zs_unmap(e->ctx, ZS_NCTX * sizeof(struct zs_ctx));
		e->ctx = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < ZS_NCTX; i++) {
		pthread_mutex_init(&e->ctx[i].lock, NULL);
		e->ctx[i].state = states + i * state;
	}
	return 0;
}

static void ctx_destroy(struct zs_engine *e)
{
	size_t state = (e->comp->state_size + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;

	if (!e->ctx)
		return;
	zs_unmap(e->ctx[0].state, ZS_NCTX * state);
	zs_unmap(e->ctx, ZS_NCTX * sizeof(struct zs_ctx));
}

/* ---- store ---- */

static bool same_filled(const void *page, uint64_t *value)
{
	const uint64_t *w = page;
	size_t i;

	for (i = 1; i < ZS_PAGE_SIZE / sizeof(*w); i++)
		if (w[i] != w[0])
			return false;
	*value = w[0];
	return true;
}

/* Compress and copy into the pool (or a raw page): ent gets kind and storage. */
static int store_compressed(struct zs_engine *e, uintptr_t key, const void *page,
			    struct zs_entry *ent)
{
	struct zs_ctx *c = ctx_get(e);
	bool shadows = e->opt.shadow_compressors; /* they want its time too */
	uint64_t t0 = shadows ? zs_now_ns() : 0;
	int len, ret;

	len = zs_fault_hit(ZS_FAULT_COMPRESS) ? -EINVAL :
		e->comp->compress(c->state, page, ZS_PAGE_SIZE, c->dst, ZS_COMPRESS_BOUND);
	if (shadows)
		zs_shadow_compress(e->shadow, (unsigned int)(c - e->ctx), page, len,
				   zs_now_ns() - t0);
	if (len >= 0)
		ent->length = (uint32_t)len; /* for the trace, whatever the pool says */
	if (len < 0) {
		STAT_INC(e, reject_compress_fail);
		ret = -EINVAL;
	} else if ((ret = zpool_alloc(e->pool, ZS_OBJ_HDR + len, &ent->handle)) == 0) {
		unsigned char *obj = zpool_map(e->pool, ent->handle);

		memcpy(obj + ZS_OBJ_HDR, c->dst, len);
		/* Reclaim may read the header before the entry is published. */
		__atomic_store_n((uintptr_t *)obj, key, __ATOMIC_RELAXED);
		zpool_unmap(e->pool, ent->handle);
		ent->kind = ZS_POOL;
		ent->length = (uint32_t)len;
	} else if (ret == -ENOSPC && e->opt.store_incompressible) {
		ent->raw = zs_page_alloc(e->pages);
		ret = ent->raw ? 0 : -ENOMEM;
		if (ret)
			STAT_INC(e, reject_alloc_fail);
		else {
			zs_count_add(&e->raw_pages, 1);
			memcpy(ent->raw, page, ZS_PAGE_SIZE);
			ent->kind = ZS_RAW;
		}
	} else if (ret == -ENOSPC) {
		STAT_INC(e, reject_compress_poor);
		ret = -E2BIG;
	} else {
		STAT_INC(e, reject_alloc_fail);
	}
	ctx_put(c);
	return ret;
}

/* Index a filled-in entry, replacing any old one for its key. */
static void publish(struct zs_engine *e, struct zs_entry *ent)
{
	struct zs_storage old = { .kind = ZS_SAME };
	struct zs_entry *dup = zs_index_find(e->index, ent->key);

	if (dup) {
		STAT_INC(e, duplicate_entry);
		old = engine_drop(e, dup);
	}
	zs_index_insert(e->index, ent);
	engine_account(e, ent, +1);
	if (ent->kind == ZS_RAW)
		zs_list_add(&ent->raw_lru, &e->raw_lru);
	zs_unlock(&e->lock);
	engine_release(e, old);
}

/* Index a filled-in entry (its storage is taken): 0, or -ENOMEM with the
 * storage released. */
static int index_entry(struct zs_engine *e, const struct zs_entry *tmp)
{
	struct zs_entry *ent;

	zs_lock(&e->lock);
	ent = zs_index_reserve(e->index) ? NULL : zs_entry_alloc(e->index);
	if (!ent) {
		zs_unlock(&e->lock);
		STAT_INC(e, reject_kmemcache_fail);
		engine_release(e, engine_detach((struct zs_entry *)tmp));
		return -ENOMEM;
	}
	*ent = *tmp;
	zs_list_init(&ent->raw_lru);
	publish(e, ent);
	return 0;
}

/* tmp: the key set, the rest zero; it keeps the kind and length for the
 * trace. */
static int store(struct zs_engine *e, struct zs_entry *tmp, const void *page)
{
	int ret;

	if (e->opt.same_filled_pages_enabled && same_filled(page, &tmp->value))
		tmp->kind = ZS_SAME;
	else if ((ret = store_compressed(e, tmp->key, page, tmp)))
		return ret;
	return index_entry(e, tmp);
}

/* A store's outcome as the trace names it. */
static enum zs_trace_op store_op(int ret, const struct zs_entry *tmp)
{
	if (ret)
		return ret == -E2BIG ? ZS_TR_STORE_POOR : ZS_TR_STORE_FAIL;
	return tmp->kind == ZS_SAME ? ZS_TR_STORE_SAME :
	       tmp->kind == ZS_RAW ? ZS_TR_STORE_RAW : ZS_TR_STORE_POOL;
}

int zs_engine_swap_out(struct zs_engine *e, uintptr_t key, const void *page)
{
	struct zs_entry tmp = { .key = key, .kind = ZS_SWAP };
	int ret;

	ret = zs_swapfile_alloc(e->swap, &tmp.slot);
	if (ret) {
		STAT_INC(e, swap_full);
		goto out;
	}
	ret = zs_swapfile_write(e->swap, tmp.slot, page);
	if (ret) {
		STAT_INC(e, swap_write_errors);
		zs_swapfile_free(e->swap, tmp.slot);
		goto out;
	}
	zs_signals_block();
	ret = index_entry(e, &tmp);
	zs_signals_unblock();
	if (ret == 0)
		STAT_INC(e, direct_swap_pages);
out:
	zs_trace_store(e->trace, ret ? ZS_TR_SWAP_OUT_FAIL : ZS_TR_SWAP_OUT, key, page, 0);
	return ret;
}

static bool forget(struct zs_engine *e, uintptr_t key);

int zs_engine_store(struct zs_engine *e, uintptr_t key, const void *page)
{
	struct zs_entry tmp = { .key = key };
	int ret;

	STAT_INC(e, stores);
	/* Writeback may run long here: signals stay open for it. */
	ret = engine_make_room(e);
	zs_signals_block();
	if (ret == 0)
		ret = store(e, &tmp, page);
	/* An older copy would now be stale: the caller's page is the only
	 * truth, so drop it, as zswap does when a store fails. */
	if (ret)
		forget(e, key);
	/* With signals still blocked, the trace's lock costs no system call. */
	zs_trace_store(e->trace, store_op(ret, &tmp), key, page, tmp.length);
	zs_signals_unblock();
	return ret;
}

/* ---- load and invalidate ---- */

static void fill(void *page, uint64_t value)
{
	uint64_t *w = page;
	size_t i;

	for (i = 0; i < ZS_PAGE_SIZE / sizeof(*w); i++)
		w[i] = value;
}

/* Read an entry marked ZS_LOADING, without e->lock: nothing else frees its
 * storage meanwhile, and a writeback in flight keeps its buffer until the
 * flag is cleared.  Async-signal-safe. */
static int read_entry(struct zs_engine *e, const struct zs_entry *ent, void *page)
{
	const unsigned char *obj;
	int n;

	if (ent->flags & ZS_WRITEBACK) {
		memcpy(page, ent->wbbuf, ZS_PAGE_SIZE);
		return 0;
	}
	switch (ent->kind) {
	case ZS_RAW:
		memcpy(page, ent->raw, ZS_PAGE_SIZE);
		return 0;
	case ZS_SWAP:
		if (zs_swapfile_read(e->swap, ent->slot, page) == 0)
			return 0;
		STAT_INC(e, swap_read_errors);
		return -EIO;
	default:
		obj = zpool_map(e->pool, ent->handle);
		n = zs_decompress(e->dpool, obj + ZS_OBJ_HDR, ent->length, page, ZS_PAGE_SIZE);
		zpool_unmap(e->pool, ent->handle);
		if (n == (int)ZS_PAGE_SIZE)
			return 0;
		STAT_INC(e, decompress_fail);
		return -EIO;
	}
}

/* The caller's page is only ever written without e->lock held: if writing it
 * faults, the handler's own load must be able to take the lock. */
static int load(struct zs_engine *e, uintptr_t key, void *page, bool exclusive,
		bool *from_swap)
{
	struct zs_storage old = { .kind = ZS_SAME };
	struct zs_entry *ent;
	uint64_t value;
	int ret = 0;

	zs_lock(&e->lock);
	ent = zs_index_find(e->index, key);
	if (!ent) {
		zs_unlock(&e->lock);
		STAT_INC(e, load_misses);
		return -ENOENT;
	}
	if (ent->kind == ZS_SAME) {
		value = ent->value;
		if (exclusive)
			old = engine_drop(e, ent);
		zs_unlock(&e->lock);
		fill(page, value);
	} else {
		*from_swap = ent->kind == ZS_SWAP;
		ent->flags |= ZS_LOADING;
		zs_unlock(&e->lock);
		ret = read_entry(e, ent, page);
		zs_lock(&e->lock);
		ent->flags &= ~ZS_LOADING;
		if (ret == 0 && exclusive)
			old = engine_drop(e, ent);
		zs_unlock(&e->lock);
		if (ret == 0 && *from_swap)
			STAT_INC(e, loads_from_swap);
	}
	engine_release(e, old);
	if (ret == 0)
		STAT_INC(e, loads);
	return ret;
}

/* keep: load_keep, whatever exclusive_loads says. */
static int load_call(struct zs_engine *e, uintptr_t key, void *page, bool keep)
{
	int saved_errno = errno, ret;
	bool from_swap = false;

	zs_signals_block();
	ret = load(e, key, page, !keep && e->opt.exclusive_loads, &from_swap);
	zs_trace_load(e->trace, key, ret, from_swap, keep);
	zs_signals_unblock();
	errno = saved_errno;
	return ret;
}

int zs_engine_load(struct zs_engine *e, uintptr_t key, void *page)
{
	return load_call(e, key, page, false);
}

int zs_engine_load_keep(struct zs_engine *e, uintptr_t key, void *page)
{
	return load_call(e, key, page, true);
}

bool zs_engine_contains(struct zs_engine *e, uintptr_t key)
{
	bool found;

	zs_lock(&e->lock);
	found = zs_index_find(e->index, key) != NULL;
	zs_unlock(&e->lock);
	return found;
}

/* Drop the entry for key: true when there was one. */
static bool forget(struct zs_engine *e, uintptr_t key)
{
	struct zs_storage old;
	struct zs_entry *ent;

	zs_signals_block();
	zs_lock(&e->lock);
	ent = zs_index_find(e->index, key);
	if (ent)
		old = engine_drop(e, ent);
	zs_unlock(&e->lock);
	if (ent)
		engine_release(e, old);
	zs_signals_unblock();
	return ent != NULL;
}

int zs_engine_invalidate(struct zs_engine *e, uintptr_t key)
{
	int ret;

	zs_signals_block(); /* once, for forget and the trace */
	ret = forget(e, key) ? 0 : -ENOENT;
	if (ret == 0)
		STAT_INC(e, invalidates);
	zs_trace_invalidate(e->trace, key, ret);
	zs_signals_unblock();
	return ret;
}

static void drain_one(struct zs_entry *ent, void *arg)
{
	struct zs_engine *e = arg;

	/* The index is already emptied slot by slot: engine_drop() minus the removal. */
	engine_account(e, ent, -1);
	STAT_INC(e, invalidates);
	if (ent->kind == ZS_RAW)
		zs_list_del(&ent->raw_lru);
	engine_release(e, engine_detach(ent));
	zs_entry_free(e->index, ent);
}

void zs_engine_invalidate_all(struct zs_engine *e)
{
	zs_lock(&e->lock);
	zs_index_drain(e->index, drain_one, e);
	__atomic_store_n(&e->reached_full, false, __ATOMIC_RELAXED);
	zs_unlock(&e->lock);
	zs_trace_invalidate(e->trace, 0, 0);
}

/* ---- life cycle ---- */

static uint64_t physical_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);

	return pages > 0 ? (uint64_t)pages * ZS_PAGE_SIZE : UINT64_C(1) << 30;
}

/* Resolve the defaults that depend on the machine, and the limits. */
static void resolve(struct zs_engine *e, const struct zs_options *opt)
{
	uint64_t ram, limit;

	e->opt = *opt;
	ram = opt->mem_limit ? opt->mem_limit : physical_ram();
	e->opt.mem_limit = ram;
	if (!e->opt.swap_size)
		e->opt.swap_size = ZS_SWAP_UNLIMITED;
	limit = opt->max_pool_size ? opt->max_pool_size : ram / 100 * opt->max_pool_percent;
	e->limit_pages = limit / ZS_PAGE_SIZE;
	e->accept_pages = e->limit_pages * opt->accept_threshold_percent / 100;
	e->stats.pool_limit_bytes = e->limit_pages * ZS_PAGE_SIZE;
}

static int open_parts(struct zs_engine *e, char *err, size_t errlen)
{
	int ret;

	if (!e->comp) /* zs_engine_create_with may have given one */
		e->comp = zs_compressor_find(e->opt.compressor);
	if (!e->comp) {
		snprintf(err, errlen, "compressor %s: not available; one of: %s", e->opt.compressor,
			 zs_compressor_names());
		return -EINVAL;
	}
	ret = zs_swapfile_open(e->opt.swapfile, e->opt.swap_size, &e->swap);
	if (ret) {
		snprintf(err, errlen, "swap file %s: %s", *e->opt.swapfile ? e->opt.swapfile :
			 "in $TMPDIR", strerror(-ret));
		return ret;
	}
	ret = zs_pagesrc_create(0, &e->pages);
	if (!ret)
		ret = zs_index_create(&e->index);
	if (!ret)
		ret = ctx_create(e);
	if (!ret)
		ret = zs_dpool_create(e->comp, 2 * ZS_NCTX, &e->dpool);
	if (!ret)
		ret = zs_shadow_create(e->opt.shadow_zpools, e->opt.zpool, e->opt.shadow_compressors,
				       e->comp, ZS_NCTX, &e->shadow);
	if (!ret) {
		ret = zpool_create(e->opt.zpool, e->pages, engine_evict, e, &e->pool);
		if (ret == -EINVAL) {
			snprintf(err, errlen, "zpool %s: not available; one of: %s", e->opt.zpool,
				 zpool_names());
			return ret;
		}
	}
	if (ret)
		snprintf(err, errlen, "out of memory");
	else if (*e->opt.trace && (ret = zs_trace_open(e->opt.trace, &e->opt, &e->trace)))
		snprintf(err, errlen, "ZSWAPSIM_TRACE=%s: %s", e->opt.trace, strerror(-ret));
	return ret;
}

int zs_engine_create(const struct zs_options *opt, struct zs_engine **out, char *err,
		     size_t errlen)
{
	return zs_engine_create_with(opt, NULL, out, err, errlen);
}

int zs_engine_create_with(const struct zs_options *opt, const struct zs_compressor *comp,
			  struct zs_engine **out, char *err, size_t errlen)
{
	struct zs_engine *e = zs_map_anon(sizeof(*e));
	int ret;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&e->lock.mutex, NULL);
	zs_list_init(&e->raw_lru);
	resolve(e, opt);
	e->comp = comp;
	ret = open_parts(e, err, errlen);
	if (ret) {
		zs_engine_destroy(e);
		return ret;
	}
	*out = e;
	return 0;
}

void zs_engine_destroy(struct zs_engine *e)
{
	if (!e)
		return;
	zs_trace_close(e->trace); /* first: the teardown is no event of the run */
	e->trace = NULL;
	if (e->index && e->pool)
		zs_engine_invalidate_all(e);
	zpool_destroy(e->pool);
	if (e->comp)
		ctx_destroy(e);
	zs_dpool_destroy(e->dpool);
	zs_shadow_destroy(e->shadow);
	zs_index_destroy(e->index);
	zs_pagesrc_destroy(e->pages);
	zs_swapfile_close(e->swap);
	pthread_mutex_destroy(&e->lock.mutex);
	zs_unmap(e, sizeof(*e));
}

int zs_engine_before_fork(struct zs_engine *e)
{
	return zs_swapfile_retire(e->swap);
}

void zs_engine_after_fork_parent(struct zs_engine *e)
{
	zs_swapfile_fork_done(e->swap);
}

/* In the child: an entry another thread of the parent was loading or
 * writing back has nobody to finish it.  A writeback frees the pool copy
 * only once the slot is written, so the entry still has it: it goes back to
 * the pool as it was (its wbbuf was on that thread's stack, which glibc may
 * give to the child's next thread).  Each entry also goes back into the
 * pool models, emptied first: a thread of the parent may have been
 * changing one, or indexing an entry it had not yet placed in them. */
static int settle_in_flight(struct zs_entry *ent, void *arg)
{
	struct zs_engine *e = arg;

	if ((ent->flags & ZS_WRITEBACK) && ent->kind == ZS_RAW)
		zs_list_add(&ent->raw_lru, &e->raw_lru);
	if (ent->flags & ZS_WRITEBACK)
		ent->wbbuf = NULL;
	ent->flags &= (uint8_t)~(ZS_WRITEBACK | ZS_LOADING);
	if (ent->kind == ZS_POOL)
		zs_shadow_add(e->shadow, ZS_OBJ_HDR + ent->length, ent->shadow);
	else if (ent->kind == ZS_RAW)
		zs_shadow_raw(e->shadow, +1);
	return 0;
}

void zs_engine_after_fork_child(struct zs_engine *e)
{
	int i;

	zs_lock_reset(&e->lock);
	for (i = 0; i < ZS_NCTX; i++)
		pthread_mutex_init(&e->ctx[i].lock, NULL);
	e->pool->driver->after_fork_child(e->pool->priv);
	zs_pagesrc_after_fork_child(e->pages);
	zs_swapfile_after_fork_child(e->swap);
	zs_dpool_after_fork_child(e->dpool);
	zs_trace_after_fork_child(e->trace);
	zs_shadow_reset(e->shadow);
	zs_index_walk(e->index, settle_in_flight, e);
}

const struct zs_options *zs_engine_options(const struct zs_engine *e)
{
	return &e->opt;
}

void zs_engine_shadow_format(struct zs_engine *e, char *buf, size_t len, size_t *at)
{
	uint64_t stored = zs_count_read(&e->stats.stored_pages) -
			  zs_count_read(&e->stats.same_filled_pages);

	zs_shadow_format(e->shadow, engine_pool_pages(e), stored, buf, len, at);
}

void zs_engine_flush(struct zs_engine *e)
{
	zs_trace_flush(e->trace);
}

void zs_engine_stats(struct zs_engine *e, struct zs_stats *out)
{
	zs_counters_read(out, &e->stats, sizeof(*out));
	out->pool_total_size = zs_engine_pool_bytes(e);
	out->trace_lost_events = zs_trace_lost(e->trace);
}
