/*
 * stress.c - `make stress`: the long check of issue 4, run under the shim
 * with a limit a tenth of its data.  THREADS threads each own MIB MiB of
 * malloc'd pages and read and write them at random, every page's contents
 * derived from (thread, page, version) so that each read is checked.
 * Halfway through, all threads stop at a barrier and the process forks: the
 * child checks every page as it was at the fork, then keeps reading and
 * writing thread 0's pages on its own (under its own limit, its own swap
 * file) and checks them again; the parent goes on meanwhile.  At the end
 * every thread checks all its pages.  Prints the figures; exit 0 when no
 * page was ever wrong.
 *
 *   zswapsim run --mem-limit 400M -- stress/zswapsim-stress 4 1024
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

struct worker {
	int id;
	size_t pages;
	unsigned char *mem;
	uint32_t *version;
	uint64_t rng, ops, bad;
};

static int nthreads;
static size_t ops_per_thread;
static struct worker *workers;
static pthread_barrier_t before_fork, after_fork;

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A page: 512 bytes from a stream seeded by (thread, page, version), then
 * that block seven more times, so LZ4 finds it compressible. */
static void make(unsigned char *p, int t, size_t i, uint32_t v)
{
	uint64_t s = ((uint64_t)t << 56 | (uint64_t)i << 20 | v) * 0x9e3779b97f4a7c15ULL | 1;
	size_t k;

	for (k = 0; k < 512; k += 8) {
		uint64_t w = next(&s);

		memcpy(p + k, &w, 8);
	}
	for (k = 512; k < PAGE; k += 512)
		memcpy(p + k, p, 512);
}

static int check(const struct worker *w, size_t i)
{
	unsigned char want[PAGE];

	make(want, w->id, i, w->version[i]);
	return memcmp(w->mem + i * PAGE, want, PAGE) == 0;
}

static uint64_t verify_all(const struct worker *w)
{
	uint64_t bad = 0;
	size_t i;

	for (i = 0; i < w->pages; i++)
		bad += !check(w, i);
	return bad;
}

/* n random reads, half of them followed by a write of the next version. */
static void churn(struct worker *w, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++, w->ops++) {
		size_t i = next(&w->rng) % w->pages;

		w->bad += !check(w, i);
		if (next(&w->rng) & 1)
			make(w->mem + i * PAGE, w->id, i, ++w->version[i]);
	}
}

/* The child: everything as at the fork, then thread 0's pages on its own. */
static int child(void)
{
	uint64_t bad = 0;
	int t;

	for (t = 0; t < nthreads; t++)
		bad += verify_all(&workers[t]);
	workers[0].bad = 0;
	churn(&workers[0], ops_per_thread / 4);
	bad += workers[0].bad + verify_all(&workers[0]);
	printf("child: %llu pages wrong\n", (unsigned long long)bad);
	fflush(stdout);
	return bad ? 1 : 0;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	size_t i;

	for (i = 0; i < w->pages; i++)
		make(w->mem + i * PAGE, w->id, i, 0);
	churn(w, ops_per_thread / 2);
	pthread_barrier_wait(&before_fork); /* thread 0 forks in between */
	pthread_barrier_wait(&after_fork);
	churn(w, ops_per_thread - ops_per_thread / 2);
	w->bad += verify_all(w);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024;
	pthread_t *tid;
	uint64_t bad = 0, ops = 0;
	double t0 = now();
	int t, status = 0;
	pid_t pid;

	nthreads = argc > 1 ? atoi(argv[1]) : 4;
	if (nthreads < 1 || !mib) {
		fprintf(stderr, "usage: zswapsim-stress [THREADS [MIB_PER_THREAD]]\n");
		return 2;
	}
	ops_per_thread = mib * 256 * 2;
	workers = calloc((size_t)nthreads, sizeof(*workers));
	tid = calloc((size_t)nthreads, sizeof(*tid));
	pthread_barrier_init(&before_fork, NULL, (unsigned)nthreads + 1);
	pthread_barrier_init(&after_fork, NULL, (unsigned)nthreads + 1);
	for (t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		w->id = t;
		w->pages = mib * 256;
		w->mem = malloc(w->pages * PAGE);
		w->version = calloc(w->pages, sizeof(*w->version));
		w->rng = 88172645463325252ULL + (uint64_t)t * 7919;
		if (!w->mem || !w->version) {
			fprintf(stderr, "zswapsim-stress: out of memory\n");
			return 2;
		}
		pthread_create(&tid[t], NULL, run, w);
	}
	pthread_barrier_wait(&before_fork);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child());
	printf("forked at %.1f s\n", now() - t0);
	pthread_barrier_wait(&after_fork);
	for (t = 0; t < nthreads; t++) {
		pthread_join(tid[t], NULL);
		bad += workers[t].bad;
		ops += workers[t].ops;
	}
	waitpid(pid, &status, 0);
	printf("%d threads x %zu MiB: %llu checked reads (half followed by a write) in %.1f s, "
	       "%llu pages wrong; child %s %d\n",
	       nthreads, mib, (unsigned long long)ops, now() - t0, (unsigned long long)bad,
	       WIFEXITED(status) ? "exit" : "killed by signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return bad || !WIFEXITED(status) || WEXITSTATUS(status) ? 1 : 0;
}
