/*
 * shim_random.c - random reads and writes over a large mapping of the
 * program's own (default 512 MiB), run under the shim with a limit a small
 * fraction of it by shim.test.  Every page holds a counter checked on each
 * visit; the program raises SIGUSR1 now and then so the statistics file
 * shows the VMAs in use along the way, and prints its peak RSS at the end.  Exit 0 when every check passed and
 * the mapping calls never failed.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* "peak_rss_kib N" on stdout: VmHWM, the most this process ever had in
 * memory, pool and shim included. */
static void print_peak_rss(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			printf("peak_rss_kib %lu\n", strtoul(line + 6, NULL, 10));
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 512, pages = mb << 8, i;
	uint64_t r = 88172645463325252ULL, bad = 0, *p;
	unsigned char *m = mmap(NULL, pages << 12, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long step;

	if (m == MAP_FAILED)
		return 2;
	signal(SIGUSR1, SIG_IGN); /* the shim dumps, then ignores it for us */
	for (i = 0; i < pages; i++) {
		p = (uint64_t *)(m + (i << 12));
		p[0] = i;
		p[1] = 0;
		memset(p + 2, (int)(i & 0x7f), 64);
	}
	for (step = 0; step < (long)pages * 2; step++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		i = r % pages;
		p = (uint64_t *)(m + (i << 12));
		bad += p[0] != i;
		p[1]++;
		if (step % 65536 == 0)
			raise(SIGUSR1);
	}
	for (i = 0; i < pages; i++)
		bad += ((uint64_t *)(m + (i << 12)))[0] != i;
	print_peak_rss();
	/* The program's own mappings still work at the end. */
	bad += mmap(NULL, 1 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED;
	bad += malloc(1 << 20) == NULL;
	return bad ? 1 : 0;
}
