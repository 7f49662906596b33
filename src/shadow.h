/*
 * shadow.h - what the pool would have been with the other allocators, and
 * what the other compressors would have made of the same pages, measured in
 * the same run (design notes in shadow.c).
 *
 * Pool shadows are size-only models of zbud, z3fold and zsmalloc: each sees
 * every object the live pool holds (its size, as the live pool got it) and
 * packs it by its own rules into model pages that hold no data.  Compressor
 * shadows compress each stored page again with every other compressor and
 * count the sizes.
 *
 * Caller contract: add/remove/raw run under the engine's lock (which
 * serialises them); compress runs outside it with the storer's context slot
 * (one caller per slot at a time).  Nothing here allocates after create
 * except the models' page arrays, which grow with mremap (async-signal-safe);
 * remove and format are async-signal-safe.
 */
#ifndef ZS_SHADOW_H
#define ZS_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compress.h"

#define ZS_SHADOW_POOLS 3
#define ZS_SHADOW_NONE UINT32_MAX   /* an object the model did not take */

struct zs_shadow;

/* A shadow for `pools` (the size models; `live_pool` names the engine's
 * allocator) and `compressors` (every other compressor; `live` is the
 * engine's, `slots` the storers that may compress at once).  0 or -ENOMEM. */
int zs_shadow_create(bool pools, const char *live_pool, bool compressors,
		     const struct zs_compressor *live, unsigned int slots,
		     struct zs_shadow **out);
void zs_shadow_destroy(struct zs_shadow *s);

/* An object of `size` bytes enters the live pool: each model places it and
 * writes where into ids[] (ZS_SHADOW_NONE when it could not). */
void zs_shadow_add(struct zs_shadow *s, size_t size, uint32_t ids[ZS_SHADOW_POOLS]);
/* The object leaves the live pool.  Async-signal-safe. */
void zs_shadow_remove(struct zs_shadow *s, const uint32_t ids[ZS_SHADOW_POOLS]);
/* The live pool holds `live_pages` now (for its high-water mark). */
void zs_shadow_live(struct zs_shadow *s, uint64_t live_pages);
/* Empty every model (peaks and compressor figures stay), to be filled
 * again from the live pool's objects: in a child after fork, where another
 * thread of the parent may have left a model half changed. */
void zs_shadow_reset(struct zs_shadow *s);
/* A page stored raw (a page of its own) enters (+1) or leaves (-1). */
void zs_shadow_raw(struct zs_shadow *s, int sign);

/* The live compressor made `live_len` bytes of `page` in `live_ns`: compress
 * it with every other one too (slot < slots, exclusive to the caller). */
void zs_shadow_compress(struct zs_shadow *s, unsigned int slot, const void *page, int live_len,
			uint64_t live_ns);

/* One line per model and per compressor; the live pool's line gives its
 * real figures (live_pages, live_stored), the others their models':
 *   shadow_zpool NAME pool_total_size N stored_pages N refused_pages N ratio R live 0|1
 *                model_pool_total_size N peak_pool_total_size N
 *   shadow_compressor NAME pages N compressed_bytes N ratio R compress_ns N live 0|1
 * appended to buf at *at (bounded).  Async-signal-safe. */
void zs_shadow_format(struct zs_shadow *s, uint64_t live_pages, uint64_t live_stored, char *buf,
		      size_t len, size_t *at);

/* Pages a model holds now (index: 0 zbud, 1 z3fold, 2 zsmalloc), for tests. */
uint64_t zs_shadow_pool_pages(struct zs_shadow *s, unsigned int model);
const char *zs_shadow_pool_name(unsigned int model);
/* Check each model's lists and counts: 0, or -EUCLEAN with a message. */
int zs_shadow_validate(struct zs_shadow *s, char *buf, size_t len);

#endif
