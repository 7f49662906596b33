/*
 * pager.c - freeze and thaw through the pager, as the shim's reclaim thread
 * and fault handler drive it, next to the floor measured on the same pages
 * in the same run.
 *
 * One reservation of n pages of generated heap content (the same seeds as
 * the engine rows), one SIGSEGV handler for both modes:
 *
 *   floor freeze  compress each page of a 256-page window into a buffer of
 *                 ours, then one mprotect(PROT_NONE) and one MADV_DONTNEED
 *                 over the window: the least any freezer must do;
 *   floor thaw    touch in a shuffled order; the handler unprotects the page
 *                 and decompresses into it (from the pool: LZ4 alone; from
 *                 the swap file: pread of 4 KiB from a file of ours);
 *   pager freeze  zs_pager_sample + zs_pager_freeze over the same windows
 *                 (what reclaim does: protect, read, compress, store, drop);
 *   pager thaw    the same touches; the handler calls zs_pager_fault.
 *
 * Freezes are timed per window and reported per page; thaws are timed per
 * touch.  Every page is compared with its original after each thaw.  The
 * freezes run again with a second thread spinning on the other CPU: each
 * protection change then costs the TLB shootdown an IPI brings.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench.h"
#include "common.h"
#include "compress.h"
#include "engine.h"
#include "histo.h"
#include "options.h"
#include "pagegen.h"
#include "pager.h"

#define WINDOW 256 /* pages per freeze, as one step of the reclaim hand */

enum mode { FLOOR_POOL, FLOOR_SAFE, FLOOR_FILE, PAGER };

static struct {
	enum mode mode;
	struct zs_pager *pager;
	unsigned char *base, *orig;	/* the pages; their contents, unmanaged */
	size_t n;
	const struct zs_compressor *comp;
	void *state, *dstate;
	unsigned char *cbuf;		/* the floor's compressed pages, ... */
	int *clen;			/* ...clen[i] bytes at cbuf + i * ZS_COMPRESS_BOUND */
	int fd;				/* the floor's file */
	int mem_fd;			/* /proc/self/mem, for the safe floor */
	size_t *order;
	uint64_t *ns, timer_ns;
	volatile int spin;		/* the second thread runs while 1 */
} B;

#define PG(i) (B.base + ((size_t)(i) << ZS_PAGE_SHIFT))

/* The floor's thaw of page i.  FLOOR_SAFE writes the page before opening
 * it, as a thaw must when other threads may look (pager.h). */
static void floor_thaw(uintptr_t page, size_t i)
{
	unsigned char buf[ZS_PAGE_SIZE];
	const unsigned char *c = B.cbuf + i * ZS_COMPRESS_BOUND;

	if (B.mode == FLOOR_SAFE) {
		B.comp->decompress(B.dstate, c, (size_t)B.clen[i], buf, ZS_PAGE_SIZE);
		if (pwrite(B.mem_fd, buf, ZS_PAGE_SIZE, (off_t)page) != ZS_PAGE_SIZE)
			abort();
	}
	mprotect((void *)page, ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	if (B.mode == FLOOR_POOL)
		B.comp->decompress(B.dstate, c, (size_t)B.clen[i], (void *)page, ZS_PAGE_SIZE);
	else if (B.mode == FLOOR_FILE &&
		 pread(B.fd, (void *)page, ZS_PAGE_SIZE, (off_t)(i << ZS_PAGE_SHIFT)) < 0)
		abort();
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t addr = (uintptr_t)si->si_addr, page = addr & ZS_PAGE_MASK;
	size_t i = (page - (uintptr_t)B.base) >> ZS_PAGE_SHIFT;
	bool write = ((ucontext_t *)ctx)->uc_mcontext.gregs[REG_ERR] & 2, handled;

	(void)sig;
	if (B.mode == PAGER) {
		zs_signals_enter_masked(); /* install_handler's mask holds them */
		handled = zs_pager_fault(B.pager, addr, write);
		zs_signals_leave_masked();
		if (handled)
			return;
	}
	if (B.mode != PAGER && page >= (uintptr_t)B.base && i < B.n) {
		floor_thaw(page, i);
		return;
	}
	signal(SIGSEGV, SIG_DFL); /* not ours: die of it */
}

/* The shim's handler flags: the access is retried on return. */
static void install_handler(void)
{
	static bool installed;

	if (installed)
		return;
	installed = true;
	struct sigaction sa = { .sa_sigaction = on_segv,
				.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER };

	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGSEGV);
	sigaction(SIGSEGV, &sa, NULL);
}

void bench_handle_faults(struct zs_pager *p)
{
	B.mode = PAGER;
	B.pager = p;
	install_handler();
}

static void *spinner(void *arg)
{
	volatile uint64_t x = 0;

	(void)arg;
	while (__atomic_load_n(&B.spin, __ATOMIC_RELAXED))
		x++;
	return NULL;
}

static void floor_freeze_window(size_t w)
{
	size_t i;

	for (i = w; i < w + WINDOW; i++)
		B.clen[i] = B.comp->compress(B.state, PG(i), ZS_PAGE_SIZE,
					     B.cbuf + i * ZS_COMPRESS_BOUND, ZS_COMPRESS_BOUND);
	mprotect(PG(w), WINDOW << ZS_PAGE_SHIFT, PROT_NONE);
	madvise(PG(w), WINDOW << ZS_PAGE_SHIFT, MADV_DONTNEED);
}

/* Freeze every window, timed; per page. */
static struct dist freeze_all(void)
{
	size_t w, k = 0;
	uint64_t t0;

	for (w = 0; w + WINDOW <= B.n; w += WINDOW) {
		t0 = bench_now_ns();
		if (B.mode == PAGER) {
			zs_pager_sample(B.pager, (uintptr_t)PG(w), WINDOW, NULL);
			if (zs_pager_freeze(B.pager, (uintptr_t)PG(w), WINDOW) != WINDOW)
				FAIL("the pager froze only part of window %zu", w / WINDOW);
		} else {
			floor_freeze_window(w);
		}
		B.ns[k++] = (bench_now_ns() - t0) / WINDOW;
	}
	return bench_summarize(B.ns, k, 0);
}

/* Touch every page in the shuffled order, each timed; then check them all.
 * swap: 1, only the touches the swap file served; 0, only the others;
 * -1, all. */
static struct dist thaw_all(struct zs_engine *e, int swap)
{
	uint64_t t0, t1, from = 0;
	struct zs_stats s;
	size_t k, m = 0;
	bool served;

	for (k = 0; k < B.n; k++) {
		volatile unsigned char *p = PG(B.order[k]);

		t0 = bench_now_ns();
		(void)*p;
		t1 = bench_now_ns();
		served = false;
		if (e) {
			zs_engine_trim(e); /* the shim's reclaim thread does it, off this path */
			zs_engine_stats(e, &s);
			served = s.loads_from_swap != from;
			from = s.loads_from_swap;
		}
		if (swap < 0 || served == (swap == 1))
			B.ns[m++] = t1 - t0;
	}
	for (k = 0; k < B.n; k++)
		if (memcmp(PG(k), B.orig + (k << ZS_PAGE_SHIFT), ZS_PAGE_SIZE))
			FAIL("page %zu differs from its original after a thaw", k);
	return bench_summarize(B.ns, m, B.timer_ns);
}

static struct zs_pager *make_pager(uint64_t max_pool_size, const char *compressor,
				   const char *dir, struct zs_engine **e)
{
	static struct zs_pager pagers[2];
	static int used;
	struct zs_pager *p = &pagers[used++];
	struct zs_options o;
	char err[256];

	zs_options_defaults(&o);
	snprintf(o.compressor, sizeof(o.compressor), "%s", compressor);
	snprintf(o.swapfile, sizeof(o.swapfile), "%s", dir);
	o.mem_limit = UINT64_C(64) << 30;
	o.max_pool_size = max_pool_size;
	if (zs_engine_create(&o, e, err, sizeof(err)) ||
	    zs_pager_create(p, *e, (uint64_t)(B.n + 64) << ZS_PAGE_SHIFT, err, sizeof(err)))
		FAIL("pager: %s", err);
	zs_pager_set_cluster(p, 1);
	zs_pager_set_guard(p, ZS_GUARD_NEVER);
	return p;
}

/* Give the pager's reservation the pages, accessible, with their contents. */
static void map_pages(struct zs_pager *p)
{
	bench_handle_faults(p);
	B.base = zs_region_alloc(&p->region, B.n << ZS_PAGE_SHIFT, 0, 0);
	if (!B.base || mprotect(B.base, B.n << ZS_PAGE_SHIFT, PROT_READ | PROT_WRITE))
		FAIL("no room for %zu pages", B.n);
	zs_pager_map(p, (uintptr_t)B.base, B.n << ZS_PAGE_SHIFT, PROT_READ | PROT_WRITE);
	memcpy(B.base, B.orig, B.n << ZS_PAGE_SHIFT);
}

/* Floor and pager freezes of every page (*floor, the return), each
 * followed by thaws: the pages are present again at the end. */
static struct dist freezes(bool spin, struct dist *floor)
{
	struct dist fig;
	pthread_t t;

	if (spin) {
		B.spin = 1;
		if (pthread_create(&t, NULL, spinner, NULL))
			FAIL("no second thread");
	}
	B.mode = FLOOR_POOL;
	*floor = freeze_all();
	thaw_all(NULL, -1);
	B.mode = PAGER;
	fig = freeze_all();
	thaw_all(NULL, -1);
	if (spin) {
		B.spin = 0;
		pthread_join(t, NULL);
	}
	return fig;
}

/* Alone against the floor; with a second thread running (each protection
 * change then costs a TLB shootdown) against alone. */
static void freeze_rows(void)
{
	struct dist floor, spin_floor, alone = freezes(false, &floor),
		    spin = freezes(true, &spin_floor);

	bench_result("freeze, med", "us/page", alone.med / 1000, floor.med / 1000, 1.2,
		     "<= 1.2x floor");
	bench_result("freeze, p99", "us/page", alone.p99 / 1000, floor.p99 / 1000, 0, "");
	bench_result("freeze, 2nd thread running, med", "us/page", spin.med / 1000,
		     spin_floor.med / 1000, 0, "");
	bench_result("freeze, 2nd thread vs alone, med", "us/page", spin.med / 1000,
		     alone.med / 1000, 2, "<= 2x alone");
}

static void thaw_rows(const char *from, const struct dist *fig, const struct dist *floor,
		      bool goals)
{
	char what[64];

	snprintf(what, sizeof(what), "thaw from the %s, median", from);
	bench_result(what, "us", fig->med / 1000, floor->med / 1000, goals ? 1.15 : 0,
		     goals ? "<= 1.15x floor" : "");
	snprintf(what, sizeof(what), "thaw from the %s, p99", from);
	bench_result(what, "us", fig->p99 / 1000, floor->p99 / 1000, goals ? 1.3 : 0,
		     goals ? "<= 1.3x floor" : "");
	snprintf(what, sizeof(what), "thaw from the %s, p99.9", from);
	bench_result(what, "us", fig->p999 / 1000, floor->p999 / 1000, 0, "");
}

/* From the pool: freezes alone, with a spinning thread, then thaws. */
static void pool_rows(const char *compressor, const char *dir)
{
	struct zs_engine *e;
	struct dist floor, safe, fig;

	map_pages(make_pager(0, compressor, dir, &e));
	freeze_rows();
	B.mode = FLOOR_POOL;
	freeze_all();
	floor = thaw_all(NULL, -1);
	freeze_all();
	B.mode = FLOOR_SAFE;
	safe = thaw_all(NULL, -1);
	B.mode = PAGER;
	freeze_all();
	fig = thaw_all(e, 0);
	thaw_rows("pool", &fig, &floor, true);
	bench_result("thaw from the pool, median, safe floor", "us", fig.med / 1000,
		     safe.med / 1000, 0, "");
}

/* From the swap file: a pool of 4 MiB, so that the freezes write back. */
static void swap_rows(const char *compressor, const char *dir)
{
	struct zs_engine *e;
	struct dist floor, fig;
	size_t i;

	map_pages(make_pager(UINT64_C(4) << 20, compressor, dir, &e));
	if ((B.fd = open(dir, O_TMPFILE | O_RDWR, 0600)) < 0)
		FAIL("a file in %s: %s", dir, strerror(errno));
	for (i = 0; i < B.n; i++)
		if (pwrite(B.fd, PG(i), ZS_PAGE_SIZE, (off_t)(i << ZS_PAGE_SHIFT)) != ZS_PAGE_SIZE)
			FAIL("writing the floor's file in %s: %s", dir, strerror(errno));
	mprotect(B.base, B.n << ZS_PAGE_SHIFT, PROT_NONE);
	madvise(B.base, B.n << ZS_PAGE_SHIFT, MADV_DONTNEED);
	B.mode = FLOOR_FILE;
	floor = thaw_all(NULL, -1);
	close(B.fd);
	B.mode = PAGER;
	freeze_all();
	fig = thaw_all(e, 1);
	thaw_rows("swap file", &fig, &floor, false);
}

void bench_pager(size_t n, const char *compressor, const char *dir)
{
	uint64_t r = 42;
	size_t i, j;

	B.n = n & ~(size_t)(WINDOW - 1);
	B.comp = zs_compressor_find(compressor);
	B.state = bench_alloc(B.comp->state_size);
	B.dstate = bench_alloc(B.comp->dstate_size);
	B.orig = bench_alloc(B.n << ZS_PAGE_SHIFT);
	B.cbuf = bench_alloc(B.n * ZS_COMPRESS_BOUND);
	B.clen = bench_alloc(B.n * sizeof(*B.clen));
	B.order = bench_alloc(B.n * sizeof(*B.order));
	B.ns = bench_alloc(B.n * sizeof(*B.ns));
	B.timer_ns = bench_timer_ns();
	if ((B.mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC)) < 0)
		FAIL("/proc/self/mem: %s", strerror(errno));
	for (i = 0; i < B.n; i++) {
		zs_page_generate(ZS_PAGE_HEAP, (uint64_t)(ZS_PAGE_HEAP + 1) << 40 | (i + 1),
				 B.orig + (i << ZS_PAGE_SHIFT));
		j = zs_rand_next(&r) % (i + 1);
		B.order[i] = B.order[j];
		B.order[j] = i;
	}
	pool_rows(compressor, dir);
	swap_rows(compressor, dir);
}
