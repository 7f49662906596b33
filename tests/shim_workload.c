/*
 * shim_workload.c - a program run under LD_PRELOAD=libzswapsim.so by
 * shim.test, with a memory limit far below its footprint.  Four threads
 * each keep a heap of small and large mallocs, calloc after free, realloc
 * growth, and their own mmap, mremap, munmap and mprotect, and check every
 * byte over several rounds while the shim freezes and thaws under them.
 * A read-only page must stay read-only after a thaw (the program's own
 * SIGSEGV handler sees the write), and MADV_DONTNEED'd memory must read as
 * zeros.
 *
 * It reports with write(2) from the stack: the kernel cannot read a frozen
 * page, and passing frozen buffers to system calls is the next issue's work.
 * Exit 0 when every check passed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define NOBJ 2000
#define ROUNDS 4

static volatile int failures;
static __thread sigjmp_buf *expect;

static void say(const char *s)
{
	if (write(2, s, strlen(s)) < 0)
		failures++;
}

static void fail(const char *what)
{
	__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	say("shim_workload: FAIL ");
	say(what);
	say("\n");
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Compressible contents that depend on (tag, offset). */
static void fill(unsigned char *p, size_t n, uint64_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((tag * 31 + i / 64) & 0x3f);
}

static int check(const unsigned char *p, size_t n, uint64_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)((tag * 31 + i / 64) & 0x3f))
			return 0;
	return 1;
}

struct obj {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

static void heap_round(struct obj *o, uint64_t *rnd)
{
	int i;

	for (i = 0; i < NOBJ; i++) {
		if (o[i].p && !check(o[i].p, o[i].n, o[i].tag))
			fail("heap object changed");
		if (next(rnd) % 3 == 0) { /* realloc growth keeps the old bytes */
			size_t n = o[i].n * 2 + 100;
			unsigned char *q = realloc(o[i].p, n);

			if (!q || (o[i].p && !check(q, o[i].n, o[i].tag)))
				fail("realloc lost bytes");
			o[i].p = q;
			o[i].n = n;
		} else { /* free, then calloc must be zero */
			size_t n = next(rnd) % 10 ? 16 + next(rnd) % 2000 : 65536 + next(rnd) % 100000;
			size_t k;

			free(o[i].p);
			o[i].p = calloc(1, n);
			o[i].n = n;
			for (k = 0; o[i].p && k < n; k += 97)
				if (o[i].p[k])
					fail("calloc memory not zero");
		}
		o[i].tag = next(rnd);
		fill(o[i].p, o[i].n, o[i].tag);
	}
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	char msg[160];
	int n;

	if (expect)
		siglongjmp(*expect, 1);
	/* Not expected: say where, then die with it. */
	n = snprintf(msg, sizeof(msg), "shim_workload: SIGSEGV at %p, code %d, ip %#llx\n",
		     si->si_addr, si->si_code, (unsigned long long)uc->uc_mcontext.gregs[REG_RIP]);
	if (write(2, msg, (size_t)n) < 0)
		failures++;
	signal(SIGSEGV, SIG_DFL);
}

/* The program's own mappings: mremap growth and move, partial munmap, a
 * read-only page, discarded memory. */
static void mapping_round(uint64_t tag)
{
	size_t n = 8 << 20, page = 4096;
	unsigned char *volatile m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sigjmp_buf jb;
	volatile int faulted = 0;

	if (m == MAP_FAILED) {
		fail("mmap");
		return;
	}
	fill(m, n, tag);
	m = mremap(m, n, 2 * n, MREMAP_MAYMOVE);
	if (m == MAP_FAILED || !check(m, n, tag)) {
		fail("mremap lost bytes");
		return;
	}
	fill(m + n, n, tag + 1);
	munmap(m + n, n); /* partial munmap: the first half stays */
	usleep(20000);    /* let the shim freeze some of it */
	if (!check(m, n, tag))
		fail("mapping changed");
	mprotect(m, page, PROT_READ);
	usleep(20000);
	expect = &jb;
	if (sigsetjmp(jb, 1) == 0)
		m[10] = 1;
	else
		faulted = 1;
	expect = NULL;
	if (!faulted || !check(m, page, tag))
		fail("a read-only page did not stay read-only");
	mprotect(m, page, PROT_READ | PROT_WRITE);
	madvise(m + page, n - page, MADV_DONTNEED);
	if (m[page] || m[n / 2] || m[n - 1])
		fail("MADV_DONTNEED'd memory is not zero");
	munmap(m, n);
}

static void *worker(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 7919 + 1;
	struct obj *o = calloc(NOBJ, sizeof(*o));
	int r, i;

	for (r = 0; r < ROUNDS; r++) {
		heap_round(o, &rnd);
		mapping_round(rnd);
	}
	for (i = 0; i < NOBJ; i++) {
		if (!check(o[i].p, o[i].n, o[i].tag))
			fail("heap object changed at the end");
		free(o[i].p);
	}
	free(o);
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	pthread_t t[4];
	long i;

	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGUSR1, SIG_IGN); /* the shim still dumps on it, then ignores it for us */
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	raise(SIGUSR1); /* the shim dumps its statistics */
	usleep(1000);
	say(failures ? "shim_workload: failed\n" : "shim_workload: ok\n");
	return failures ? 1 : 0;
}
