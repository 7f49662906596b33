/*
 * tap.h - the Test Anything Protocol for the C unit tests, header only.
 * Each test program prints "1..N" at the end (done_testing), one "ok" /
 * "not ok" line per check, and exits 0 when every check passed.
 */
#ifndef ZS_TAP_H
#define ZS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_run, tap_failed;

static inline int tap_ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is(got, want, ...) tap_is((long long)(got), (long long)(want), __VA_ARGS__)

static inline int tap_is(long long got, long long want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline int tap_is(long long got, long long want, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (got != want)
		tap_failed++;
	printf("%sok %d - ", got == want ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (got != want)
		printf("#   got %lld, want %lld\n", got, want);
	fflush(stdout);
	return got == want;
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_run);
	return tap_failed ? 1 : 0;
}

/* Skip the next `n` checks with a reason (counted as skips). */
static inline void skip(int n, const char *why)
{
	while (n-- > 0)
		printf("ok %d # SKIP %s\n", ++tap_run, why);
	fflush(stdout);
}

/* Skip the whole program with a reason (exit 0, counted as a skip). */
static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

#endif
