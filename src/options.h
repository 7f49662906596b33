/*
 * options.h - every setting, named after zswap's module parameters, in one
 * table (options.c).  Each is read from the environment under the prefix
 * ZS_ENV_PREFIX and its name in upper case (max_pool_percent ->
 * ZSWAPSIM_MAX_POOL_PERCENT), and from the CLI as --max-pool-percent.
 */
#ifndef ZS_OPTIONS_H
#define ZS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZS_ENV_PREFIX "ZSWAPSIM_"
#define ZS_NAME_MAX 32
#define ZS_PATH_MAX 4096

struct zs_options {
	char compressor[ZS_NAME_MAX];
	char zpool[ZS_NAME_MAX];
	uint64_t max_pool_percent;
	uint64_t max_pool_size;
	uint64_t accept_threshold_percent;
	bool same_filled_pages_enabled;
	bool exclusive_loads;
	bool store_incompressible;
	bool shadow_zpools;
	bool shadow_compressors;
	uint64_t mem_limit;
	char swapfile[ZS_PATH_MAX];
	uint64_t swap_size;
	char trace[ZS_PATH_MAX];    /* record events here (trace.h); "": off */
	/* the preloaded library's own */
	bool shrinker_enabled;
	uint64_t reserve_size;
	char guard_pages[ZS_NAME_MAX];
	bool syscall_dispatch;
	uint64_t fault_stacks;      /* unwind one thaw in N; 0: no attribution */
	uint64_t stats_signal;
	char stats_file[ZS_PATH_MAX];
	bool stats_at_exit;
	uint64_t stats_interval;   /* milliseconds; 0: no series */
	char stats_format[ZS_NAME_MAX];
	char stats_series[ZS_PATH_MAX];
};

enum zs_option_kind { ZS_OPT_BOOL, ZS_OPT_UINT, ZS_OPT_SIZE, ZS_OPT_NAME, ZS_OPT_PATH,
		       ZS_OPT_DURATION };

struct zs_option {
	const char *name;          /* zswap's parameter name, lower case */
	enum zs_option_kind kind;
	const char *default_text;
	uint64_t min, max;         /* ZS_OPT_UINT, ZS_OPT_SIZE, ZS_OPT_DURATION (ms) */
	const char *(*choices)(void); /* ZS_OPT_NAME: the accepted names, for messages */
	bool (*known)(const char *name); /* ZS_OPT_NAME: is this name accepted? */
	size_t offset;
	const char *doc;
};

extern const struct zs_option zs_option_table[];
extern const size_t zs_option_count;

/* Every option at its default. */
void zs_options_defaults(struct zs_options *o);

/* Set one option from text.  `label` names it in the message (the variable
 * or the flag).  0, or -EINVAL with "LABEL=VALUE: what is accepted" in err. */
int zs_option_parse(struct zs_options *o, const struct zs_option *opt, const char *label,
		    const char *value, char *err, size_t errlen);

/* The option called `name` (underscores or dashes), or NULL. */
const struct zs_option *zs_option_find(const char *name);

/* Read every option's variable that `get` (getenv, or a test's) returns.
 * 0, or -EINVAL with the first bad one described in err. */
int zs_options_from_env(struct zs_options *o, char *(*get)(const char *), char *err,
			size_t errlen);

/* The variable of an option, e.g. "ZSWAPSIM_MAX_POOL_PERCENT". */
void zs_option_env_name(const struct zs_option *opt, char *buf, size_t len);

/* The help text for every option, generated from the table. */
void zs_options_help(FILE *f);
/* The effective setting of every option, "name value" lines. */
void zs_options_print(const struct zs_options *o, FILE *f);

/* Parse "512", "64K", "128M", "2G", "1T" (powers of 1024, optional B/iB).
 * 0 or -EINVAL / -ERANGE. */
int zs_parse_size(const char *text, uint64_t *out);

/* Parse a duration into milliseconds: "250" or "250ms", "2s", "5min",
 * "1h".  0 or -EINVAL / -ERANGE. */
int zs_parse_duration(const char *text, uint64_t *out);

#endif
