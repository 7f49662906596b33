/*
 * stats.c - the statistics table and its signal-safe dump (see stats.h).
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "common.h"
#include "stats.h"

const struct zs_stat_info zs_stat_infos[] = {
#define ZS_STAT_INFO(name, doc) { #name, doc, offsetof(struct zs_stats, name) },
	ZS_STATS(ZS_STAT_INFO)
#undef ZS_STAT_INFO
};

const size_t zs_stat_count = ZS_ARRAY_SIZE(zs_stat_infos);

size_t zs_utoa(uint64_t v, char *buf)
{
	char tmp[21];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

static size_t put(char *buf, size_t len, size_t at, const char *s, size_t n)
{
	if (at < len)
		memcpy(buf + at, s, at + n < len ? n : len - at);
	return at + n;
}

size_t zs_stats_format(const struct zs_stats *s, char *buf, size_t len)
{
	size_t at = 0, i;
	char num[24];

	for (i = 0; i < zs_stat_count; i++) {
		uint64_t v;
		size_t n;

		memcpy(&v, (const char *)s + zs_stat_infos[i].offset, sizeof(v));
		n = zs_utoa(v, num);
		at = put(buf, len, at, zs_stat_infos[i].name, strlen(zs_stat_infos[i].name));
		at = put(buf, len, at, " ", 1);
		at = put(buf, len, at, num, n);
		at = put(buf, len, at, "\n", 1);
	}
	if (len)
		buf[at < len ? at : len - 1] = '\0';
	return at;
}

int zs_stats_write(const struct zs_stats *s, int fd)
{
	char buf[4096];
	size_t n = zs_stats_format(s, buf, sizeof(buf));
	int saved = errno, ret;

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	ret = zs_write_all(fd, buf, n);
	errno = saved; /* a handler must leave errno as it found it */
	return ret;
}
