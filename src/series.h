/*
 * series.h - statistics leaving the process: one sample of every statistic
 * the preloaded library dumps, formatted as a dump ("name value" lines), a
 * CSV row (after a header) or a JSON line; and where `zswapsim stats PID`
 * finds a running program's answer to its query.
 *
 * A sample holds the engine's statistics (stats.h), the pager's (pager.h)
 * and the library's own (ZS_STATS_SHIM), in that order, under the names of
 * those lists: a dump, a CSV header and a JSON line name them alike.  The
 * series adds one column first, time_s, seconds since the library started
 * with millisecond precision.
 *
 * Every function here formats into the caller's buffer with no malloc, no
 * stdio and no locale: async-signal-safe (a dump is made in a handler).
 * Each returns the length the whole text needs, like snprintf, and
 * NUL-terminates what fits.
 */
#ifndef ZS_SERIES_H
#define ZS_SERIES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pager.h"
#include "stats.h"

struct zs_series_sample {
	uint64_t ms;                /* since start (the series' time_s) */
	struct zs_stats engine;
	struct zs_pager_stats pager;
	struct zs_shim_stats shim;
};

enum zs_series_format { ZS_SERIES_CSV, ZS_SERIES_JSONL };

/* The format called `name` ("csv", "jsonl"): 0 with *fmt set, or -EINVAL. */
int zs_series_format_find(const char *name, enum zs_series_format *fmt);
/* "csv, jsonl", for messages. */
const char *zs_series_format_names(void);

/* Every statistic's name, in sample order; the count. */
size_t zs_series_names(const char **names, size_t max);

/* The CSV header line ("time_s,pool_limit_hit,...\n"); nothing for JSONL. */
size_t zs_series_header(enum zs_series_format fmt, char *buf, size_t len);
/* One row: "1.234,0,...\n" or {"time_s":1.234,"pool_limit_hit":0,...}\n. */
size_t zs_series_row(enum zs_series_format fmt, const struct zs_series_sample *s, char *buf,
		     size_t len);
/* A dump: "name value\n" per statistic (no time). */
size_t zs_series_dump(const struct zs_series_sample *s, char *buf, size_t len);

/*
 * The statistics query of `zswapsim stats PID`: the CLI sends the
 * statistics signal with sigqueue(3) and this value; the library writes a
 * dump to zs_query_path() of its pid (a temporary name first, then renamed)
 * in zs_query_dir(): $TMPDIR/zswapsim-UID, or /tmp/zswapsim-UID, a
 * directory of the user's own, mode 0700.
 */
#define ZS_QUERY_MAGIC 0x7a737371 /* "zssq" */

/* The directory for `tmpdir` (NULL or "": /tmp) and uid.  Async-signal-safe. */
size_t zs_query_dir(const char *tmpdir, uid_t uid, char *buf, size_t len);
/* dir/stats.PID, or dir/stats.PID.tmp while it is written.  Async-signal-safe. */
size_t zs_query_path(const char *dir, pid_t pid, int tmp, char *buf, size_t len);
/* Create dir if it is missing, then check it is a real directory (not a
 * link) owned by the effective user, with no access for others: 0,
 * -ENOTDIR, -EPERM, or mkdir's -errno.  Async-signal-safe. */
int zs_query_dir_ready(const char *dir);

#endif
