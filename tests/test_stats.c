/*
 * test_stats.c - the statistics list and its signal-safe dump (stats.h).
 *
 * The dump is compared, line for line, with text built here by snprintf
 * from zs_stat_infos: one "name value\n" line per statistic in table order,
 * zswap's debugfs names first.  Truncation follows snprintf: the needed
 * length comes back, the buffer is NUL-terminated within len and nothing is
 * written past it.  zs_stats_write must put the same bytes on a pipe and
 * leave errno as it found it, on success and on failure.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "histo.h"
#include "stats.h"
#include "tap.h"

#define BIG 8192

static const char *const kernel_names[] = {
	"pool_limit_hit", "reject_reclaim_fail", "reject_alloc_fail", "reject_kmemcache_fail",
	"reject_compress_poor", "reject_compress_fail", "decompress_fail", "written_back_pages",
	"duplicate_entry", "pool_total_size", "stored_pages", "same_filled_pages",
	"stored_incompressible_pages",
};

static void set_stat(struct zs_stats *s, size_t i, uint64_t v)
{
	memcpy((char *)s + zs_stat_infos[i].offset, &v, sizeof(v));
}

/* Every statistic a different value, the extremes among them. */
static uint64_t value_for(size_t i)
{
	static const uint64_t v[] = { 0, 1, UINT64_MAX, 10, 4096, 999, 1000000007ULL };

	return i < ZS_ARRAY_SIZE(v) ? v[i] : (uint64_t)i * 1234567ULL;
}

static void fill_stats(struct zs_stats *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < zs_stat_count; i++)
		set_stat(s, i, value_for(i));
}

/* What the dump should be, built the slow way. */
static size_t expected_dump(char *buf, size_t len)
{
	size_t at = 0, i;

	for (i = 0; i < zs_stat_count; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s %" PRIu64 "\n",
				       zs_stat_infos[i].name, value_for(i));
	return at;
}

static void test_table(void)
{
	size_t i, j, bad_kernel = 0, overlap = 0;

	is(zs_stat_count, sizeof(struct zs_stats) / sizeof(uint64_t),
	   "one info per field of struct zs_stats");
	ok(zs_stat_count > ZS_ARRAY_SIZE(kernel_names), "kernel names and engine names");
	for (i = 0; i < ZS_ARRAY_SIZE(kernel_names) && i < zs_stat_count; i++)
		bad_kernel += strcmp(zs_stat_infos[i].name, kernel_names[i]) != 0;
	is(bad_kernel, 0, "the first 13 are zswap's debugfs names, in order");
	for (i = 0; i < zs_stat_count; i++)
		for (j = i + 1; j < zs_stat_count; j++)
			overlap += zs_stat_infos[i].offset == zs_stat_infos[j].offset ||
				   strcmp(zs_stat_infos[i].name, zs_stat_infos[j].name) == 0;
	is(overlap, 0, "names and offsets are distinct");
}

static void test_utoa(void)
{
	static const struct { uint64_t v; const char *s; } cases[] = {
		{ 0, "0" }, { 1, "1" }, { 9, "9" }, { 10, "10" }, { 1000000, "1000000" },
		{ 4294967296ULL, "4294967296" }, { UINT64_MAX, "18446744073709551615" },
	};
	char buf[32];
	size_t i, n;

	for (i = 0; i < ZS_ARRAY_SIZE(cases); i++) {
		memset(buf, 'X', sizeof(buf));
		n = zs_utoa(cases[i].v, buf);
		ok(n == strlen(cases[i].s) && strcmp(buf, cases[i].s) == 0, "zs_utoa(%s) = \"%s\"",
		   cases[i].s, buf);
	}
}

/* The line numbered `line` (from 1) of a dump, without its newline. */
static const char *line_of(const char *dump, int line, char *out, size_t len)
{
	const char *end;

	while (--line > 0 && dump)
		dump = (dump = strchr(dump, '\n')) ? dump + 1 : NULL;
	if (!dump)
		return "";
	end = strchr(dump, '\n');
	snprintf(out, len, "%.*s", end ? (int)(end - dump) : (int)strlen(dump), dump);
	return out;
}

static void test_format(void)
{
	struct zs_stats s;
	static char got[BIG], want[BIG];
	char line[128] = "";
	size_t n, lines = 0, i;

	memset(&s, 0, sizeof(s));
	n = zs_stats_format(&s, got, sizeof(got));
	is(strcmp(line_of(got, 1, line, sizeof(line)), "pool_limit_hit 0"), 0,
	   "first line: \"%s\"", line);
	ok(strncmp(line_of(got, 13, line, sizeof(line)), "stored_incompressible_pages ", 28) == 0,
	   "13th line: \"%s\"", line);

	fill_stats(&s);
	n = zs_stats_format(&s, got, sizeof(got));
	is(n, expected_dump(want, sizeof(want)), "the returned length is the dump's length");
	ok(strcmp(got, want) == 0, "every line is \"name value\", in table order");
	for (i = 0; i < n; i++)
		lines += got[i] == '\n';
	is(lines, zs_stat_count, "one line per statistic");
	ok(strstr(got, "\nreject_reclaim_fail 1\n") && strstr(got, "\nreject_alloc_fail "
	   "18446744073709551615\n"), "1 and 2^64-1 are printed exactly");
	is(strlen(got), n, "NUL-terminated right after the last line");
}

/* Every len from 0 to past the end: snprintf's contract. */
static void test_truncation(void)
{
	struct zs_stats s;
	static char full[BIG], buf[BIG];
	size_t n, len, bad = 0;

	fill_stats(&s);
	n = zs_stats_format(&s, full, sizeof(full));
	for (len = 0; len <= n + 2; len++) {
		size_t nul = len && len - 1 < n ? len - 1 : n;

		memset(buf, '#', n + 16);
		if (zs_stats_format(&s, buf, len) != n || buf[len] != '#' ||
		    (len && (buf[nul] != '\0' || memcmp(buf, full, nul) != 0))) {
			if (!bad++)
				diag("len %zu: wrong result", len);
		}
	}
	is(bad, 0, "for every len 0..%zu: needed length back, a prefix NUL-terminated "
	   "within len, nothing past it", n + 2);
	memset(buf, '#', 16);
	is(zs_stats_format(&s, buf, 0), n, "len 0: the needed length");
	is(buf[0], '#', "len 0: nothing written");
}

/* Read everything from fd until end of file. */
static size_t read_all(int fd, char *buf, size_t len)
{
	size_t at = 0;
	ssize_t r;

	while (at < len - 1 && (r = read(fd, buf + at, len - 1 - at)) > 0)
		at += (size_t)r;
	buf[at] = '\0';
	return at;
}

static void test_write(void)
{
	struct zs_stats s;
	static char want[BIG], got[BIG];
	int fds[2];
	size_t n;

	fill_stats(&s);
	n = zs_stats_format(&s, want, sizeof(want));
	if (pipe(fds)) {
		ok(0, "pipe");
		return;
	}
	errno = EDOM;
	is(zs_stats_write(&s, fds[1]), 0, "zs_stats_write to a pipe: 0");
	is(errno, EDOM, "errno untouched on success");
	close(fds[1]);
	ok(read_all(fds[0], got, sizeof(got)) == n && strcmp(got, want) == 0,
	   "the pipe carries exactly the zs_stats_format bytes");
	close(fds[0]);

	errno = EDOM;
	is(zs_stats_write(&s, fds[1]), -EBADF, "a closed fd: -EBADF");
	is(errno, EDOM, "errno untouched on failure");
	if (pipe(fds) == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(fds[0]);
		errno = ERANGE;
		is(zs_stats_write(&s, fds[1]), -EPIPE, "a pipe with no reader: -EPIPE");
		is(errno, ERANGE, "errno untouched");
		close(fds[1]);
	}
}

/* The latency histogram: every value lands in a bucket whose bounds hold
 * it, buckets are at most a fifth wide, percentiles follow the samples. */
static void test_histo(void)
{
	static struct zs_histo h;
	uint64_t v, bad = 0;
	int i;

	for (v = 1; v < (UINT64_C(1) << 40); v = v * 3 / 2 + 1) {
		unsigned int b = zs_histo_bucket(v);

		bad += v > zs_histo_upper(b) || (b && v <= zs_histo_upper(b - 1)) ||
		       (v > 16 && zs_histo_upper(b) > v + v / 4);
	}
	is(bad, 0, "each value falls in its own bucket, no bucket wider than a quarter");
	is(zs_histo_percentile(&h, 500), 0, "no samples: 0");
	for (i = 0; i < 990; i++)
		zs_histo_add(&h, 5000);
	for (i = 0; i < 10; i++)
		zs_histo_add(&h, 200000);
	v = zs_histo_percentile(&h, 500);
	ok(v >= 5000 && v < 6000, "p50 of 5 us samples is about 5 us (%llu)", (unsigned long long)v);
	v = zs_histo_percentile(&h, 999);
	ok(v >= 200000 && v < 250000, "p99.9 sees the slow tail (%llu)", (unsigned long long)v);
}

int main(void)
{
	test_histo();
	test_table();
	test_utoa();
	test_format();
	test_truncation();
	test_write();
	return done_testing();
}
