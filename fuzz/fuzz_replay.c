/*
 * fuzz_replay.c - libFuzzer target for `zswapsim zpool-replay`'s trace
 * parser and the allocator behind it (cli/zpool_replay.c, src/zbud.c).
 *
 * The input is a trace.  It is replayed with --validate, as a user would
 * run it: a malformed line must end in exit status 2 with a message, and
 * the allocator must never misbehave (status 1: an overlapping object, an
 * unknown handle, a failed validation), whatever the trace.  Its output
 * goes to /dev/null.  Built and run by `make fuzz`.
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
	char path[64], zpool[] = "--zpool=zbud", validate[] = "--validate", name[] = "zpool-replay";
	char *argv[] = { name, zpool, validate, path, NULL };
	int fd = memfd_create("trace", MFD_CLOEXEC), ret;

	if (!quiet) { /* the replay's lines (its messages: -close_fd_mask=2) */
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		quiet = 1;
	}
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = cmd_zpool_replay(4, argv);
	close(fd);
	if (ret == 1)
		abort(); /* the allocator misbehaved on this trace */
	return 0;
}
