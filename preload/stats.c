/*
 * stats.c - libzswapsim.so's statistics leaving the process: dumps (the
 * statistics signal, exit), the time series and the answer to
 * `zswapsim stats PID`.  The formatting is src/series.c's; this is glue.
 *
 * Dumps.  shim_dump_stats() takes a sample (engine, pager, the library's
 * own figures) and writes it as "name value" lines, then the other pools'
 * and compressors' lines (shadow.h) and the fault attribution's.  No malloc, no stdio,
 * no lock: the statistics signal's handler calls it.
 *
 * The series (ZSWAPSIM_STATS_INTERVAL).  A thread of its own (the reclaim
 * thread exists only under a limit; the series must not need one) writes a
 * row every interval, on a monotonic clock, to ZSWAPSIM_STATS_SERIES: a row
 * at start, then one per interval, then one at exit (atexit; a program
 * that ends with _exit or a signal has no final row).  series.lock lets one
 * row through at a time (the thread, exit).  The file is opened once,
 * truncated, and held under flock(LOCK_EX): a second process given the
 * same path (a program the first one runs, without %p in the path) finds
 * it locked and writes no series, with a message, rather than truncate a
 * live series.  A write error stops the series with one message; the
 * program runs on.  After fork the child writes no series (it closes its
 * copy of the descriptor; the parent's series goes on); a program it
 * executes starts its own, at the path with %p its own process ID.
 *
 * The query.  `zswapsim stats PID` sends the statistics signal with
 * sigqueue(3) and ZS_QUERY_MAGIC; the handler (signals.c) calls
 * shim_stats_answer(), which writes a dump to a temporary file in the
 * user's private directory (series.h: zs_query_dir; created 0700 and
 * checked to be a directory of ours before use), O_EXCL | O_NOFOLLOW, mode
 * 0600, and renames it into place, so the CLI sees a whole dump or none.
 * The paths are computed at start (and again in a child after fork, whose
 * process ID differs), so the handler only formats the dump.
 */
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "series.h"
#include "shim.h"

#define QUERY_PATH_MAX (ZS_PATH_MAX + 64)
#define DUMP_MAX 8192

static struct {
	int fd;                        /* the series; -1: none, or stopped */
	enum zs_series_format fmt;
	uint64_t start_ns;             /* time 0 of the series */
	pthread_mutex_t lock;          /* one row at a time */
	char path[ZS_PATH_MAX + 32];   /* the series file, %p expanded */
	char query_dir[QUERY_PATH_MAX];
	char query_tmp[QUERY_PATH_MAX];
	char query_path[QUERY_PATH_MAX];
} series = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* Every statistic now.  Async-signal-safe. */
static void sample(struct zs_series_sample *s)
{
	struct zs_shim_stats *f = &s->shim;

	s->ms = (zs_now_ns() - series.start_ns) / 1000000;
	zs_engine_stats(shim.engine, &s->engine);
	zs_pager_stats(&shim.pager, &s->pager);
	f->thaw_p50_ns = zs_histo_percentile(&shim.pager.thaw_ns, 500);
	f->thaw_p99_ns = zs_histo_percentile(&shim.pager.thaw_ns, 990);
	f->thaw_p999_ns = zs_histo_percentile(&shim.pager.thaw_ns, 999);
	f->managed_pages = zs_region_pages_out(shim_region());
	f->resident_pages = shim.reclaim.resident_pages;
	f->vmas = shim.vmas;
	f->mem_limit_pages = shim.reclaim.limit_pages;
	f->reclaim_windows = shim.reclaim.windows;
	f->reclaim_revolutions = shim.reclaim.revolutions;
	f->shrinker_pages = shim.reclaim.shrunk_pages;
}

/* A dump into buf: the engine's statistics, then the pager's, then the
 * library's, then the other pools' and compressors' lines (shadow.h) for
 * `zswapsim compare`; its length.  Async-signal-safe. */
static size_t dump_text(char *buf, size_t len)
{
	struct zs_series_sample s;
	size_t n;

	sample(&s);
	n = zs_series_dump(&s, buf, len);
	if (n >= len)
		n = len - 1;
	zs_engine_shadow_format(shim.engine, buf, len, &n);
	return n;
}

/* The dump's buffer is static, not on the stack: a handler may run on a
 * small signal stack the program set up (Python's faulthandler gives
 * 12 KiB).  One dump at a time has it: another thread's dump waits its
 * turn a bounded time; a dump that interrupts one on its own thread (at
 * exit) cannot have it and is skipped.  Async-signal-safe. */
static char dump_buf[DUMP_MAX];
static int dump_busy;

static bool dump_take(void)
{
	int tries;

	for (tries = 0; tries < 10000; tries++) {
		if (!__atomic_exchange_n(&dump_busy, 1, __ATOMIC_ACQUIRE))
			return true;
		sched_yield();
	}
	return false;
}

static void dump_give(void)
{
	__atomic_store_n(&dump_busy, 0, __ATOMIC_RELEASE);
}

/* A dump to fd.  No malloc, no stdio: safe in a signal handler. */
void shim_dump_stats(int fd)
{
	if (fd < 0 || __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) != SHIM_ON || !dump_take())
		return;
	zs_write_all(fd, dump_buf, dump_text(dump_buf, sizeof(dump_buf)));
	shim_attrib_dump(fd); /* thaw_stack and alloc_site lines, if on */
	dump_give();
}

/* Write a dump for `zswapsim stats`.  Async-signal-safe (the handler of
 * the statistics signal). */
void shim_stats_answer(void)
{
	size_t n;
	int fd, ret;

	if (__atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) != SHIM_ON || !series.query_tmp[0] ||
	    zs_query_dir_ready(series.query_dir) || !dump_take())
		return;
	n = dump_text(dump_buf, sizeof(dump_buf));
	unlink(series.query_tmp); /* left by an answer cut short */
	fd = open(series.query_tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ret = zs_write_all(fd, dump_buf, n);
		if (!ret)
			shim_attrib_dump(fd);
		close(fd);
		if (ret || rename(series.query_tmp, series.query_path))
			unlink(series.query_tmp);
	}
	dump_give();
}

static void query_paths(void)
{
	pid_t pid = getpid();

	if (zs_query_path(series.query_dir, pid, 1, series.query_tmp, QUERY_PATH_MAX) >=
	    QUERY_PATH_MAX)
		series.query_tmp[0] = '\0'; /* too long: no answers */
	zs_query_path(series.query_dir, pid, 0, series.query_path, QUERY_PATH_MAX);
}

/* One message, and the series stops.  Under series.lock. */
static void series_stop(int err)
{
	char msg[ZS_PATH_MAX + 160];
	int n = snprintf(msg, sizeof(msg), "zswapsim: ZSWAPSIM_STATS_SERIES=%s: %s; the series "
			 "stops here\n", series.path, strerror(-err));

	if (n > 0)
		zs_write_all(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	close(series.fd);
	series.fd = -1;
}

/* Append a row (or the header and a row); false once the series is off. */
static bool series_row(bool header)
{
	struct zs_series_sample s;
	char buf[8192];
	size_t n = 0, m;
	int ret;

	pthread_mutex_lock(&series.lock);
	if (series.fd < 0) {
		pthread_mutex_unlock(&series.lock);
		return false;
	}
	if (header)
		n = zs_series_header(series.fmt, buf, sizeof(buf));
	sample(&s);
	m = zs_series_row(series.fmt, &s, buf + n, sizeof(buf) - n);
	ret = n + m < sizeof(buf) ? zs_write_all(series.fd, buf, n + m) : -ENOBUFS;
	if (ret)
		series_stop(ret);
	pthread_mutex_unlock(&series.lock);
	return !ret;
}

static void *series_main(void *arg)
{
	uint64_t interval = shim.opt.stats_interval * 1000000, next = zs_now_ns();
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	do {
		struct timespec t;
		uint64_t now = zs_now_ns();

		next += interval;
		if (next < now) /* fell behind (stopped, or starved): no burst */
			next = now + interval;
		t.tv_sec = (time_t)(next / 1000000000);
		t.tv_nsec = (long)(next % 1000000000);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
			;
	} while (series_row(false));
	return NULL;
}

static void series_at_exit(void)
{
	series_row(false);
	pthread_mutex_lock(&series.lock);
	if (series.fd >= 0)
		close(series.fd);
	series.fd = -1;
	pthread_mutex_unlock(&series.lock);
}

/* The series path: %p the process ID, %% a %; empty: zswapsim-%p.FORMAT. */
static int series_path(void)
{
	const char *p = *shim.opt.stats_series ? shim.opt.stats_series
			: series.fmt == ZS_SERIES_CSV ? "zswapsim-%p.csv" : "zswapsim-%p.jsonl";
	size_t at = 0, cap = sizeof(series.path);

	for (; *p && at + 24 < cap; p++) {
		if (p[0] == '%' && p[1] == 'p')
			at += zs_utoa((uint64_t)getpid(), series.path + at), p++;
		else if (p[0] == '%' && p[1] == '%')
			series.path[at++] = '%', p++;
		else
			series.path[at++] = *p;
	}
	series.path[at] = '\0';
	return *p ? -ENAMETOOLONG : 0;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* One line on standard error: the program runs on without a series. */
static void series_skip(const char *why)
{
	char msg[ZS_PATH_MAX + 300];
	int n = snprintf(msg, sizeof(msg), "zswapsim: ZSWAPSIM_STATS_SERIES=%s: %s; no series for "
			 "process %d\n", series.path, why, (int)getpid());

	zs_write_all(2, msg, n > 0 && (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/* Open the series and start its thread.  A path this process cannot use
 * (a program the first one runs, in another directory, inherits the
 * variable) costs its series, not its life; a series another process
 * holds is left to it.  Only a regular file of ours or a device is
 * written (no FIFO to block on, no other user's file). */
static void series_start(void)
{
	struct stat st;
	pthread_t t;
	int fd;

	zs_series_format_find(shim.opt.stats_format, &series.fmt);
	if (series_path())
		shim_die("ZSWAPSIM_STATS_SERIES=%s: path too long", shim.opt.stats_series);
	fd = open(series.path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0) {
		series_skip(strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !(S_ISCHR(st.st_mode) ||
				 (S_ISREG(st.st_mode) && st.st_uid == geteuid()))) {
		series_skip("neither a regular file of this user nor a device");
		close(fd);
		return;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		series_skip("written by another process (put %p in the path)");
		close(fd);
		return;
	}
	if (*shim.opt.stats_file && same_file(fd, shim.stats_fd))
		shim_die("ZSWAPSIM_STATS_SERIES=%s is the ZSWAPSIM_STATS_FILE too: the series needs "
			 "a file of its own", series.path);
	if (S_ISREG(st.st_mode) && ftruncate(fd, 0)) {
		series_skip(strerror(errno));
		close(fd);
		return;
	}
	series.fd = fd;
	if (!series_row(true))
		return;
	atexit(series_at_exit);
	if (shim_real_pthread_create(&t, NULL, series_main, NULL) == 0)
		pthread_detach(t);
}

/* At start, before the program runs (init.c). */
void shim_stats_init(void)
{
	const char *tmpdir = getenv("TMPDIR");

	series.start_ns = zs_now_ns();
	if (zs_query_dir(tmpdir, geteuid(), series.query_dir, QUERY_PATH_MAX) < QUERY_PATH_MAX)
		query_paths();
	else
		series.query_dir[0] = '\0'; /* too long: no answers */
	if (shim.opt.stats_interval)
		series_start();
}

/* In a child after fork: no series (the parent's goes on), answers under
 * its own process ID. */
void shim_stats_after_fork_child(void)
{
	pthread_mutex_init(&series.lock, NULL);
	if (series.fd >= 0)
		close(series.fd);
	series.fd = -1;
	if (series.query_dir[0])
		query_paths();
}
