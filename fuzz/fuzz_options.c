/*
 * fuzz_options.c - libFuzzer target for the option table's parser
 * (src/options.c), as the environment and the CLI feed it.
 *
 * The input is lines of NAME=VALUE.  Every line is given to the option of
 * that name (its ZSWAPSIM_ variable name, or the bare name), then the whole
 * set is read as an environment.  A value either parses, within the option's
 * range, or is refused with a message; either way the parser must not crash,
 * overrun, or leave the options invalid.  Built and run by `make fuzz`.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_LINES 64

static char *names[MAX_LINES], *values[MAX_LINES];
static size_t nlines;

static char *lookup(const char *name)
{
	size_t i;

	for (i = 0; i < nlines; i++)
		if (!strcmp(names[i], name))
			return values[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *save = NULL, err[512], env[128];
	struct zs_options o;
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nlines = 0;
	for (line = strtok_r(text, "\n", &save); line && nlines < MAX_LINES;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		names[nlines] = line;
		values[nlines++] = eq + 1;
	}
	zs_options_defaults(&o);
	for (i = 0; i < nlines; i++) {
		const struct zs_option *opt;

		for (opt = zs_option_table; opt < zs_option_table + zs_option_count; opt++) {
			zs_option_env_name(opt, env, sizeof(env));
			if (!strcmp(names[i], opt->name) || !strcmp(names[i], env))
				if (zs_option_parse(&o, opt, names[i], values[i], err, sizeof(err)) &&
				    !memchr(err, '\0', sizeof(err)))
					abort(); /* a message without its end */
		}
	}
	zs_options_defaults(&o);
	if (zs_options_from_env(&o, lookup, err, sizeof(err)) && !memchr(err, '\0', sizeof(err)))
		abort();
	free(text);
	return 0;
}
