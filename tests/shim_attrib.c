/*
 * shim_attrib.c - run by attrib.test under the shim with fault attribution
 * on: memory allocated by two named functions (alpha three times what
 * beta allocates, interleaved), left to be frozen under the limit, a dump (the
 * statistics signal), then every page read back by a third named function
 * (the thaws), and the dump at exit.  attrib.test judges both dumps.
 * Prints "frozen N of M" for the pages that were out before the reads.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define ALPHA 24
#define BETA 8
#define PAGES_PER_CHUNK (CHUNK / 4096)

static char *chunk[ALPHA + BETA];
static volatile unsigned long sink;

/* Fill a chunk with pages that compress but are not one repeated word. */
static void fill(char *c, unsigned int seed)
{
	size_t i;

	for (i = 0; i < CHUNK; i += 64)
		snprintf(c + i, 64, "chunk %u offset %zu some words to compress .....", seed, i);
}

/* noipa: never merged with its twin, never inlined; the store after the
 * call keeps it from being a tail call (the caller would be main). */
__attribute__((noipa)) static char *alloc_from_alpha(void)
{
	char *c = malloc(CHUNK);

	if (c)
		c[0] = 'a';
	return c;
}

__attribute__((noipa)) static char *alloc_from_beta(void)
{
	char *c = calloc(1, CHUNK);

	if (c)
		c[0] = 'b';
	return c;
}

__attribute__((noipa)) static unsigned long touch_from_gamma(char *c)
{
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < CHUNK; i += 4096)
		sum += (unsigned char)c[i];
	return sum;
}

static size_t pages_out(void)
{
	unsigned char v[PAGES_PER_CHUNK];
	size_t i, j, out = 0;

	for (i = 0; i < ALPHA + BETA; i++) /* jemalloc may offset a large one in its page */
		if (mincore((void *)((uintptr_t)chunk[i] & ~(uintptr_t)4095), CHUNK, v) == 0)
			for (j = 0; j < PAGES_PER_CHUNK; j++)
				out += !(v[j] & 1);
	return out;
}

int main(void)
{
	size_t i, out = 0;
	int tries;

	for (i = 0; i < ALPHA + BETA; i++) {
		/* interleaved (a a a b ...), so that what stays resident is too */
		chunk[i] = i % 4 < 3 ? alloc_from_alpha() : alloc_from_beta();
		if (!chunk[i])
			return 1;
		fill(chunk[i], (unsigned int)i);
	}
	for (tries = 0; tries < 50 && (out = pages_out()) < (ALPHA + BETA) * PAGES_PER_CHUNK / 2;
	     tries++)
		usleep(100000);
	usleep(100000); /* the reclaim thread names the sites meanwhile */
	raise(SIGUSR1);
	printf("frozen %zu of %d\n", out, (ALPHA + BETA) * PAGES_PER_CHUNK);
	for (i = 0; i < ALPHA + BETA; i++)
		sink += touch_from_gamma(chunk[i]);
	for (i = 0; i < ALPHA + BETA; i++)
		free(chunk[i]);
	return 0;
}
