/*
 * test_compress.c - every compressor in the table (compress.h).
 *
 * Round trips: every page kind of pagegen.h over several seeds, and a page
 * with one byte set, compared byte for byte.  Bounds: decompression of
 * truncated or corrupted input and into too small a buffer must fail (or,
 * where LZ4's block format cannot tell, at least never yield a whole page)
 * and must never write past dst_cap; guard bytes follow every output buffer
 * to show it.  Ratios: text and heap pages compress, random pages do not;
 * the total over mixed pages is printed for each (lzo-rle next to lzo).
 *
 * LZ4 blocks carry no length or checksum: input cut right after a run of
 * literals still decodes, to a shorter output, and a flipped literal byte
 * decodes to other bytes.  The engine catches both by requiring exactly
 * ZS_PAGE_SIZE bytes back, so that is what is asserted for arbitrary cuts
 * and flips; inputs that are certainly invalid must return < 0.  The other
 * formats end with an end marker (LZO, deflate) or carry the content size
 * (zstd), so every cut must be refused.
 *
 * Allocation: this program interposes malloc and friends (forwarding to
 * glibc's __libc_* functions) and counts the calls made while compressing
 * and decompressing: there must be none, and a library's own malloc (via
 * strdup) is counted, to show the counter sees them.  States are filled
 * with garbage first: a compressor must not rely on their contents.
 * Signal safety: every compressor decompresses inside a signal handler on a
 * 64 KiB alternate stack, as the shim's fault handler does; the stack depth
 * used is printed.  The engine runs once per compressor with a small pool:
 * stores, writeback and loads, every byte compared.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "compress.h"
#include "engine.h"
#include "pagegen.h"
#include "stats.h"
#include "tap.h"

#define NSEEDS 8
#define GUARD 64
#define GUARD_BYTE 0xA5
#define ALTSTACK (64 << 10)

static const char *const names[] = { "lzo", "lzo-rle", "lz4", "lz4hc", "zstd", "deflate" };

/* ---- a counting malloc ---- */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

/* volatile: the compiler assumes malloc and strdup touch no global of ours. */
static volatile int counting, allocs;

/* Exported in spite of -fvisibility=hidden, so libraries bind to them. */
#define INTERPOSE __attribute__((visibility("default")))

INTERPOSE void *malloc(size_t n)
{
	allocs += counting;
	return __libc_malloc(n);
}

INTERPOSE void *calloc(size_t n, size_t size)
{
	allocs += counting;
	return __libc_calloc(n, size);
}

INTERPOSE void *realloc(void *p, size_t n)
{
	allocs += counting;
	return __libc_realloc(p, n);
}

INTERPOSE void *aligned_alloc(size_t align, size_t n)
{
	allocs += counting;
	return __libc_memalign(align, n);
}

INTERPOSE int posix_memalign(void **out, size_t align, size_t n)
{
	allocs += counting;
	*out = __libc_memalign(align, n);
	return *out ? 0 : ENOMEM;
}

INTERPOSE void free(void *p)
{
	__libc_free(p);
}

/* ---- buffers ---- */

/* An output buffer of `cap` bytes followed by GUARD guard bytes. */
struct outbuf {
	unsigned char *p;
	size_t cap;
};

static struct outbuf out_new(size_t cap)
{
	struct outbuf o = { malloc(cap + GUARD), cap };

	if (!o.p)
		exit(1);
	memset(o.p, 0, cap);
	memset(o.p + cap, GUARD_BYTE, GUARD);
	return o;
}

static bool guard_intact(const struct outbuf *o)
{
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (o->p[o->cap + i] != GUARD_BYTE)
			return false;
	return true;
}

/* A state or workspace of `size` bytes full of garbage (NULL for 0). */
static void *garbage(size_t size)
{
	void *p;

	if (!size)
		return NULL;
	p = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!p)
		exit(1);
	return memset(p, 0x5A, size);
}

/* A compressor and its two buffers. */
struct comp {
	const struct zs_compressor *c;
	void *state, *dstate;
};

static int decomp(const struct comp *k, const void *src, size_t len, struct outbuf *o)
{
	int ret;

	counting = 1;
	ret = k->c->decompress(k->dstate, src, len, o->p, o->cap);
	counting = 0;
	return ret;
}

/* Compress a page: the compressed length (or <= 0). */
static int comp_page(const struct comp *k, const unsigned char *page, unsigned char *dst)
{
	int ret;

	counting = 1;
	ret = k->c->compress(k->state, page, ZS_PAGE_SIZE, dst, ZS_COMPRESS_BOUND);
	counting = 0;
	return ret;
}

static int compress_page(const struct comp *k, enum zs_page_kind kind, uint64_t seed,
			 unsigned char *page, unsigned char *dst)
{
	zs_page_generate(kind, seed, page);
	return comp_page(k, page, dst);
}

/* ---- the table ---- */

static void test_table(void)
{
	const char *list = zs_compressor_names();
	char copy[128], *tok, *save;
	size_t i;
	int listed = 0;

	for (i = 0; i < ZS_ARRAY_SIZE(names); i++) {
		const struct zs_compressor *c = zs_compressor_find(names[i]);

		ok(c && strcmp(c->name, names[i]) == 0, "zs_compressor_find(\"%s\")", names[i]);
		ok(c && c->state_size > 0, "%s: state_size > 0 (%zu)", names[i],
		   c ? c->state_size : 0);
		ok(c && c->compress && c->decompress, "%s: both functions set", names[i]);
	}
	ok(zs_compressor_find("842") == NULL, "a kernel name we lack, \"842\": NULL");
	ok(zs_compressor_find("") == NULL, "empty name: NULL");
	ok(zs_compressor_find("lz") == NULL, "a prefix of a name: NULL");
	ok(zs_compressor_find("lz4hcx") == NULL, "a name with a suffix: NULL");
	ok(zs_compressor_find("lzo-") == NULL, "\"lzo-\": NULL");
	snprintf(copy, sizeof(copy), "%s", list);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		listed += zs_compressor_find(tok) != NULL ? 1 : -100;
	is(listed, (int)ZS_ARRAY_SIZE(names), "zs_compressor_names() lists exactly the table: %s",
	   list);
	ok(strncmp(list, "lzo, lzo-rle, ", 14) == 0, "in the table's order, lzo first");
}

/* ---- one compressor ---- */

static bool round_trip(const struct comp *k, const unsigned char *page, struct outbuf *o,
		       int *n_out)
{
	unsigned char dst[ZS_COMPRESS_BOUND];
	int n = comp_page(k, page, dst), m;

	memset(o->p, 0, o->cap);
	m = n > 0 ? decomp(k, dst, (size_t)n, o) : -1;
	*n_out = n;
	return n > 0 && n <= (int)ZS_COMPRESS_BOUND && m == (int)ZS_PAGE_SIZE &&
	       memcmp(o->p, page, ZS_PAGE_SIZE) == 0 && guard_intact(o);
}

/* Zero runs of every length from 1 to 300 (lzo-rle cuts those of 64 and
 * more), between stretches of 1 to 200 random bytes, starting with either. */
static void runs_page(uint64_t seed, unsigned char *page)
{
	uint64_t r = seed;
	size_t at = 0, len;
	bool zero = seed & 1;

	while (at < ZS_PAGE_SIZE) {
		len = 1 + zs_rand_next(&r) % (zero ? 300 : 200);
		if (len > ZS_PAGE_SIZE - at)
			len = ZS_PAGE_SIZE - at;
		for (; len; len--, at++)
			page[at] = zero ? 0 : (unsigned char)(1 + zs_rand_next(&r) % 255);
		zero = !zero;
	}
}

/* Every kind, NSEEDS seeds, pages of zero runs, and one byte set anywhere:
 * compress, decompress, compare every byte. */
static void test_round_trip(const struct comp *k)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct outbuf o = out_new(ZS_PAGE_SIZE);
	int kind, bad, n;
	uint64_t seed;

	for (kind = 0; kind < ZS_PAGE_NKINDS; kind++) {
		bad = 0;
		for (seed = 1; seed <= NSEEDS; seed++) {
			zs_page_generate(kind, seed, page);
			if (!round_trip(k, page, &o, &n) && !bad++)
				diag("%s %s seed %lu: compressed %d", k->c->name,
				     zs_page_kind_name(kind), (unsigned long)seed, n);
		}
		is(bad, 0, "%s: %s pages round trip byte for byte (%d seeds)", k->c->name,
		   zs_page_kind_name(kind), NSEEDS);
	}
	bad = 0;
	for (seed = 1; seed <= 64; seed++) {
		runs_page(seed, page);
		bad += !round_trip(k, page, &o, &n);
	}
	is(bad, 0, "%s: pages of zero runs 1 to 300 bytes long round trip (64 seeds)",
	   k->c->name);
	bad = 0;
	for (seed = 0; seed < ZS_PAGE_SIZE; seed += 509) {
		memset(page, 0, sizeof(page));
		page[seed] = (unsigned char)(1 + seed % 255);
		bad += !round_trip(k, page, &o, &n) || n >= 64;
	}
	is(bad, 0, "%s: pages with one byte set round trip, in < 64 bytes", k->c->name);
	free(o.p);
}

static void test_ratio(const struct comp *k)
{
	unsigned char page[ZS_PAGE_SIZE], dst[ZS_COMPRESS_BOUND];
	int text_max = 0, heap_max = 0, random_min = INT32_MAX, zero_max = 0, n;
	uint64_t seed, total = 0;

	for (seed = 1; seed <= NSEEDS; seed++) {
		n = compress_page(k, ZS_PAGE_TEXT, seed, page, dst);
		text_max = n > text_max ? n : text_max;
		n = compress_page(k, ZS_PAGE_HEAP, seed, page, dst);
		heap_max = n > heap_max ? n : heap_max;
		n = compress_page(k, ZS_PAGE_ZERO, seed, page, dst);
		zero_max = n > zero_max ? n : zero_max;
		n = compress_page(k, ZS_PAGE_RANDOM, seed, page, dst);
		random_min = n < random_min ? n : random_min;
	}
	for (seed = 0; seed < 512; seed++) {
		n = compress_page(k, zs_page_kind_mixed(seed), seed, page, dst);
		total += n > 0 && n < (int)ZS_PAGE_SIZE ? (uint64_t)n : ZS_PAGE_SIZE;
	}
	diag("%s: largest text %d, heap %d, zero %d; smallest random %d bytes; 512 mixed pages "
	     "%llu bytes, ratio %.3f", k->c->name, text_max, heap_max, zero_max, random_min,
	     (unsigned long long)total, 512.0 * ZS_PAGE_SIZE / (double)total);
	ok(text_max > 0 && text_max < (int)ZS_PAGE_SIZE, "%s: text pages compress below 4096",
	   k->c->name);
	ok(heap_max > 0 && heap_max < (int)ZS_PAGE_SIZE, "%s: heap pages compress below 4096",
	   k->c->name);
	ok(zero_max > 0 && zero_max < 64, "%s: zero pages compress below 64 bytes", k->c->name);
	ok(random_min >= (int)ZS_PAGE_SIZE, "%s: random pages do not compress below 4096",
	   k->c->name);
}

/* Compression into too small a buffer fails and stays inside it. */
static void test_compress_small_dst(const struct comp *k)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct outbuf o = out_new(ZS_PAGE_SIZE - 96);
	int n;

	zs_page_generate(ZS_PAGE_RANDOM, 7, page);
	n = k->c->compress(k->state, page, ZS_PAGE_SIZE, o.p, o.cap);
	is(n, -EINVAL, "%s: a random page into %zu bytes: -EINVAL", k->c->name, o.cap);
	ok(guard_intact(&o), "%s: compress wrote nothing past dst_cap", k->c->name);
	free(o.p);
}

/* A valid compressed page into buffers smaller than a page. */
static void test_small_dst(const struct comp *k, const unsigned char *z, int n)
{
	static const size_t caps[] = { 0, 1, 100, 2048, ZS_PAGE_SIZE - 1 };
	int bad = 0, ret;
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(caps); i++) {
		struct outbuf o = out_new(caps[i]);

		ret = decomp(k, z, (size_t)n, &o);
		if (ret != -EINVAL || !guard_intact(&o)) {
			if (!bad++)
				diag("%s: dst_cap %zu gave %d, guard %s", k->c->name, caps[i],
				     ret, guard_intact(&o) ? "intact" : "overwritten");
		}
		free(o.p);
	}
	is(bad, 0, "%s: dst_cap below a page: -EINVAL, nothing written past dst_cap",
	   k->c->name);
}

/* Every cut of the input: never a whole page, never past dst_cap. */
static void test_truncated(const struct comp *k, const unsigned char *z, int n)
{
	struct outbuf o = out_new(ZS_PAGE_SIZE);
	bool lz4 = strncmp(k->c->name, "lz4", 3) == 0;
	int len, ret, whole = 0, overrun = 0, refused = 0;

	for (len = 0; len < n; len++) {
		ret = decomp(k, z, (size_t)len, &o);
		whole += ret == (int)ZS_PAGE_SIZE;
		refused += ret == -EINVAL;
		overrun += ret > (int)o.cap || !guard_intact(&o);
	}
	diag("%s: %d of %d cuts refused, the rest decoded short", k->c->name, refused, n);
	is(whole, 0, "%s: no truncated input decodes to a whole page", k->c->name);
	is(overrun, 0, "%s: truncated input never writes past dst_cap", k->c->name);
	if (!lz4)
		is(refused, n, "%s: every cut is refused with -EINVAL", k->c->name);
	is(decomp(k, z, 0, &o), -EINVAL, "%s: empty input: -EINVAL", k->c->name);
	is(decomp(k, z, (size_t)n - 1, &o), -EINVAL, "%s: last byte cut off: -EINVAL",
	   k->c->name);
	ok(decomp(k, z, (size_t)n / 2, &o) != (int)ZS_PAGE_SIZE,
	   "%s: half the input is not a page", k->c->name);
	free(o.p);
}

/* Inputs that cannot be a valid block. */
static void test_invalid(const struct comp *k)
{
	/* LZ4: a literal run that goes on past the end of the input. */
	unsigned char ff[200];
	/* LZ4: no literals, then a match 0xffff bytes back: before the output. */
	unsigned char back[] = { 0x0F, 0xFF, 0xFF, 0x00, 0x10, 0x00 };
	struct outbuf o = out_new(ZS_PAGE_SIZE);

	memset(ff, 0xFF, sizeof(ff));
	is(decomp(k, ff, sizeof(ff), &o), -EINVAL, "%s: all 0xFF bytes: -EINVAL", k->c->name);
	is(decomp(k, back, sizeof(back), &o), -EINVAL, "%s: a match before the start: -EINVAL",
	   k->c->name);
	ok(guard_intact(&o), "%s: invalid input wrote nothing past dst_cap", k->c->name);
	free(o.p);
}

/* Random byte flips: whatever comes back stays inside dst_cap. */
static void test_corrupted(const struct comp *k, const unsigned char *z, int n)
{
	unsigned char bad[ZS_COMPRESS_BOUND];
	struct outbuf o = out_new(ZS_PAGE_SIZE);
	uint64_t r = 42;
	int t, i, ret, overrun = 0, refused = 0, other = 0, trials = 2000;

	for (t = 0; t < trials; t++) {
		memcpy(bad, z, (size_t)n);
		for (i = 0; i < 1 + t % 4; i++) {
			uint64_t at = zs_rand_next(&r) % (uint64_t)n;

			bad[at] ^= (unsigned char)(1 + zs_rand_next(&r) % 255);
		}
		ret = decomp(k, bad, (size_t)n, &o);
		refused += ret == -EINVAL;
		other += ret < 0 && ret != -EINVAL;
		overrun += ret > (int)o.cap || !guard_intact(&o);
	}
	diag("%s: %d of %d corrupted inputs refused", k->c->name, refused, trials);
	is(overrun, 0, "%s: corrupted input never writes past dst_cap", k->c->name);
	is(other, 0, "%s: a refusal is always -EINVAL", k->c->name);
	ok(refused > 0, "%s: corruption is detected at least sometimes", k->c->name);
	free(o.p);
}

static void test_compressor(const char *name)
{
	struct comp k = { zs_compressor_find(name), NULL, NULL };
	unsigned char page[ZS_PAGE_SIZE], z[ZS_COMPRESS_BOUND];
	int n;

	if (!k.c) {
		ok(0, "%s: in the table", name);
		return;
	}
	k.state = garbage(k.c->state_size);
	k.dstate = garbage(k.c->dstate_size);
	allocs = 0;
	test_round_trip(&k);
	test_ratio(&k);
	test_compress_small_dst(&k);
	n = compress_page(&k, ZS_PAGE_TEXT, 3, page, z);
	ok(n > 16, "%s: a text page to damage (%d bytes)", name, n);
	if (n > 16) {
		test_small_dst(&k, z, n);
		test_truncated(&k, z, n);
		test_corrupted(&k, z, n);
	}
	test_invalid(&k);
	is(allocs, 0, "%s: compression and decompression allocated nothing", name);
	free(k.state);
	free(k.dstate);
}

/* ---- in a signal handler, on a small stack ---- */

static struct {
	struct comp k[ZS_ARRAY_SIZE(names)];
	unsigned char z[ZS_ARRAY_SIZE(names)][ZS_COMPRESS_BOUND];
	int n[ZS_ARRAY_SIZE(names)], got[ZS_ARRAY_SIZE(names)];
	unsigned char out[ZS_ARRAY_SIZE(names)][ZS_PAGE_SIZE];
} sig;

static void on_usr1(int signo)
{
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(names); i++)
		sig.got[i] = sig.k[i].c->decompress(sig.k[i].dstate, sig.z[i], (size_t)sig.n[i],
						    sig.out[i], ZS_PAGE_SIZE);
}

static void test_signal_stack(void)
{
	unsigned char page[ZS_PAGE_SIZE], *stack = malloc(ALTSTACK);
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	stack_t ss = { .ss_sp = stack, .ss_size = ALTSTACK };
	size_t i, used;
	int bad = 0;

	memset(stack, 0xCC, ALTSTACK);
	for (i = 0; i < ZS_ARRAY_SIZE(names); i++) {
		sig.k[i].c = zs_compressor_find(names[i]);
		sig.k[i].state = garbage(sig.k[i].c->state_size);
		sig.k[i].dstate = garbage(sig.k[i].c->dstate_size);
		sig.n[i] = compress_page(&sig.k[i], ZS_PAGE_HEAP, 11, page, sig.z[i]);
	}
	sigaltstack(&ss, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	counting = 1;
	raise(SIGUSR1);
	counting = 0;
	for (used = ALTSTACK; used > 0 && stack[ALTSTACK - used] == 0xCC; used--)
		;
	for (i = 0; i < ZS_ARRAY_SIZE(names); i++)
		bad += sig.got[i] != (int)ZS_PAGE_SIZE || memcmp(sig.out[i], page, ZS_PAGE_SIZE);
	diag("decompressing in a handler used %zu bytes of a %d-byte signal stack", used,
	     ALTSTACK);
	is(bad, 0, "every compressor decompresses in a signal handler on a 64 KiB stack");
	is(allocs, 0, "and allocates nothing there");
	ok(used < ALTSTACK / 2, "using less than half that stack");
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	for (i = 0; i < ZS_ARRAY_SIZE(names); i++) {
		free(sig.k[i].state);
		free(sig.k[i].dstate);
	}
	free(stack);
}

/* ---- the pool of workspaces, and the engine ---- */

struct racer {
	struct zs_dpool *pool;
	const unsigned char *z, *page;
	int n, bad;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	unsigned char out[ZS_PAGE_SIZE];
	int i;

	for (i = 0; i < 300; i++)
		r->bad += zs_decompress(r->pool, r->z, (size_t)r->n, out, sizeof(out)) !=
			  (int)ZS_PAGE_SIZE || memcmp(out, r->page, sizeof(out)) != 0;
	return NULL;
}

/* Four threads share two workspaces: each call gets one of its own. */
static void test_dpool(const char *name)
{
	struct comp k = { zs_compressor_find(name), NULL, NULL };
	unsigned char page[ZS_PAGE_SIZE], z[ZS_COMPRESS_BOUND];
	struct racer r[4];
	pthread_t t[4];
	struct zs_dpool *pool;
	int i, n, bad = 0;

	k.state = garbage(k.c->state_size);
	n = compress_page(&k, ZS_PAGE_TEXT, 5, page, z);
	ok(zs_dpool_create(k.c, 0, &pool) == -EINVAL, "%s: a pool of 0 workspaces: -EINVAL",
	   name);
	if (zs_dpool_create(k.c, 2, &pool)) {
		ok(0, "%s: a pool of 2 workspaces", name);
		return;
	}
	for (i = 0; i < 4; i++) {
		r[i] = (struct racer){ pool, z, page, n, 0 };
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += r[i].bad;
	}
	is(bad, 0, "%s: 4 threads x 300 decompressions through 2 workspaces, all exact", name);
	zs_dpool_destroy(pool);
	free(k.state);
}

static char tmpdir[] = "/tmp/zs-compress-XXXXXX";

/* A small pool, so that writeback decompresses too; every page back. */
static void test_engine(const char *name)
{
	unsigned char page[ZS_PAGE_SIZE], want[ZS_PAGE_SIZE];
	struct zs_engine *e = NULL;
	struct zs_options o;
	struct zs_stats s;
	char err[256];
	int i, n = 300, refused = 0, bad = 0, loaded = 0;

	zs_options_defaults(&o);
	o.mem_limit = 1ULL << 30;
	o.max_pool_size = 128 << 10;
	strcpy(o.swapfile, tmpdir);
	snprintf(o.compressor, sizeof(o.compressor), "%s", name);
	if (zs_engine_create(&o, &e, err, sizeof(err))) {
		ok(0, "%s: engine: %s", name, err);
		return;
	}
	for (i = 0; i < n; i++) {
		zs_page_generate(zs_page_kind_mixed(i), i, page);
		refused += zs_engine_store(e, (uintptr_t)(i + 1) << 12, page) != 0;
	}
	for (i = 0; i < n; i++) {
		zs_page_generate(zs_page_kind_mixed(i), i, want);
		if (zs_engine_load(e, (uintptr_t)(i + 1) << 12, page) == 0) {
			loaded++;
			bad += memcmp(page, want, ZS_PAGE_SIZE) != 0;
		}
	}
	zs_engine_stats(e, &s);
	is(loaded, n - refused, "%s: engine: %d stores (%d refused), every stored page loads",
	   name, n, refused);
	is(bad, 0, "%s: engine: every loaded page exact", name);
	ok(s.written_back_pages > 0 && s.decompress_fail == 0,
	   "%s: engine: %llu pages written back, no decompression failure", name,
	   (unsigned long long)s.written_back_pages);
	zs_engine_destroy(e);
}

int main(void)
{
	char *volatile dup;
	size_t i;

	test_table();
	counting = 1;
	dup = strdup("counted");
	counting = 0;
	free(dup);
	ok(allocs > 0, "the malloc counter sees a library's malloc (%d)", allocs);
	for (i = 0; i < ZS_ARRAY_SIZE(names); i++)
		test_compressor(names[i]);
	allocs = 0;
	test_signal_stack();
	test_dpool("zstd");
	test_dpool("deflate");
	if (!mkdtemp(tmpdir))
		return printf("Bail out! mkdtemp\n"), 1;
	for (i = 0; i < ZS_ARRAY_SIZE(names); i++)
		test_engine(names[i]);
	rmdir(tmpdir);
	return done_testing();
}
