/*
 * compress.h - the compressors, by the names Linux's crypto API gives them.
 *
 * A compressor works on one page at a time (src_len <= ZS_PAGE_SIZE).
 * Compression uses a state the caller allocated beforehand
 * (zs_compressor.state_size bytes, 16-byte aligned, from zs_map_anon or
 * anywhere), so storing a page allocates nothing.  A state, and a
 * decompression workspace (below), belongs to one compressor for its life
 * and to one call at a time: its contents before the first call do not
 * matter, and the compressor may keep set-up work in it between calls
 * (zstd's contexts), so the caller must not write to it.
 *
 * Decompression never writes past `dst_cap`, never allocates, takes no lock
 * and uses the stack only lightly, so it is async-signal-safe.  Compressors
 * whose library keeps its decoder state off the stack (zstd's DCtx, zlib's
 * inflate state) need a workspace of dstate_size bytes for that; the others
 * have dstate_size 0 and take NULL.  The engine, which decompresses inside
 * the fault handler on any thread, keeps a few workspaces preallocated in a
 * zs_dpool and claims one per call (zs_decompress).
 */
#ifndef ZS_COMPRESS_H
#define ZS_COMPRESS_H

#include <stddef.h>

/* Room a compressed page may need in the worst case, for every compressor:
 * zlib's conservative deflateBound() for raw deflate with a small window,
 * the largest of them (page + page/8 + page/64 + 5); compress.c asserts
 * that it covers LZ4's, LZO's and zstd's bounds. */
#define ZS_COMPRESS_BOUND (ZS_PAGE_SIZE + ZS_PAGE_SIZE / 8 + ZS_PAGE_SIZE / 64 + 16)

struct zs_compressor {
	const char *name;
	size_t state_size;	/* compression state */
	size_t dstate_size;	/* decompression workspace; 0: none (pass NULL) */
	/* Compressed length (> 0), or -EINVAL when the compressor failed or
	 * the result does not fit in dst_cap (nothing is written past it). */
	int (*compress)(void *state, const void *src, size_t src_len, void *dst, size_t dst_cap);
	/* Decompressed length, or -EINVAL for corrupt input or too small dst.
	 * dstate: dstate_size bytes, 16-byte aligned, or NULL when that is 0.
	 * Async-signal-safe. */
	int (*decompress)(void *dstate, const void *src, size_t src_len, void *dst,
			  size_t dst_cap);
};

/* The compressor named `name` ("lzo", "zstd", ...), or NULL. */
const struct zs_compressor *zs_compressor_find(const char *name);
/* The names of every compressor, for messages: "lzo, lzo-rle, lz4, ...". */
const char *zs_compressor_names(void);

/* A pool of n decompression workspaces for compressor c (none are mapped
 * when c->dstate_size is 0).  0, -EINVAL (n is 0), -ENOMEM. */
struct zs_dpool;
int zs_dpool_create(const struct zs_compressor *c, unsigned int n, struct zs_dpool **out);
void zs_dpool_destroy(struct zs_dpool *p);
/* In a child after fork(2): every workspace free again (the threads that
 * held some in the parent do not exist here). */
void zs_dpool_after_fork_child(struct zs_dpool *p);
/* Decompress with the pool's compressor and a workspace claimed for the
 * call; waits (sched_yield) while all n are in use.  As ->decompress.
 * Async-signal-safe. */
int zs_decompress(struct zs_dpool *p, const void *src, size_t src_len, void *dst,
		  size_t dst_cap);

#endif
