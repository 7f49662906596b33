/*
 * fuzz_trace.c - libFuzzer target for `zswapsim replay`: the ZSWAPSIM_TRACE
 * reader (src/trace.c) and the replay that drives the engine with what it
 * reads (cli/replay.c).
 *
 * The input is a trace file.  Whatever it holds, the replay must end in
 * exit status 0 (replayed) or 2 (refused with a message); status 1 means
 * the engine gave back a page other than the one stored, or failed its
 * validation, which no input may cause.  Output goes to /dev/null.  Built
 * and run by `make fuzz-trace`, seeded with the .ztr files of tests/traces.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	char path[64], name[] = "replay";
	char *argv[] = { name, path, NULL };
	int fd = memfd_create("trace", MFD_CLOEXEC), ret;

	if (!quiet) { /* the replay's report (its messages: -close_fd_mask=2) */
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		quiet = 1;
	}
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = cmd_replay(2, argv);
	close(fd);
	if (ret == 1)
		abort();
	return 0;
}
