/*
 * zpool_replay.c - `zswapsim zpool-replay`: drive an allocator through the
 * zpool interface from a trace, one output line per operation, so that its
 * placement decisions can be checked against golden files.
 *
 *   a ID SIZE   zpool_alloc(SIZE) as object ID  -> ID first|last PAGES, ID -ENOSPC PAGES, ...
 *   f ID        zpool_free() object ID          -> ID free PAGES
 *   r           zpool_reclaim(pool, 8)          -> reclaim RET PAGES EVICTED-ID...
 *
 * PAGES is zpool_total_pages() after the line.  Blank lines and lines whose
 * first non-blank character is '#' print nothing.
 *
 * Objects.  Every live object is on two hash chains through the same bucket
 * count (a power of two, doubled when the objects outnumber the buckets):
 * table[BY_ID] for 'a' and 'f', table[BY_HANDLE] for the evict callback,
 * which is only given the handle.  Each object is filled with a byte pattern
 * seeded by its ID's hash and checked when freed or evicted: a wrong byte
 * means the allocator let two objects overlap.  The evict callback checks the
 * object, appends " ID" to the reclaim line, frees it with zpool_free() and
 * returns 0, as zswap's writeback does once the page is on the swap device.
 *
 * Only the zpool interface is used, so any allocator of zpool.c's table can
 * be replayed.  Single-threaded; malloc is fine in the CLI.  Exit status: 0;
 * 1 when the allocator misbehaves (corrupted object, unknown or duplicate
 * handle, --validate) or memory runs out; 2 for bad usage or input, reported
 * as FILE:LINE.  stdout is flushed before every message.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pagesrc.h"
#include "zpool.h"

#define REPLAY_ID_MAX 64     /* characters in an object ID */
#define REPLAY_RETRIES 8     /* what zswap 3.11 passed to zbud_reclaim_page() */
#define REPLAY_FIELDS 3      /* the most a line has: 'a ID SIZE' */

enum { BY_ID, BY_HANDLE };

struct object {
	struct object *next[2];      /* chains in replay.table[BY_ID / BY_HANDLE] */
	unsigned long handle;
	size_t size;
	char id[REPLAY_ID_MAX + 1];
};

struct replay {
	struct zs_pagesrc *src;
	struct zpool *pool;
	const char *name;            /* FILE or <stdin>, for messages */
	unsigned long lineno;
	struct object **table[2];
	size_t nbuckets, count;
	FILE *evicted;               /* " ID" per eviction, during an 'r' */
	int broken;                  /* 1 once the evict callback saw a bug */
};

struct field {
	const char *s;
	size_t n;
};

static const struct command {
	char name;
	size_t fields;               /* the command's letter included */
	const char *form;
} commands[] = {
	{ 'a', 3, "'a ID SIZE'" }, { 'f', 2, "'f ID'" }, { 'r', 1, "'r'" },
};

static void usage(void)
{
	printf("Usage: zswapsim zpool-replay [--zpool NAME] [--validate] [FILE]\n"
	       "Replay an allocator trace from FILE (standard input when absent or '-'),\n"
	       "one output line per trace line; PAGES is the pool's size after it.\n"
	       "  a ID SIZE  allocate SIZE bytes as ID -> 'ID first|last PAGES' or 'ID -ERRNO PAGES'\n"
	       "  f ID       free ID                   -> 'ID free PAGES'\n"
	       "  r          reclaim, %d retries        -> 'reclaim RET PAGES EVICTED-ID...'\n"
	       "Blank lines and lines starting with '#' are skipped.\n"
	       "  --zpool NAME  the allocator: %s (default zbud)\n"
	       "  --validate    check the pool after every line, exit 1 when broken\n"
	       "  -h, --help    this text\n"
	       "Exit status: 0; 1 an allocator failure; 2 bad usage or input.\n",
	       REPLAY_RETRIES, zpool_names());
}

static int complain(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int complain(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("zswapsim: zpool-replay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* complain() about the current trace line. */
#define line_error(rp, status, fmt, ...) \
	complain(status, "%s:%lu: " fmt, (rp)->name, (rp)->lineno, ##__VA_ARGS__)

static const char *errname(int err)
{
	return err == 0 ? "0" : err == -EINVAL ? "-EINVAL" : err == -ENOSPC ? "-ENOSPC" :
	       err == -ENOMEM ? "-ENOMEM" : err == -EAGAIN ? "-EAGAIN" : "-E?";
}

/* The object table: FNV-1a for IDs, Fibonacci hashing for handles. */

static uint64_t hash_id(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*id)
		h = (h ^ (unsigned char)*id++) * 0x100000001b3ULL;
	return h;
}

static struct object **bucket(struct replay *rp, int by, const char *id, unsigned long handle)
{
	uint64_t h = by == BY_ID ? hash_id(id) : handle * 0x9e3779b97f4a7c15ULL;

	return &rp->table[by][(h ^ (h >> 32)) & (rp->nbuckets - 1)];
}

static struct object *find(struct replay *rp, int by, const char *id, unsigned long handle)
{
	struct object *obj = *bucket(rp, by, id, handle);

	while (obj && (by == BY_ID ? strcmp(obj->id, id) != 0 : obj->handle != handle))
		obj = obj->next[by];
	return obj;
}

static void link_object(struct replay *rp, struct object *obj)
{
	int by;

	for (by = BY_ID; by <= BY_HANDLE; by++) {
		struct object **head = bucket(rp, by, obj->id, obj->handle);

		obj->next[by] = *head;
		*head = obj;
	}
}

/* Double the buckets, both tables in one block: 0 or -ENOMEM. */
static int table_grow(struct replay *rp)
{
	size_t i, old = rp->nbuckets, n = old ? 2 * old : 256;
	struct object **was = rp->table[BY_ID], **block = calloc(2 * n, sizeof(*block));
	struct object *obj, *next;

	if (!block)
		return -ENOMEM;
	rp->table[BY_ID] = block;
	rp->table[BY_HANDLE] = block + n;
	rp->nbuckets = n;
	for (i = 0; i < old; i++)
		for (obj = was[i]; obj; obj = next) {
			next = obj->next[BY_ID];
			link_object(rp, obj);
		}
	free(was);
	return 0;
}

/* Unlink the object from both tables, free it in the pool and in memory. */
static void forget(struct replay *rp, struct object *obj)
{
	int by;

	for (by = BY_ID; by <= BY_HANDLE; by++) {
		struct object **p = bucket(rp, by, obj->id, obj->handle);

		while (*p != obj)
			p = &(*p)->next[by];
		*p = obj->next[by];
	}
	rp->count--;
	zpool_free(rp->pool, obj->handle);
	free(obj);
}

/* Fill the object with its pattern (byte i: byte i % 8 of the ID's hash,
 * xor i / 8), or check it and report the first wrong byte (exit status 1). */
static bool pattern(struct replay *rp, const struct object *obj, const char *check)
{
	unsigned char *p = zpool_map(rp->pool, obj->handle);
	uint64_t seed = hash_id(obj->id);
	size_t i;

	for (i = 0; i < obj->size; i++) {
		unsigned char want = (unsigned char)(seed >> (8 * (i & 7))) ^ (unsigned char)(i >> 3);

		if (!check)
			p[i] = want;
		else if (p[i] != want)
			break;
	}
	zpool_unmap(rp->pool, obj->handle);
	if (i < obj->size)
		line_error(rp, 1, "allocator bug: object '%s' (%s, %zu bytes) corrupted at byte %zu when %s",
			   obj->id, zpool_describe(rp->pool, obj->handle), obj->size, i, check);
	return i == obj->size;
}

/* The zpool evict callback: "write the object out", i.e. forget it. */
static int evict_object(struct zpool *pool, unsigned long handle, void *arg)
{
	struct replay *rp = arg;
	struct object *obj = find(rp, BY_HANDLE, NULL, handle);

	if (!obj) {
		rp->broken = line_error(rp, 1, "allocator bug: reclaim evicts handle %#lx, "
					"which is no live object", handle);
		return -ENOENT;
	}
	if (!pattern(rp, obj, "evicted"))
		rp->broken = 1;
	if (rp->evicted)
		fprintf(rp->evicted, " %s", obj->id);
	forget(rp, obj);
	return 0;
}

/* SIZE as a decimal whole number: 0, or -EINVAL for garbage and overflow. */
static int parse_size(const struct field *f, size_t *out)
{
	size_t i, v = 0;

	for (i = 0; i < f->n; i++) {
		unsigned int d = (unsigned char)f->s[i] - '0';

		if (d > 9 || v > (SIZE_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int do_alloc(struct replay *rp, const char *id, const struct field *sz)
{
	struct object *obj;
	size_t size;
	int ret;

	if (parse_size(sz, &size))
		return line_error(rp, 2, "expected SIZE as a decimal whole number below 2^%zu, got '%.*s'",
				  8 * sizeof(size_t), (int)sz->n, sz->s);
	if (find(rp, BY_ID, id, 0))
		return line_error(rp, 2, "'a %s %zu': ID '%s' is still allocated", id, size, id);
	obj = calloc(1, sizeof(*obj));
	if (!obj || (rp->count >= rp->nbuckets && table_grow(rp))) {
		free(obj);
		return line_error(rp, 1, "out of memory");
	}
	ret = zpool_alloc(rp->pool, size, &obj->handle);
	if (ret || find(rp, BY_HANDLE, NULL, obj->handle)) {
		free(obj);
		if (!ret)
			return line_error(rp, 1, "allocator bug: a live handle handed out again");
		printf("%s %s %" PRIu64 "\n", id, errname(ret), zpool_total_pages(rp->pool));
		return 0;
	}
	strcpy(obj->id, id);
	obj->size = size;
	link_object(rp, obj);
	rp->count++;
	pattern(rp, obj, NULL);
	printf("%s %s %" PRIu64 "\n", id, zpool_describe(rp->pool, obj->handle),
	       zpool_total_pages(rp->pool));
	return 0;
}

static int do_free(struct replay *rp, const char *id)
{
	struct object *obj = find(rp, BY_ID, id, 0);

	if (!obj)
		return line_error(rp, 2, "'f %s': ID '%s' is not allocated", id, id);
	if (!pattern(rp, obj, "freed"))
		return 1;
	forget(rp, obj);
	printf("%s free %" PRIu64 "\n", id, zpool_total_pages(rp->pool));
	return 0;
}

static int do_reclaim(struct replay *rp)
{
	char *ids = NULL;
	size_t len;
	int ret;

	rp->evicted = open_memstream(&ids, &len);
	if (!rp->evicted)
		return line_error(rp, 1, "out of memory");
	ret = zpool_reclaim(rp->pool, REPLAY_RETRIES);
	if (fclose(rp->evicted) && !rp->broken)
		rp->broken = line_error(rp, 1, "out of memory");
	rp->evicted = NULL;
	if (!rp->broken)
		printf("reclaim %s %" PRIu64 "%s\n", errname(ret), zpool_total_pages(rp->pool), ids);
	free(ids);
	return rp->broken;
}

/* Split at white space into up to max fields; max + 1 when there are more. */
static size_t split(const char *line, size_t len, struct field *f, size_t max)
{
	size_t n = 0, i = 0;

	for (;;) {
		while (i < len && isspace((unsigned char)line[i]))
			i++;
		if (i == len || n == max)
			return i == len ? n : max + 1;
		f[n].s = line + i;
		while (i < len && !isspace((unsigned char)line[i]))
			i++;
		f[n].n = line + i - f[n].s;
		n++;
	}
}

static int malformed(struct replay *rp, const char *form, const char *line, size_t len)
{
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	return line_error(rp, 2, "expected %s, got '%.*s'", form, (int)len, line);
}

static int replay_line(struct replay *rp, const char *line, size_t len)
{
	const struct command *cmd, *end = commands + ZS_ARRAY_SIZE(commands);
	struct field f[REPLAY_FIELDS];
	size_t n = split(line, len, f, REPLAY_FIELDS);
	char id[REPLAY_ID_MAX + 1];

	if (n == 0 || f[0].s[0] == '#')
		return 0;
	for (cmd = commands; cmd < end; cmd++)
		if (f[0].n == 1 && f[0].s[0] == cmd->name)
			break;
	if (cmd == end)
		return malformed(rp, "'a ID SIZE', 'f ID' or 'r'", line, len);
	if (n != cmd->fields)
		return malformed(rp, cmd->form, line, len);
	if (cmd->name == 'r')
		return do_reclaim(rp);
	if (f[1].n > REPLAY_ID_MAX)
		return line_error(rp, 2, "expected an ID of at most %d characters, got %zu",
				  REPLAY_ID_MAX, f[1].n);
	memcpy(id, f[1].s, f[1].n);
	id[f[1].n] = '\0';
	return cmd->name == 'a' ? do_alloc(rp, id, &f[2]) : do_free(rp, id);
}

static int replay_stream(struct replay *rp, FILE *in, bool validate)
{
	char *line = NULL, msg[256];
	size_t cap = 0;
	ssize_t len;
	int ret = 0;

	while (!ret && (len = getline(&line, &cap, in)) >= 0) {
		rp->lineno++;
		ret = replay_line(rp, line, len);
		if (!ret && validate && zpool_validate(rp->pool, msg, sizeof(msg)))
			ret = line_error(rp, 1, "validate failed: %s", msg);
	}
	if (!ret && ferror(in))
		ret = complain(2, "%s: %s", rp->name, strerror(errno));
	free(line);
	return ret;
}

static int replay_run(struct replay *rp, const char *zpool, FILE *in, bool validate)
{
	int ret = zs_pagesrc_create(0, &rp->src);
	size_t i;

	if (!ret)
		ret = zpool_create(zpool, rp->src, evict_object, rp, &rp->pool);
	if (!ret)
		ret = table_grow(rp);
	if (ret)
		ret = complain(1, "cannot create the %s pool: %s", zpool, strerror(-ret));
	else
		ret = replay_stream(rp, in, validate);
	for (i = 0; i < rp->nbuckets; i++)
		while (rp->table[BY_ID][i])
			forget(rp, rp->table[BY_ID][i]);
	zpool_destroy(rp->pool);
	zs_pagesrc_destroy(rp->src);
	free(rp->table[BY_ID]);
	return ret;
}

int cmd_zpool_replay(int argc, char **argv)
{
	const char *zpool = "zbud", *file = NULL;
	struct replay rp = { .name = "<stdin>" };
	bool validate = false, options = true;
	FILE *in = stdin;
	int i, ret;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options || arg[0] != '-' || !strcmp(arg, "-")) {
			if (file)
				return complain(2, "one FILE expected, got '%s' and '%s'", file, arg);
			file = arg;
		} else if (!strcmp(arg, "--")) {
			options = false;
		} else if (!strcmp(arg, "--validate")) {
			validate = true;
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage();
			return 0;
		} else if (!strncmp(arg, "--zpool=", 8)) {
			zpool = arg + 8;
		} else if (!strcmp(arg, "--zpool")) {
			if (++i == argc)
				return complain(2, "--zpool needs an argument: %s", zpool_names());
			zpool = argv[i];
		} else {
			return complain(2, "unknown option '%s' (see 'zswapsim zpool-replay --help')", arg);
		}
	}
	if (!zpool_find(zpool))
		return complain(2, "unknown zpool '%s'; expected one of: %s", zpool, zpool_names());
	if (file && strcmp(file, "-")) {
		in = fopen(file, "r");
		if (!in)
			return complain(2, "cannot open '%s': %s", file, strerror(errno));
		rp.name = file;
	}
	ret = replay_run(&rp, zpool, in, validate);
	if (in != stdin)
		fclose(in);
	if ((fflush(stdout) || ferror(stdout)) && !ret)
		ret = complain(1, "writing the output: %s", strerror(errno));
	return ret;
}
