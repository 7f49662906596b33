/*
 * bench.h - what the benchmark's parts share: latency samples and their
 * summary, the one results table every part adds its figures to, and dying
 * with a message.
 *
 * Every part measures its floor in the same run, on the same pages, and
 * adds a row: the figure, the floor, their ratio and the goal.  main prints
 * the table last, so that it is the one thing to read.
 */
#ifndef ZS_BENCH_H
#define ZS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAIL(...) (fprintf(stderr, "zswapsim-bench: " __VA_ARGS__), fputc('\n', stderr), exit(1))

struct dist {			/* samples in ns; n == 0: nothing measured */
	size_t n;
	double med, p99, p999, mean;
};

/* Subtract timer_ns from each sample; median, p99, p99.9 (nearest rank),
 * mean.  Sorts ns. */
struct dist bench_summarize(uint64_t *ns, size_t n, uint64_t timer_ns);
uint64_t bench_now_ns(void);
/* The median cost of an empty timed region, to subtract. */
uint64_t bench_timer_ns(void);
/* Zeroed, so touched now: no first-touch faults while timing. */
void *bench_alloc(size_t bytes);
/* This process's resident set and its peak, in bytes (/proc/self/status). */
void bench_rss(uint64_t *rss, uint64_t *hwm);
/* Mappings of this process now (lines of /proc/self/maps). */
size_t bench_vmas(void);

/* One row of the results table.  floor 0: none; goal 0: none; below:
 * the goal is figure <= goal * floor (or <= goal when floor is 0). */
void bench_result(const char *what, const char *unit, double figure, double floor,
		  double goal, const char *goal_text);
/* Print the table; returns how many goals were missed. */
int bench_print_results(void);

struct zs_pager;
/* From now on SIGSEGV goes to p's fault handling, as in the shim. */
void bench_handle_faults(struct zs_pager *p);

/* The parts.  n: pages per run. */
int bench_engine(size_t n, const char *compressor, const char *dir);
void bench_pager(size_t n, const char *compressor, const char *dir);
void bench_scale(uint64_t pages, const char *dir);
void bench_overhead(const char *shim, const char *dir);
int bench_workload(const char *name);

#endif
