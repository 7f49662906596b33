/*
 * series.c - a sample of every statistic as a dump, a CSV row or a JSON
 * line, and the paths of the statistics query (see series.h).
 *
 * The columns are one table generated from the three statistics lists
 * (engine, pager, library), each entry a name and the offset of its
 * counter in struct zs_series_sample, so a dump, a CSV header and a JSON
 * line can never disagree on a name or an order.  Text is built with a
 * bounded cursor (struct out) that counts what does not fit, as snprintf
 * does, so a caller can tell a cut row from a whole one.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "series.h"

struct column {
	const char *name;
	size_t offset;
};

static const struct column columns[] = {
#define ZS_COL_ENGINE(name, doc) { #name, offsetof(struct zs_series_sample, engine.name) },
#define ZS_COL_PAGER(name, doc) { #name, offsetof(struct zs_series_sample, pager.name) },
#define ZS_COL_SHIM(name, doc) { #name, offsetof(struct zs_series_sample, shim.name) },
	ZS_STATS(ZS_COL_ENGINE)
	ZS_STATS_PAGER(ZS_COL_PAGER)
	ZS_STATS_SHIM(ZS_COL_SHIM)
#undef ZS_COL_ENGINE
#undef ZS_COL_PAGER
#undef ZS_COL_SHIM
};

/* A bounded output cursor: `at` keeps counting past `len`. */
struct out {
	char *buf;
	size_t len, at;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->at < o->len)
		memcpy(o->buf + o->at, s, o->at + n < o->len ? n : o->len - o->at);
	o->at += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char num[24];

	put(o, num, zs_utoa(v, num));
}

/* Milliseconds as seconds with three decimals: 1234 -> "1.234". */
static void put_seconds(struct out *o, uint64_t ms)
{
	char frac[4] = { (char)('0' + ms / 100 % 10), (char)('0' + ms / 10 % 10),
			 (char)('0' + ms % 10), '\0' };

	put_u64(o, ms / 1000);
	put(o, ".", 1);
	put(o, frac, 3);
}

static size_t finish(struct out *o)
{
	if (o->len)
		o->buf[o->at < o->len ? o->at : o->len - 1] = '\0';
	return o->at;
}

static uint64_t value(const struct zs_series_sample *s, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)s + columns[i].offset, sizeof(v));
	return v;
}

int zs_series_format_find(const char *name, enum zs_series_format *fmt)
{
	if (!strcmp(name, "csv"))
		*fmt = ZS_SERIES_CSV;
	else if (!strcmp(name, "jsonl"))
		*fmt = ZS_SERIES_JSONL;
	else
		return -EINVAL;
	return 0;
}

const char *zs_series_format_names(void)
{
	return "csv, jsonl";
}

size_t zs_series_names(const char **names, size_t max)
{
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(columns) && i < max; i++)
		names[i] = columns[i].name;
	return ZS_ARRAY_SIZE(columns);
}

size_t zs_series_header(enum zs_series_format fmt, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	size_t i;

	if (fmt == ZS_SERIES_CSV) {
		puts_(&o, "time_s");
		for (i = 0; i < ZS_ARRAY_SIZE(columns); i++) {
			put(&o, ",", 1);
			puts_(&o, columns[i].name);
		}
		put(&o, "\n", 1);
	}
	return finish(&o);
}

size_t zs_series_row(enum zs_series_format fmt, const struct zs_series_sample *s, char *buf,
		     size_t len)
{
	struct out o = { buf, len, 0 };
	bool json = fmt == ZS_SERIES_JSONL;
	size_t i;

	puts_(&o, json ? "{\"time_s\":" : "");
	put_seconds(&o, s->ms);
	for (i = 0; i < ZS_ARRAY_SIZE(columns); i++) {
		put(&o, ",", 1);
		if (json) {
			put(&o, "\"", 1);
			puts_(&o, columns[i].name);
			put(&o, "\":", 2);
		}
		put_u64(&o, value(s, i));
	}
	puts_(&o, json ? "}\n" : "\n");
	return finish(&o);
}

size_t zs_series_dump(const struct zs_series_sample *s, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(columns); i++) {
		puts_(&o, columns[i].name);
		put(&o, " ", 1);
		put_u64(&o, value(s, i));
		put(&o, "\n", 1);
	}
	return finish(&o);
}

/* ---- the statistics query ---- */

size_t zs_query_dir(const char *tmpdir, uid_t uid, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	puts_(&o, tmpdir && *tmpdir ? tmpdir : "/tmp");
	puts_(&o, "/zswapsim-");
	put_u64(&o, (uint64_t)uid);
	return finish(&o);
}

size_t zs_query_path(const char *dir, pid_t pid, int tmp, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	puts_(&o, dir);
	puts_(&o, "/stats.");
	put_u64(&o, (uint64_t)pid);
	if (tmp)
		puts_(&o, ".tmp");
	return finish(&o);
}

int zs_query_dir_ready(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}
