/*
 * shim_calls.c - system calls whose memory arguments are frozen pages (run
 * under the shim by shim.test).  Each argument is a malloc'd buffer made
 * cold first: written, then left alone while other memory pushes the
 * process over its limit, until mincore says it has left memory (frozen).
 * The kernel would fail each call with EFAULT on such a buffer; the shim
 * pins them.  Covered: pipe, pipe2, socketpair, getdents64, getrandom,
 * getcwd, uname, select, pselect.  Exit 0 when every call succeeded; the
 * calls whose buffer never froze are reported (not failures).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

static int failed, not_frozen;
static char *volatile keep; /* so that the compiler keeps the pressure */

static int resident(const void *p)
{
	unsigned char v = 1;
	uintptr_t page = (uintptr_t)p & ~(uintptr_t)4095;

	return mincore((void *)page, 4096, &v) != 0 || (v & 1);
}

/* A copy of n bytes of src (zeros without it) in a malloc'd buffer, left
 * alone until it is frozen (or 3 s). */
static void *cold(const void *src, size_t n)
{
	char *p = malloc(n < 4096 ? 4096 : n), *push;
	int i;

	if (src)
		memcpy(p, src, n);
	else
		memset(p, 0, n);
	for (i = 0; i < 30 && resident(p); i++) {
		push = malloc(8 << 20);
		memset(push, i, 8 << 20);
		keep = push;
		free(keep);
		usleep(100000);
	}
	not_frozen += resident(p);
	return p;
}

static void expect(int ok, const char *what)
{
	if (!ok) {
		failed++;
		fprintf(stderr, "shim_calls: %s failed: %s\n", what, strerror(errno));
	}
}

int main(void)
{
	int *fds = cold(NULL, 8), p[2], fd = open(".", O_RDONLY | O_DIRECTORY);
	struct utsname *u;
	struct timeval tv = { 1, 0 };
	struct timespec ts = { 0, 0 };
	fd_set set;

	expect(pipe(fds) == 0 && write(fds[1], "x", 1) == 1, "pipe");
	expect(pipe2(cold(NULL, 8), O_CLOEXEC) == 0, "pipe2");
	expect(socketpair(AF_UNIX, SOCK_STREAM, 0, cold(NULL, 8)) == 0, "socketpair");
	expect(fd >= 0 && getdents64(fd, cold(NULL, 8192), 8192) > 0, "getdents64");
	expect(getrandom(cold(NULL, 64), 64, 0) == 64, "getrandom");
	expect(getcwd(cold(NULL, 4096), 4096) != NULL, "getcwd");
	u = cold(NULL, sizeof(*u));
	expect(uname(u) == 0 && u->sysname[0], "uname");
	if (pipe(p) != 0 || write(p[1], "y", 1) != 1)
		return 2;
	FD_ZERO(&set);
	FD_SET(p[0], &set);
	expect(select(p[0] + 1, cold(&set, sizeof(set)), NULL, NULL, cold(&tv, sizeof(tv))) == 1,
	       "select");
	expect(pselect(p[0] + 1, cold(&set, sizeof(set)), NULL, NULL, cold(&ts, sizeof(ts)), NULL) == 1,
	       "pselect");
	if (not_frozen)
		fprintf(stderr, "shim_calls: %d buffers never froze (not checked)\n", not_frozen);
	return failed ? 1 : 0;
}
