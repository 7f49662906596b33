/*
 * demo.c - `zswapsim demo`: the engine on generated pages, end to end.
 *
 * Stores SIZE bytes of pages like a real heap's (heap objects, text, zero,
 * same-filled and random pages; pagegen.h) through the engine, as the shim
 * will when a program goes over its simulated RAM, then loads every page
 * back in random order and compares every byte with a fresh copy.  By
 * default the simulated RAM is half the data, so the pool (20% of it) fills
 * and the oldest pages are written back to the swap file.  Prints the
 * settings, the statistics under their kernel names and a summary.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common.h"
#include "engine.h"
#include "pagegen.h"

struct demo {
	struct zs_options opt;
	uint64_t size;
	uint64_t seed;
};

static void demo_usage(FILE *f)
{
	fprintf(f, "Usage: zswapsim demo [--size SIZE] [--seed N] [--OPTION VALUE]...\n"
		"Store SIZE (default 256M) of generated pages through the engine, load them\n"
		"back in random order, compare every byte, print the statistics.\n"
		"Unless given, mem_limit is SIZE/2 and swap_size is SIZE.\n"
		"OPTION is any setting of 'zswapsim options', e.g. --max-pool-percent 20.\n");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Settings: environment first, then flags; 0, or the exit status. */
static int parse_args(struct demo *d, int argc, char **argv)
{
	bool mem_given = getenv("ZSWAPSIM_MEM_LIMIT") != NULL;
	bool swap_given = getenv("ZSWAPSIM_SWAP_SIZE") != NULL;
	char err[512], *bad = "";
	int i;

	zs_options_defaults(&d->opt);
	d->size = 256ULL << 20;
	d->seed = 1;
	if (zs_options_from_env(&d->opt, getenv, err, sizeof(err))) {
		fprintf(stderr, "zswapsim: %s\n", err);
		return ZS_EXIT_USAGE;
	}
	for (i = 1; i < argc; i++) {
		char *name = argv[i], *value = strchr(name, '=');
		const struct zs_option *opt;

		bad = argv[i];
		if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
			demo_usage(stdout);
			exit(0);
		}
		if (strncmp(name, "--", 2) != 0)
			goto bad;
		if (value)
			*value++ = '\0';
		else if (i + 1 < argc)
			value = argv[++i];
		else
			goto bad;
		if (!strcmp(name, "--size") || !strcmp(name, "--seed")) {
			uint64_t *field = name[3] == 'i' ? &d->size : &d->seed;

			if (zs_parse_size(value, field) || (field == &d->size && *field < ZS_PAGE_SIZE)) {
				fprintf(stderr, "zswapsim: demo: %s %s: expected a %s\n", name, value,
					field == &d->size ? "size of at least 4K (K, M, G suffixes)"
							  : "whole number");
				return ZS_EXIT_USAGE;
			}
			continue;
		}
		opt = zs_option_find(name + 2);
		if (!opt) {
			bad = name;
			goto bad;
		}
		if (zs_option_parse(&d->opt, opt, name, value, err, sizeof(err))) {
			fprintf(stderr, "zswapsim: demo: %s\n", err);
			return ZS_EXIT_USAGE;
		}
		mem_given |= !strcmp(opt->name, "mem_limit");
		swap_given |= !strcmp(opt->name, "swap_size");
	}
	if (!mem_given)
		d->opt.mem_limit = d->size / 2;
	if (!swap_given)
		d->opt.swap_size = d->size;
	return 0;
bad:
	fprintf(stderr, "zswapsim: demo: unexpected '%s'; see zswapsim demo --help\n", bad);
	return ZS_EXIT_USAGE;
}

struct tally {
	uint64_t stored, refused, verified, bad;
	double store_s, load_s;
};

static void store_all(struct zs_engine *e, const struct demo *d, uint64_t n, struct tally *t)
{
	unsigned char page[ZS_PAGE_SIZE];
	double start = now(), gen = 0;
	uint64_t i;

	for (i = 0; i < n; i++) {
		double g = now();

		zs_page_generate(zs_page_kind_mixed(d->seed + i), d->seed + i, page);
		gen += now() - g;
		if (zs_engine_store(e, (i + 1) << ZS_PAGE_SHIFT, page) == 0)
			t->stored++;
		else
			t->refused++; /* the program would keep this page resident */
	}
	t->store_s = now() - start - gen;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t r = a % b;

		a = b;
		b = r;
	}
	return a;
}

/* Load every page in a random order (a permutation by multiplication modulo
 * n with an odd stride coprime to n) and compare it with a fresh copy. */
static void load_all(struct zs_engine *e, const struct demo *d, uint64_t n, struct tally *t)
{
	unsigned char page[ZS_PAGE_SIZE], want[ZS_PAGE_SIZE];
	uint64_t stride = 2654435761ULL % n, i, j;
	double start = now(), gen = 0;

	while (gcd(stride, n) != 1)
		stride++;
	for (i = 0, j = 0; i < n; i++, j = (j + stride) % n) {
		int ret = zs_engine_load(e, (j + 1) << ZS_PAGE_SHIFT, page);
		double g = now();

		zs_page_generate(zs_page_kind_mixed(d->seed + j), d->seed + j, want);
		gen += now() - g;
		if (ret == -ENOENT)
			continue; /* refused at store time: never left the program */
		if (ret || memcmp(page, want, ZS_PAGE_SIZE))
			t->bad++;
		else
			t->verified++;
	}
	t->load_s = now() - start - gen;
}

/* The other pools and compressors on the same pages (shadow.h). */
static void print_shadow(struct zs_engine *e)
{
	char buf[2048];
	size_t at = 0;

	buf[0] = '\0';
	zs_engine_shadow_format(e, buf, sizeof(buf), &at);
	fputs(buf, stdout);
}

static void summary(const struct zs_stats *s, const char *zpool, uint64_t n,
		    const struct tally *t)
{
	double mib = 1024.0 * 1024.0, held = (double)s->pool_total_size;

	printf("\nsummary:\n");
	printf("  pages stored      %llu of %llu (%llu refused, kept by the caller)\n",
	       (unsigned long long)t->stored, (unsigned long long)n, (unsigned long long)t->refused);
	printf("  after the stores  %.1f MiB of data: %.1f MiB compressed in a pool of %.1f MiB "
	       "(%s density %.2f), %.1f MiB in the swap file, %llu same-filled pages as one "
	       "word\n", (double)n * ZS_PAGE_SIZE / mib, (double)s->compressed_bytes / mib,
	       held / mib, zpool, held > 0 ? (double)s->compressed_bytes / held : 0.0,
	       (double)s->swap_pages * ZS_PAGE_SIZE / mib, (unsigned long long)s->same_filled_pages);
	printf("  store             %.2f us/page\n", t->store_s * 1e6 / (double)n);
	printf("  load              %.2f us/page (random order, pool and swap file)\n",
	       t->load_s * 1e6 / (double)n);
	printf("  verified          %llu pages byte for byte, %llu mismatches\n",
	       (unsigned long long)t->verified, (unsigned long long)t->bad);
}

int cmd_demo(int argc, char **argv)
{
	struct demo d;
	struct zs_engine *e;
	struct zs_stats after_store, after_load;
	struct tally t = { 0 };
	char err[512];
	uint64_t n;
	int ret;

	ret = parse_args(&d, argc, argv);
	if (ret)
		return ret;
	ret = zs_engine_create(&d.opt, &e, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "zswapsim: demo: %s\n", err);
		return ret == -EINVAL ? ZS_EXIT_USAGE : 1;
	}
	n = d.size / ZS_PAGE_SIZE;
	printf("zswapsim demo: %llu pages (%llu MiB) through the engine\n\nsettings:\n",
	       (unsigned long long)n, (unsigned long long)(d.size >> 20));
	zs_options_print(zs_engine_options(e), stdout);
	store_all(e, &d, n, &t);
	zs_engine_stats(e, &after_store);
	printf("\nstatistics after the stores:\n");
	fflush(stdout);
	zs_stats_write(&after_store, 1);
	print_shadow(e);
	load_all(e, &d, n, &t);
	zs_engine_stats(e, &after_load);
	printf("\nafter loading every page back: loads %llu, loads_from_swap %llu, "
	       "stored_pages %llu, pool_total_size %llu\n",
	       (unsigned long long)after_load.loads, (unsigned long long)after_load.loads_from_swap,
	       (unsigned long long)after_load.stored_pages,
	       (unsigned long long)after_load.pool_total_size);
	summary(&after_store, zs_engine_options(e)->zpool, n, &t);
	zs_engine_destroy(e);
	return t.bad || t.verified != t.stored ? 1 : 0;
}
