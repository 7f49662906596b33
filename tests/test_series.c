/*
 * test_series.c - statistics as a dump, a CSV series or JSON lines, and
 * the paths of the statistics query (series.h).
 *
 * The names: every statistic of the three lists once, engine first.  The
 * CSV header and a row have as many fields; a value lands under its own
 * name; time is seconds with three decimals.  A JSON line holds the same
 * pairs.  The dump starts with the engine's own dump (zs_stats_format), so
 * what parses one parses the other.  A buffer too small gets a cut,
 * NUL-terminated text and the whole length.  The query's directory is
 * refused when it is a link, a file, or open to others.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "series.h"
#include "tap.h"

#define MAX_NAMES 256

static const char *names[MAX_NAMES];
static size_t count;

static void test_names(void)
{
	size_t i, j, dups = 0;
	bool thaws = false, stored = false;

	count = zs_series_names(names, MAX_NAMES);
	ok(count > zs_stat_count && count < MAX_NAMES, "%zu statistics, more than the engine's %zu",
	   count, zs_stat_count);
	ok(!strcmp(names[0], zs_stat_infos[0].name), "the engine's come first (%s)", names[0]);
	ok(!strcmp(names[count - 1], "shrinker_pages"), "the library's come last (%s)",
	   names[count - 1]);
	for (i = 0; i < count; i++) {
		thaws |= !strcmp(names[i], "thaws");
		stored |= !strcmp(names[i], "stored_pages");
		for (j = 0; j < i; j++)
			dups += !strcmp(names[i], names[j]);
	}
	ok(thaws && stored, "thaws and stored_pages are among them");
	is(dups, 0, "no name twice");
}

/* The index of `name` in a comma-separated line, or -1. */
static int field_index(const char *line, const char *name)
{
	char copy[8192], *tok, *save;
	int i = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	copy[strcspn(copy, "\n")] = '\0';
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++)
		if (!strcmp(tok, name))
			return i;
	return -1;
}

/* Field i of a comma-separated line. */
static const char *field(const char *line, int i, char *buf, size_t len)
{
	const char *p = line;

	while (i-- > 0 && (p = strchr(p, ',')))
		p++;
	if (!p)
		return "";
	snprintf(buf, len, "%.*s", (int)strcspn(p, ",\n"), p);
	return buf;
}

static size_t commas(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == ',';
	return n;
}

static void test_csv(void)
{
	struct zs_series_sample s = { .ms = 1234 };
	char header[8192], row[8192], f[32];
	size_t hn = zs_series_header(ZS_SERIES_CSV, header, sizeof(header));
	size_t rn;

	s.engine.stored_pages = 42;
	s.pager.thaws = 7;
	s.shim.shrinker_pages = 99;
	rn = zs_series_row(ZS_SERIES_CSV, &s, row, sizeof(row));
	ok(hn == strlen(header) && !strncmp(header, "time_s,pool_limit_hit,", 22) &&
	   header[hn - 1] == '\n', "the header: time_s, then the names, one line");
	is(commas(header), count, "a column per statistic, and time");
	ok(rn == strlen(row) && row[rn - 1] == '\n' && !strchr(row, '\n')[1], "a row is one line");
	is(commas(row), commas(header), "as many fields as the header");
	ok(!strcmp(field(row, 0, f, sizeof(f)), "1.234"), "time 1234 ms is 1.234 (%s)", f);
	ok(!strcmp(field(row, field_index(header, "stored_pages"), f, sizeof(f)), "42"),
	   "stored_pages under its name (%s)", f);
	ok(!strcmp(field(row, field_index(header, "thaws"), f, sizeof(f)), "7"),
	   "thaws under its name (%s)", f);
	ok(!strcmp(field(row, field_index(header, "shrinker_pages"), f, sizeof(f)), "99"),
	   "shrinker_pages under its name (%s)", f);
	s.ms = 5;
	zs_series_row(ZS_SERIES_CSV, &s, row, sizeof(row));
	ok(!strncmp(row, "0.005,", 6), "5 ms is 0.005");
	s.ms = 3600123;
	zs_series_row(ZS_SERIES_CSV, &s, row, sizeof(row));
	ok(!strncmp(row, "3600.123,", 9), "an hour and 123 ms is 3600.123");
	is(zs_series_header(ZS_SERIES_JSONL, header, sizeof(header)), 0, "JSON lines: no header");
}

static void test_jsonl(void)
{
	struct zs_series_sample s = { .ms = 20 };
	char row[8192];
	size_t n;

	s.engine.pool_total_size = 123456789012ULL;
	s.pager.thaws = 3;
	n = zs_series_row(ZS_SERIES_JSONL, &s, row, sizeof(row));
	ok(!strncmp(row, "{\"time_s\":0.020,\"pool_limit_hit\":0,", 35), "a JSON object, time first");
	ok(n == strlen(row) && !strcmp(row + n - 2, "}\n"), "closed, one line");
	ok(strstr(row, ",\"pool_total_size\":123456789012,") != NULL, "a 64-bit value whole");
	ok(strstr(row, ",\"thaws\":3,") != NULL, "a pager value under its name");
	is(commas(row), count, "a pair per statistic, and time");
}

static void test_dump(void)
{
	struct zs_series_sample s = { .ms = 1 };
	char dump[8192], engine[4096], small[40];
	size_t n, en, lines = 0, i;

	s.engine.stored_pages = 5;
	s.pager.freezes = 8;
	n = zs_series_dump(&s, dump, sizeof(dump));
	en = zs_stats_format(&s.engine, engine, sizeof(engine));
	ok(n == strlen(dump) && !strncmp(dump, engine, en), "the dump starts with the engine's");
	for (i = 0; i < n; i++)
		lines += dump[i] == '\n';
	is(lines, count, "a line per statistic");
	ok(strstr(dump, "\nfreezes 8\n") && strstr(dump, "\nstored_pages 5\n") &&
	   !strstr(dump, "time_s"), "name value lines, no time");
	is(zs_series_dump(&s, small, sizeof(small)), n, "a small buffer: the whole length");
	ok(strlen(small) == sizeof(small) - 1 && !strncmp(small, dump, sizeof(small) - 1),
	   "and the cut text, NUL-terminated");
	n = zs_series_row(ZS_SERIES_CSV, &s, dump, sizeof(dump));
	is(zs_series_row(ZS_SERIES_CSV, &s, small, 1), n, "a 1-byte buffer: the whole length");
	is(small[0], '\0', "and an empty string");
}

static void test_formats(void)
{
	enum zs_series_format fmt = ZS_SERIES_JSONL;

	ok(zs_series_format_find("csv", &fmt) == 0 && fmt == ZS_SERIES_CSV, "csv");
	ok(zs_series_format_find("jsonl", &fmt) == 0 && fmt == ZS_SERIES_JSONL, "jsonl");
	is(zs_series_format_find("json", &fmt), -EINVAL, "json refused");
	is(zs_series_format_find("CSV", &fmt), -EINVAL, "CSV refused");
}

static void test_query_paths(void)
{
	char dir[64], path[96];

	zs_query_dir(NULL, 1000, dir, sizeof(dir));
	ok(!strcmp(dir, "/tmp/zswapsim-1000"), "no TMPDIR: %s", dir);
	zs_query_dir("", 7, dir, sizeof(dir));
	ok(!strcmp(dir, "/tmp/zswapsim-7"), "empty TMPDIR: %s", dir);
	zs_query_dir("/var/tmp", 0, dir, sizeof(dir));
	ok(!strcmp(dir, "/var/tmp/zswapsim-0"), "TMPDIR=/var/tmp: %s", dir);
	zs_query_path(dir, 4242, 0, path, sizeof(path));
	ok(!strcmp(path, "/var/tmp/zswapsim-0/stats.4242"), "the answer: %s", path);
	zs_query_path(dir, 4242, 1, path, sizeof(path));
	ok(!strcmp(path, "/var/tmp/zswapsim-0/stats.4242.tmp"), "while written: %s", path);
	ok(zs_query_path(dir, 4242, 1, path, 8) > 8 && strlen(path) == 7, "too long: cut, counted");
}

static void test_query_dir(void)
{
	char top[] = "/tmp/test_series.XXXXXX", dir[128], link[128], file[128];

	if (!mkdtemp(top)) {
		skip(5, "no temporary directory");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/d", top);
	snprintf(link, sizeof(link), "%s/l", top);
	snprintf(file, sizeof(file), "%s/f", top);
	is(zs_query_dir_ready(dir), 0, "a missing directory is created");
	is(zs_query_dir_ready(dir), 0, "and found ready the next time");
	chmod(dir, 0755);
	is(zs_query_dir_ready(dir), -EPERM, "open to others: refused");
	ok(symlink(dir, link) == 0 && zs_query_dir_ready(link) == -ENOTDIR, "a link: refused");
	close(open(file, O_CREAT | O_WRONLY, 0600));
	is(zs_query_dir_ready(file), -ENOTDIR, "a file: refused");
	unlink(file);
	unlink(link);
	rmdir(dir);
	rmdir(top);
}

int main(void)
{
	test_names();
	test_csv();
	test_jsonl();
	test_dump();
	test_formats();
	test_query_paths();
	test_query_dir();
	return done_testing();
}
