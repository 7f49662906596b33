/*
 * common.c - the signal-blocking discipline behind struct zs_lock (see
 * common.h) and the anonymous mappings that hold zswapsim's own metadata.
 *
 * The nesting depth and the saved mask live in initial-exec TLS so that
 * reading them never allocates, even in a library loaded by LD_PRELOAD.
 * Window analysis: the mask is applied before the depth is raised, so a
 * handler can only run while the depth is 0 and it then blocks (and restores)
 * on its own; the old mask is kept in a local until signals are blocked.  On
 * the way out the depth reaches 0 while signals are still blocked, so no
 * handler ever sees a nonzero depth with signals open.
 */
#include "config.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#define ZS_TLS __thread __attribute__((tls_model("initial-exec")))

static ZS_TLS unsigned int sig_depth;
static ZS_TLS sigset_t sig_saved;

static void async_signal_set(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGTRAP);
	sigdelset(set, SIGSYS); /* a dispatch trap (preload/dispatch.c) */
}

void zs_signals_block(void)
{
	sigset_t set, old;

	if (sig_depth == 0) {
		async_signal_set(&set);
		pthread_sigmask(SIG_BLOCK, &set, &old);
		sig_saved = old;
	}
	sig_depth++;
}

void zs_signals_unblock(void)
{
	if (--sig_depth != 0)
		return;
	pthread_sigmask(SIG_SETMASK, &sig_saved, NULL);
}

void zs_signals_enter_masked(void)
{
	sig_depth++;
}

void zs_signals_leave_masked(void)
{
	sig_depth--;
}

void *zs_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int zs_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

int zs_sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

int zs_sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

void *zs_map_anon(size_t bytes)
{
	void *p = zs_sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void zs_unmap(void *addr, size_t bytes)
{
	if (addr)
		zs_sys_munmap(addr, bytes);
}

/* The whole of len bytes through one system call repeated: pread64 and
 * pwrite64 advance their offset, write its file position. */
static int whole(long nr, int fd, void *buf, size_t len, long off)
{
	size_t done = 0;

	while (done < len) {
		long n = nr == SYS_write ? syscall(nr, fd, (char *)buf + done, len - done)
					 : syscall(nr, fd, (char *)buf + done, len - done,
						   off + (long)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int zs_pio(int fd, void *buf, size_t len, long off, int write)
{
	return whole(write ? SYS_pwrite64 : SYS_pread64, fd, buf, len, off);
}

int zs_write_all(int fd, const void *buf, size_t len)
{
	return whole(SYS_write, fd, (void *)buf, len, 0);
}
