/*
 * test_engine.c - the zswap engine: round trips that compare every byte,
 * zswap's semantics (same-filled, duplicates, exclusive loads, limit and
 * hysteresis, writeback, raw storage), failures that must lose nothing
 * (swap file full, I/O errors, allocation failures), a randomised run against
 * a model with the validator after every operation, threads, and loads from a
 * signal handler.
 *
 * Pages are generated from (kind, seed) and regenerated to check them, so
 * the model of what the engine holds is just key -> seed.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "engine.h"
#include "fault.h"
#include "pagegen.h"
#include "tap.h"

#define KEY(i) ((uintptr_t)((i) + 1) << 12)

static char tmpdir[] = "/tmp/zs-engine-XXXXXX";

static struct zs_engine *engine_with(void (*tweak)(struct zs_options *))
{
	struct zs_options o;
	struct zs_engine *e = NULL;
	char err[256];

	zs_options_defaults(&o);
	o.mem_limit = 1ULL << 30;
	strcpy(o.swapfile, tmpdir);
	if (tweak)
		tweak(&o);
	if (zs_engine_create(&o, &e, err, sizeof(err))) {
		printf("Bail out! engine: %s\n", err);
		exit(1);
	}
	return e;
}

static int valid(struct zs_engine *e)
{
	char msg[256];

	if (zs_engine_validate(e, msg, sizeof(msg)) == 0)
		return 1;
	diag("%s", msg);
	return 0;
}

static int store_seed(struct zs_engine *e, uintptr_t key, enum zs_page_kind kind, uint64_t seed)
{
	unsigned char page[ZS_PAGE_SIZE];

	zs_page_generate(kind, seed, page);
	return zs_engine_store(e, key, page);
}

/* 0 when the loaded page is exactly (kind, seed); the load's error, or 1
 * for a byte mismatch. */
static int load_check(struct zs_engine *e, uintptr_t key, enum zs_page_kind kind, uint64_t seed)
{
	unsigned char page[ZS_PAGE_SIZE], want[ZS_PAGE_SIZE];
	int ret = zs_engine_load(e, key, page);

	if (ret)
		return ret;
	zs_page_generate(kind, seed, want);
	return memcmp(page, want, ZS_PAGE_SIZE) ? 1 : 0;
}

static struct zs_stats stats(struct zs_engine *e)
{
	struct zs_stats s;

	zs_engine_stats(e, &s);
	return s;
}

static void test_round_trip(void)
{
	struct zs_engine *e = engine_with(NULL);
	int kind, i, bad = 0, stored = 0;
	struct zs_stats s;

	for (kind = 0; kind < ZS_PAGE_RANDOM; kind++)
		for (i = 0; i < 200; i++)
			stored += store_seed(e, KEY(kind * 1000 + i), kind, i) == 0;
	is(stored, 4 * 200, "every compressible page is stored");
	s = stats(e);
	is(s.stored_pages, 800, "stored_pages counts them");
	is(s.same_filled_pages, 400, "zero and same-filled pages are kept as one word");
	ok(s.pool_total_size > 0 && s.pool_total_size < 400 * ZS_PAGE_SIZE, "the pool is smaller "
	   "than the pages (%llu bytes)", (unsigned long long)s.pool_total_size);
	ok(valid(e), "valid after stores");
	for (kind = 0; kind < ZS_PAGE_RANDOM; kind++)
		for (i = 0; i < 200; i++)
			bad += load_check(e, KEY(kind * 1000 + i), kind, i) != 0;
	is(bad, 0, "every page loads back byte for byte");
	s = stats(e);
	is(s.stored_pages, 0, "loads are exclusive: nothing left");
	is(s.pool_total_size, 0, "the pool gave its pages back");
	is(s.loads, 800, "loads counted");
	is(load_check(e, KEY(0), ZS_PAGE_TEXT, 0), -ENOENT, "a second load finds nothing");
	ok(valid(e), "valid after loads");
	zs_engine_destroy(e);
}

static void non_exclusive(struct zs_options *o) { o->exclusive_loads = false; }
static void no_same_filled(struct zs_options *o) { o->same_filled_pages_enabled = false; }

static void test_semantics(void)
{
	struct zs_engine *e = engine_with(NULL);
	struct zs_stats s;

	store_seed(e, KEY(1), ZS_PAGE_TEXT, 1);
	store_seed(e, KEY(1), ZS_PAGE_HEAP, 2);
	s = stats(e);
	is(s.duplicate_entry, 1, "a second store to a key is a duplicate_entry");
	is(s.stored_pages, 1, "and replaces the first");
	is(load_check(e, KEY(1), ZS_PAGE_HEAP, 2), 0, "the newer page loads");
	store_seed(e, KEY(2), ZS_PAGE_TEXT, 3);
	is(zs_engine_invalidate(e, KEY(2)), 0, "invalidate drops an entry");
	is(zs_engine_invalidate(e, KEY(2)), -ENOENT, "twice: -ENOENT");
	is(zs_engine_load(e, KEY(2), (char[ZS_PAGE_SIZE]){0}), -ENOENT, "then load finds nothing");
	is(store_seed(e, KEY(3), ZS_PAGE_RANDOM, 4), -E2BIG, "a random page is refused");
	s = stats(e);
	is(s.reject_compress_poor, 1, "as reject_compress_poor");
	is(s.stored_pages, 0, "and nothing is stored for it");
	ok(valid(e), "valid");
	zs_engine_destroy(e);

	e = engine_with(non_exclusive);
	store_seed(e, KEY(1), ZS_PAGE_TEXT, 5);
	ok(load_check(e, KEY(1), ZS_PAGE_TEXT, 5) == 0 && load_check(e, KEY(1), ZS_PAGE_TEXT, 5) == 0,
	   "exclusive_loads=N: a page loads twice");
	zs_engine_destroy(e);

	e = engine_with(no_same_filled);
	store_seed(e, KEY(1), ZS_PAGE_ZERO, 0);
	s = stats(e);
	ok(s.same_filled_pages == 0 && s.stored_pages == 1 && s.pool_total_size > 0,
	   "same_filled_pages_enabled=N: a zero page goes through the pool");
	is(load_check(e, KEY(1), ZS_PAGE_ZERO, 0), 0, "and comes back");
	zs_engine_destroy(e);
}

static void store_raw(struct zs_options *o) { o->store_incompressible = true; }
static void small_pool(struct zs_options *o) { o->max_pool_size = 256 << 10; }

static void test_raw(void)
{
	struct zs_engine *e = engine_with(store_raw);
	struct zs_stats s;
	int i, bad = 0;

	for (i = 0; i < 50; i++)
		bad += store_seed(e, KEY(i), ZS_PAGE_RANDOM, i) != 0;
	is(bad, 0, "store_incompressible=Y: random pages are stored");
	s = stats(e);
	is(s.stored_incompressible_pages, 50, "as stored_incompressible_pages");
	is(s.pool_total_size, 50 * ZS_PAGE_SIZE, "a page each");
	ok(valid(e), "valid");
	for (i = 0; i < 50; i++)
		bad += load_check(e, KEY(i), ZS_PAGE_RANDOM, i) != 0;
	is(bad, 0, "and load back intact");
	is(stats(e).stored_incompressible_pages, 0, "then are gone");
	zs_engine_destroy(e);
}

/* Many pages through a 256 KiB pool: most are written back. */
static void test_writeback(void)
{
	struct zs_engine *e = engine_with(small_pool);
	int i, n = 3000, bad = 0, refused = 0, invalid = 0;
	struct zs_stats s;

	for (i = 0; i < n; i++) {
		refused += store_seed(e, KEY(i), zs_page_kind_mixed(i), i) != 0;
		if (i % 97 == 0)
			invalid += !valid(e);
		if (zs_engine_pool_bytes(e) > (256 << 10) + ZS_PAGE_SIZE)
			bad++;
	}
	s = stats(e);
	is(bad, 0, "the pool never grows past its limit");
	is(invalid, 0, "valid throughout");
	ok(s.pool_limit_hit > 0, "the limit was hit (%llu times)", (unsigned long long)s.pool_limit_hit);
	ok(s.written_back_pages > 1000, "pages were written back (%llu)",
	   (unsigned long long)s.written_back_pages);
	is(s.swap_pages, s.written_back_pages, "each is in the swap file");
	ok(s.pool_total_size <= s.pool_limit_bytes + ZS_PAGE_SIZE, "the pool is within its limit");
	for (i = 0; i < n; i++) {
		int r = load_check(e, KEY(i), zs_page_kind_mixed(i), i);

		bad += zs_page_kind_mixed(i) == ZS_PAGE_RANDOM ? r != -ENOENT : r != 0;
	}
	is(bad, 0, "every stored page loads back byte for byte");
	s = stats(e);
	is(s.loads_from_swap, s.written_back_pages, "written-back pages came from the swap file");
	ok(s.stored_pages == 0 && s.swap_pages == 0 && s.pool_total_size == 0, "nothing is left");
	ok(valid(e), "valid at the end");
	zs_engine_destroy(e);
}

/* After a hit, the pool is shrunk below the accept threshold. */
static void test_hysteresis(void)
{
	struct zs_engine *e = engine_with(small_pool);
	uint64_t limit = 256 << 10, accept = limit / ZS_PAGE_SIZE * 90 / 100 * ZS_PAGE_SIZE;
	int i;

	for (i = 0; stats(e).pool_limit_hit == 0 && i < 10000; i++)
		store_seed(e, KEY(i), ZS_PAGE_HEAP, i);
	ok(zs_engine_pool_bytes(e) <= accept + ZS_PAGE_SIZE,
	   "after the first hit the pool is at the accept threshold (%llu <= %llu + one store)",
	   (unsigned long long)zs_engine_pool_bytes(e), (unsigned long long)accept);
	zs_engine_destroy(e);
}

static void tiny_swap(struct zs_options *o)
{
	o->max_pool_size = 64 << 10;
	o->swap_size = 64 << 10; /* 16 slots */
}

/* A full swap file: stores are refused once the pool cannot shrink, and
 * every page that was accepted still loads back. */
static void test_swap_full(void)
{
	struct zs_engine *e = engine_with(tiny_swap);
	int i, n = 400, accepted[400], bad = 0, refused = 0;
	struct zs_stats s;

	for (i = 0; i < n; i++) {
		int r = store_seed(e, KEY(i), ZS_PAGE_TEXT, i);

		accepted[i] = r == 0;
		refused += r == -ENOMEM;
	}
	s = stats(e);
	ok(refused > 0 && s.reject_reclaim_fail == (uint64_t)refused,
	   "stores are refused as reject_reclaim_fail (%d)", refused);
	ok(s.swap_full > 0, "swap_full counted (%llu)", (unsigned long long)s.swap_full);
	is(s.swap_pages, 16, "the swap file is full");
	ok(valid(e), "valid");
	for (i = 0; i < n; i++)
		bad += load_check(e, KEY(i), ZS_PAGE_TEXT, i) != (accepted[i] ? 0 : -ENOENT);
	is(bad, 0, "every accepted page loads back, no refused page left a stale copy");
	zs_engine_destroy(e);
}

/* Injected I/O errors: writes fail -> the pages stay in the pool; a read
 * fails -> the entry is kept and the next load succeeds. */
static void test_io_errors(void)
{
	struct zs_engine *e = engine_with(small_pool);
	int i, n = 600, bad = 0, accepted[600];
	unsigned char page[ZS_PAGE_SIZE];
	struct zs_stats s;

	zs_fault_arm(ZS_FAULT_SWAP_WRITE, 100, 1000000);
	for (i = 0; i < n; i++)
		accepted[i] = store_seed(e, KEY(i), ZS_PAGE_HEAP, i) == 0;
	zs_fault_arm(ZS_FAULT_SWAP_WRITE, 0, 0);
	s = stats(e);
	ok(s.swap_write_errors > 0, "write errors counted (%llu)",
	   (unsigned long long)s.swap_write_errors);
	ok(s.reject_reclaim_fail > 0, "stores refused while writeback fails");
	ok(valid(e), "valid after write errors");
	for (i = 0; i < n; i++)
		bad += load_check(e, KEY(i), ZS_PAGE_HEAP, i) != (accepted[i] ? 0 : -ENOENT);
	is(bad, 0, "no page lost to write errors");

	for (i = 0; i < 300; i++)
		store_seed(e, KEY(i), ZS_PAGE_HEAP, i);
	ok(stats(e).swap_pages > 0, "some pages in the swap file");
	for (i = 0; i < 300 && bad == 0; i++) {
		zs_fault_arm(ZS_FAULT_SWAP_READ, 0, 1);
		if (zs_engine_load(e, KEY(i), page) == -EIO)
			break;
	}
	zs_fault_arm(ZS_FAULT_SWAP_READ, 0, 0);
	ok(i < 300 && stats(e).swap_read_errors == 1, "a failed swap read returns -EIO");
	is(load_check(e, KEY(i), ZS_PAGE_HEAP, i), 0, "the entry was kept: the next load works");
	ok(valid(e), "valid after read errors");
	zs_engine_destroy(e);
}

/* Allocation and compressor failures refuse the store, count it, and drop the
 * older copy so no stale page can come back. */
static void test_alloc_failures(void)
{
	static const struct {
		enum zs_fault_point point;
		size_t stat;
		int err;
		const char *name;
	} cases[] = {
		{ ZS_FAULT_PAGE_ALLOC, offsetof(struct zs_stats, reject_alloc_fail), -ENOMEM,
		  "pool page" },
		{ ZS_FAULT_ENTRY_ALLOC, offsetof(struct zs_stats, reject_kmemcache_fail), -ENOMEM,
		  "index entry" },
		{ ZS_FAULT_COMPRESS, offsetof(struct zs_stats, reject_compress_fail), -EINVAL,
		  "compressor" },
	};
	size_t c;

	for (c = 0; c < ZS_ARRAY_SIZE(cases); c++) {
		struct zs_engine *e = engine_with(NULL);
		struct zs_stats s;
		uint64_t count;
		int r;

		store_seed(e, KEY(1), ZS_PAGE_TEXT, 1);
		store_seed(e, KEY(2), ZS_PAGE_TEXT, 2);
		zs_fault_arm(cases[c].point, 0, 1000);
		r = store_seed(e, KEY(1), ZS_PAGE_TEXT, 3);
		zs_fault_arm(cases[c].point, 0, 0);
		s = stats(e);
		memcpy(&count, (char *)&s + cases[c].stat, sizeof(count));
		ok(r == cases[c].err && count == 1, "%s failure: store refused (%d) and counted",
		   cases[c].name, r);
		is(load_check(e, KEY(1), ZS_PAGE_TEXT, 1), -ENOENT,
		   "%s failure: the older copy was dropped", cases[c].name);
		is(load_check(e, KEY(2), ZS_PAGE_TEXT, 2), 0, "%s failure: other pages intact",
		   cases[c].name);
		ok(valid(e), "%s failure: valid", cases[c].name);
		zs_engine_destroy(e);
	}
}

/* Random stores, loads and invalidates against a model (key -> seed), with
 * a small pool so writeback runs all the time; validated after every step. */
static void test_random_model(void)
{
	enum { NKEYS = 300, NOPS = 20000 };
	static int64_t model[NKEYS]; /* seed + 1, or 0 for nothing stored */
	struct zs_engine *e = engine_with(small_pool);
	uint64_t r = 42;
	int op, bad = 0, invalid = 0;

	for (op = 0; op < NOPS && !bad && !invalid; op++) {
		int k = (int)(zs_rand_next(&r) % NKEYS), what = (int)(zs_rand_next(&r) % 10);
		int64_t seed = op;
		enum zs_page_kind kind = zs_page_kind_mixed((uint64_t)seed);

		if (what < 5) {
			int ret = store_seed(e, KEY(k), kind, (uint64_t)seed);

			model[k] = ret == 0 ? seed + 1 : 0;
			bad += ret != 0 && kind != ZS_PAGE_RANDOM;
		} else if (what < 9) {
			int64_t m = model[k];
			int ret = load_check(e, KEY(k), m ? zs_page_kind_mixed(m - 1) : 0,
					     m ? (uint64_t)(m - 1) : 0);

			bad += m ? ret != 0 : ret != -ENOENT;
			model[k] = 0;
		} else {
			bad += zs_engine_invalidate(e, KEY(k)) != (model[k] ? 0 : -ENOENT);
			model[k] = 0;
		}
		invalid += !valid(e);
	}
	is(op, NOPS, "%d random operations agree with the model", op);
	ok(!bad && !invalid, "no mismatch, always valid");
	ok(stats(e).written_back_pages > 100, "writeback ran (%llu pages)",
	   (unsigned long long)stats(e).written_back_pages);
	zs_engine_invalidate_all(e);
	ok(stats(e).stored_pages == 0 && stats(e).swap_pages == 0 && zs_engine_pool_bytes(e) == 0,
	   "invalidate_all leaves nothing");
	ok(valid(e), "valid after invalidate_all");
	zs_engine_destroy(e);
}

struct worker {
	struct zs_engine *e;
	int id, rounds, bad;
};

/* Each thread owns its keys: store them all, load and check them all. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	int round, i;

	for (round = 0; round < w->rounds; round++) {
		for (i = 0; i < 200; i++)
			w->bad += store_seed(w->e, KEY(w->id * 1000 + i), ZS_PAGE_HEAP,
					     (uint64_t)(round * 7919 + i)) != 0;
		for (i = 0; i < 200; i++)
			w->bad += load_check(w->e, KEY(w->id * 1000 + i), ZS_PAGE_HEAP,
					     (uint64_t)(round * 7919 + i)) != 0;
	}
	return NULL;
}

static void test_threads(void)
{
	struct zs_engine *e = engine_with(small_pool);
	struct worker w[4];
	pthread_t t[4];
	int i, bad = 0;

	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .e = e, .id = i, .rounds = 10 };
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
	}
	is(bad, 0, "4 threads x 2000 pages under writeback: every byte back");
	ok(stats(e).written_back_pages > 0, "with writeback (%llu pages)",
	   (unsigned long long)stats(e).written_back_pages);
	ok(valid(e), "valid after threads");
	zs_engine_destroy(e);
}

/* Loads from a signal handler that interrupts a thread busy in the engine. */
static struct zs_engine *sig_engine;
static volatile int sig_loads, sig_bad, sig_stop;

static void on_signal(int sig)
{
	int key = 5000 + sig_loads;

	sig_bad += load_check(sig_engine, KEY(key), ZS_PAGE_TEXT, (uint64_t)key) != 0;
	sig_loads++;
}

static void *busy_storer(void *arg)
{
	struct worker *w = arg;

	while (!sig_stop)
		worker_run(w);
	return NULL;
}

static void test_signal_loads(void)
{
	struct worker w;
	pthread_t t;
	int i, n = 300;

	sig_engine = engine_with(small_pool);
	for (i = 0; i < n; i++)
		store_seed(sig_engine, KEY(5000 + i), ZS_PAGE_TEXT, 5000 + i);
	signal(SIGUSR1, on_signal);
	w = (struct worker){ .e = sig_engine, .id = 0, .rounds = 1 };
	pthread_create(&t, NULL, busy_storer, &w);
	for (i = 0; i < n; i++) {
		int before = sig_loads;

		pthread_kill(t, SIGUSR1);
		while (sig_loads == before)
			usleep(50);
	}
	sig_stop = 1;
	pthread_join(t, NULL);
	signal(SIGUSR1, SIG_DFL);
	ok(sig_loads == n && sig_bad == 0, "%d loads from a handler interrupting a storer: all intact",
	   sig_loads);
	is(w.bad, 0, "the interrupted thread's pages are intact");
	ok(valid(sig_engine), "valid");
	zs_engine_destroy(sig_engine);
}

/* The default swap file is unlinked in $TMPDIR, and the statistics dump
 * carries the kernel's names. */
static void test_swapfile_and_dump(void)
{
	struct zs_options o;
	struct zs_engine *e = NULL;
	char err[256], buf[4096];
	int fds[2], entries = 0;
	ssize_t n;
	struct zs_stats s;
	FILE *ls;

	zs_options_defaults(&o);
	o.mem_limit = 1ULL << 30;
	setenv("TMPDIR", tmpdir, 1);
	ok(zs_engine_create(&o, &e, err, sizeof(err)) == 0, "engine with the default swap file");
	snprintf(buf, sizeof(buf), "ls -A %s | wc -l", tmpdir);
	ls = popen(buf, "r");
	if (ls && fscanf(ls, "%d", &entries) != 1)
		entries = -1;
	if (ls)
		pclose(ls);
	is(entries, 0, "no visible file in $TMPDIR: the swap file is unlinked");
	store_seed(e, KEY(1), ZS_PAGE_TEXT, 1);
	zs_engine_stats(e, &s);
	if (pipe(fds) == 0) {
		zs_stats_write(&s, fds[1]);
		close(fds[1]);
		n = read(fds[0], buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fds[0]);
	}
	ok(strncmp(buf, "pool_limit_hit 0\n", 17) == 0, "the dump starts with pool_limit_hit");
	ok(strstr(buf, "\nstored_pages 1\n") != NULL, "and shows stored_pages 1");
	zs_engine_destroy(e);

	strcpy(o.swapfile, "/nonexistent-dir/zs/swap");
	ok(zs_engine_create(&o, &e, err, sizeof(err)) < 0 && strstr(err, "/nonexistent-dir"),
	   "an unusable swap file path is an error naming it (%s)", err);
	strcpy(o.swapfile, "");
	strcpy(o.compressor, "842");
	ok(zs_engine_create(&o, &e, err, sizeof(err)) == -EINVAL && strstr(err, "lz4"),
	   "an unknown compressor is refused with the choices (%s)", err);
}

/* A load whose destination faults: the handler (as the shim's will) loads
 * another page, then makes the destination writable.  The engine must not
 * hold its lock while it writes the destination, or this deadlocks.  Run in
 * a child so a regression fails instead of hanging. */
static struct zs_engine *fault_engine;
static char *fault_dst;
static int fault_bad;

static void on_dst_fault(int sig, siginfo_t *si, void *uc)
{
	fault_bad += load_check(fault_engine, KEY(2), ZS_PAGE_TEXT, 2) != 0;
	mprotect(fault_dst, ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
}

static int faulting_destination_child(enum zs_page_kind kind)
{
	struct sigaction sa = { .sa_sigaction = on_dst_fault, .sa_flags = SA_SIGINFO };
	unsigned char want[ZS_PAGE_SIZE];

	fault_engine = engine_with(NULL);
	fault_dst = mmap(NULL, ZS_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	store_seed(fault_engine, KEY(1), kind, 1);
	store_seed(fault_engine, KEY(2), ZS_PAGE_TEXT, 2);
	sigaction(SIGSEGV, &sa, NULL);
	if (zs_engine_load(fault_engine, KEY(1), fault_dst) != 0)
		return 1;
	zs_page_generate(kind, 1, want);
	return fault_bad || memcmp(fault_dst, want, ZS_PAGE_SIZE) ? 1 : 0;
}

static void test_faulting_destination(void)
{
	static const enum zs_page_kind kinds[] = { ZS_PAGE_SAME, ZS_PAGE_TEXT };
	size_t k;

	for (k = 0; k < ZS_ARRAY_SIZE(kinds); k++) {
		int status = -1, waited;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(faulting_destination_child(kinds[k]));
		for (waited = 0; waited < 1000 && waitpid(pid, &status, WNOHANG) == 0; waited++)
			usleep(10000);
		if (waited == 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		ok(waited < 1000 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "a %s page loads into a destination that faults, whose handler loads too",
		   zs_page_kind_name(kinds[k]));
	}
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		skip_all("no temporary directory");
	test_round_trip();
	test_semantics();
	test_raw();
	test_writeback();
	test_hysteresis();
	test_swap_full();
	test_io_errors();
	test_alloc_failures();
	test_random_model();
	test_threads();
	test_signal_loads();
	test_swapfile_and_dump();
	test_faulting_destination();
	rmdir(tmpdir);
	return done_testing();
}
