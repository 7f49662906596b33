/*
 * shim_edges.c - the program's unusual memory calls on managed memory,
 * under pressure, each once (run under the shim by shim.test):
 *  - MAP_FIXED_NOREPLACE over a live mapping fails with EEXIST;
 *  - a memfd mapped twice over an anonymous reservation (a ring buffer):
 *    writes through one view show through the other, frozen or not;
 *  - mremap of managed memory to a place outside the shim's reservation
 *    keeps every byte;
 *  - a mapping first touched in scattered blocks (each opened on its own)
 *    is still one area: mremap can move and grow it;
 *  - a signal handler reads, 50,000 times a second, the very buffer the
 *    program is writing to a file (pinned, perhaps thawing).
 * Exit 0 when all hold; prints the first that does not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "shim_edges: %s\n", what);
	return 1;
}

/* Make managed memory go cold: fill a lot of it, then wait for reclaim. */
static void pressure(void)
{
	int i;

	for (i = 0; i < 48; i++)
		memset(malloc(1 << 20), i | 1, 1 << 20);
	usleep(1500000);
}

static int noreplace(void)
{
	size_t sz = 1 << 20;
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	memset(p, 'x', sz);
	q = mmap(p, sz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (q != MAP_FAILED || errno != EEXIST || p[0] != 'x')
		return fail("MAP_FIXED_NOREPLACE replaced a live mapping");
	return 0;
}

static int ring(void)
{
	size_t sz = 1 << 20, i;
	int fd = memfd_create("ring", 0);
	char *base, *a, *b;

	if (fd < 0 || ftruncate(fd, (off_t)sz))
		return 0; /* no memfd here: nothing to check */
	base = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a = mmap(base, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	b = mmap(base + sz, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (a != base || b != base + sz)
		return fail("ring: mmap");
	memset(a, 'A', sz);
	pressure();
	memset(b, 'B', sz);
	for (i = 0; i < sz; i++)
		if (a[i] != 'B')
			return fail("ring: a write through one view is missing from the other");
	return 0;
}

static int remap_out(void)
{
	size_t sz = 4 << 20, i;
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst, *q;

	for (i = 0; i < sz; i++)
		p[i] = (char)(i * 7 + 1);
	pressure();
	dst = mmap(NULL, sz, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	q = mremap(p, sz, sz, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (q != dst)
		return fail("mremap out: failed");
	for (i = 0; i < sz; i++)
		if (q[i] != (char)(i * 7 + 1))
			return fail("mremap out: bytes changed");
	return 0;
}

/* Every other 256 KiB block first, then the rest: the blocks open out of
 * order, and must still merge into one area, which mremap needs to move. */
static int remap_scattered(void)
{
	size_t sz = 16 << 20, blk = 256 << 10, i;
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	for (i = 0; i < sz; i += 2 * blk)
		memset(p + i, (int)(i / blk) | 1, blk);
	for (i = blk; i < sz; i += 2 * blk)
		memset(p + i, (int)(i / blk) | 1, blk);
	q = mremap(p, sz, 2 * sz, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (q != dst)
		return fail("mremap of a mapping touched in scattered blocks: failed");
	for (i = 0; i < sz; i++)
		if (q[i] != (char)((i / blk) | 1))
			return fail("mremap of a mapping touched in scattered blocks: bytes changed");
	return 0;
}

static char *volatile cur;
static volatile unsigned long sink;

static void on_alarm(int sig)
{
	if (cur)
		sink += (unsigned char)*cur;
}

static int handler_on_pinned(void)
{
	size_t sz = 32 << 20, off;
	char *buf = malloc(sz);
	struct sigaction sa = { .sa_handler = on_alarm };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	struct itimerspec its = { { 0, 20000 }, { 0, 20000 } };
	timer_t t;
	int fd = open("/dev/null", O_WRONLY), round;

	memset(buf, 3, sz);
	sigaction(SIGALRM, &sa, NULL);
	if (fd < 0 || timer_create(CLOCK_MONOTONIC, &sev, &t))
		return 0;
	timer_settime(t, 0, &its, NULL);
	for (round = 0; round < 3; round++)
		for (off = 0; off < sz; off += 4096) {
			cur = buf + off;
			if (write(fd, buf + off, 4096) != 4096)
				return fail("write of a managed buffer failed");
		}
	timer_delete(t);
	return 0;
}

int main(void)
{
	return noreplace() || ring() || remap_out() || remap_scattered() || handler_on_pinned();
}
