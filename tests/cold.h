/*
 * cold.h - for the shim_* test programs: make a page of managed memory
 * leave memory.  Other memory is pushed through malloc, 8 MiB at a time,
 * until mincore says the page is out (frozen by the shim) or 3 s have gone.
 * Header only.
 */
#ifndef ZS_TESTS_COLD_H
#define ZS_TESTS_COLD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *volatile cold_keep; /* so that the compiler keeps the pressure */

/* Is the page of p in memory? */
static inline int resident(const void *p)
{
	unsigned char v = 1;

	return mincore((void *)((uintptr_t)p & ~(uintptr_t)4095), 4096, &v) != 0 || (v & 1);
}

/* Push other memory through until p's page has left memory (or 3 s);
 * whether it did. */
static inline int push_out(const void *p)
{
	int i;

	for (i = 0; i < 30 && resident(p); i++) {
		char *push = malloc(8 << 20);

		memset(push, i, 8 << 20);
		cold_keep = push;
		free(cold_keep);
		usleep(100000);
	}
	return !resident(p);
}

#endif
