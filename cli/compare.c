/*
 * compare.c - `zswapsim compare [FILE]`: the side-by-side table of one run.
 *
 * Reads a statistics dump (a stats file, `zswapsim stats PID` output, demo
 * output; standard input by default) and prints its shadow lines (shadow.h)
 * as two tables: the allocators on the pool's objects, the compressors on
 * the pool's pages.  A file that holds several dumps (ZSWAPSIM_STATS_FILE is
 * appended to) is read to its end, so the last dump wins.
 *
 *   shadow_zpool NAME pool_total_size N stored_pages N refused_pages N ratio R live L
 *                model_pool_total_size N peak_pool_total_size N
 *   shadow_compressor NAME pages N compressed_bytes N ratio R compress_ns N live L
 *
 * Keys are found by name, so keys a later version adds are passed over.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define ROWS 16

#define FIELDS 5

struct row {
	char name[32];
	double v[FIELDS];   /* the values of the keys asked for, in their order */
	int live;
};

struct table {
	struct row rows[ROWS];
	int n;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: zswapsim compare [FILE]\n"
		"Print the side-by-side table of a statistics dump's shadow lines: each\n"
		"allocator's pool size and ratio on the same objects, each compressor's ratio\n"
		"and speed on the same pages (ZSWAPSIM_SHADOW_ZPOOLS, ZSWAPSIM_SHADOW_COMPRESSORS).\n"
		"FILE defaults to standard input; with several dumps in it, the last one counts.\n");
}

/* The row for `name`, replacing an earlier dump's. */
static struct row *row_for(struct table *t, const char *name)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->rows[i].name, name))
			return &t->rows[i];
	if (t->n == ROWS || strlen(name) >= sizeof(t->rows[0].name))
		return NULL;
	snprintf(t->rows[t->n].name, sizeof(t->rows[0].name), "%s", name);
	return &t->rows[t->n++];
}

/* The value after `key` in "NAME key value key value ...", or -1 when the
 * key is missing or its value is not a number. */
static double value_of(const char *rest, const char *key)
{
	size_t n = strlen(key);
	const char *p = strchr(rest, ' ');
	char *end;
	double v;

	while (p && *p) {
		p += strspn(p, " ");
		if (!strncmp(p, key, n) && p[n] == ' ') {
			v = strtod(p + n + 1, &end);
			return end != p + n + 1 && (*end == ' ' || *end == '\n' || !*end) ? v : -1;
		}
		p = strchr(p, ' ');
		if (p)
			p = strchr(p + 1, ' ');
	}
	return -1;
}

/* Parse "NAME key value ... live L": every key of `keys` must be there
 * (keys a later version adds are passed over). */
static int parse_row(struct table *t, const char *rest, const char *const keys[FIELDS])
{
	char name[64];
	struct row *r;
	double v[FIELDS], live;
	int i;

	if (sscanf(rest, "%63s", name) != 1 || (live = value_of(rest, "live")) < 0)
		return -EINVAL;
	for (i = 0; i < FIELDS; i++)
		if ((v[i] = value_of(rest, keys[i])) < 0)
			return -EINVAL;
	r = row_for(t, name);
	if (!r)
		return -EINVAL;
	memcpy(r->v, v, sizeof(v));
	r->live = live > 0;
	return 0;
}

static int read_dump(FILE *f, const char *path, struct table *pools, struct table *comps)
{
	static const char *const pool_keys[FIELDS] = { "pool_total_size", "peak_pool_total_size",
						       "stored_pages", "refused_pages", "ratio" };
	static const char *const comp_keys[FIELDS] = { "pages", "compressed_bytes", "ratio",
						       "compress_ns", "pages" };
	char line[512];
	unsigned long n = 0;

	while (fgets(line, sizeof(line), f)) {
		int ret = 0;

		n++;
		if (!strncmp(line, "shadow_zpool ", 13))
			ret = parse_row(pools, line + 13, pool_keys);
		else if (!strncmp(line, "shadow_compressor ", 18))
			ret = parse_row(comps, line + 18, comp_keys);
		if (ret) {
			fprintf(stderr, "zswapsim: compare: %s:%lu: expected 'shadow_zpool NAME "
				"pool_total_size N peak_pool_total_size N stored_pages N "
				"refused_pages N ratio R live L' or 'shadow_compressor NAME pages N "
				"compressed_bytes N ratio R compress_ns N live L'\n", path, n);
			return ZS_EXIT_USAGE;
		}
	}
	return 0;
}

static void print_pools(const struct table *t)
{
	int i;

	printf("%-16s %15s %15s %13s %13s %7s\n", "zpool", "pool_total_size", "peak", "stored_pages",
	       "refused_pages", "ratio");
	for (i = 0; i < t->n; i++) {
		const struct row *r = &t->rows[i];
		char name[48];

		snprintf(name, sizeof(name), "%s%s", r->name, r->live ? " (live)" : "");
		printf("%-16s %11.1f MiB %11.1f MiB %13.0f %13.0f %7.2f\n", name, r->v[0] / 1048576.0,
		       r->v[1] / 1048576.0, r->v[2], r->v[3], r->v[4]);
	}
}

static void print_compressors(const struct table *t)
{
	int i;

	printf("%-16s %15s %15s %13s %13s\n", "compressor", "pages", "compressed", "ratio",
	       "us/page");
	for (i = 0; i < t->n; i++) {
		const struct row *r = &t->rows[i];
		char name[48];

		snprintf(name, sizeof(name), "%s%s", r->name, r->live ? " (live)" : "");
		printf("%-16s %15.0f %11.1f MiB %13.2f %13.2f\n", name, r->v[0], r->v[1] / 1048576.0,
		       r->v[2], r->v[3] / 1000.0);
	}
}

int cmd_compare(int argc, char **argv)
{
	struct table pools = { .n = 0 }, comps = { .n = 0 };
	const char *path = "standard input";
	FILE *f = stdin;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1])) {
		usage(stderr);
		return ZS_EXIT_USAGE;
	}
	if (argc == 2 && strcmp(argv[1], "-")) {
		path = argv[1];
		f = fopen(path, "r");
		if (!f) {
			fprintf(stderr, "zswapsim: compare: %s: %s\n", path, strerror(errno));
			return ZS_EXIT_USAGE;
		}
	}
	ret = read_dump(f, path, &pools, &comps);
	if (f != stdin)
		fclose(f);
	if (ret)
		return ret;
	if (!pools.n && !comps.n) {
		fprintf(stderr, "zswapsim: compare: %s: no shadow_zpool or shadow_compressor lines "
			"(is ZSWAPSIM_SHADOW_ZPOOLS off?)\n", path);
		return 1;
	}
	if (pools.n)
		print_pools(&pools);
	if (pools.n && comps.n)
		printf("\n");
	if (comps.n)
		print_compressors(&comps);
	return 0;
}
