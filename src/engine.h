/*
 * engine.h - zswap in one process: store, load and invalidate pages by key,
 * compressed into a pool, written back to a swap file when the pool is full.
 *
 * Semantics follow Linux's frontswap + zswap (design notes section 3):
 * same-filled pages kept as one word; stores refused when the page compresses
 * too poorly (or stored raw, as 6.18 does, with store_incompressible); loads
 * exclusive by default; a pool limit with accept-threshold hysteresis; at the
 * limit the pool's least recently used pages are written back.  One
 * difference: the store that finds the pool full writes back until the pool
 * is below the accept threshold, then proceeds (3.11 wrote back inline too;
 * since 5.6 the kernel refuses that store and shrinks in the background).
 *
 * Caller contract:
 * - A key is any nonzero value whose low 12 bits are zero (the shim uses page
 *   addresses).  Calls for one key are serialised by the caller; calls for
 *   different keys may run on any threads at once.  invalidate_all and
 *   destroy run with no other call in flight.
 * - store reads the page (which must stay readable during the call) and
 *   never writes it; a refused store (-errno) leaves nothing stored for the
 *   key, and the caller keeps its page: nothing is lost.
 * - load is async-signal-safe: it allocates nothing, uses no stdio, and its
 *   locks are zs_locks (common.h), never held with asynchronous signals open,
 *   so a handler cannot interrupt its own thread inside one.  It may be
 *   called from a SIGSEGV handler on any thread.  It preserves errno.
 */
#ifndef ZS_ENGINE_H
#define ZS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"
#include "stats.h"

struct zs_engine;

/* 0, or -errno with the cause in err: -EINVAL (bad options), -ENOMEM, or
 * the swap file's open error. */
int zs_engine_create(const struct zs_options *opt, struct zs_engine **out, char *err,
		     size_t errlen);
/* The same with the compressor `comp` instead of the one opt names (which
 * then only names it): for zswapsim replay's, which is in no table. */
struct zs_compressor;
int zs_engine_create_with(const struct zs_options *opt, const struct zs_compressor *comp,
			  struct zs_engine **out, char *err, size_t errlen);
/* Closes the trace first (its last events are written), then frees all. */
void zs_engine_destroy(struct zs_engine *e);

/* Store a copy of `page` under `key`, replacing what was there.
 * 0; -ENOMEM (pool limit and writeback failed, or no pool memory),
 * -E2BIG (compresses too poorly), -EINVAL (compressor failed).  Each
 * refusal counts under its kernel name. */
int zs_engine_store(struct zs_engine *e, uintptr_t key, const void *page);
/* Write `page` straight to the swap file under `key`, bypassing the pool,
 * as the kernel writes a page zswap refused (-E2BIG from store).  0;
 * -ENOSPC (swap file full), -EIO, -ENOMEM; nothing stored then. */
int zs_engine_swap_out(struct zs_engine *e, uintptr_t key, const void *page);
/* Copy the page stored under `key` into `page`.  0; -ENOENT (nothing
 * stored), -EIO (decompression or swap file read failed; the entry is
 * kept).  Async-signal-safe. */
int zs_engine_load(struct zs_engine *e, uintptr_t key, void *page);
/* The same, keeping the stored copy whatever exclusive_loads says: for a
 * caller that must not lose the page before it has put it in place (it then
 * invalidates).  Async-signal-safe. */
int zs_engine_load_keep(struct zs_engine *e, uintptr_t key, void *page);
/* Is anything stored under `key`?  Async-signal-safe. */
bool zs_engine_contains(struct zs_engine *e, uintptr_t key);
/* Drop what is stored under `key`: 0 or -ENOENT.  Async-signal-safe. */
int zs_engine_invalidate(struct zs_engine *e, uintptr_t key);
/* Drop everything. */
void zs_engine_invalidate_all(struct zs_engine *e);

/* Write back the oldest pages until the pool holds at most `target` bytes.
 * 0, or -errno when writeback cannot go on (-ENOSPC: swap file full). */
int zs_engine_shrink(struct zs_engine *e, uint64_t target);

/* Before fork (a pthread_atfork prepare handler): the swap file written so
 * far is retired, so that neither process ever writes a slot the other may
 * still read (swapfile.h).  0, or -ENOSPC when no process may write back
 * any more. */
int zs_engine_before_fork(struct zs_engine *e);
void zs_engine_after_fork_parent(struct zs_engine *e);
/* In a child after fork(2): every lock of the engine, its pool, page
 * source and swap file as if new, since threads that held one in the
 * parent are gone; loads and writebacks they had in flight are settled.
 * (An update another thread was making under the lock at the fork is not
 * repaired: see libzswapsim(7).) */
void zs_engine_after_fork_child(struct zs_engine *e);

/* Bytes the pool holds now (pool_total_size). */
uint64_t zs_engine_pool_bytes(struct zs_engine *e);
/* Give the pool's spare pages back to the kernel: loads leave them for
 * reuse, since releasing one costs a system call in the fault handler.
 * For a thread that may block a while (the shim's reclaim thread). */
void zs_engine_trim(struct zs_engine *e);
/* Every pool's and compressor's figures (shadow.h's lines: the live pool's
 * real, the others' models), appended to buf at *at.  Async-signal-safe. */
void zs_engine_shadow_format(struct zs_engine *e, char *buf, size_t len, size_t *at);
/* Write out what the engine buffers: the trace (ZSWAPSIM_TRACE), for a
 * caller about to exit without zs_engine_destroy.  Async-signal-safe. */
void zs_engine_flush(struct zs_engine *e);
/* A consistent-enough snapshot of every statistic.  Async-signal-safe. */
void zs_engine_stats(struct zs_engine *e, struct zs_stats *out);
/* Check every invariant of the engine and its pool: 0, or -EUCLEAN with
 * the first broken one in buf.  Only meaningful with no other call in
 * flight (entries being loaded or written back are busy by design). */
int zs_engine_validate(struct zs_engine *e, char *buf, size_t len);
/* The options the engine runs with (after defaults were resolved). */
const struct zs_options *zs_engine_options(const struct zs_engine *e);

#endif
