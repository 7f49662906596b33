/*
 * stats.c - `zswapsim stats PID`: ask a program running under
 * libzswapsim.so for a dump of its statistics and print it.
 *
 * The library answers its statistics signal sent with sigqueue(3) and
 * ZS_QUERY_MAGIC by writing a dump to a file in the user's private
 * directory, $TMPDIR/zswapsim-UID (series.h), renamed into place when it
 * is whole.  The program's signal and TMPDIR are its own settings, read
 * from /proc/PID/environ (the environment it started with, which is what
 * the library read).  Before sending, the process is checked: it exists,
 * it is ours to signal, PID is a process and not one of its threads (the
 * answer is named after the process's ID), libzswapsim.so is in its
 * /proc/PID/maps, and the statistics signal is caught (its bit in SigCgt of
 * /proc/PID/status): a signal sent to a program without the library, or
 * before the library installed its handler (just after exec, or never
 * under secure execution), would likely kill it.  A PID that fails any of
 * these is bad input: exit status 2.  The answer is awaited for ANSWER_MS
 * at most, then printed and removed; after a timeout, whatever answer file
 * is there is removed too (exit status 1).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "series.h"

#define ANSWER_MS 2000

/* Does /proc/PID/maps map libzswapsim.so?  1, 0, or -errno. */
static int runs_shim(pid_t pid)
{
	char path[64], line[PATH_MAX + 256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libzswapsim.so") != NULL;
	fclose(f);
	return found;
}

/* The value of `name` ("Tgid") in /proc/PID/status into buf, without the
 * blanks before it: 0, -ENOENT if the field is missing, or -errno. */
static int status_value(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64], line[256];
	size_t n = strlen(name);
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':') {
			snprintf(buf, len, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
			buf[strcspn(buf, "\n")] = '\0';
			ret = 0;
		}
	fclose(f);
	return ret;
}

/* Is signal sig caught by the process (its bit set in the hexadecimal
 * SigCgt mask, signal 1 the lowest bit)?  1, 0, or -errno. */
static int signal_caught(pid_t pid, int sig)
{
	char mask[160];
	size_t n, digit = (size_t)(sig - 1) / 4;
	int ret = status_value(pid, "SigCgt", mask, sizeof(mask)), c;

	if (ret)
		return ret;
	n = strspn(mask, "0123456789abcdefABCDEF");
	if (!n || mask[n])
		return -EINVAL;
	if (digit >= n)
		return 0;
	c = tolower((unsigned char)mask[n - 1 - digit]);
	c = isdigit(c) ? c - '0' : c - 'a' + 10;
	return (c >> ((sig - 1) % 4)) & 1;
}

/* The value of `name` in /proc/PID/environ into buf ("" if unset): 0 or
 * -errno. */
static int environ_value(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64], *entry = NULL;
	size_t cap = 0, n = strlen(name);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	buf[0] = '\0';
	while (getdelim(&entry, &cap, '\0', f) > 0)
		if (!strncmp(entry, name, n) && entry[n] == '=')
			snprintf(buf, len, "%s", entry + n + 1);
	free(entry);
	fclose(f);
	return 0;
}

/* The signal the program answers: its ZSWAPSIM_STATS_SIGNAL, checked as the
 * library checks it.  > 0, or 0 with a message. */
static int program_signal(pid_t pid)
{
	const struct zs_option *opt = zs_option_find("stats_signal");
	struct zs_options o;
	char value[64], err[256];
	int ret = environ_value(pid, "ZSWAPSIM_STATS_SIGNAL", value, sizeof(value));

	if (ret) {
		fprintf(stderr, "zswapsim: stats: PID %d: cannot read its environment: %s\n",
			(int)pid, strerror(-ret));
		return 0;
	}
	zs_options_defaults(&o);
	if (*value && zs_option_parse(&o, opt, "ZSWAPSIM_STATS_SIGNAL", value, err, sizeof(err))) {
		fprintf(stderr, "zswapsim: stats: PID %d: %s\n", (int)pid, err);
		return 0;
	}
	if (!o.stats_signal)
		fprintf(stderr, "zswapsim: stats: PID %d: its statistics signal is off "
			"(ZSWAPSIM_STATS_SIGNAL=0)\n", (int)pid);
	return (int)o.stats_signal;
}

/* Is the process there, ours, a process and not a thread, and under the
 * library?  0 or exit status. */
static int check_process(pid_t pid)
{
	char tgid[32], *end;
	long id;
	int ret;

	if (kill(pid, 0) != 0) {
		fprintf(stderr, "zswapsim: stats: PID %d: %s\n", (int)pid, errno == ESRCH ?
			"no such process" : "not yours to signal (permission denied)");
		return ZS_EXIT_USAGE;
	}
	ret = status_value(pid, "Tgid", tgid, sizeof(tgid));
	if (!ret) {
		errno = 0;
		id = strtol(tgid, &end, 10);
		if (errno || end == tgid || *end || id <= 0 || id > INT_MAX)
			ret = -EINVAL;
	}
	if (ret) {
		fprintf(stderr, "zswapsim: stats: PID %d: cannot read its Tgid in /proc/%d/status: "
			"%s\n", (int)pid, (int)pid, strerror(-ret));
		return ZS_EXIT_USAGE;
	}
	if (id != pid) {
		fprintf(stderr, "zswapsim: stats: PID %d is a thread of process %ld: give %ld\n",
			(int)pid, id, id);
		return ZS_EXIT_USAGE;
	}
	ret = runs_shim(pid);
	if (ret < 0) {
		fprintf(stderr, "zswapsim: stats: PID %d: cannot read its maps: %s\n", (int)pid,
			strerror(-ret));
		return ZS_EXIT_USAGE;
	}
	if (!ret) {
		fprintf(stderr, "zswapsim: stats: PID %d: not running under libzswapsim.so "
			"(not in its /proc/%d/maps)\n", (int)pid, (int)pid);
		return ZS_EXIT_USAGE;
	}
	return 0;
}

/* Does the process catch sig?  Uncaught, the signal's default action (for
 * SIGUSR1, to end the process) would run: the library is mapped but has not
 * installed its handler yet (just after exec), or is off (secure execution).
 * 0 or exit status; nothing is sent either way. */
static int check_caught(pid_t pid, int sig)
{
	int ret = signal_caught(pid, sig);

	if (ret < 0) {
		fprintf(stderr, "zswapsim: stats: PID %d: cannot read SigCgt in /proc/%d/status: "
			"%s\n", (int)pid, (int)pid, strerror(-ret));
		return ZS_EXIT_USAGE;
	}
	if (!ret) {
		fprintf(stderr, "zswapsim: stats: PID %d: does not catch its statistics signal %d "
			"(SigCgt in /proc/%d/status): libzswapsim.so is not started in it (just "
			"after exec, or off for a set-user-ID program); not sent, as it would end "
			"it\n", (int)pid, sig, (int)pid);
		return ZS_EXIT_USAGE;
	}
	return 0;
}

/* Print the answer file and remove it: 0, or -errno. */
static int print_answer(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	unlink(path);
	return fflush(stdout) ? -EIO : 0;
}

/* Send the query, wait for the answer: 0 or exit status. */
static int query(pid_t pid, int sig)
{
	char tmpdir[PATH_MAX], dir[PATH_MAX + 32] = "", path[PATH_MAX + 64], tmp[PATH_MAX + 64];
	union sigval v = { .sival_int = ZS_QUERY_MAGIC };
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int ret, waited;

	if ((ret = environ_value(pid, "TMPDIR", tmpdir, sizeof(tmpdir))) ||
	    zs_query_dir(tmpdir, geteuid(), dir, sizeof(dir)) >= sizeof(dir) ||
	    (ret = zs_query_dir_ready(dir))) {
		fprintf(stderr, "zswapsim: stats: PID %d: no private directory %s for its "
			"answer: %s\n", (int)pid, dir, strerror(ret ? -ret : ENAMETOOLONG));
		return 1;
	}
	zs_query_path(dir, pid, 0, path, sizeof(path));
	zs_query_path(dir, pid, 1, tmp, sizeof(tmp));
	unlink(path); /* an answer nobody collected */
	if (sigqueue(pid, sig, v) != 0) {
		ret = errno;
		fprintf(stderr, "zswapsim: stats: PID %d: %s\n", (int)pid, ret == ESRCH ?
			"no such process (it ended)" : strerror(ret));
		return ret == ESRCH || ret == EPERM ? ZS_EXIT_USAGE : 1;
	}
	for (waited = 0; access(path, F_OK) != 0 && waited < ANSWER_MS; waited += 10)
		nanosleep(&tick, NULL);
	ret = print_answer(path);
	if (ret == -ENOENT) {
		/* A late answer, whole or half-written, is not left behind. */
		unlink(tmp);
		unlink(path);
		fprintf(stderr, "zswapsim: stats: PID %d: no answer within %d ms (is the "
			"signal blocked, or the program stopped?)\n", (int)pid, ANSWER_MS);
		return 1;
	}
	if (ret)
		fprintf(stderr, "zswapsim: stats: %s: %s\n", path, strerror(-ret));
	return ret ? 1 : 0;
}

int cmd_stats(int argc, char **argv)
{
	char *end;
	long pid;
	int sig, ret;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("Usage: zswapsim stats PID\n"
		       "Print the statistics of PID, a program running under libzswapsim.so.\n");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "Usage: zswapsim stats PID\n");
		return ZS_EXIT_USAGE;
	}
	errno = 0;
	pid = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "zswapsim: stats: '%s': expected a process ID\n", argv[1]);
		return ZS_EXIT_USAGE;
	}
	ret = check_process((pid_t)pid);
	if (ret)
		return ret;
	sig = program_signal((pid_t)pid);
	if (!sig)
		return ZS_EXIT_USAGE;
	ret = check_caught((pid_t)pid, sig);
	return ret ? ret : query((pid_t)pid, sig);
}
