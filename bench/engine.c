/*
 * engine.c - what the engine costs per page, next to the floor it cannot beat.
 *
 * Each row generates N pages before any timing, times the floor on them (the
 * compressor alone in page order, decompression alone in a shuffled order),
 * then the engine (stores in page order, loads in the same shuffled order).
 * run_ops() times each operation alone, minus an empty timed region's cost;
 * after_op(), untimed, compares every page that comes back with the original:
 * a mismatch or an unexpected error ends the run at once with status 1, and
 * statistics that contradict the run print WARNING lines and make it 1.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "common.h"
#include "compress.h"
#include "engine.h"
#include "options.h"
#include "pagegen.h"

#define KEY(i) ((uintptr_t)((i) + 1) << 12)
#define KIND_MIXED ZS_PAGE_NKINDS	/* a row of zs_page_kind_mixed pages */
#define PAGE(b, i) ((b)->pages + (size_t)(i) * ZS_PAGE_SIZE)
#define CBUF(b, i) ((b)->cbuf + (size_t)(i) * ZS_COMPRESS_BOUND)

enum op { OP_NONE, OP_COMPRESS, OP_DECOMPRESS, OP_STORE, OP_LOAD, OP_PWRITE, OP_PREAD };

struct bench {
	size_t n, nlive;		/* pages per row; pages the engine accepted */
	const char *compressor, *dir;	/* dir: where the swap files live */
	const struct zs_compressor *comp;
	void *state, *dstate;		/* the floor's compression state, decompression workspace */
	unsigned char *pages, *cbuf;	/* n pages, generated before timing; the floor's
					 * output, ZS_COMPRESS_BOUND apart, clen bytes each */
	int *clen;
	size_t *order, *live;		/* shuffled order; the stored pages in it */
	bool *stored;			/* the engine accepted page i */
	uint64_t *ns[2];		/* one sample per operation, two buckets */
	uint64_t timer_ns, from_swap;	/* empty timed region; loads_from_swap so far */
	uint64_t cbytes, cpages;	/* compressed size of the not same-filled pages */
	struct zs_engine *e;
	int fd, status;			/* fd: the pwrite/pread floor's file */
	unsigned char out[ZS_PAGE_SIZE];
};

/* The operation timed on page i: what the call returned. */
static int do_op(struct bench *b, enum op op, size_t i)
{
	switch (op) {
	case OP_NONE: /* the timer's own cost */
		return 0;
	case OP_COMPRESS:
		return b->clen[i] = b->comp->compress(b->state, PAGE(b, i), ZS_PAGE_SIZE,
						      CBUF(b, i), ZS_COMPRESS_BOUND);
	case OP_DECOMPRESS:
		return b->comp->decompress(b->dstate, CBUF(b, i), (size_t)b->clen[i], b->out,
					   ZS_PAGE_SIZE);
	case OP_STORE:
		return zs_engine_store(b->e, KEY(i), PAGE(b, i));
	case OP_LOAD:
		return zs_engine_load(b->e, KEY(i), b->out);
	case OP_PWRITE:
		return (int)pwrite(b->fd, PAGE(b, i), ZS_PAGE_SIZE, (off_t)(i * ZS_PAGE_SIZE));
	default:
		return (int)pread(b->fd, b->out, ZS_PAGE_SIZE, (off_t)(i * ZS_PAGE_SIZE));
	}
}

/* Untimed, after op on page i returned ret: fail on an unexpected result or
 * a page that did not come back intact; count what the row reports.  1 when
 * the sample belongs in the second bucket (a load served by the swap file). */
static int after_op(struct bench *b, enum op op, size_t i, int ret)
{
	static const char *const what[] = { "nothing", "compress", "LZ4_decompress_safe",
					     "zs_engine_store", "zs_engine_load", "pwrite", "pread" };
	bool ok = op == OP_LOAD ? !ret : op == OP_NONE || ret == (int)ZS_PAGE_SIZE;
	const unsigned char *want = PAGE(b, i);
	struct zs_stats s;

	/* same-filled: every byte equals the one 8 bytes further on */
	if (op == OP_COMPRESS && (ok = ret > 0) && memcmp(want, want + 8, ZS_PAGE_SIZE - 8))
		b->cbytes += (uint64_t)ret, b->cpages++;
	if (op == OP_STORE) { /* the engine counts its refusals */
		ok = !ret || ret == -E2BIG || ret == -ENOMEM;
		b->stored[i] = !ret;
		b->nlive += !ret;
	}
	if (!ok)
		FAIL("%s of page %zu (key %#lx) returned %d: %s", what[op], i,
		     (unsigned long)KEY(i), ret, strerror(op >= OP_PWRITE ? errno : -ret));
	if ((op == OP_DECOMPRESS || op == OP_LOAD || op == OP_PREAD) &&
	    memcmp(b->out, want, ZS_PAGE_SIZE))
		FAIL("page %zu (key %#lx) differs from its original after %s", i,
		     (unsigned long)KEY(i), what[op]);
	if (op != OP_LOAD)
		return 0;
	zs_engine_stats(b->e, &s);
	ret = s.loads_from_swap != b->from_swap;
	b->from_swap = s.loads_from_swap;
	return ret;
}

/* Run op on pages idx[0..m) (NULL: 0..m), each timed alone (clock_gettime,
 * CLOCK_MONOTONIC); d[0], d[1]: the two buckets. */
static void run_ops(struct bench *b, const size_t *idx, size_t m, enum op op, struct dist d[2])
{
	size_t k, i, cnt[2] = { 0, 0 };
	uint64_t t0, t1;
	int ret, bucket;

	for (k = 0; k < m; k++) {
		i = idx ? idx[k] : k;
		t0 = bench_now_ns();
		ret = do_op(b, op, i);
		t1 = bench_now_ns();
		bucket = after_op(b, op, i, ret);
		b->ns[bucket][cnt[bucket]++] = t1 - t0;
	}
	d[0] = bench_summarize(b->ns[0], cnt[0], b->timer_ns);
	d[1] = bench_summarize(b->ns[1], cnt[1], b->timer_ns);
}

/* Generate this row's pages, shuffle the load order, time the floors. */
static void floors(struct bench *b, unsigned int kind, uint64_t row, struct dist comp[2],
		   struct dist dec[2])
{
	uint64_t r = row, seed;
	size_t i, j;

	for (i = 0; i < b->n; i++) {
		seed = (row << 40) + i + 1;
		zs_page_generate(kind == KIND_MIXED ? zs_page_kind_mixed(seed) : kind, seed,
				 PAGE(b, i));
		j = zs_rand_next(&r) % (i + 1); /* Fisher-Yates, inside out */
		b->order[i] = b->order[j];
		b->order[j] = i;
	}
	b->cbytes = b->cpages = 0;
	run_ops(b, NULL, b->n, OP_COMPRESS, comp);
	run_ops(b, b->order, b->n, OP_DECOMPRESS, dec);
}

static void expect(struct bench *b, const char *what, uint64_t got, uint64_t want)
{
	if (got != want) {
		printf("WARNING: %s is %llu, expected %llu\n", what, (unsigned long long)got,
		       (unsigned long long)want);
		b->status = 1;
	}
}

/* Store every page, then load every stored one in the floor's shuffled
 * order; *st: the statistics right after the stores.  Loads are exclusive,
 * so the engine must be empty at the end. */
static void engine_run(struct bench *b, uint64_t max_pool_size, struct dist store[2],
		       struct dist load[2], struct zs_stats *st)
{
	struct zs_options o;
	struct zs_stats s;
	char msg[256];
	size_t k, m;

	zs_options_defaults(&o);
	snprintf(o.compressor, sizeof(o.compressor), "%s", b->compressor);
	o.mem_limit = UINT64_C(64) << 30;
	o.max_pool_size = max_pool_size;
	if (zs_engine_create(&o, &b->e, msg, sizeof(msg)))
		FAIL("engine: %s", msg);
	b->nlive = b->from_swap = 0;
	run_ops(b, NULL, b->n, OP_STORE, store);
	zs_engine_stats(b->e, st);
	if (zs_engine_validate(b->e, msg, sizeof(msg)))
		FAIL("engine invalid after the stores: %s", msg);
	for (k = m = 0; k < b->n; k++)
		if (b->stored[b->order[k]])
			b->live[m++] = b->order[k];
	run_ops(b, b->live, m, OP_LOAD, load);
	zs_engine_stats(b->e, &s);
	zs_engine_destroy(b->e);
	expect(b, "stored_pages + swap_pages after the stores", st->stored_pages + st->swap_pages,
	       b->nlive);
	expect(b, "same_filled_pages after the stores", st->same_filled_pages, b->n - b->cpages);
	expect(b, "the reject_* counters' sum", st->reject_compress_poor + st->reject_reclaim_fail +
	       st->reject_alloc_fail + st->reject_kmemcache_fail + st->reject_compress_fail,
	       b->n - b->nlive);
	expect(b, "stored_pages + swap_pages + compressed_bytes + pool_total_size at the end",
	       s.stored_pages + s.swap_pages + s.compressed_bytes + s.pool_total_size, 0);
}

/* One number, or "-" when there is none. */
static void print_num(double v, bool ok, int width)
{
	if (ok)
		printf(" %*.2f", width, v);
	else
		printf(" %*s", width, "-");
}

#define print_us(ns, ok) print_num((ns) / 1000, (ok), 7)
#define print_ratio(a, b) print_num((double)(a) / (double)(b), (a) > 0 && (b) > 0, 5)

static void print_pair(const struct dist *d, const struct dist *floor)
{
	print_us(d->med, d->n), print_us(d->p99, d->n);
	print_us(floor->med, floor->n), print_us(floor->p99, floor->n);
	print_ratio(d->med, floor->med);
	printf(" |");
}

/* One table row; the page columns come from the last run unless st is NULL. */
static void print_row(const struct bench *b, const char *label, const struct zs_stats *st,
		      const struct dist *store, const struct dist *comp, const struct dist *load,
		      const struct dist *dec)
{
	printf("%-7s", label);
	if (st) {
		print_ratio(ZS_PAGE_SIZE * b->cpages, b->cbytes);
		print_ratio(st->compressed_bytes, st->pool_total_size);
		printf(" %7zu %6llu |", b->n - b->nlive, (unsigned long long)(b->n - b->cpages));
	} else {
		printf(" %5s %5s %7s %6s |", "-", "-", "-", "-");
	}
	print_pair(store, comp);
	print_pair(load, dec);
	printf("\n");
}

/* The heap pages again, under max_pool_size 4M: most are written back. */
static void run_writeback(struct bench *b)
{
	struct dist comp[2], dec[2], wr[2], rd[2], store[2], load[2], none = { 0 };
	struct zs_stats st;

	floors(b, ZS_PAGE_HEAP, ZS_PAGE_HEAP + 1, comp, dec);
	if ((b->fd = open(b->dir, O_TMPFILE | O_RDWR, 0600)) < 0)
		FAIL("a file in %s: %s", b->dir, strerror(errno));
	run_ops(b, NULL, b->n, OP_PWRITE, wr);
	run_ops(b, b->order, b->n, OP_PREAD, rd);
	close(b->fd);
	engine_run(b, UINT64_C(4) << 20, store, load, &st);
	print_row(b, "wb-pool", &st, store, comp, load, dec);
	print_row(b, "wb-swap", NULL, &none, &none, &load[1], rd);
	expect(b, "loads from the swap file", load[1].n, st.written_back_pages);
	/* Per page written back: what the stores spent beyond compressing. */
	printf("\nwriteback rows: swap file in %s, written_back_pages %llu, pool_limit_hit %llu;\n"
	       "  store mean %.2f us (compress %.2f): %.2f us per page written back; pwrite 4 KiB "
	       "floor med %.2f, p99 %.2f\n", b->dir, (unsigned long long)st.written_back_pages,
	       (unsigned long long)st.pool_limit_hit, store[0].mean / 1000, comp[0].mean / 1000,
	       (store[0].mean - comp[0].mean) * (double)b->n / 1000 /
	       (double)(st.written_back_pages ? st.written_back_pages : 1), wr[0].med / 1000,
	       wr[0].p99 / 1000);
}

static void print_header(const struct bench *b)
{
	printf("ENGINE: zs_engine_store/load against the compressor alone\n"
	       "run: %zu pages (%zu MiB) per row, compressor %s, swap files in %s\n"
	       "timing: every operation timed alone (clock_gettime CLOCK_MONOTONIC), the timer's "
	       "own %llu ns (median) subtracted\n\n", b->n, b->n * ZS_PAGE_SIZE >> 20,
	       b->compressor, b->dir, (unsigned long long)b->timer_ns);
	printf("%35s|%16s%16s%6s |%16s%16s%6s |\n%s\n", "", "store", "compress", "", "load",
	       "decompress", "", "kind    ratio  dens refused   same |     med     p99     med"
	       "     p99  st/c |     med     p99     med     p99  ld/d |");
}

static void print_legend(void)
{
	printf("\nlegend: times in us per 4 KiB page; med = median, p99 = 99th percentile\n"
	       "  ratio    4096 / mean compressed size of the pages the engine compresses\n"
	       "  dens     zbud density: compressed_bytes / pool_total_size after the N stores\n"
	       "  refused  stores refused (random: reject_compress_poor); same: same-filled pages\n"
	       "  store    zs_engine_store, page order; st/c: store med / compress med\n"
	       "  compress the compressor alone (lz4: LZ4_compress_fast_extState), own state\n"
	       "  load     zs_engine_load of every stored page, shuffled order; decompress:\n"
	       "           LZ4_decompress_safe alone, same pages, same order; ld/d: ratio\n"
	       "  wb-pool  heap pages under max_pool_size 4M; store includes writeback; load:\n"
	       "           the loads the pool served.  wb-swap: the loads the swap file served,\n"
	       "           next to pread of 4 KiB from a file in the same directory\n"
	       "Every page that came back was compared byte for byte with its original.\n");
}


/* The engine's rows; 0, or 1 when a statistic contradicted the run. */
int bench_engine(size_t n, const char *compressor, const char *dir)
{
	static const unsigned int kinds[] = { ZS_PAGE_TEXT, ZS_PAGE_HEAP, ZS_PAGE_ZERO,
					      ZS_PAGE_RANDOM, KIND_MIXED };
	struct bench b = { .n = n, .compressor = compressor, .dir = dir };
	struct dist comp[2], dec[2], store[2], load[2];
	struct zs_stats st;
	size_t k;

	b.comp = zs_compressor_find(compressor);
	b.state = bench_alloc(b.comp->state_size);
	b.dstate = bench_alloc(b.comp->dstate_size);
	b.pages = bench_alloc(b.n * ZS_PAGE_SIZE);
	b.cbuf = bench_alloc(b.n * ZS_COMPRESS_BOUND);
	b.clen = bench_alloc(b.n * sizeof(*b.clen));
	b.order = bench_alloc(2 * b.n * sizeof(size_t));
	b.live = b.order + b.n;
	b.stored = bench_alloc(b.n * sizeof(bool));
	b.ns[0] = bench_alloc(2 * b.n * sizeof(uint64_t));
	b.ns[1] = b.ns[0] + b.n;
	b.timer_ns = bench_timer_ns();

	print_header(&b);
	for (k = 0; k < ZS_ARRAY_SIZE(kinds); k++) {
		floors(&b, kinds[k], kinds[k] + 1, comp, dec);
		engine_run(&b, 0, store, load, &st);
		print_row(&b, k == ZS_ARRAY_SIZE(kinds) - 1 ? "mixed" : zs_page_kind_name(kinds[k]),
			  &st, store, comp, load, dec);
		if (kinds[k] == ZS_PAGE_HEAP) {
			bench_result("engine load (heap pages), median", "us", load[0].med / 1000,
				     dec[0].med / 1000, 0, "");
			bench_result("engine store (heap pages), median", "us", store[0].med / 1000,
				     comp[0].med / 1000, 0, "");
		}
	}
	run_writeback(&b);
	print_legend();
	return b.status;
}
