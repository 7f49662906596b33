/*
 * options.c - the option table and its parsers (see options.h).
 *
 * One row per setting: name, kind, default, range, doc.  Defaults are text
 * and go through the same parser as user input, so a default can never be a
 * value the parser would refuse.  Messages say which variable, which value,
 * and what is accepted, so a program never runs on a setting it did not ask
 * for.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "compress.h"
#include "options.h"
#include "series.h"
#include "zpool.h"

#define OPT(field) offsetof(struct zs_options, field)

static bool compressor_known(const char *name)
{
	return zs_compressor_find(name) != NULL;
}

static bool zpool_known(const char *name)
{
	return zpool_find(name) != NULL;
}
static const char *guard_names(void)
{
	return "auto, always, never";
}

static bool guard_known(const char *name)
{
	return !strcmp(name, "auto") || !strcmp(name, "always") || !strcmp(name, "never");
}

static bool series_format_known(const char *name)
{
	enum zs_series_format fmt;

	return zs_series_format_find(name, &fmt) == 0;
}

#define DURATION_MAX_ACCEPTED (3600 * 1000) /* 1h in ms */
#define SIZE_MAX_ACCEPTED (UINT64_C(1) << 50) /* 1 PiB */

const struct zs_option zs_option_table[] = {
	{ "compressor", ZS_OPT_NAME, "lz4", 0, 0, zs_compressor_names, compressor_known,
	  OPT(compressor), "compression algorithm for stored pages" },
	{ "zpool", ZS_OPT_NAME, "zbud", 0, 0, zpool_names, zpool_known, OPT(zpool),
	  "allocator that holds the compressed pages" },
	{ "max_pool_percent", ZS_OPT_UINT, "20", 0, 100, NULL, NULL, OPT(max_pool_percent),
	  "pool limit as a percent of the simulated RAM (mem_limit)" },
	{ "max_pool_size", ZS_OPT_SIZE, "0", 0, SIZE_MAX_ACCEPTED, NULL, NULL, OPT(max_pool_size),
	  "pool limit in bytes; 0 uses max_pool_percent" },
	{ "accept_threshold_percent", ZS_OPT_UINT, "90", 0, 100, NULL, NULL,
	  OPT(accept_threshold_percent),
	  "after hitting the limit, accept stores again below this percent of it" },
	{ "same_filled_pages_enabled", ZS_OPT_BOOL, "Y", 0, 0, NULL, NULL,
	  OPT(same_filled_pages_enabled),
	  "keep pages filled with one repeated word as that word, outside the pool" },
	{ "exclusive_loads", ZS_OPT_BOOL, "Y", 0, 0, NULL, NULL, OPT(exclusive_loads),
	  "drop the stored copy when a page is loaded back" },
	{ "store_incompressible", ZS_OPT_BOOL, "N", 0, 0, NULL, NULL, OPT(store_incompressible),
	  "store pages that do not compress raw, a page each (Linux 6.18), instead of refusing" },
	{ "shadow_zpools", ZS_OPT_BOOL, "Y", 0, 0, NULL, NULL, OPT(shadow_zpools),
	  "also model zbud, z3fold and zsmalloc on the pool's objects (sizes only), to report "
	  "each one's pool size side by side" },
	{ "shadow_compressors", ZS_OPT_BOOL, "N", 0, 0, NULL, NULL, OPT(shadow_compressors),
	  "also compress every stored page with every other compressor, to report each one's "
	  "ratio and speed on the same pages (costs their compression time)" },
	{ "mem_limit", ZS_OPT_SIZE, "0", 0, SIZE_MAX_ACCEPTED, NULL, NULL, OPT(mem_limit),
	  "simulated RAM size; 0 means the machine's physical RAM" },
	{ "swapfile", ZS_OPT_PATH, "", 0, 0, NULL, NULL, OPT(swapfile),
	  "swap file: a directory for an unlinked one, or a file path; empty means $TMPDIR" },
	{ "swap_size", ZS_OPT_SIZE, "0", 0, SIZE_MAX_ACCEPTED, NULL, NULL, OPT(swap_size),
	  "swap file size limit; 0 means none but the file system's free space" },
	{ "trace", ZS_OPT_PATH, "", 0, 0, NULL, NULL, OPT(trace),
	  "record every store, load, invalidate and writeback (sizes and checksums, not "
	  "contents) to this file, for zswapsim replay; empty means off" },
	{ "shrinker_enabled", ZS_OPT_BOOL, "Y", 0, 0, NULL, NULL, OPT(shrinker_enabled),
	  "libzswapsim: write the pool back when it is what keeps memory over mem_limit" },
	{ "reserve_size", ZS_OPT_SIZE, "256G", 1 << 30, UINT64_C(1) << 46, NULL, NULL,
	  OPT(reserve_size),
	  "libzswapsim: address space reserved for managed memory (costs no memory)" },
	{ "guard_pages", ZS_OPT_NAME, "auto", 0, 0, guard_names, guard_known, OPT(guard_pages),
	  "libzswapsim: drop frozen pages under guard markers (Linux 6.13+), which keep "
	  "their VMA whole: auto (near the VMA budget), always, never" },
	{ "syscall_dispatch", ZS_OPT_BOOL, "N", 0, 0, NULL, NULL, OPT(syscall_dispatch),
	  "libzswapsim: trap every system call (Syscall User Dispatch, Linux 5.11+, x86-64) to "
	  "make its managed memory present: a safety net for raw system calls, ~1 us a call" },
	{ "fault_stacks", ZS_OPT_UINT, "0", 0, UINT32_MAX, NULL, NULL, OPT(fault_stacks),
	  "libzswapsim: attribute thaws to call stacks (one thaw in N unwound, ~0.5 us each) "
	  "and frozen memory to the calls that allocated it, in the dump; 0 for off (on, "
	  "malloc is ~3% slower)" },
	{ "stats_signal", ZS_OPT_UINT, "10", 0, 64, NULL, NULL, OPT(stats_signal),
	  "libzswapsim: signal that dumps the statistics (10 is SIGUSR1); 0 for none" },
	{ "stats_file", ZS_OPT_PATH, "", 0, 0, NULL, NULL, OPT(stats_file),
	  "libzswapsim: where dumps go (appended); empty means standard error" },
	{ "stats_at_exit", ZS_OPT_BOOL, "N", 0, 0, NULL, NULL, OPT(stats_at_exit),
	  "libzswapsim: dump the statistics when the program exits" },
	{ "stats_interval", ZS_OPT_DURATION, "0", 0, DURATION_MAX_ACCEPTED, NULL, NULL,
	  OPT(stats_interval),
	  "libzswapsim: write every statistic to the series this often, and once at exit; "
	  "0 for no series" },
	{ "stats_format", ZS_OPT_NAME, "csv", 0, 0, zs_series_format_names, series_format_known,
	  OPT(stats_format),
	  "libzswapsim: the series as CSV (a header, then a row per interval) or JSON lines" },
	{ "stats_series", ZS_OPT_PATH, "", 0, 0, NULL, NULL, OPT(stats_series),
	  "libzswapsim: the series file (replaced; %p is the process ID); empty means "
	  "zswapsim-%p.csv or .jsonl in the current directory" },
};

const size_t zs_option_count = sizeof(zs_option_table) / sizeof(zs_option_table[0]);

/* v = v * 10 + digit, or -ERANGE past UINT64_MAX. */
static int add_digit(uint64_t *v, char digit)
{
	if (__builtin_mul_overflow(*v, 10, v) || __builtin_add_overflow(*v, (uint64_t)(digit - '0'), v))
		return -ERANGE;
	return 0;
}

int zs_parse_size(const char *text, uint64_t *out)
{
	static const char units[] = "KMGTP";
	const char *p = text, *u;
	uint64_t v = 0;
	unsigned int shift = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++)
		if (add_digit(&v, *p))
			return -ERANGE;
	if (*p && (u = strchr(units, toupper((unsigned char)*p)))) {
		shift = 10 * (unsigned int)(u - units + 1);
		p++;
		if (toupper((unsigned char)*p) == 'I' && toupper((unsigned char)p[1]) == 'B')
			p++;
	}
	if (toupper((unsigned char)*p) == 'B')
		p++;
	if (*p)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

/* Milliseconds per unit of a duration; the first is the default. */
static const struct {
	const char *unit;
	uint64_t ms;
} duration_units[] = { { "ms", 1 }, { "s", 1000 }, { "min", 60 * 1000 }, { "h", 3600 * 1000 } };

int zs_parse_duration(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t v = 0, mul = 1;
	size_t i;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++)
		if (add_digit(&v, *p))
			return -ERANGE;
	if (*p) {
		for (i = 0; i < ZS_ARRAY_SIZE(duration_units); i++)
			if (!strcasecmp(p, duration_units[i].unit))
				break;
		if (i == ZS_ARRAY_SIZE(duration_units))
			return -EINVAL;
		mul = duration_units[i].ms;
	}
	if (__builtin_mul_overflow(v, mul, &v))
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "y", "yes", "1", "true", "on" };
	static const char *const no[] = { "n", "no", "0", "false", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(text, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

static int parse_uint(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t v = 0;

	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if (add_digit(&v, *p))
			return -ERANGE;
	}
	*out = v;
	return 0;
}


/* A size as its largest exact unit: "0", "1G", "1P", "12345". */
static const char *size_text(uint64_t v, char buf[24])
{
	static const char units[] = "KMGTP";
	int u = -1;

	while (v && u < 4 && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	snprintf(buf, 24, "%" PRIu64 "%s", v, u < 0 ? "" : (char[2]){ units[u], 0 });
	return buf;
}

/* A duration as its largest exact unit: "0", "250ms", "2s", "1h". */
static const char *duration_text(uint64_t ms, char buf[24])
{
	size_t u = ZS_ARRAY_SIZE(duration_units) - 1;

	while (u && (!ms || ms % duration_units[u].ms))
		u--;
	if (!ms)
		snprintf(buf, 24, "0");
	else
		snprintf(buf, 24, "%" PRIu64 "%s", ms / duration_units[u].ms, duration_units[u].unit);
	return buf;
}

/* What the option accepts, in words, for messages and --help. */
static void describe_accepted(const struct zs_option *opt, char *buf, size_t len)
{
	switch (opt->kind) {
	case ZS_OPT_BOOL:
		snprintf(buf, len, "Y or N (also 1/0, yes/no, true/false, on/off)");
		break;
	case ZS_OPT_UINT:
		snprintf(buf, len, "a whole number from %" PRIu64 " to %" PRIu64, opt->min, opt->max);
		break;
	case ZS_OPT_SIZE: {
		char lo[24], hi[24];

		snprintf(buf, len, "a size from %s to %s: bytes, or with a K, M, G, T or P suffix "
			 "(powers of 1024)", size_text(opt->min, lo), size_text(opt->max, hi));
		break;
	}
	case ZS_OPT_DURATION: {
		char lo[24], hi[24];

		snprintf(buf, len, "a duration from %s to %s: milliseconds, or with an ms, s, min "
			 "or h suffix", duration_text(opt->min, lo), duration_text(opt->max, hi));
		break;
	}
	case ZS_OPT_NAME:
		snprintf(buf, len, "one of: %s", opt->choices());
		break;
	case ZS_OPT_PATH:
		snprintf(buf, len, "a path shorter than %d bytes", ZS_PATH_MAX);
		break;
	}
}

static int parse_value(struct zs_options *o, const struct zs_option *opt, const char *value)
{
	char *field = (char *)o + opt->offset;
	uint64_t v;
	bool b;
	int ret;

	switch (opt->kind) {
	case ZS_OPT_BOOL:
		ret = parse_bool(value, &b);
		if (!ret)
			*(bool *)field = b;
		return ret;
	case ZS_OPT_UINT:
	case ZS_OPT_SIZE:
	case ZS_OPT_DURATION:
		ret = opt->kind == ZS_OPT_UINT ? parse_uint(value, &v)
		      : opt->kind == ZS_OPT_SIZE ? zs_parse_size(value, &v)
						  : zs_parse_duration(value, &v);
		if (!ret && (v < opt->min || v > opt->max))
			ret = -ERANGE;
		if (!ret)
			*(uint64_t *)field = v;
		return ret;
	case ZS_OPT_NAME:
		if (strlen(value) >= ZS_NAME_MAX || !opt->known(value))
			return -EINVAL;
		strcpy(field, value);
		return 0;
	case ZS_OPT_PATH:
		if (strlen(value) >= ZS_PATH_MAX)
			return -ENAMETOOLONG;
		strcpy(field, value);
		return 0;
	}
	return -EINVAL;
}

/* The value as printable text: other bytes as \xNN, cut at 64 bytes. */
static void printable(const char *value, char *buf, size_t len)
{
	size_t at = 0;

	for (; *value && at + 8 < len && at < 64; value++) {
		unsigned char c = (unsigned char)*value;

		if (isprint(c))
			buf[at++] = (char)c;
		else
			at += (size_t)snprintf(buf + at, len - at, "\\x%02x", c);
	}
	if (*value)
		at += (size_t)snprintf(buf + at, len - at, "...");
	buf[at] = '\0';
}

int zs_option_parse(struct zs_options *o, const struct zs_option *opt, const char *label,
		    const char *value, char *err, size_t errlen)
{
	char accepted[160], shown[96];

	if (parse_value(o, opt, value) == 0)
		return 0;
	describe_accepted(opt, accepted, sizeof(accepted));
	printable(value, shown, sizeof(shown));
	snprintf(err, errlen, "%s=%s: not accepted; expected %s", label, shown, accepted);
	return -EINVAL;
}

void zs_options_defaults(struct zs_options *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < zs_option_count; i++)
		parse_value(o, &zs_option_table[i], zs_option_table[i].default_text);
}

const struct zs_option *zs_option_find(const char *name)
{
	size_t i, j;

	for (i = 0; i < zs_option_count; i++) {
		const char *n = zs_option_table[i].name;

		for (j = 0; n[j] && (name[j] == n[j] || (name[j] == '-' && n[j] == '_')); j++)
			;
		if (!n[j] && !name[j])
			return &zs_option_table[i];
	}
	return NULL;
}

void zs_option_env_name(const struct zs_option *opt, char *buf, size_t len)
{
	size_t i, p = strlen(ZS_ENV_PREFIX);

	snprintf(buf, len, "%s%s", ZS_ENV_PREFIX, opt->name);
	for (i = p; buf[i]; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
}

int zs_options_from_env(struct zs_options *o, char *(*get)(const char *), char *err,
			size_t errlen)
{
	char env[ZS_NAME_MAX + 16];
	size_t i;

	for (i = 0; i < zs_option_count; i++) {
		const char *value;

		zs_option_env_name(&zs_option_table[i], env, sizeof(env));
		value = get(env);
		if (value && zs_option_parse(o, &zs_option_table[i], env, value, err, errlen))
			return -EINVAL;
	}
	return 0;
}

void zs_options_help(FILE *f)
{
	char env[ZS_NAME_MAX + 16], accepted[160];
	size_t i;

	for (i = 0; i < zs_option_count; i++) {
		const struct zs_option *opt = &zs_option_table[i];

		zs_option_env_name(opt, env, sizeof(env));
		describe_accepted(opt, accepted, sizeof(accepted));
		fprintf(f, "  %s (default \"%s\")\n      %s;\n      %s.\n", env,
			opt->default_text, opt->doc, accepted);
	}
}

void zs_options_print(const struct zs_options *o, FILE *f)
{
	size_t i;

	for (i = 0; i < zs_option_count; i++) {
		const struct zs_option *opt = &zs_option_table[i];
		const char *field = (const char *)o + opt->offset;

		fprintf(f, "%s ", opt->name);
		switch (opt->kind) {
		case ZS_OPT_BOOL:
			fprintf(f, "%s\n", *(const bool *)field ? "Y" : "N");
			break;
		case ZS_OPT_UINT:
		case ZS_OPT_SIZE:
			fprintf(f, "%" PRIu64 "\n", *(const uint64_t *)field);
			break;
		case ZS_OPT_DURATION:
			fprintf(f, "%" PRIu64 "ms\n", *(const uint64_t *)field);
			break;
		default:
			fprintf(f, "%s\n", *field ? field : "\"\"");
		}
	}
}
