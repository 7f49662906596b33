/*
 * init.c - libzswapsim.so's start-up, its reclaim thread and its fork handlers
 * (the statistics leave through stats.c).
 *
 * Start-up happens once, on the first malloc-family call or from the
 * constructor, whichever comes first; a malloc made by the start-up itself
 * (jemalloc's or the dynamic linker's) is served from a bootstrap zone
 * (malloc.c).  Settings come from ZSWAPSIM_* variables through the one
 * option table; an invalid one stops the program before it runs, with a
 * message naming it, since it must never run on a setting it did not ask
 * for.  A set-user-ID program (secure execution) runs without the shim.
 *
 * The reclaim thread wakes every 10 ms, or at once when a first touch waits
 * for room under the limit (admit); a cheap look at the process's RSS
 * (which includes the pool) rules out pressure without scanning.  Under
 * pressure it runs the clock (src/reclaim.c) under map_lock, in slices of 64
 * windows, sleeping only a millisecond between slices while it makes
 * progress.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include "stats.h"

struct shim shim = { .map_lock = PTHREAD_MUTEX_INITIALIZER, .stats_fd = -1 };

static SHIM_TLS int starting_here;
static int statm_fd = -1;

void shim_die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	if (write(2, "zswapsim: ", 10) >= 0)
		n = (int)write(2, msg, (size_t)n);
	_exit(2);
}

/* RSS in pages, the second number of /proc/self/statm; UINT64_MAX when
 * unknown.  Parsed by hand: no stdio, no locale (the program may be
 * changing its locale on another thread). */
static uint64_t rss_pages(void)
{
	char buf[128], *p = buf;
	uint64_t v = 0;
	ssize_t n = statm_fd >= 0 ? pread(statm_fd, buf, sizeof(buf) - 1, 0) : -1;

	if (n <= 0)
		return UINT64_MAX;
	buf[n] = '\0';
	while (*p && *p != ' ')
		p++;
	if (*p++ != ' ' || *p < '0' || *p > '9')
		return UINT64_MAX;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

/* The process's VMAs: the lines of /proc/self/maps (vm.max_map_count is
 * the budget they must stay under). */
static void count_vmas(void)
{
	char buf[65536];
	uint64_t lines = 0;
	ssize_t n, i;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	__atomic_store_n(&shim.vmas, lines, __ATOMIC_RELAXED);
	zs_pager_note_vmas(&shim.pager, lines, shim.reclaim.vma_budget);
}

/* A third of vm.max_map_count for the shim's protected areas, the rest for
 * the program's own mappings. */
static uint64_t vma_budget(void)
{
	char buf[32];
	uint64_t max = 0;
	ssize_t n, i;
	int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);

	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0)
		close(fd);
	for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		max = max * 10 + (uint64_t)(buf[i] - '0');
	return (max ? max : 65530) / 3;
}

/* One slice of the clock: its result, or -EBUSY when it is held off (an
 * exec in flight, or without `wait` another thread holding the mapping
 * lock). */
static int reclaim_slice(size_t windows, bool wait)
{
	char selector;
	int ret;

	if (zs_now_ns() < __atomic_load_n(&shim.exec_until_ns, __ATOMIC_SEQ_CST))
		return -EBUSY;
	if (wait)
		pthread_mutex_lock(&shim.map_lock);
	else if (pthread_mutex_trylock(&shim.map_lock) != 0)
		return -EBUSY;
	selector = shim_dispatch_allow(); /* its own calls need no net */
	ret = zs_reclaim_run(&shim.reclaim, windows);
	shim_dispatch_restore(selector);
	pthread_mutex_unlock(&shim.map_lock);
	return ret;
}

static void start_reclaim(void);

void shim_throttle(void)
{
	/* A child after fork starts its reclaim thread here, at its first
	 * malloc: most children exec first, and need none. */
	if (__atomic_exchange_n(&shim.reclaim_orphaned, 0, __ATOMIC_SEQ_CST))
		start_reclaim();
	if (__atomic_load_n(&shim.pressure, __ATOMIC_RELAXED) && reclaim_slice(4, true) != -EAGAIN)
		__atomic_store_n(&shim.pressure, 0, __ATOMIC_RELAXED);
}

/* Wake the reclaim thread now.  Async-signal-safe. */
static void kick_reclaim(void)
{
	if (!__atomic_exchange_n(&shim.kicked, 1, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &shim.kicked, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep until `ns` have passed or someone kicks; whether someone did. */
static bool reclaim_sleep(long ns)
{
	struct timespec t = { 0, ns };

	syscall(SYS_futex, &shim.kicked, FUTEX_WAIT_PRIVATE, 0, &t, NULL, 0);
	return __atomic_exchange_n(&shim.kicked, 0, __ATOMIC_SEQ_CST);
}

/* A first touch over the limit waits for the reclaim thread to make room,
 * as a task at its cgroup's limit reclaims before its page fault is done.
 * Never for long, and not at all when reclaim can free nothing more: the
 * program then goes on over its limit, where Linux would kill it.
 * Async-signal-safe (the SIGSEGV handler calls it). */
static bool admit(struct zs_pager *p, size_t pages)
{
	struct timespec tick = { 0, 100 * 1000 };
	uint64_t deadline = zs_now_ns() + 50 * 1000 * 1000;
	bool waited = false;

	while (!zs_reclaim_has_room(&shim.reclaim, pages) &&
	       !__atomic_load_n(&shim.reclaim_stuck, __ATOMIC_RELAXED) && zs_now_ns() < deadline) {
		waited = true;
		if (reclaim_slice(4, false) != -EBUSY)
			continue;
		kick_reclaim();
		nanosleep(&tick, NULL);
	}
	return waited;
}

static void *reclaim_main(void *arg)
{
	uint64_t limit = shim.reclaim.limit_pages, ticks = 0;
	bool kicked = false;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		uint64_t rss = rss_pages();
		int ret = rss > limit || kicked ? reclaim_slice(64, true) : 0;

		zs_engine_trim(shim.engine);
		if (++ticks % (ret == -EAGAIN ? 20 : 100) == 0)
			count_vmas();
		__atomic_store_n(&shim.reclaim_stuck, ret == -ENOSPC, __ATOMIC_RELAXED);
		/* Well over (by an eighth): make the allocators help. */
		__atomic_store_n(&shim.pressure, ret == -EAGAIN && rss > limit + limit / 8,
				 __ATOMIC_RELAXED);
		kicked = reclaim_sleep(ret == -EAGAIN ? 1000 * 1000 : 10 * 1000 * 1000);
	}
	return NULL;
}

static void start_reclaim(void)
{
	pthread_t t;

	if (shim.reclaim.limit_pages &&
	    shim_real_pthread_create(&t, NULL, reclaim_main, NULL) == 0) {
		pthread_detach(t);
		zs_pager_set_admit(&shim.pager, admit);
	}
}

/* Before fork: the swap file written so far becomes read-only for both
 * processes, each writing its own from now on (src/swapfile.c). */
static void before_fork(void)
{
	if (__atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_ON)
		zs_engine_before_fork(shim.engine);
}

static void after_fork_parent(void)
{
	if (__atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_ON)
		zs_engine_after_fork_parent(shim.engine);
	shim_dispatch_rearm();
}

/* After fork, the child keeps its limit and swaps on its own: frozen pages
 * thaw from its copy of the pool and from the retired swap file, new ones
 * go to a file of its own.  Every lock is reset: a thread that held one in
 * the parent does not exist here.  Its reclaim thread starts at its first
 * malloc (pressure makes malloc look); until then first touches and thaws
 * over the limit reclaim in the faulting thread. */
static void after_fork_child(void)
{
	pthread_mutex_init(&shim.map_lock, NULL);
	zs_region_after_fork_child(shim_region());
	zs_engine_after_fork_child(shim.engine);
	zs_pager_after_fork_child(&shim.pager);
	shim_forget_uninherited();
	shim_dispatch_after_fork_child();
	shim_stats_after_fork_child();
	if (shim.reclaim.limit_pages) {
		__atomic_store_n(&shim.reclaim_orphaned, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&shim.pressure, 1, __ATOMIC_RELAXED);
	}
}

static int open_stats(void)
{
	if (*shim.opt.stats_file)
		return open(shim.opt.stats_file,
			    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	/* Programs may close fd 2 before exit (coreutils do): keep our own. */
	return fcntl(2, F_DUPFD_CLOEXEC, 500);
}

static void dump_at_exit(void)
{
	shim_attrib_resolve();
	shim_dump_stats(shim.stats_fd);
}

/* The trace's last buffer (ZSWAPSIM_TRACE): the engine is never destroyed
 * here.  Registered before the dump, so it runs after it. */
static void flush_at_exit(void)
{
	zs_engine_flush(shim.engine);
}

static enum zs_guard guard_mode(const char *name)
{
	return !strcmp(name, "always") ? ZS_GUARD_ALWAYS
	       : !strcmp(name, "never") ? ZS_GUARD_NEVER
					 : ZS_GUARD_NEAR_BUDGET;
}

static void start(void)
{
	char err[512];

	zs_options_defaults(&shim.opt);
	if (zs_options_from_env(&shim.opt, getenv, err, sizeof(err)))
		shim_die("%s", err);
	if (getauxval(AT_SECURE)) {
		__atomic_store_n(&shim.state, SHIM_DISABLED, __ATOMIC_RELEASE);
		return;
	}
	if (zs_engine_create(&shim.opt, &shim.engine, err, sizeof(err)) ||
	    zs_pager_create(&shim.pager, shim.engine, shim.opt.reserve_size, err, sizeof(err)) ||
	    zs_reclaim_init(&shim.reclaim, &shim.pager, zs_engine_options(shim.engine)->mem_limit,
			    shim.opt.shrinker_enabled))
		shim_die("cannot start: %s", err);
	shim.stats_fd = open_stats();
	if (shim.stats_fd < 0 && *shim.opt.stats_file)
		shim_die("ZSWAPSIM_STATS_FILE=%s: %s", shim.opt.stats_file, strerror(errno));
	statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	zs_pager_set_guard(&shim.pager, guard_mode(shim.opt.guard_pages));
	shim.reclaim.vma_budget = vma_budget();
	count_vmas(); /* the pager keeps its budget from the first fault on */
	__atomic_store_n(&shim.state, SHIM_ON, __ATOMIC_RELEASE);
	if (shim_malloc_init() || shim_signals_init())
		shim_die("cannot start: jemalloc or signal set-up failed");
	if (shim_dispatch_init())
		shim_die("ZSWAPSIM_SYSCALL_DISPATCH=Y: this kernel or machine has no Syscall "
			 "User Dispatch (Linux 5.11+, x86-64); use N");
	if (shim_attrib_init())
		shim_die("ZSWAPSIM_FAULT_STACKS: cannot set up libunwind or its tables");
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	if (*shim.opt.trace)
		atexit(flush_at_exit);
	if (shim.opt.stats_at_exit)
		atexit(dump_at_exit);
	shim_stats_init();
	start_reclaim();
}

bool shim_ready(void)
{
	int s = __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE), off = SHIM_OFF;

	if (zs_unlikely(starting_here))
		return false;
	if (zs_likely(s == SHIM_ON))
		return true;
	if (s == SHIM_DISABLED)
		return false;
	if (__atomic_compare_exchange_n(&shim.state, &off, SHIM_STARTING, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		starting_here = 1;
		start();
		starting_here = 0;
	}
	while ((s = __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE)) == SHIM_STARTING)
		sched_yield();
	return s == SHIM_ON;
}

__attribute__((constructor(101))) static void shim_constructor(void)
{
	shim_ready();
}
