/*
 * zswapsim.c - the command line tool: dispatches to a subcommand.
 *
 *   zswapsim run [OPTIONS] [--] PROGRAM ARGS  a program under libzswapsim.so
 *   zswapsim demo [OPTIONS]                   the engine on generated pages
 *   zswapsim zpool-replay [--zpool NAME] [FILE] replay an allocator trace
 *   zswapsim replay FILE [OPTIONS]            a recorded run (ZSWAPSIM_TRACE) again
 *   zswapsim compare [FILE]                   a dump's allocators and compressors side by side
 *   zswapsim options                          every variable, with defaults
 *   zswapsim plot [-o OUT.svg] [--title T] FILE  a statistics series as SVG
 *   zswapsim stats PID                        a running program's statistics
 *   zswapsim --help | --version
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zswapsim COMMAND [ARGS]\n"
		"Linux zswap + zbud compressed swap, simulated inside one process.\n\n"
		"Commands:\n"
		"  run [--OPTION VALUE]... [--] PROGRAM [ARGS]...\n"
		"      run PROGRAM under libzswapsim.so: a simulated RAM size (--mem-limit),\n"
		"      its cold pages compressed into the pool and thawed on fault\n"
		"  demo [--size SIZE] [--OPTION VALUE]...\n"
		"      store generated pages (text, heap, zero, same-filled, random) through\n"
		"      the engine under a pool limit, load every one back, compare every byte\n"
		"      and print the statistics\n"
		"  zpool-replay [--zpool NAME] [--validate] [FILE]\n"
		"      replay an allocator trace (lines 'a ID SIZE', 'f ID', 'r') from FILE\n"
		"      or standard input and print one result line per trace line\n"
		"  replay FILE [--OPTION VALUE]...\n"
		"      simulate again a run recorded with ZSWAPSIM_TRACE=FILE (or demo --trace)\n"
		"      under other settings (--zpool, --max-pool-percent, ...) and print the\n"
		"      statistics it would have had\n"
		"  compare [FILE]\n"
		"      the side-by-side table of a statistics dump: every allocator and\n"
		"      compressor on the same pages (ZSWAPSIM_SHADOW_*)\n"
		"  options\n"
		"      list every setting with its variable, default and accepted values\n"
		"  plot [-o OUT.svg] [--title TITLE] FILE\n"
		"      draw a series written under ZSWAPSIM_STATS_INTERVAL (CSV or JSON lines)\n"
		"      as an SVG chart: pool size, stored pages and fault rate over time\n"
		"  stats PID\n"
		"      print the statistics of PID, a program running under libzswapsim.so\n\n"
		"Settings come from ZSWAPSIM_* variables (see 'zswapsim options' and\n"
		"zswapsim(1)); run and demo also take each as --name VALUE.\n"
		"  -h, --help     this text\n"
		"  -V, --version  the version\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		usage(stderr);
		return ZS_EXIT_USAGE;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("zswapsim %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "demo"))
		return cmd_demo(argc - 1, argv + 1);
	if (!strcmp(cmd, "zpool-replay"))
		return cmd_zpool_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "compare"))
		return cmd_compare(argc - 1, argv + 1);
	if (!strcmp(cmd, "plot"))
		return cmd_plot(argc - 1, argv + 1);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(cmd, "options")) {
		printf("Settings (environment variables; demo also takes --name VALUE):\n");
		zs_options_help(stdout);
		return 0;
	}
	fprintf(stderr, "zswapsim: unknown command '%s'; expected run, demo, compare, zpool-replay, "
		"replay, options, plot or stats (see zswapsim --help)\n", cmd);
	return ZS_EXIT_USAGE;
}
