/*
 * results.c - the benchmark's shared pieces: sample summaries, clocks,
 * memory and mapping counts read from /proc, and the results table.
 *
 * The table holds one row per figure: what, the figure, the floor measured
 * in the same run, their ratio, the goal and whether it was met.  A goal
 * is a ratio to the floor, or to nothing when the row has no floor (an
 * overhead against the run without the shim, bytes per page).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "common.h"

#define MAX_RESULTS 64

static struct result {
	char what[64], unit[16], goal_text[24];
	double figure, floor, goal;
} results[MAX_RESULTS];
static size_t nresults;

static int cmp_u64(const void *a, const void *b)
{
	return (*(const uint64_t *)a > *(const uint64_t *)b) -
	       (*(const uint64_t *)a < *(const uint64_t *)b);
}

static double rank(const uint64_t *ns, size_t n, size_t per_mille)
{
	size_t r = (n * per_mille + 999) / 1000;

	return (double)ns[r ? r - 1 : 0];
}

struct dist bench_summarize(uint64_t *ns, size_t n, uint64_t timer_ns)
{
	struct dist d = { .n = n };
	double sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		ns[i] = ns[i] > timer_ns ? ns[i] - timer_ns : 0;
		sum += (double)ns[i];
	}
	if (!n)
		return d;
	qsort(ns, n, sizeof(*ns), cmp_u64);
	d.med = (double)ns[(n - 1) / 2];
	d.p99 = rank(ns, n, 990);
	d.p999 = rank(ns, n, 999);
	d.mean = sum / (double)n;
	return d;
}

uint64_t bench_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000 + (uint64_t)t.tv_nsec;
}

uint64_t bench_timer_ns(void)
{
	uint64_t ns[1001], t0;
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(ns); i++) {
		t0 = bench_now_ns();
		ns[i] = bench_now_ns() - t0;
	}
	return (uint64_t)bench_summarize(ns, ZS_ARRAY_SIZE(ns), 0).med;
}

void *bench_alloc(size_t bytes)
{
	size_t size = (bytes + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
	void *p = aligned_alloc(ZS_PAGE_SIZE, size ? size : ZS_PAGE_SIZE);

	if (!p)
		FAIL("out of memory (%zu bytes)", bytes);
	return memset(p, 0, bytes);
}

void bench_rss(uint64_t *rss, uint64_t *hwm)
{
	char line[256];
	unsigned long long kib;
	FILE *f = fopen("/proc/self/status", "r");

	*rss = *hwm = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			*rss = kib << 10;
		if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
			*hwm = kib << 10;
	}
	if (f)
		fclose(f);
}

size_t bench_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	size_t n = 0;
	int c;

	while (f && (c = getc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

void bench_result(const char *what, const char *unit, double figure, double floor,
		  double goal, const char *goal_text)
{
	struct result *r = &results[nresults];

	if (nresults == MAX_RESULTS)
		FAIL("more than %d results", MAX_RESULTS);
	nresults++;
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->goal_text, sizeof(r->goal_text), "%s", goal_text);
	r->figure = figure;
	r->floor = floor;
	r->goal = goal;
}

int bench_print_results(void)
{
	const struct result *r;
	int missed = 0;
	bool met;

	printf("\n%-40s %10s %10s %7s  %-8s %-16s %s\n", "RESULTS", "figure", "floor", "ratio",
	       "unit", "goal", "");
	for (r = results; r < results + nresults; r++) {
		printf("%-40s %10.2f ", r->what, r->figure);
		if (r->floor > 0)
			printf("%10.2f %7.3f", r->floor, r->figure / r->floor);
		else
			printf("%10s %7s", "-", "-");
		printf("  %-8s %-16s", r->unit, r->goal_text);
		if (r->goal > 0) {
			met = r->figure <= r->goal * (r->floor > 0 ? r->floor : 1);
			missed += !met;
			printf(" %s", met ? "met" : "MISSED");
		}
		printf("\n");
	}
	return missed;
}
