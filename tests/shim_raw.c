/*
 * shim_raw.c - a raw system call (syscall(2), which no wrapper sees) given
 * a frozen buffer, run under the shim by shim.test: a pipe is read with
 * syscall(SYS_read) into a malloc'd buffer that has left memory.  Without
 * ZSWAPSIM_SYSCALL_DISPATCH the kernel fails it with EFAULT; with it the
 * call is trapped and the buffer made present first.  Also prints what a
 * raw getppid costs here (no check on it).  Exit 0 when the read got its
 * data, 1 when it failed (EFAULT), 2 when the buffer never froze.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cold.h"

static double ns_per_getppid(void)
{
	struct timespec a, b;
	int i, n = 100000;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}

int main(void)
{
	char *buf = malloc(4096);
	int p[2];
	long got;

	memset(buf, 1, 4096);
	if (!push_out(buf))
		return fprintf(stderr, "shim_raw: the buffer never froze\n"), 2;
	if (pipe(p) != 0 || write(p[1], "hello", 5) != 5)
		return 2;
	got = syscall(SYS_read, p[0], buf, 5);
	printf("raw_getppid_ns %.0f\n", ns_per_getppid());
	if (got != 5 || memcmp(buf, "hello", 5) != 0) {
		fprintf(stderr, "shim_raw: raw read into a frozen buffer: %ld (%m)\n", got);
		return 1;
	}
	return 0;
}
