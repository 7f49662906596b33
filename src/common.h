/*
 * common.h - what every zswapsim module shares: the page geometry, the error
 * convention and the signal-safe lock.
 *
 * Error convention: functions return 0 (or a count) on success and -errno on
 * failure, never set errno themselves.
 *
 * The lock (struct zs_lock).  The engine's load path runs inside a SIGSEGV
 * handler, and a program's own signal handlers may touch frozen pages, so any
 * lock of ours could be wanted by a handler running on the very thread that
 * holds it.  We rule that out instead of detecting it: a zs_lock is only ever
 * held with every asynchronous signal blocked on the holding thread.  A
 * handler therefore never interrupts its own thread's critical section; when
 * another thread holds the lock, the handler simply waits for it, which is
 * safe because that thread makes progress.  Synchronous signals (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGTRAP) stay unblocked: code under a zs_lock
 * touches only memory of ours, so one of those there is a bug to be reported,
 * not a page to thaw.  SIGSYS stays unblocked too (a Syscall User Dispatch
 * trap while it is blocked kills the process): a call made under a zs_lock
 * that traps points only to memory of ours, so the trap pins nothing and
 * never waits for a lock.
 *
 * Blocking costs two rt_sigprocmask calls, so nesting is counted per thread
 * (initial-exec TLS: no allocation, usable in a handler) and only the
 * outermost zs_lock of a thread pays them.  A signal handler whose mask
 * already holds those signals says so (zs_signals_enter_masked) and pays
 * none.
 */
#ifndef ZS_COMMON_H
#define ZS_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define ZS_PAGE_SHIFT 12
#define ZS_PAGE_SIZE (1UL << ZS_PAGE_SHIFT)
#define ZS_PAGE_MASK (~(ZS_PAGE_SIZE - 1))

#define ZS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ZS_UNUSED __attribute__((unused))
#define zs_likely(x) __builtin_expect(!!(x), 1)
#define zs_unlikely(x) __builtin_expect(!!(x), 0)

/* Relaxed atomic counters: statistics are read without locks. */
#define zs_count_add(p, n) __atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define zs_count_sub(p, n) __atomic_fetch_sub((p), (n), __ATOMIC_RELAXED)
#define zs_count_read(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* Copy a struct of uint64_t counters, each read atomically (a snapshot
 * for statistics).  Async-signal-safe. */
static inline void zs_counters_read(void *dst, const void *src, size_t bytes)
{
	const uint64_t *from = src;
	uint64_t *to = dst;
	size_t i;

	for (i = 0; i < bytes / sizeof(uint64_t); i++)
		to[i] = zs_count_read(&from[i]);
}

struct zs_lock {
	pthread_mutex_t mutex;
};

#define ZS_LOCK_INIT { PTHREAD_MUTEX_INITIALIZER }

/* Block asynchronous signals on this thread (nested calls are counted). */
void zs_signals_block(void);
/* Undo one zs_signals_block(); the outermost restores the thread's mask. */
void zs_signals_unblock(void);
/* For a signal handler whose mask holds at least zs_signals_block's set
 * (every signal but the synchronous ones and SIGSYS): count the block as
 * done for the handler's duration, sparing the two system calls each
 * outermost block would make.  Pair with zs_signals_leave_masked. */
void zs_signals_enter_masked(void);
void zs_signals_leave_masked(void);

/* Async-signal-safe under the rule above. */
static inline void zs_lock(struct zs_lock *l)
{
	zs_signals_block();
	pthread_mutex_lock(&l->mutex);
}

static inline void zs_unlock(struct zs_lock *l)
{
	pthread_mutex_unlock(&l->mutex);
	zs_signals_unblock();
}

/* In a child after fork(2): the lock as if new.  A thread that held it in
 * the parent does not exist in the child, so waiting for it would never
 * end. */
static inline void zs_lock_reset(struct zs_lock *l)
{
	pthread_mutex_init(&l->mutex, NULL);
}

/* mmap'd memory of our own, never malloc: see pagesrc.h for pool pages. */
void *zs_map_anon(size_t bytes);
void zs_unmap(void *addr, size_t bytes);

/* The memory system calls, made directly: a preloaded library that
 * interposes mmap and friends must never see zswapsim's own calls.
 * Same results as the libc functions (MAP_FAILED / -1 with errno). */
void *zs_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int zs_sys_munmap(void *addr, size_t len);
int zs_sys_madvise(void *addr, size_t len, int advice);
int zs_sys_mprotect(void *addr, size_t len, int prot);

/* A whole transfer of len bytes at off, through pread or pwrite made as
 * system calls (a preloaded wrapper is never entered, which matters in a
 * signal handler): restarted after EINTR, continued after a short count.
 * 0, or -errno; -EIO when the file ends first.  Async-signal-safe. */
int zs_pio(int fd, void *buf, size_t len, long off, int write);
/* write(2) of all of buf as system calls: 0 or -errno.  Async-signal-safe. */
int zs_write_all(int fd, const void *buf, size_t len);

#endif
