/*
 * run.c - `zswapsim run [--OPTION VALUE]... [--] PROGRAM [ARGS]`: run a
 * program under libzswapsim.so.  Each option of the table may be given as a
 * flag; it is checked here (exit 2 with the usual message) and passed on as
 * its ZSWAPSIM_ variable, the library is put first in LD_PRELOAD, and the
 * program replaces this process.
 *
 * The library is found, in order: $ZSWAPSIM_LIB; next to this executable in
 * a build tree (../preload/.libs/); the installed $(libdir).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"

static void run_usage(FILE *f)
{
	fprintf(f, "Usage: zswapsim run [--OPTION VALUE]... [--] PROGRAM [ARGS]...\n"
		"Run PROGRAM under libzswapsim.so with the given settings, e.g.\n"
		"  zswapsim run --mem-limit 128M --stats-at-exit Y -- python3 app.py\n"
		"OPTION is any setting of 'zswapsim options' (dashes or underscores).\n");
}

static bool usable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* The library to preload, or NULL. */
static const char *find_library(char *buf, size_t len)
{
	const char *env = getenv("ZSWAPSIM_LIB");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/../preload/.libs/libzswapsim.so", exe);
			if (usable(buf))
				return buf;
		}
	}
	snprintf(buf, len, "%s/libzswapsim.so", ZS_LIBDIR);
	return usable(buf) ? buf : NULL;
}

/* Check one --name value and export it as its variable: 0 or exit status. */
static int export_option(const char *flag, const char *value)
{
	struct zs_options scratch;
	const struct zs_option *opt = zs_option_find(flag + 2);
	char env[64], err[512];

	if (!opt) {
		fprintf(stderr, "zswapsim: run: unknown option '%s'; see zswapsim options\n", flag);
		return ZS_EXIT_USAGE;
	}
	zs_options_defaults(&scratch);
	if (zs_option_parse(&scratch, opt, flag, value, err, sizeof(err))) {
		fprintf(stderr, "zswapsim: run: %s\n", err);
		return ZS_EXIT_USAGE;
	}
	zs_option_env_name(opt, env, sizeof(env));
	setenv(env, value, 1);
	return 0;
}

static int preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *both;

	if (!old || !*old)
		return setenv("LD_PRELOAD", lib, 1);
	both = malloc(strlen(lib) + strlen(old) + 2);
	if (!both)
		return -1;
	sprintf(both, "%s:%s", lib, old);
	return setenv("LD_PRELOAD", both, 1);
}

int cmd_run(int argc, char **argv)
{
	char buf[PATH_MAX + 64];
	const char *lib;
	int i, ret;

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		char *flag = argv[i], *value;

		if (!strcmp(flag, "--")) {
			i++;
			break;
		}
		if (!strcmp(flag, "--help")) {
			run_usage(stdout);
			return 0;
		}
		value = strchr(flag, '=');
		if (value)
			*value++ = '\0';
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "zswapsim: run: %s needs a value\n", flag);
			return ZS_EXIT_USAGE;
		}
		ret = export_option(flag, value);
		if (ret)
			return ret;
	}
	if (i >= argc) {
		run_usage(stderr);
		return ZS_EXIT_USAGE;
	}
	lib = find_library(buf, sizeof(buf));
	if (!lib) {
		fprintf(stderr, "zswapsim: run: libzswapsim.so not found in %s; set ZSWAPSIM_LIB\n",
			ZS_LIBDIR);
		return 1;
	}
	if (preload(lib))
		return 1;
	execvp(argv[i], argv + i);
	fprintf(stderr, "zswapsim: run: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
