/*
 * overhead.c - whole programs with and without the preloaded library: what
 * the shim costs a program that never goes over its limit, and what a
 * program over its limit sees and keeps.
 *
 * The programs are this binary's workloads (--workload NAME), run as child
 * processes: the same executable, the same environment but for LD_PRELOAD
 * and the ZSWAPSIM_ variables.
 *
 *   malloc   20 M malloc/free pairs of 16 B to 16 KiB over 64 Ki live slots
 *   compute  qsort of 4 Mi random 64-bit numbers, three times
 *   touch    fill TOUCH_MIB of heap-like pages, then read back the pages
 *            that left memory in a shuffled order, each read timed, and
 *            check every page.  Under the shim with a limit, each timed
 *            read is a whole thaw as the program sees it: the signal, the
 *            handler, the engine.  bench/kernel-compare runs it under
 *            Linux's own zswap for the comparison (TOUCH_READY=FILE: make
 *            FILE once the pages are written, then wait two seconds).
 *
 * Without pressure, the runs alternate (plain, shim, plain, ...) and each
 * side's median wall time is kept, so that a drift in the machine's speed
 * falls on both.
 */
#include "config.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "common.h"
#include "pagegen.h"

#define RUNS 5
#define TOUCH_LIMIT_MIB 64

extern char **environ;

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int work_malloc(void)
{
	enum { SLOTS = 65536, OPS = 20000000 };
	static char *slot[SLOTS];
	uint64_t s = 88172645463325252ull, sum = 0, r;
	size_t i, k, size;

	for (i = 0; i < OPS; i++) {
		r = xorshift(&s);
		k = r % SLOTS;
		size = (r >> 20) % 8 ? 16 + (r >> 32) % 512 : 16 + (r >> 32) % 16384;
		free(slot[k]);
		if (!(slot[k] = malloc(size)))
			return 1;
		slot[k][0] = (char)r;
		slot[k][size - 1] = (char)(r >> 8);
		sum += (unsigned char)slot[k][0] + (unsigned char)slot[k][size - 1];
	}
	for (k = 0; k < SLOTS; k++)
		free(slot[k]);
	printf("malloc: checksum %llu\n", (unsigned long long)sum);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	return (*(const uint64_t *)a > *(const uint64_t *)b) -
	       (*(const uint64_t *)a < *(const uint64_t *)b);
}

static int work_compute(void)
{
	enum { N = 1 << 22 };
	uint64_t *v = malloc(N * sizeof(*v)), s = 2463534242ull, sum = 0;
	int round;
	size_t i;

	if (!v)
		return 1;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < N; i++)
			v[i] = xorshift(&s);
		qsort(v, N, sizeof(*v), cmp_u64);
		for (i = 1; i < N; i++)
			if (v[i - 1] > v[i])
				return 1;
		sum += v[N / 2];
	}
	free(v);
	printf("compute: checksum %llu\n", (unsigned long long)sum);
	return 0;
}

#define TPAGE(i) (base + ((size_t)(i) << ZS_PAGE_SHIFT))

/* Read the pages that left memory in a shuffled order, each timed; the
 * distribution of the times. */
static struct dist touch_out(unsigned char *base, size_t n, size_t *out)
{
	unsigned char *vec = bench_alloc(n);
	size_t *idx = bench_alloc(n * sizeof(*idx)), i, j, m = 0;
	uint64_t *ns = bench_alloc(n * sizeof(*ns)), t0, s = 1, timer = bench_timer_ns();

	if (mincore(base, n << ZS_PAGE_SHIFT, vec))
		FAIL("touch: mincore: %s", strerror(errno));
	for (i = 0; i < n; i++)
		if (!(vec[i] & 1))
			idx[m++] = i;
	for (i = m; i > 1; i--) { /* Fisher-Yates */
		j = xorshift(&s) % i;
		t0 = idx[i - 1], idx[i - 1] = idx[j], idx[j] = t0;
	}
	for (i = 0; i < m; i++) {
		volatile unsigned char *p = TPAGE(idx[i]);

		t0 = bench_now_ns();
		(void)*p;
		ns[i] = bench_now_ns() - t0;
	}
	*out = m;
	return bench_summarize(ns, m, timer);
}

/* Tell a watcher the pages are written (a file appears), and give it two
 * seconds to read the counters before they change. */
static void ready(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		FAIL("touch: %s: %s", path, strerror(errno));
	fclose(f);
	sleep(2);
}

static int work_touch(void)
{
	const char *mib = getenv("TOUCH_MIB");
	size_t n = (size_t)(mib ? strtoul(mib, NULL, 10) : 256) << 8, i, out;
	unsigned char *base, page[ZS_PAGE_SIZE];
	uint64_t rss, hwm;
	struct dist d;

	base = mmap(NULL, n << ZS_PAGE_SHIFT, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED || !n)
		FAIL("touch: no %zu pages", n);
	for (i = 0; i < n; i++)
		zs_page_generate(ZS_PAGE_HEAP, i + 1, TPAGE(i));
	sleep(1); /* let reclaim settle */
	if (getenv("TOUCH_DUMP")) /* the shim's statistics now, at their fullest */
		raise(SIGUSR1);
	if (getenv("TOUCH_READY")) /* kernel-compare reads zswap's counters now */
		ready(getenv("TOUCH_READY"));
	d = touch_out(base, n, &out);
	for (i = 0; i < n; i++) {
		zs_page_generate(ZS_PAGE_HEAP, i + 1, page);
		if (memcmp(page, TPAGE(i), ZS_PAGE_SIZE))
			FAIL("touch: page %zu differs from what was written", i);
	}
	bench_rss(&rss, &hwm);
	printf("touch: pages %zu out %zu med_ns %.0f p99_ns %.0f p999_ns %.0f hwm_kib %llu\n", n,
	       out, d.med, d.p99, d.p999, (unsigned long long)(hwm >> 10));
	return 0;
}

int bench_workload(const char *name)
{
	if (!strcmp(name, "malloc"))
		return work_malloc();
	if (!strcmp(name, "compute"))
		return work_compute();
	if (!strcmp(name, "touch"))
		return work_touch();
	FAIL("--workload %s: one of malloc, compute, touch", name);
}

/* Run this binary's workload `name` with the environment minus LD_PRELOAD
 * and ZSWAPSIM_*, plus `extra` (NULL-terminated); its first output line in
 * out.  Returns the wall time in ns; dies if it failed. */
static uint64_t run(const char *name, const char *const extra[], char *out, size_t outlen)
{
	char *argv[] = { "zswapsim-bench", "--workload", (char *)name, NULL }, *env[256];
	posix_spawn_file_actions_t fa;
	size_t n = 0, i;
	uint64_t t0, t;
	int fds[2], status;
	ssize_t got;
	pid_t pid;

	for (i = 0; environ[i] && n < 200; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "ZSWAPSIM_", 9))
			env[n++] = environ[i];
	for (i = 0; extra[i]; i++)
		env[n++] = (char *)extra[i];
	env[n] = NULL;
	if (pipe(fds))
		FAIL("pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	t0 = bench_now_ns();
	if ((errno = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env)))
		FAIL("running the %s workload: %s", name, strerror(errno));
	close(fds[1]);
	for (i = 0; (got = read(fds[0], out + i, outlen - 1 - i)) > 0; i += (size_t)got)
		;
	out[i] = '\0';
	out[strcspn(out, "\n")] = '\0';
	waitpid(pid, &status, 0);
	t = bench_now_ns() - t0;
	close(fds[0]);
	posix_spawn_file_actions_destroy(&fa);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("the %s workload%s failed (status %#x): %s", name,
		     extra[0] ? " under the shim" : "", status, out);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b);
}

/* The median wall time in seconds of RUNS runs of name, plain and under the
 * shim with a limit far above the workload's footprint, alternating. */
static void no_pressure(const char *name, const char *what, const char *preload)
{
	const char *plain[] = { NULL }, *shim[] = { preload, "ZSWAPSIM_MEM_LIMIT=8G", NULL };
	double t[2][RUNS];
	char out[2][256];
	int r;

	for (r = 0; r < RUNS; r++) {
		t[0][r] = (double)run(name, plain, out[0], sizeof(out[0])) / 1e9;
		t[1][r] = (double)run(name, shim, out[1], sizeof(out[1])) / 1e9;
		if (strcmp(out[0], out[1]))
			FAIL("the %s workload printed \"%s\" under the shim, \"%s\" without", name,
			     out[1], out[0]);
	}
	qsort(t[0], RUNS, sizeof(double), cmp_double);
	qsort(t[1], RUNS, sizeof(double), cmp_double);
	printf("  %-8s plain %.3f s, shim %.3f s (medians of %d; same output)\n", name,
	       t[0][RUNS / 2], t[1][RUNS / 2], RUNS);
	bench_result(what, "s", t[1][RUNS / 2], t[0][RUNS / 2], 1.03, "<= 1.03x plain");
}

/* The value of `name` in the first statistics dump of file path. */
static double stat_of(const char *path, const char *name)
{
	char line[256], key[64];
	unsigned long long v;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %llu", key, &v) == 2 && !strcmp(key, name)) {
			fclose(f);
			return (double)v;
		}
	if (f)
		fclose(f);
	FAIL("no %s in the statistics in %s", name, path);
}

/* The touch workload over a limit: what a thaw costs the program, and
 * its peak resident set against the limit plus the pool. */
static void pressure(const char *preload, const char *dir)
{
	char stats[4200], file[4100], out[256], limit[64];
	const char *env[] = { preload, limit, "TOUCH_DUMP=1",
			      "ZSWAPSIM_STATS_AT_EXIT=Y", stats, NULL };
	unsigned long long pages, nout, hwm;
	double med, p99, p999, pool;

	snprintf(limit, sizeof(limit), "ZSWAPSIM_MEM_LIMIT=%dM", TOUCH_LIMIT_MIB);
	snprintf(file, sizeof(file), "%s/zswapsim-bench-stats.%d", dir, (int)getpid());
	snprintf(stats, sizeof(stats), "ZSWAPSIM_STATS_FILE=%s", file);
	run("touch", env, out, sizeof(out));
	if (sscanf(out, "touch: pages %llu out %llu med_ns %lf p99_ns %lf p999_ns %lf hwm_kib %llu",
		   &pages, &nout, &med, &p99, &p999, &hwm) != 6)
		FAIL("the touch workload printed: %s", out);
	pool = stat_of(file, "pool_total_size");
	unlink(file);
	printf("  touch    %llu MiB under a %d MiB limit: %llu pages out, read back; peak RSS "
	       "%llu MiB, pool %.1f MiB\n", pages >> 8, TOUCH_LIMIT_MIB, nout, hwm >> 10,
	       pool / 1048576);
	bench_result("shim thaw seen by the program, median", "us", med / 1000, 0, 0, "");
	bench_result("shim thaw seen by the program, p99", "us", p99 / 1000, 0, 0, "");
	bench_result("peak RSS vs limit + pool (touch)", "MiB", (double)hwm / 1024,
		     TOUCH_LIMIT_MIB + pool / 1048576, 0, "");
}

void bench_overhead(const char *shim, const char *dir)
{
	char preload[4200];

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", shim);
	printf("OVERHEAD: workloads with and without %s\n", shim);
	no_pressure("malloc", "no pressure: malloc-heavy wall time", preload);
	no_pressure("compute", "no pressure: compute-heavy wall time", preload);
	pressure(preload, dir);
	printf("\n");
}
