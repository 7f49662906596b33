/*
 * stats.h - every statistic, declared once.  The kernel's debugfs names come
 * first (/sys/kernel/debug/zswap), then the engine's own.  Everything else
 * (the struct, the names, the dump) is generated from this list.
 *
 * A snapshot is a plain struct; formatting it uses no malloc and no stdio,
 * so a signal handler can dump statistics at any moment.
 */
#ifndef ZS_STATS_H
#define ZS_STATS_H

#include <stddef.h>
#include <stdint.h>

/* X(name, meaning) */
#define ZS_STATS_KERNEL(X) \
	X(pool_limit_hit, "times the pool limit was reached") \
	X(reject_reclaim_fail, "stores refused because writeback could not make room") \
	X(reject_alloc_fail, "stores refused because the pool allocator had no page") \
	X(reject_kmemcache_fail, "stores refused because the index had no room for an entry") \
	X(reject_compress_poor, "stores refused because the page compressed too poorly for the pool") \
	X(reject_compress_fail, "stores refused because the compressor failed") \
	X(decompress_fail, "loads or writebacks that failed to decompress") \
	X(written_back_pages, "pages written back to the swap file") \
	X(duplicate_entry, "stores that replaced an entry already stored for the key") \
	X(pool_total_size, "bytes of memory held by the pool") \
	X(stored_pages, "pages currently stored: compressed, raw, or kept as one word") \
	X(same_filled_pages, "same-filled pages currently stored as one word") \
	X(stored_incompressible_pages, "incompressible pages currently stored raw")

#define ZS_STATS_ENGINE(X) \
	X(pool_limit_bytes, "the pool limit in bytes") \
	X(stores, "store calls") \
	X(loads, "loads served (pool, one word, writeback in flight or swap file)") \
	X(loads_from_swap, "loads read back from the swap file") \
	X(load_misses, "loads for a key with nothing stored") \
	X(invalidates, "entries dropped by invalidate or invalidate_all") \
	X(compressed_bytes, "compressed bytes currently in the pool (without headers)") \
	X(swap_pages, "pages currently in the swap file") \
	X(direct_swap_pages, "pages the pool refused, written straight to the swap file") \
	X(swap_full, "writebacks refused because the swap file was full") \
	X(swap_write_errors, "writebacks that failed with an I/O error (the page stayed in the pool)") \
	X(swap_read_errors, "loads from the swap file that failed (the entry was kept)") \
	X(writeback_skipped, "reclaim found an object busy or no longer indexed") \
	X(trace_lost_events, "trace events not written: the trace file failed, or a fork child")

#define ZS_STATS(X) ZS_STATS_KERNEL(X) ZS_STATS_ENGINE(X)

/* libzswapsim.so's own figures, after the engine's and the pager's
 * (ZS_STATS_PAGER, pager.h) in its dumps and series (series.h). */
#define ZS_STATS_SHIM(X) \
	X(thaw_p50_ns, "median time in the handler to thaw a page") \
	X(thaw_p99_ns, "99th percentile of the thaw time") \
	X(thaw_p999_ns, "99.9th percentile of the thaw time") \
	X(managed_pages, "pages of the reservation in use by managed memory") \
	X(resident_pages, "managed pages in memory, last measured") \
	X(vmas, "VMAs of the process, last counted") \
	X(mem_limit_pages, "the simulated RAM size in pages (0: none)") \
	X(reclaim_windows, "windows the reclaim clock has scanned") \
	X(reclaim_revolutions, "whole turns of the reclaim clock") \
	X(shrinker_pages, "pages the shrinker wrote back from the pool")

struct zs_shim_stats {
#define ZS_SHIM_FIELD(name, doc) uint64_t name;
	ZS_STATS_SHIM(ZS_SHIM_FIELD)
#undef ZS_SHIM_FIELD
};

struct zs_stats {
#define ZS_STAT_FIELD(name, doc) uint64_t name;
	ZS_STATS(ZS_STAT_FIELD)
#undef ZS_STAT_FIELD
};

struct zs_stat_info {
	const char *name;
	const char *doc;
	size_t offset;
};

extern const struct zs_stat_info zs_stat_infos[];
extern const size_t zs_stat_count;

/* "name value\n" lines, one per statistic, kernel names first; NUL-terminated
 * when it fits.  Returns the length the whole dump needs (like snprintf).
 * Async-signal-safe. */
size_t zs_stats_format(const struct zs_stats *s, char *buf, size_t len);
/* The same lines written to fd: 0 or -errno.  Async-signal-safe. */
int zs_stats_write(const struct zs_stats *s, int fd);
/* Decimal digits of v into buf (at least 21 bytes), NUL-terminated; returns
 * the length.  Async-signal-safe. */
size_t zs_utoa(uint64_t v, char *buf);

#endif
