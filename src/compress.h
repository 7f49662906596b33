/*
 * compress.h - the compressors, by the names Linux's crypto API gives them.
 *
 * A compressor works on one page at a time.  Compression uses a state the
 * caller allocated beforehand (zs_compressor.state_size bytes, from
 * zs_map_anon or anywhere), so storing a page allocates nothing.
 * Decompression needs no state, never writes past `dst_cap`, and is
 * async-signal-safe.
 */
#ifndef ZS_COMPRESS_H
#define ZS_COMPRESS_H

#include <stddef.h>

/* Room a compressed page may need in the worst case (LZ4's bound for 4 KiB). */
#define ZS_COMPRESS_BOUND (ZS_PAGE_SIZE + ZS_PAGE_SIZE / 255 + 16)

struct zs_compressor {
	const char *name;
	size_t state_size;
	/* Compressed length (> 0), or -EINVAL when the compressor failed. */
	int (*compress)(void *state, const void *src, size_t src_len, void *dst, size_t dst_cap);
	/* Decompressed length, or -EINVAL for corrupt input or too small dst.
	 * Async-signal-safe. */
	int (*decompress)(const void *src, size_t src_len, void *dst, size_t dst_cap);
};

/* The compressor named `name` ("lz4", "lz4hc"), or NULL. */
const struct zs_compressor *zs_compressor_find(const char *name);
/* The names of every compressor, for messages: "lz4, lz4hc". */
const char *zs_compressor_names(void);

#endif
