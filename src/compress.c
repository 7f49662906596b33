/*
 * compress.c - the compressor table (see compress.h).  Each row wraps one
 * library call; adding a compressor is one row.
 *
 * lz4 is LZ4's fast mode at acceleration 1, the kernel's "lz4"; lz4hc is the
 * high-compression mode at LZ4HC_CLEVEL_DEFAULT (9), the kernel's "lz4hc".
 * Both decompress with LZ4_decompress_safe, which reads at most src_len bytes,
 * writes at most dst_cap bytes, uses only the stack and is reentrant.
 */
#include "config.h"

#include <lz4.h>
#include <lz4hc.h>
#include <string.h>

#include "common.h"
#include "compress.h"

_Static_assert(ZS_COMPRESS_BOUND >= LZ4_COMPRESSBOUND(ZS_PAGE_SIZE), "bound covers LZ4's");

static int lz4_compress(void *state, const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	int n = LZ4_compress_fast_extState(state, src, dst, (int)src_len, (int)dst_cap, 1);

	return n > 0 ? n : -EINVAL;
}

static int lz4hc_compress(void *state, const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	int n = LZ4_compress_HC_extStateHC(state, src, dst, (int)src_len, (int)dst_cap,
					   LZ4HC_CLEVEL_DEFAULT);

	return n > 0 ? n : -EINVAL;
}

static int lz4_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	int n = LZ4_decompress_safe(src, dst, (int)src_len, (int)dst_cap);

	return n >= 0 ? n : -EINVAL;
}

static const struct zs_compressor compressors[] = {
	{ "lz4", sizeof(LZ4_stream_t), lz4_compress, lz4_decompress },
	{ "lz4hc", sizeof(LZ4_streamHC_t), lz4hc_compress, lz4_decompress },
};

const struct zs_compressor *zs_compressor_find(const char *name)
{
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(compressors); i++)
		if (strcmp(compressors[i].name, name) == 0)
			return &compressors[i];
	return NULL;
}

const char *zs_compressor_names(void)
{
	return "lz4, lz4hc";
}
