/*
 * shim_fork.c - fork while other threads keep the shim busy (faults, stores,
 * writeback, so its locks are taken all the time): each child touches
 * memory, which thaws pages, allocates and exits.  A child that waited for a
 * lock held by a parent thread that does not exist in it would hang; the
 * parent gives each child 10 seconds.  Then parent and child both rewrite
 * all 64 MiB with patterns of their own, at the same time, each under the
 * limit: both swap (the child's own reclaim, its own swap file), and
 * neither may see the other's bytes.  MADV_WIPEONFORK and MADV_DONTFORK keep
 * their meaning for the child, and vfork and posix_spawn run their programs.
 * Exit 0 when every child exited 0 and
 * the parent's own data is intact.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 16384 /* 64 MiB */

static unsigned char *mem;
static volatile int stop;

static void *busy(void *arg)
{
	uint64_t r = (uintptr_t)arg + 1;

	while (!stop) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		mem[(r % PAGES) * 4096 + 8]++;
	}
	return NULL;
}

static int run_child(void)
{
	volatile unsigned long sum = 0;
	char *p = malloc(1 << 20);
	int i;

	for (i = 0; i < PAGES; i += 7)
		sum += mem[(size_t)i * 4096];
	if (!p)
		return 1;
	memset(p, 1, 1 << 20);
	return sum == 0 ? 2 : 0;
}

/* Write pattern `tag` over all of mem, twice verified: 0 or the count of
 * pages that did not read back. */
static int rewrite(unsigned char tag)
{
	size_t k;
	int round, bad = 0;

	for (k = 0; k < (size_t)PAGES; k++)
		memset(mem + k * 4096, (unsigned char)(k % 13 + tag), 4096);
	for (round = 0; round < 2; round++)
		for (k = 0; k < (size_t)PAGES; k++)
			bad += mem[k * 4096 + 4095] != (unsigned char)(k % 13 + tag) ||
			       mem[k * 4096] != (unsigned char)(k % 13 + tag);
	return bad;
}

/* Parent and child swap side by side after one fork. */
static int twins(void)
{
	pid_t pid = fork();
	int status = -1, bad;

	if (pid == 0)
		_exit(rewrite(100) ? 3 : 0);
	bad = rewrite(50);
	waitpid(pid, &status, 0);
	if (bad)
		fprintf(stderr, "shim_fork: %d parent pages wrong after the twin run\n", bad);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "shim_fork: the twin child failed (status %d)\n", status);
		bad++;
	}
	return bad;
}

/* MADV_WIPEONFORK and MADV_DONTFORK over managed memory pushed far over
 * the limit: the child finds the first range zeroed and the second gone
 * (its touch is a SIGSEGV of its own), never the parent's bytes restored
 * from the pool it inherited; the parent keeps both. */
static void on_segv_in_child(int sig)
{
	(void)sig;
	_exit(0);
}

static int fork_advice(void)
{
	size_t len = 4 << 20, k;
	unsigned char *wipe = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *gone = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status = -1, bad = 0;
	pid_t pid;

	memset(wipe, 0x5a, len);
	memset(gone, 0xa5, len);
	if (madvise(wipe, len, MADV_WIPEONFORK) || madvise(gone, len, MADV_DONTFORK))
		return fprintf(stderr, "shim_fork: madvise: %m\n"), 1;
	bad += rewrite(7); /* far over the limit: cold pages freeze */
	pid = fork();
	if (pid == 0) {
		alarm(20);
		for (k = 0; k < len; k++)
			if (wipe[k])
				_exit(1);
		signal(SIGSEGV, on_segv_in_child);
		_exit(gone[len / 2] == 0xa5 ? 2 : 3);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bad++;
		fprintf(stderr, "shim_fork: fork advice: child %s %d (1: not wiped, 2/3: not gone)\n",
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	for (k = 0; k < len; k++)
		bad += wipe[k] != 0x5a || gone[k] != 0xa5;
	return bad;
}

static size_t resident(void)
{
	static unsigned char vec[PAGES];
	size_t k, in = 0;

	if (mincore(mem, (size_t)PAGES * 4096, vec) == 0)
		for (k = 0; k < PAGES; k++)
			in += vec[k] & 1;
	return in;
}

/* vfork and posix_spawn with their arguments in managed memory: each child
 * runs its program, and the parent's limit still holds afterwards (a vfork
 * child's exec must not leave the parent's clock stopped: the rewrite
 * would then wait for room at every page, and the alarm end the test). */
static int spawns(void)
{
	char *argv[] = { strdup("sh"), strdup("-c"), strdup("exit 5"), NULL };
	int status = -1, bad = 0;
	size_t in;
	pid_t pid;

	alarm(60);
	pid = vfork();
	if (pid == 0) {
		execv("/bin/sh", argv);
		_exit(1);
	}
	bad += waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 5;
	bad += posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0 ||
	       waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 5;
	bad += rewrite(11);
	if ((in = resident()) > PAGES / 2) {
		bad++;
		fprintf(stderr, "shim_fork: after the spawns %zu of %d pages stayed in memory\n", in,
			PAGES);
	}
	alarm(0);
	if (bad)
		fprintf(stderr, "shim_fork: vfork or posix_spawn failed\n");
	return bad;
}

int main(void)
{
	pthread_t t[2];
	int i, bad = 0;
	size_t k;

	mem = malloc((size_t)PAGES * 4096);
	for (k = 0; k < (size_t)PAGES * 4096; k++)
		mem[k] = (unsigned char)(k / 4096 % 251 + 1);
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, busy, (void *)(intptr_t)i);
	for (i = 0; i < 8; i++) {
		pid_t pid = fork();
		int status = -1, waited;

		if (pid == 0)
			_exit(run_child());
		for (waited = 0; waited < 1000 && waitpid(pid, &status, WNOHANG) == 0; waited++)
			usleep(10000);
		if (waited == 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			bad++;
			fprintf(stderr, "shim_fork: child %d: %s %d\n", i,
				WIFEXITED(status) ? "exit" : waited == 1000 ? "hung, killed" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
		usleep(50000);
	}
	stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (k = 0; k < (size_t)PAGES; k++)
		if (mem[k * 4096] != (unsigned char)(k % 251 + 1)) {
			bad++;
			fprintf(stderr, "shim_fork: parent page %zu changed\n", k);
			break;
		}
	bad += twins();
	bad += fork_advice();
	bad += spawns();
	return bad ? 1 : 0;
}
