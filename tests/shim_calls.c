/*
 * shim_calls.c - system calls whose memory arguments are frozen pages (run
 * under the shim by shim.test).  Each argument is a malloc'd buffer made
 * cold first: written, then left alone while other memory pushes the
 * process over its limit, until mincore says it has left memory (frozen).
 * The kernel would fail each call with EFAULT on such a buffer; the shim
 * pins them.  Covered: pipe, pipe2, socketpair, getdents64, getrandom,
 * getcwd, uname, select, pselect, long strings through fputs and fprintf,
 * execl, ioctl and tcgetattr, and more blocked reads than the shim has pin
 * slots.  Exit 0 when every call succeeded; the
 * calls whose buffer never froze are reported (not failures).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
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
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cold.h"

static int failed, not_frozen;

/* A copy of n bytes of src (zeros without it) in a malloc'd buffer, left
 * alone until it is frozen (3 s at most; then once more in another buffer,
 * in case the first shares its page with something in use). */
static void *cold(const void *src, size_t n)
{
	char *p = NULL;
	int tries;

	for (tries = 0; tries < 2 && (!p || resident(p)); tries++) {
		p = malloc(n < 4096 ? 4096 : n);
		if (src)
			memcpy(p, src, n);
		else
			memset(p, 0, n);
		push_out(p);
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

/* stdio writes a long string straight from the caller's memory (what does
 * not fit its buffer goes to write(2) as it is): the text must arrive.
 * (Both measure the string first, which brings its pages back; the shim
 * pins fputs's so that reclaim cannot take them again before the write.) */
static void stdio_writes(void)
{
	size_t i, n = 64 << 10;
	char *text = malloc(n + 1), *back = malloc(2 * n);
	FILE *f = tmpfile();

	for (i = 0; i < n; i++)
		text[i] = (char)('a' + i % 26);
	text[n] = 0;
	if (!f)
		return;
	expect(fputs(cold(text, n + 1), f) >= 0, "fputs");
	expect(fprintf(f, "%s", (char *)cold(text, n + 1)) == (int)n, "fprintf");
	expect(fflush(f) == 0, "fflush");
	rewind(f);
	expect(fread(back, 1, 2 * n, f) == 2 * n && !memcmp(back, text, n) &&
		       !memcmp(back + n, text, n),
	       "reading back what fputs and fprintf wrote");
	fclose(f);
}

/* execl gathers its arguments inside the C library; a child execs
 * /bin/sh with frozen strings and must run it. */
static void exec_list(void)
{
	char *sh = cold("/bin/sh", 8), *arg0 = cold("sh", 3), *c = cold("-c", 3);
	char *script = cold("exit 7", 7);
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		execl(sh, arg0, c, script, (char *)NULL);
		_exit(1);
	}
	expect(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 7,
	       "execl");
}

/* ioctl's argument, and the terminal calls that use ioctl inside libc. */
static void ioctls(int rfd)
{
	int pty = posix_openpt(O_RDWR | O_NOCTTY);

	expect(ioctl(rfd, FIONREAD, cold(NULL, sizeof(int))) == 0, "ioctl FIONREAD");
	if (pty < 0)
		return;
	expect(tcgetattr(pty, cold(NULL, sizeof(struct termios))) == 0, "tcgetattr");
	close(pty);
}

/* More threads blocked in read(2) than the shim has pin slots (256): the
 * buffers of the last ones are made present but not held, so reclaim may
 * freeze them while the threads wait.  Each read must still get its data
 * (the shim retries a read that failed with EFAULT). */
#define READERS 320

struct reader {
	int fd[2];
	char *buf;
	ssize_t got;
};

static void *reader(void *arg)
{
	struct reader *r = arg;

	r->got = read(r->fd[0], r->buf, 64);
	return NULL;
}

static void many_readers(void)
{
	static struct reader r[READERS];
	pthread_t t[READERS];
	pthread_attr_t attr;
	int i, started = 0, wrong = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (i = 0; i < READERS; i++) {
		r[i].buf = malloc(4096);
		memset(r[i].buf, 0, 4096);
		if (pipe(r[i].fd) || pthread_create(&t[i], &attr, reader, &r[i]))
			break;
		started++;
	}
	push_out(r[READERS - 1].buf); /* until the last reader's buffer froze */
	for (i = 0; i < started; i++)
		if (write(r[i].fd[1], "the data for this reader, exactly sixty-four bytes long.........", 64) != 64)
			wrong++;
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		wrong += r[i].got != 64 || memcmp(r[i].buf, "the data", 8) != 0;
		close(r[i].fd[0]);
		close(r[i].fd[1]);
	}
	errno = 0;
	expect(started == READERS && wrong == 0, "reads blocked beyond the pin slots");
	if (wrong)
		fprintf(stderr, "shim_calls: %d of %d blocked reads lost their data\n", wrong, started);
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
	stdio_writes();
	exec_list();
	ioctls(p[0]);
	many_readers();
	if (not_frozen)
		fprintf(stderr, "shim_calls: %d buffers never froze (not checked)\n", not_frozen);
	return failed ? 1 : 0;
}
