/*
 * main.c - zswapsim-bench: what zswapsim costs, each figure next to the
 * floor this machine allows, measured in the same run.
 *
 * Parts, in order (--parts picks some): engine (store and load against the
 * compressor alone), pager (freeze and thaw against protect, compress and
 * decompress by hand), scale (a 16 GiB managed region), overhead (programs
 * with and without the preloaded library, which --shim names).  Each part
 * prints its own detail, then main prints the one results table.  The exit
 * status is 1 when a run contradicted itself (a page came back wrong, a
 * statistic disagreed); a missed goal is reported, not an error.
 *
 * --workload NAME is the program the overhead part runs: the same binary,
 * with and without LD_PRELOAD.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "compress.h"

struct args {
	size_t pages;
	uint64_t scale_pages;
	const char *compressor, *shim, *parts, *workload;
};

static void print_machine(const struct args *a, const char *dir)
{
	char line[256] = "", *model;	/* "model name	: NAME" */
	FILE *f = fopen("/proc/cpuinfo", "r");
	struct utsname u;

	while (f && fgets(line, sizeof(line), f) && strncmp(line, "model name", 10))
		;
	if (f)
		fclose(f);
	model = strncmp(line, "model name", 10) || !strchr(line, ':') ? ": unknown CPU" :
		strchr(line, ':');
	uname(&u);
	printf("machine: nproc %ld, %.*s, %s %s %s\n", sysconf(_SC_NPROCESSORS_ONLN),
	       (int)strcspn(model + 2, "\n"), model + 2, u.sysname, u.release, u.machine);
	printf("parts: %s; %zu pages per run, compressor %s, files in %s\n\n", a->parts,
	       a->pages, a->compressor, dir);
}

static uint64_t number(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (!*s || *end || v < min || v > max)
		FAIL("%s %s: a whole number from %llu to %llu", opt, s, (unsigned long long)min,
		     (unsigned long long)max);
	return v;
}

static void usage(void)
{
	FAIL("usage: zswapsim-bench [--pages N] [--compressor NAME] [--scale-pages N]\n"
	     "       [--shim PATH/libzswapsim.so] [--parts engine,pager,scale,overhead]\n"
	     "NAME one of %s", zs_compressor_names());
}

static void parse_args(struct args *a, int argc, char **argv)
{
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--compressor"))
			a->compressor = argv[i + 1];
		else if (!strcmp(argv[i], "--pages"))
			a->pages = number("--pages", argv[i + 1], 1024, 1u << 24);
		else if (!strcmp(argv[i], "--scale-pages"))
			a->scale_pages = number("--scale-pages", argv[i + 1], 65536, 1ull << 26);
		else if (!strcmp(argv[i], "--shim"))
			a->shim = argv[i + 1];
		else if (!strcmp(argv[i], "--parts"))
			a->parts = argv[i + 1];
		else if (!strcmp(argv[i], "--workload"))
			a->workload = argv[i + 1];
		else
			usage();
	}
	if (i < argc || !zs_compressor_find(a->compressor))
		usage();
}

static bool part(const struct args *a, const char *name)
{
	size_t len = strlen(name);
	const char *p;

	for (p = a->parts; (p = strstr(p, name)); p += len)
		if ((p == a->parts || p[-1] == ',') && (!p[len] || p[len] == ','))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct args a = { .pages = 16384, .scale_pages = UINT64_C(1) << 22, .compressor = "lz4",
			  .parts = "engine,pager,scale,overhead" };
	const char *tmp = getenv("TMPDIR"), *dir = tmp && *tmp ? tmp : "/tmp";
	int status = 0, missed;

	parse_args(&a, argc, argv);
	if (a.workload)
		return bench_workload(a.workload);
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_machine(&a, dir);
	if (part(&a, "engine"))
		status |= bench_engine(a.pages, a.compressor, dir);
	if (part(&a, "pager"))
		bench_pager(a.pages, a.compressor, dir);
	if (part(&a, "scale"))
		bench_scale(a.scale_pages, dir);
	if (part(&a, "overhead")) {
		if (a.shim)
			bench_overhead(a.shim, dir);
		else
			printf("overhead: skipped, no --shim PATH/libzswapsim.so given\n");
	}
	missed = bench_print_results();
	if (missed)
		printf("\n%d goal%s missed: BENCHMARKS.md explains the gaps\n", missed,
		       missed == 1 ? "" : "s");
	return status;
}
