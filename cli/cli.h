/*
 * cli.h - the subcommands of the zswapsim command.  Each takes its own argv
 * (argv[0] is the subcommand's name) and returns the exit status: 0 success,
 * 1 a failure of the work itself, 2 bad usage or bad input.
 */
#ifndef ZS_CLI_H
#define ZS_CLI_H

#define ZS_EXIT_USAGE 2

int cmd_demo(int argc, char **argv);
int cmd_zpool_replay(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_replay(int argc, char **argv);

#endif
