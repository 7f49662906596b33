/* shim_null.c - a real NULL dereference must still die with SIGSEGV under
 * the shim, after the program's memory went through it. */
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	char *p = malloc(1 << 20);
	volatile char *null = argc > 5 ? p : NULL;

	memset(p, 1, 1 << 20);
	free(p);
	return *null;
}
