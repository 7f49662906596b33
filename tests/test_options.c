/*
 * test_options.c - the option table and its parsers (options.h).
 *
 * Defaults; zs_parse_size on good, bad and overflowing input; every kind of
 * option accepting and refusing, with messages that name the variable, the
 * value and what is accepted; zs_options_from_env with a fake getter; name
 * lookup and environment names; then a fuzz loop of random byte strings
 * through every option: each call returns 0, or -EINVAL with a message and
 * the options unchanged.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "compress.h"
#include "options.h"
#include "pagegen.h"
#include "zpool.h"
#include "tap.h"

static void test_defaults(void)
{
	struct zs_options o;

	memset(&o, 0x55, sizeof(o));
	zs_options_defaults(&o);
	ok(strcmp(o.compressor, "lz4") == 0, "compressor defaults to lz4");
	ok(strcmp(o.zpool, "zbud") == 0, "zpool defaults to zbud");
	is(o.max_pool_percent, 20, "max_pool_percent defaults to 20");
	is(o.max_pool_size, 0, "max_pool_size defaults to 0");
	is(o.accept_threshold_percent, 90, "accept_threshold_percent defaults to 90");
	is(o.same_filled_pages_enabled, true, "same_filled_pages_enabled defaults to Y");
	is(o.exclusive_loads, true, "exclusive_loads defaults to Y");
	is(o.store_incompressible, false, "store_incompressible defaults to N");
	is(o.mem_limit, 0, "mem_limit defaults to 0");
	is(o.swap_size, 0, "swap_size defaults to 0");
	ok(strcmp(o.swapfile, "") == 0, "swapfile defaults to \"\"");
}

struct size_case {
	const char *text;
	int ret;
	uint64_t value;
};

static const struct size_case size_cases[] = {
	{ "0", 0, 0 },
	{ "4096", 0, 4096 },
	{ "64K", 0, 64ULL << 10 },
	{ "64k", 0, 64ULL << 10 },
	{ "128M", 0, 128ULL << 20 },
	{ "2G", 0, 2ULL << 30 },
	{ "1T", 0, 1ULL << 40 },
	{ "1P", 0, 1ULL << 50 },
	{ "10KiB", 0, 10ULL << 10 },
	{ "10KB", 0, 10ULL << 10 },
	{ "5B", 0, 5 },
	{ "007", 0, 7 },
	{ "16383P", 0, 16383ULL << 50 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "1.5G", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "", -EINVAL, 0 },
	{ " 1", -EINVAL, 0 },
	{ "1 ", -EINVAL, 0 },
	{ "12X", -EINVAL, 0 },
	{ "K", -EINVAL, 0 },
	{ "1KK", -EINVAL, 0 },
	{ "1iB", -EINVAL, 0 },
	{ "0x10", -EINVAL, 0 },
	{ "16384P", -ERANGE, 0 },
	{ "18446744073709551616", -ERANGE, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "20000000000000000000K", -ERANGE, 0 },
};

static void test_parse_size(void)
{
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];
		uint64_t v = 12345;
		int ret = zs_parse_size(c->text, &v);

		if (c->ret == 0)
			ok(ret == 0 && v == c->value, "zs_parse_size(\"%s\") = %llu (got %d, %llu)",
			   c->text, (unsigned long long)c->value, ret, (unsigned long long)v);
		else
			ok(ret == c->ret && v == 12345,
			   "zs_parse_size(\"%s\") = %d, value untouched (got %d)", c->text, c->ret,
			   ret);
	}
}

struct duration_case {
	const char *text;
	int ret;
	uint64_t ms;
};

static const struct duration_case duration_cases[] = {
	{ "0", 0, 0 },
	{ "250", 0, 250 },
	{ "250ms", 0, 250 },
	{ "2s", 0, 2000 },
	{ "2S", 0, 2000 },
	{ "5min", 0, 300000 },
	{ "1h", 0, 3600000 },
	{ "0s", 0, 0 },
	{ "1.5s", -EINVAL, 0 },
	{ "s", -EINVAL, 0 },
	{ "", -EINVAL, 0 },
	{ "10 s", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "1d", -EINVAL, 0 },
	{ "1m", -EINVAL, 0 },
	{ "1mss", -EINVAL, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "18446744073709551615s", -ERANGE, 0 },
};

static void test_parse_duration(void)
{
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(duration_cases); i++) {
		const struct duration_case *c = &duration_cases[i];
		uint64_t v = 12345;
		int ret = zs_parse_duration(c->text, &v);

		if (c->ret == 0)
			ok(ret == 0 && v == c->ms, "zs_parse_duration(\"%s\") = %llu ms (got %d, %llu)",
			   c->text, (unsigned long long)c->ms, ret, (unsigned long long)v);
		else
			ok(ret == c->ret && v == 12345,
			   "zs_parse_duration(\"%s\") = %d, value untouched (got %d)", c->text,
			   c->ret, ret);
	}
}

static const struct zs_option *find(const char *name)
{
	const struct zs_option *opt = zs_option_find(name);

	if (!opt) {
		printf("Bail out! option %s not in the table\n", name);
		exit(1);
	}
	return opt;
}

/* Parse one value into defaults: the return, the message in err. */
static int parse(struct zs_options *o, const char *name, const char *value, char *err,
		 size_t len)
{
	zs_options_defaults(o);
	err[0] = '\0';
	return zs_option_parse(o, find(name), "ZSWAPSIM_TEST", value, err, len);
}

static void test_every_default(void)
{
	struct zs_options want, o;
	char err[256];
	size_t i;
	int bad = 0;

	zs_options_defaults(&want);
	for (i = 0; i < zs_option_count; i++) {
		const struct zs_option *opt = &zs_option_table[i];

		memcpy(&o, &want, sizeof(o));
		if (zs_option_parse(&o, opt, "x", opt->default_text, err, sizeof(err)) ||
		    memcmp(&o, &want, sizeof(o)) != 0) {
			if (!bad++)
				diag("%s: default \"%s\" does not parse to itself", opt->name,
				     opt->default_text);
		}
	}
	is(bad, 0, "every one of the %zu options parses its own default", zs_option_count);
}

static void test_bools(void)
{
	static const char *const yes[] = { "Y", "y", "1", "yes", "YES", "True", "on", "ON" };
	static const char *const no[] = { "N", "n", "0", "no", "No", "false", "FALSE", "off" };
	static const char *const bad[] = { "maybe", "", "2", "yess", "o", " y", "enable" };
	struct zs_options o;
	char err[256];
	size_t i;

	for (i = 0; i < ZS_ARRAY_SIZE(yes); i++)
		ok(parse(&o, "store_incompressible", yes[i], err, sizeof(err)) == 0 &&
		   o.store_incompressible, "bool \"%s\" is Y", yes[i]);
	for (i = 0; i < ZS_ARRAY_SIZE(no); i++)
		ok(parse(&o, "exclusive_loads", no[i], err, sizeof(err)) == 0 && !o.exclusive_loads,
		   "bool \"%s\" is N", no[i]);
	for (i = 0; i < ZS_ARRAY_SIZE(bad); i++)
		ok(parse(&o, "exclusive_loads", bad[i], err, sizeof(err)) == -EINVAL &&
		   o.exclusive_loads && err[0], "bool \"%s\" refused: %s", bad[i], err);
}

static void test_numbers(void)
{
	struct zs_options o;
	char err[256];

	ok(parse(&o, "max_pool_percent", "100", err, sizeof(err)) == 0 &&
	   o.max_pool_percent == 100, "percent 100 accepted");
	ok(parse(&o, "max_pool_percent", "0", err, sizeof(err)) == 0 && o.max_pool_percent == 0,
	   "percent 0 accepted");
	is(parse(&o, "max_pool_percent", "101", err, sizeof(err)), -EINVAL, "percent 101 refused");
	is(o.max_pool_percent, 20, "and the option keeps its value");
	ok(strstr(err, "0 to 100") != NULL, "the message gives the range: %s", err);
	is(parse(&o, "accept_threshold_percent", "-5", err, sizeof(err)), -EINVAL,
	   "percent -5 refused");
	is(parse(&o, "accept_threshold_percent", "50%", err, sizeof(err)), -EINVAL,
	   "percent \"50%%\" refused");
	is(parse(&o, "max_pool_percent", "", err, sizeof(err)), -EINVAL, "empty number refused");
	is(parse(&o, "max_pool_percent", "99999999999999999999999", err, sizeof(err)), -EINVAL,
	   "huge number refused");
	ok(parse(&o, "mem_limit", "1P", err, sizeof(err)) == 0 && o.mem_limit == 1ULL << 50,
	   "mem_limit 1P accepted");
	is(parse(&o, "mem_limit", "2P", err, sizeof(err)), -EINVAL, "mem_limit 2P refused");
	ok(strstr(err, "ZSWAPSIM_TEST=2P") != NULL, "the message names label and value: %s", err);
	ok(parse(&o, "swap_size", "512M", err, sizeof(err)) == 0 && o.swap_size == 512ULL << 20,
	   "swap_size 512M accepted");
	ok(parse(&o, "max_pool_size", "64KiB", err, sizeof(err)) == 0 &&
	   o.max_pool_size == 64ULL << 10, "max_pool_size 64KiB accepted");
}

static int parse(struct zs_options *o, const char *name, const char *value, char *err,
		 size_t len);

/* The series' settings: a duration kind, a format name, a path. */
static void test_series_options(void)
{
	struct zs_options o;
	char err[256];

	zs_options_defaults(&o);
	ok(o.stats_interval == 0 && !strcmp(o.stats_format, "csv") && !o.stats_series[0],
	   "no series by default; csv; the default path");
	ok(parse(&o, "stats_interval", "500ms", err, sizeof(err)) == 0 && o.stats_interval == 500,
	   "stats_interval 500ms accepted");
	ok(parse(&o, "stats_interval", "1h", err, sizeof(err)) == 0 && o.stats_interval == 3600000,
	   "stats_interval 1h accepted");
	is(parse(&o, "stats_interval", "2h", err, sizeof(err)), -EINVAL, "stats_interval 2h refused");
	ok(o.stats_interval == 0 && strstr(err, "ZSWAPSIM_TEST=2h") &&
	   strstr(err, "a duration from 0 to 1h") && strstr(err, "ms, s, min or h"),
	   "the message names the value, the range and the units: %s", err);
	is(parse(&o, "stats_interval", "fast", err, sizeof(err)), -EINVAL,
	   "stats_interval fast refused");
	ok(parse(&o, "stats_format", "jsonl", err, sizeof(err)) == 0 &&
	   !strcmp(o.stats_format, "jsonl"), "stats_format jsonl accepted");
	is(parse(&o, "stats_format", "json", err, sizeof(err)), -EINVAL, "stats_format json refused");
	ok(strstr(err, "one of: csv, jsonl") != NULL, "the message lists the formats: %s", err);
	ok(parse(&o, "stats_series", "/tmp/s-%p.csv", err, sizeof(err)) == 0 &&
	   !strcmp(o.stats_series, "/tmp/s-%p.csv"), "stats_series takes a path with %%p");
}

static void test_names(void)
{
	struct zs_options o;
	char err[256], path[ZS_PATH_MAX + 1];

	ok(parse(&o, "compressor", "lz4hc", err, sizeof(err)) == 0 &&
	   strcmp(o.compressor, "lz4hc") == 0, "compressor lz4hc accepted");
	is(parse(&o, "compressor", "842", err, sizeof(err)), -EINVAL, "compressor 842 refused");
	ok(strcmp(o.compressor, "lz4") == 0, "and the compressor stays lz4");
	ok(strstr(err, "ZSWAPSIM_TEST") && strstr(err, "842") && strstr(err, "lz4"),
	   "the message names the variable, the value and lists lz4: %s", err);
	is(parse(&o, "compressor", "LZ4", err, sizeof(err)), -EINVAL, "compressor LZ4 refused");
	is(parse(&o, "compressor", "lz", err, sizeof(err)), -EINVAL, "compressor lz refused");
	is(parse(&o, "compressor", zs_compressor_names(), err, sizeof(err)), -EINVAL,
	   "the whole list \"%s\" is not a compressor name", zs_compressor_names());
	ok(zs_compressor_find(o.compressor) != NULL, "the compressor setting names a compressor "
	   "(\"%s\")", o.compressor);
	ok(parse(&o, "zpool", "zbud", err, sizeof(err)) == 0, "zpool zbud accepted");
	ok(parse(&o, "zpool", "z3fold", err, sizeof(err)) == 0, "zpool z3fold accepted");
	ok(parse(&o, "zpool", "zsmalloc", err, sizeof(err)) == 0, "zpool zsmalloc accepted");
	is(parse(&o, "zpool", "zbuddy", err, sizeof(err)), -EINVAL, "zpool zbuddy refused");
	ok(strstr(err, "zbud, z3fold, zsmalloc") != NULL, "the message lists every zpool: %s", err);

	memset(path, 'p', ZS_PATH_MAX - 1);
	path[ZS_PATH_MAX - 1] = '\0';
	ok(parse(&o, "swapfile", path, err, sizeof(err)) == 0 &&
	   strlen(o.swapfile) == ZS_PATH_MAX - 1,
	   "a path of %d bytes accepted", ZS_PATH_MAX - 1);
	path[ZS_PATH_MAX - 1] = 'p';
	path[ZS_PATH_MAX] = '\0';
	is(parse(&o, "swapfile", path, err, sizeof(err)), -EINVAL, "a path of %d bytes refused",
	   ZS_PATH_MAX);
	ok(o.swapfile[0] == '\0' && err[0], "the setting is unchanged and there is a message");
}

/* The fake environment: name=value pairs, and which names were asked for. */
static const char *const *fake_env;
static int fake_asked;

static char *fake_get(const char *name)
{
	size_t n = strlen(name);
	int i;

	fake_asked++;
	for (i = 0; fake_env[i]; i++)
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return (char *)fake_env[i] + n + 1;
	return NULL;
}

static int from_env(struct zs_options *o, const char *const *env, char *err, size_t len)
{
	zs_options_defaults(o);
	fake_env = env;
	fake_asked = 0;
	err[0] = '\0';
	return zs_options_from_env(o, fake_get, err, len);
}

static void test_from_env(void)
{
	static const char *const good[] = {
		"ZSWAPSIM_COMPRESSOR=lz4hc", "ZSWAPSIM_MAX_POOL_PERCENT=35",
		"ZSWAPSIM_SAME_FILLED_PAGES_ENABLED=off", "ZSWAPSIM_MEM_LIMIT=1G",
		"ZSWAPSIM_SWAPFILE=/tmp/x", "zswapsim_swap_size=1G", NULL };
	static const char *const bad[] = {
		"ZSWAPSIM_SWAP_SIZE=zz", "ZSWAPSIM_MAX_POOL_PERCENT=abc",
		"ZSWAPSIM_COMPRESSOR=lz4hc", NULL };
	static const char *const empty[] = { "ZSWAPSIM_ZPOOL=", NULL };
	struct zs_options o;
	char err[256];

	is(from_env(&o, good, err, sizeof(err)), 0, "good values: 0");
	is(fake_asked, (int)zs_option_count, "the getter is asked once per option");
	ok(strcmp(o.compressor, "lz4hc") == 0 && o.max_pool_percent == 35 &&
	   !o.same_filled_pages_enabled && o.mem_limit == 1ULL << 30 &&
	   strcmp(o.swapfile, "/tmp/x") == 0, "every good value applied");
	is(o.swap_size, 0, "the getter is asked for upper-case names only");

	is(from_env(&o, bad, err, sizeof(err)), -EINVAL, "a bad value: -EINVAL");
	ok(strstr(err, "ZSWAPSIM_MAX_POOL_PERCENT=abc") && strstr(err, "0 to 100"),
	   "the message names the first bad one in table order: %s", err);
	ok(!strstr(err, "SWAP_SIZE"), "and only that one");

	is(from_env(&o, empty, err, sizeof(err)), -EINVAL, "an empty zpool: -EINVAL");
	ok(strstr(err, "ZSWAPSIM_ZPOOL=") && strcmp(o.zpool, "zbud") == 0,
	   "named in the message, zpool unchanged: %s", err);
}

static void test_find(void)
{
	char env[64];
	size_t i, j;
	int bad = 0;

	ok(zs_option_find("max-pool-percent") == find("max_pool_percent"),
	   "max-pool-percent finds max_pool_percent");
	ok(zs_option_find("max_pool_percent") &&
	   strcmp(zs_option_find("max_pool_percent")->name, "max_pool_percent") == 0,
	   "max_pool_percent finds itself");
	ok(zs_option_find("max_pool") == NULL, "a prefix is not an option");
	ok(zs_option_find("max_pool_percentage") == NULL, "a longer name is not an option");
	ok(zs_option_find("nonsense") == NULL, "unknown name: NULL");
	ok(zs_option_find("") == NULL, "empty name: NULL");
	zs_option_env_name(find("max_pool_percent"), env, sizeof(env));
	ok(strcmp(env, "ZSWAPSIM_MAX_POOL_PERCENT") == 0, "env name %s", env);
	for (i = 0; i < zs_option_count; i++) {
		const char *n = zs_option_table[i].name;

		zs_option_env_name(&zs_option_table[i], env, sizeof(env));
		if (strncmp(env, ZS_ENV_PREFIX, strlen(ZS_ENV_PREFIX)) != 0 ||
		    strlen(env) != strlen(ZS_ENV_PREFIX) + strlen(n))
			bad++;
		for (j = 0; n[j] && !bad; j++)
			bad += env[strlen(ZS_ENV_PREFIX) + j] != toupper((unsigned char)n[j]);
		bad += zs_option_find(n) != &zs_option_table[i];
	}
	is(bad, 0, "every option: ZSWAPSIM_ + its upper-case name, found by its name");
}

/* ---- Fuzz ---------------------------------------------------------------- */

#define FUZZ_ROUNDS 20000

static const char *const seeds[] = { "64K", "Y", "lz4", "100", "1P", "zbud", "0", "10KiB" };

/* A random string: bytes 1..255, or a mutated good value. */
static void random_string(uint64_t *r, char *s, size_t cap)
{
	size_t n, i;

	if (zs_rand_next(r) % 4 == 0) {
		snprintf(s, cap, "%s", seeds[zs_rand_next(r) % ZS_ARRAY_SIZE(seeds)]);
		n = strlen(s);
		if (n)
			s[zs_rand_next(r) % n] = (char)(1 + zs_rand_next(r) % 255);
		return;
	}
	n = zs_rand_next(r) % (cap - 1);
	if (zs_rand_next(r) % 2)
		n %= 8;
	for (i = 0; i < n; i++)
		s[i] = (char)(1 + zs_rand_next(r) % 255);
	s[n] = '\0';
}

/* One call: 0, or -EINVAL with a message and nothing changed. */
static bool fuzz_one(const struct zs_option *opt, const char *s, unsigned long *accepted)
{
	struct zs_options o, before;
	char err[128];
	int ret;

	zs_options_defaults(&o);
	memcpy(&before, &o, sizeof(o));
	memset(err, 0, sizeof(err));
	ret = zs_option_parse(&o, opt, "ZSWAPSIM_FUZZ", s, err, sizeof(err));
	if (ret == 0) {
		++*accepted;
		if (opt->kind == ZS_OPT_NAME && strcmp(opt->name, "compressor") == 0)
			return zs_compressor_find(o.compressor) != NULL;
		if (opt->kind == ZS_OPT_NAME)
			return zpool_find(o.zpool) != NULL;
		return true;
	}
	return ret == -EINVAL && err[0] && memchr(err, '\0', sizeof(err)) &&
	       memcmp(&o, &before, sizeof(o)) == 0;
}

static void test_fuzz(void)
{
	char s[48];
	uint64_t r = 2024;
	unsigned long i, calls = 0, accepted = 0, bad = 0;
	size_t k;

	for (i = 0; i < FUZZ_ROUNDS; i++) {
		random_string(&r, s, sizeof(s));
		for (k = 0; k < zs_option_count; k++, calls++) {
			if (!fuzz_one(&zs_option_table[k], s, &accepted) && !bad++)
				diag("option %s refused the input badly (round %lu)",
				     zs_option_table[k].name, i);
		}
	}
	diag("fuzz: %lu calls, %lu accepted", calls, accepted);
	is(bad, 0, "every fuzzed value is accepted, or refused with a message and no change");
}

/* A value with control bytes is shown escaped, so a message cannot garble
 * the terminal or hide what was wrong. */
static void test_escaped_message(void)
{
	const struct zs_option *opt = zs_option_find("max_pool_percent");
	struct zs_options o;
	char err[512];

	zs_options_defaults(&o);
	ok(zs_option_parse(&o, opt, "ZSWAPSIM_MAX_POOL_PERCENT", "4\x1b[2J", err, sizeof(err)) ==
	   -EINVAL && strstr(err, "=4\\x1b[2J:") && !strchr(err, '\x1b'),
	   "control bytes in a value are escaped in the message (%s)", err);
}

int main(void)
{
	test_defaults();
	test_parse_size();
	test_parse_duration();
	test_series_options();
	test_every_default();
	test_bools();
	test_numbers();
	test_names();
	test_from_env();
	test_find();
	test_fuzz();
	test_escaped_message();
	return done_testing();
}
