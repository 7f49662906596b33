/*
 * histo.h - a latency histogram that a signal handler can fill and a dump can
 * read: 4 buckets per power of two of nanoseconds (at most 19% wide), 64
 * powers (values below 4 get one bucket each), relaxed atomic counts.  Percentiles are reported as the upper
 * bound of the bucket that holds them.
 */
#ifndef ZS_HISTO_H
#define ZS_HISTO_H

#include <stdint.h>
#include <time.h>

#define ZS_HISTO_SUB 4
#define ZS_HISTO_BUCKETS (64 * ZS_HISTO_SUB)

struct zs_histo {
	uint64_t count[ZS_HISTO_BUCKETS];
};

/* Monotonic nanoseconds (the vDSO: async-signal-safe). */
static inline uint64_t zs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline unsigned int zs_histo_bucket(uint64_t ns)
{
	unsigned int log;

	if (ns < ZS_HISTO_SUB)
		return (unsigned int)ns;
	log = 63 - (unsigned int)__builtin_clzll(ns);
	return log * ZS_HISTO_SUB + (unsigned int)((ns >> (log - 2)) & (ZS_HISTO_SUB - 1));
}

/* The largest value a bucket holds. */
static inline uint64_t zs_histo_upper(unsigned int b)
{
	unsigned int log = b / ZS_HISTO_SUB, sub = b % ZS_HISTO_SUB;

	if (b < 2 * ZS_HISTO_SUB) /* below 4: one bucket per value (4..7 unused) */
		return b < ZS_HISTO_SUB ? b : ZS_HISTO_SUB - 1;
	return ((uint64_t)(ZS_HISTO_SUB + sub + 1) << (log - 2)) - 1;
}

/* Async-signal-safe. */
static inline void zs_histo_add(struct zs_histo *h, uint64_t ns)
{
	__atomic_fetch_add(&h->count[zs_histo_bucket(ns)], 1, __ATOMIC_RELAXED);
}

/* The value below which `per_mille` thousandths of the samples fall; 0
 * with no samples.  Async-signal-safe. */
static inline uint64_t zs_histo_percentile(const struct zs_histo *h, unsigned int per_mille)
{
	uint64_t total = 0, seen = 0, want;
	unsigned int b;

	for (b = 0; b < ZS_HISTO_BUCKETS; b++)
		total += __atomic_load_n(&h->count[b], __ATOMIC_RELAXED);
	if (!total)
		return 0;
	want = (total * per_mille + 999) / 1000;
	for (b = 0; b < ZS_HISTO_BUCKETS; b++) {
		seen += __atomic_load_n(&h->count[b], __ATOMIC_RELAXED);
		if (seen >= want)
			return zs_histo_upper(b);
	}
	return zs_histo_upper(ZS_HISTO_BUCKETS - 1);
}

#endif
