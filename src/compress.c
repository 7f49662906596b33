/*
 * compress.c - the compressor table (see compress.h) and the pool of
 * decompression workspaces.  Each row wraps one library; adding a
 * compressor is one row.  The rows, in the order zswap's documentation
 * lists the crypto API's names, and how close each is to the kernel's:
 *
 *   lzo      liblzo2's LZO1X-1 (lzo1x_1_compress), the algorithm and
 *            bitstream of the kernel's "lzo" (its lib/lzo derives from the
 *            same code); the kernel may pick other matches, the format and
 *            the ratio are the same.  lzo_init() runs once, before any use.
 *   lzo-rle  NOT the kernel's bitstream.  The kernel's lzo-rle (Linux 5.1)
 *            is LZO1X whose stream starts with the bytes 17, 1 and which
 *            encodes a run of zero bytes its scan meets as one instruction;
 *            liblzo2 can neither write nor read that.  We approximate it:
 *            long zero runs are cut short before LZO1X-1 sees the page and
 *            listed in a header; the rest ("residue") goes through LZO1X-1:
 *
 *              +--------+-----------------------------+------------------+
 *              | nruns  | nruns x (gap, len - 64)     | LZO1X-1 stream   |
 *              | u16 LE | two varints each            | of the residue   |
 *              +--------+-----------------------------+------------------+
 *
 *            A run of RLE_MIN (64) zero bytes or more keeps its first four
 *            in the residue (so LZO's matches over the data around it stay
 *            as they were) and loses the rest; gap: residue bytes since the
 *            previous run's cut, up to it; a varint is one byte below 128,
 *            else two (0x80 | v >> 8, v).  Zero runs then cost neither
 *            matching work nor output, as in the kernel's.
 *            Calibrated against the kernel's own lzo-rle through zram on
 *            Linux 6.18 (mm_stat compr_data_size, same pages), as the change
 *            in size from each one's own lzo: pagegen heap pages kernel
 *            -1.4%, ours -2.5%; text+heap mix -0.4%, -0.7%; ELF binaries
 *            (python3, libc, cc1) +0.55%, +0.08%.  Cutting every run of 4
 *            or more instead (the kernel's minimum) gave -12.9%, -4.0%,
 *            +4.7%: too far from the kernel's either way.
 *   lz4      LZ4's fast mode at acceleration 1, the kernel's "lz4".
 *   lz4hc    LZ4HC at LZ4HC_CLEVEL_DEFAULT (9), the kernel's "lz4hc".
 *   zstd     libzstd at level 3, crypto/zstd.c's ZSTD_DEF_LEVEL, one frame
 *            with the content size, no checksum.  The kernel fixes its
 *            parameters for an unknown size (up to 6.14) or a 256 KiB
 *            window (since); ZSTD_compressCCtx fits them to the 4 KiB
 *            source instead, which sizes the tables, not the format, and
 *            keeps the state small.  The CCtx is static
 *            (ZSTD_initStaticCCtx) in the caller's state, the DCtx in the
 *            workspace; both are set up once and reused (struct zstd_ws).
 *   deflate  zlib's raw deflate (no zlib header), as crypto/deflate.c:
 *            windowBits -11, memLevel 8 (the kernel's MAX_MEM_LEVEL), level
 *            Z_DEFAULT_COMPRESSION, the default strategy.
 *
 * Allocation.  LZO, LZ4 and the lzo-rle framing need nothing beyond the
 * state.  zstd and zlib keep their decoders' state off the stack: zstd's
 * DCtx and zlib's inflate state are placed in the caller's decompression
 * workspace (dstate), zlib's through a zalloc that carves from it and a
 * zfree that does nothing (the arena is dropped whole after each call).
 * Their sizes are library facts known only at run time
 * (ZSTD_estimate*Size) or measured once (zlib: what deflateInit2, and
 * inflateInit2 plus an inflate that keeps a window, take from an arena), so
 * the table is filled in once, under pthread_once, before any lookup.
 *
 * The pool (struct zs_dpool): n workspaces, dstate_size rounded to pages,
 * mapped once; one int per workspace says it is claimed.  A claim is one
 * atomic exchange, so no lock is needed and none is held while decompressing
 * (the destination may be a page that faults, and the nested load claims
 * another workspace).  When all are claimed the caller yields and scans
 * again; loads block asynchronous signals, so every holder is running and
 * lets go soon.
 */
#include "config.h"

#define ZSTD_STATIC_LINKING_ONLY
#include <lz4.h>
#include <lz4hc.h>
#include <lzo/lzo1x.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common.h"
#include "compress.h"

/* LZO1X-1's documented worst case: in + in / 16 + 64 + 3. */
#define LZO_BOUND(n) ((n) + (n) / 16 + 64 + 3)
#define RLE_MIN 64
#define RLE_KEEP 4	/* zero bytes of a run left in the residue */
_Static_assert(RLE_MIN >= 15 && RLE_KEEP <= RLE_MIN, "next_run() sees every run this long");
/* Header worst case: the count, and at most two varints per RLE_MIN + 1
 * bytes of page, each at most two bytes. */
#define RLE_HDR_MAX (2 + 4 * (ZS_PAGE_SIZE / (RLE_MIN + 1) + 1))
#define ZSTD_LEVEL 3
#define DEFLATE_LEVEL Z_DEFAULT_COMPRESSION
#define DEFLATE_WBITS 11
#define DEFLATE_MEMLEVEL 8

_Static_assert(ZS_COMPRESS_BOUND >= LZ4_COMPRESSBOUND(ZS_PAGE_SIZE), "bound covers LZ4's");
/* lzo-rle: the 2-byte count on top of LZO's bound; each run's entry costs
 * less than the zero bytes it takes out of the LZO input. */
_Static_assert(ZS_COMPRESS_BOUND >= 2 + LZO_BOUND(ZS_PAGE_SIZE), "bound covers LZO's");
_Static_assert(ZS_COMPRESS_BOUND >= ZSTD_COMPRESSBOUND(ZS_PAGE_SIZE), "bound covers zstd's");

/* ---- lz4, lz4hc ---- */

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

static int lz4_decompress(void *dstate, const void *src, size_t src_len, void *dst,
			  size_t dst_cap)
{
	int n = LZ4_decompress_safe(src, dst, (int)src_len, (int)dst_cap);

	return n >= 0 ? n : -EINVAL;
}

/* ---- lzo, lzo-rle ---- */

struct lzo_state {
	unsigned char wrkmem[LZO1X_1_MEM_COMPRESS] __attribute__((aligned(16)));
	unsigned char out[RLE_HDR_MAX + LZO_BOUND(ZS_PAGE_SIZE)];  /* when dst_cap is short */
	unsigned char hdr[RLE_HDR_MAX];		/* lzo-rle: the run list */
	unsigned char residue[ZS_PAGE_SIZE];	/* lzo-rle: the page without its runs */
};

/* hdr_len bytes of s->hdr, then LZO1X-1 of src, into dst (or s->out first
 * when dst_cap is below the worst case: lzo1x_1_compress has no bound). */
static int lzo_pack(struct lzo_state *s, size_t hdr_len, const unsigned char *src, size_t len,
		    unsigned char *dst, size_t dst_cap)
{
	unsigned char *out = dst_cap >= hdr_len + LZO_BOUND(len) ? dst : s->out;
	lzo_uint n = 0;

	memcpy(out, s->hdr, hdr_len);
	if (lzo1x_1_compress(src, len, out + hdr_len, &n, s->wrkmem) != LZO_E_OK ||
	    hdr_len + n > dst_cap)
		return -EINVAL;
	if (out != dst)
		memcpy(dst, out, hdr_len + n);
	return (int)(hdr_len + n);
}

static int lzo_compress(void *state, const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	if (src_len > ZS_PAGE_SIZE)
		return -EINVAL;
	return lzo_pack(state, 0, src, src_len, dst, dst_cap);
}

static int lzo_decompress(void *dstate, const void *src, size_t src_len, void *dst,
			  size_t dst_cap)
{
	lzo_uint n = dst_cap;

	if (lzo1x_decompress_safe(src, src_len, dst, &n, NULL) != LZO_E_OK)
		return -EINVAL;
	return (int)n;
}

static size_t put_varint(unsigned char *p, size_t v)
{
	if (v < 0x80) {
		p[0] = (unsigned char)v;
		return 1;
	}
	p[0] = (unsigned char)(0x80 | v >> 8);
	p[1] = (unsigned char)v;
	return 2;
}

static int get_varint(const unsigned char **p, const unsigned char *end, size_t *v)
{
	const unsigned char *q = *p;

	if (q >= end)
		return -EINVAL;
	if (q[0] < 0x80) {
		*v = q[0];
		*p = q + 1;
		return 0;
	}
	if (q + 1 >= end)
		return -EINVAL;
	*v = (size_t)(q[0] & 0x7f) << 8 | q[1];
	*p = q + 2;
	return 0;
}

/* Where the first run of zero bytes at or after i that holds an aligned
 * zero word (eight zero bytes at an offset divisible by 8) starts, or len.
 * Every run of 15 bytes or more holds one. */
static size_t next_run(const unsigned char *p, size_t i, size_t len)
{
	size_t k = (i + 7) & ~(size_t)7;
	uint64_t w;

	for (; k + 8 <= len; k += 8) {
		memcpy(&w, p + k, 8);
		if (!w) {
			while (k > i && p[k - 1] == 0)
				k--;
			return k;
		}
	}
	return len;
}

/* The end of the run of zero bytes that goes on at i. */
static size_t run_end(const unsigned char *p, size_t i, size_t len)
{
	uint64_t w;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		if (w)
			break;
	}
	while (i < len && p[i] == 0)
		i++;
	return i;
}

/* Cut the zero runs of src out into s->residue (*rlen bytes) and list them
 * in s->hdr; returns the header's length. */
static size_t rle_split(struct lzo_state *s, const unsigned char *src, size_t len, size_t *rlen)
{
	size_t i = 0, from = 0, r = 0, h = 2, nruns = 0, j;

	while ((j = next_run(src, i, len)) < len) {
		i = run_end(src, j, len);
		if (i - j < RLE_MIN)
			continue;
		j += RLE_KEEP;
		memcpy(s->residue + r, src + from, j - from);
		r += j - from;
		h += put_varint(s->hdr + h, j - from);
		h += put_varint(s->hdr + h, i - j - (RLE_MIN - RLE_KEEP));
		nruns++;
		from = i;
	}
	memcpy(s->residue + r, src + from, len - from);
	*rlen = r + len - from;
	s->hdr[0] = (unsigned char)nruns;
	s->hdr[1] = (unsigned char)(nruns >> 8);
	return h;
}

static int lzo_rle_compress(void *state, const void *src, size_t src_len, void *dst,
			    size_t dst_cap)
{
	struct lzo_state *s = state;
	size_t hdr_len, rlen;

	if (src_len > ZS_PAGE_SIZE)
		return -EINVAL;
	hdr_len = rle_split(s, src, src_len, &rlen);
	return lzo_pack(s, hdr_len, s->residue, rlen, dst, dst_cap);
}

/* Walk the run list from *p: its gaps' and runs' sums.  0 or -EINVAL. */
static int rle_sums(const unsigned char **p, const unsigned char *end, size_t *gaps,
		    size_t *zeros)
{
	size_t nruns, gap, run;

	if (end - *p < 2)
		return -EINVAL;
	nruns = (*p)[0] | (size_t)(*p)[1] << 8;
	*p += 2;
	if (nruns > ZS_PAGE_SIZE / RLE_MIN)
		return -EINVAL;
	*gaps = *zeros = 0;
	while (nruns--) {
		if (get_varint(p, end, &gap) || get_varint(p, end, &run))
			return -EINVAL;
		*gaps += gap;
		*zeros += run + RLE_MIN - RLE_KEEP;
	}
	return 0;
}

/* Async-signal-safe: the residue is decoded to the front of dst, moved to
 * its tail, then spread forward with the zero runs put back; the write
 * position never passes the read position. */
static int lzo_rle_decompress(void *dstate, const void *src, size_t src_len, void *dst,
			      size_t dst_cap)
{
	const unsigned char *p = src, *end = p + src_len, *list;
	unsigned char *d = dst;
	size_t gaps, zeros, in, out = 0, gap = 0, run = 0;
	lzo_uint n;

	if (rle_sums(&p, end, &gaps, &zeros) || zeros > dst_cap)
		return -EINVAL;
	n = dst_cap - zeros;
	if (lzo1x_decompress_safe(p, (lzo_uint)(end - p), d, &n, NULL) != LZO_E_OK || n < gaps)
		return -EINVAL;
	memmove(d + zeros, d, n);
	in = zeros;
	for (list = (const unsigned char *)src + 2; list < p;) {
		get_varint(&list, p, &gap);
		get_varint(&list, p, &run);
		memmove(d + out, d + in, gap);
		out += gap;
		in += gap;
		memset(d + out, 0, run + RLE_MIN - RLE_KEEP);
		out += run + RLE_MIN - RLE_KEEP;
	}
	return (int)(n + zeros);
}

/* ---- zstd ---- */

/* A state or workspace: a static context, set up at its first use and kept
 * (setting one up runs CPUID, about 5 us a time under a hypervisor).  `self`
 * says it is set up here: garbage, or a copy moved elsewhere, does not
 * point to itself. */
struct zstd_ws {
	struct zstd_ws *self;
	void *ctx;
	unsigned char mem[] __attribute__((aligned(16)));
};

static size_t zstd_cctx_size, zstd_dctx_size;

static ZSTD_CCtx *zstd_cctx(struct zstd_ws *w)
{
	if (w->self != w) {
		w->ctx = ZSTD_initStaticCCtx(w->mem, zstd_cctx_size);
		w->self = w->ctx ? w : NULL;
	}
	return w->ctx;
}

static ZSTD_DCtx *zstd_dctx(struct zstd_ws *w)
{
	if (w->self != w) {
		w->ctx = ZSTD_initStaticDCtx(w->mem, zstd_dctx_size);
		w->self = w->ctx ? w : NULL;
	}
	return w->ctx;
}

static int zstd_compress(void *state, const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	ZSTD_CCtx *cctx = zstd_cctx(state);
	size_t n;

	if (!cctx || src_len > ZS_PAGE_SIZE)
		return -EINVAL;
	n = ZSTD_compressCCtx(cctx, dst, dst_cap, src, src_len, ZSTD_LEVEL);
	return ZSTD_isError(n) ? -EINVAL : (int)n;
}

static int zstd_decompress(void *dstate, const void *src, size_t src_len, void *dst,
			   size_t dst_cap)
{
	ZSTD_DCtx *dctx = zstd_dctx(dstate);
	size_t n;

	/* No input is no frame, which zstd decodes to 0 bytes: not a page. */
	if (!dctx || src_len == 0)
		return -EINVAL;
	n = ZSTD_decompressDCtx(dctx, dst, dst_cap, src, src_len);
	return ZSTD_isError(n) ? -EINVAL : (int)n;
}

/* ---- deflate ---- */

/* A state or workspace: the stream, and the arena its allocations come from. */
struct zlib_ws {
	z_stream strm;
	size_t used, cap;
	unsigned char mem[] __attribute__((aligned(16)));
};

static size_t deflate_arena, inflate_arena;

static voidpf arena_alloc(voidpf opaque, uInt items, uInt size)
{
	struct zlib_ws *w = opaque;
	size_t n = ((size_t)items * size + 15) & ~(size_t)15;
	void *p;

	if (n > w->cap - w->used)
		return Z_NULL;
	p = w->mem + w->used;
	w->used += n;
	return p;
}

static void arena_free(voidpf opaque, voidpf p)
{
}

/* An empty arena of cap bytes, the stream set to read src and fill dst. */
static z_stream *zlib_start(struct zlib_ws *w, size_t cap, const void *src, size_t src_len,
			    void *dst, size_t dst_cap)
{
	memset(&w->strm, 0, sizeof(w->strm));
	w->used = 0;
	w->cap = cap;
	w->strm.zalloc = arena_alloc;
	w->strm.zfree = arena_free;
	w->strm.opaque = w;
	w->strm.next_in = (Bytef *)src;
	w->strm.avail_in = (uInt)src_len;
	w->strm.next_out = dst;
	w->strm.avail_out = (uInt)dst_cap;
	return &w->strm;
}

static int deflate_run(struct zlib_ws *w, size_t cap, const void *src, size_t src_len, void *dst,
		       size_t dst_cap)
{
	z_stream *z = zlib_start(w, cap, src, src_len, dst, dst_cap);
	int ret;

	if (deflateInit2(z, DEFLATE_LEVEL, Z_DEFLATED, -DEFLATE_WBITS, DEFLATE_MEMLEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -EINVAL;
	ret = deflate(z, Z_FINISH);
	deflateEnd(z);
	return ret == Z_STREAM_END ? (int)z->total_out : -EINVAL;
}

static int inflate_run(struct zlib_ws *w, size_t cap, const void *src, size_t src_len, void *dst,
		       size_t dst_cap)
{
	z_stream *z = zlib_start(w, cap, src, src_len, dst, dst_cap);
	int ret;

	if (inflateInit2(z, -DEFLATE_WBITS) != Z_OK)
		return -EINVAL;
	ret = inflate(z, Z_FINISH);
	inflateEnd(z);
	return ret == Z_STREAM_END ? (int)z->total_out : -EINVAL;
}

static int deflate_compress(void *state, const void *src, size_t src_len, void *dst,
			    size_t dst_cap)
{
	return deflate_run(state, deflate_arena, src, src_len, dst, dst_cap);
}

static int deflate_decompress(void *dstate, const void *src, size_t src_len, void *dst,
			      size_t dst_cap)
{
	return inflate_run(dstate, inflate_arena, src, src_len, dst, dst_cap);
}

/* What zlib takes from the arena: deflate for a page, and inflate of half
 * a stream (the case that makes it keep a window).  0 or -ENOMEM. */
static int deflate_measure(void)
{
	size_t cap = (size_t)1 << 20;
	struct zlib_ws *w = zs_map_anon(cap);
	unsigned char page[ZS_PAGE_SIZE], out[ZS_COMPRESS_BOUND];
	size_t i;
	int n;

	if (!w)
		return -ENOMEM;
	for (i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i * i >> 5);
	n = deflate_run(w, cap - sizeof(*w), page, sizeof(page), out, sizeof(out));
	deflate_arena = w->used + 1024;
	if (n > 0)
		inflate_run(w, cap - sizeof(*w), out, (size_t)n / 2, page, sizeof(page));
	inflate_arena = w->used + ((size_t)1 << DEFLATE_WBITS) + 1024;
	zs_unmap(w, cap);
	return n > 0 ? 0 : -ENOMEM;
}

/* ---- the table ---- */

static struct zs_compressor compressors[] = {
	{ "lzo", sizeof(struct lzo_state), 0, lzo_compress, lzo_decompress },
	{ "lzo-rle", sizeof(struct lzo_state), 0, lzo_rle_compress, lzo_rle_decompress },
	{ "lz4", sizeof(LZ4_stream_t), 0, lz4_compress, lz4_decompress },
	{ "lz4hc", sizeof(LZ4_streamHC_t), 0, lz4hc_compress, lz4_decompress },
	{ "zstd", 0, 0, zstd_compress, zstd_decompress },		/* sizes: table_init */
	{ "deflate", 0, 0, deflate_compress, deflate_decompress },	/* sizes: table_init */
};

static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static char names[128];

/* The sizes known at run time, lzo_init(), and the list of names.  A row
 * whose library fails to start keeps state_size 0 and is not offered. */
static void table_init(void)
{
	size_t i, at = 0;

	if (lzo_init() != LZO_E_OK)
		compressors[0].state_size = compressors[1].state_size = 0;
	zstd_cctx_size = ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(ZSTD_LEVEL,
									    ZS_PAGE_SIZE, 0));
	zstd_dctx_size = ZSTD_estimateDCtxSize();
	compressors[4].state_size = sizeof(struct zstd_ws) + zstd_cctx_size;
	compressors[4].dstate_size = sizeof(struct zstd_ws) + zstd_dctx_size;
	if (deflate_measure() == 0) {
		compressors[5].state_size = sizeof(struct zlib_ws) + deflate_arena;
		compressors[5].dstate_size = sizeof(struct zlib_ws) + inflate_arena;
	}
	for (i = 0; i < ZS_ARRAY_SIZE(compressors); i++)
		if (compressors[i].state_size)
			at += (size_t)snprintf(names + at, sizeof(names) - at, "%s%s",
					       at ? ", " : "", compressors[i].name);
}

const struct zs_compressor *zs_compressor_find(const char *name)
{
	size_t i;

	pthread_once(&table_once, table_init);
	for (i = 0; i < ZS_ARRAY_SIZE(compressors); i++)
		if (compressors[i].state_size && strcmp(compressors[i].name, name) == 0)
			return &compressors[i];
	return NULL;
}

const char *zs_compressor_names(void)
{
	pthread_once(&table_once, table_init);
	return names;
}

/* ---- decompression workspaces ---- */

struct zs_dpool {
	const struct zs_compressor *comp;
	unsigned int n;
	size_t stride, size;	/* stride: one workspace, in whole pages; size: this */
	unsigned char *mem;	/* n workspaces, stride bytes apart */
	int busy[];		/* 1 while claimed (atomic) */
};

int zs_dpool_create(const struct zs_compressor *c, unsigned int n, struct zs_dpool **out)
{
	size_t size = sizeof(struct zs_dpool) + n * sizeof(int);
	struct zs_dpool *p;

	if (!n)
		return -EINVAL;
	p = zs_map_anon(size);
	if (!p)
		return -ENOMEM;
	p->comp = c;
	p->n = n;
	p->size = size;
	p->stride = (c->dstate_size + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
	if (p->stride && !(p->mem = zs_map_anon(n * p->stride))) {
		zs_unmap(p, size);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void zs_dpool_destroy(struct zs_dpool *p)
{
	if (!p)
		return;
	zs_unmap(p->mem, p->n * p->stride);
	zs_unmap(p, p->size);
}

void zs_dpool_after_fork_child(struct zs_dpool *p)
{
	unsigned int i;

	for (i = 0; i < p->n; i++)
		__atomic_store_n(&p->busy[i], 0, __ATOMIC_RELAXED);
}

/* Async-signal-safe.  A workspace is held only while the compressor
 * writes a page on our stack: the caller's page may fault (its handler
 * then loads too and needs a workspace of its own), so it is written only
 * once the workspace is free again.  A holder never waits for anything,
 * so a caller that finds all of them busy waits a bounded time. */
int zs_decompress(struct zs_dpool *p, const void *src, size_t src_len, void *dst,
		  size_t dst_cap)
{
	unsigned char page[ZS_PAGE_SIZE];
	unsigned int i;
	int ret;

	if (!p->stride)
		return p->comp->decompress(NULL, src, src_len, dst, dst_cap);
	if (dst_cap > sizeof(page))
		dst_cap = sizeof(page);
	for (;;) {
		for (i = 0; i < p->n; i++) {
			if (__atomic_load_n(&p->busy[i], __ATOMIC_RELAXED) ||
			    __atomic_exchange_n(&p->busy[i], 1, __ATOMIC_ACQUIRE))
				continue;
			ret = p->comp->decompress(p->mem + i * p->stride, src, src_len, page,
						  dst_cap);
			__atomic_store_n(&p->busy[i], 0, __ATOMIC_RELEASE);
			if (ret > 0)
				memcpy(dst, page, (size_t)ret);
			return ret;
		}
		sched_yield();
	}
}
