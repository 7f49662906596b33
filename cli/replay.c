/*
 * replay.c - `zswapsim replay FILE [--OPTION VALUE]...`: a recorded run
 * (ZSWAPSIM_TRACE, src/trace.h) simulated again under other settings.
 *
 * The real engine is driven with the recorded calls, in order: stores,
 * swap-outs, loads (load or load_keep, as recorded), invalidates and the
 * shrinker's calls (as "free this many pages", asked of the replay's own
 * pool).  Limits, hysteresis, writeback to a temporary swap file and the
 * allocators therefore behave as they would have; writebacks are the
 * engine's own, the recorded ones are only counted.
 *
 * The trace holds no page contents, only each page's compressed length and
 * checksum (and the word of a same-filled page).  The replay synthesises a
 * page from them: word 0 holds a tag, the length and the checksum, the
 * other words follow from word 0, so the page is never same-filled.  The
 * engine runs with a compressor of our own, in no table, whose compress
 * returns exactly the recorded length (the bytes: a tag and word 0, then
 * zeros) and whose decompress rebuilds the page from word 0.  A same-filled
 * page is the real page: the engine keeps it as one word, or (with
 * same_filled_pages_enabled N) compresses it to the length the recording's
 * compressor gives such a page, computed here.  A page whose length is
 * unknown (the recording refused it before compressing) makes the replay
 * compressor fail: the replay cannot know how it would have compressed.
 * Every page a load returns is compared with the one stored for its key,
 * which checks the engine as well.
 *
 * Where the replay's run departs from the recorded one (a page one refused
 * and the other kept), events follow the replay: a load of a page the
 * replay does not hold is a miss (counted, as the program would have kept
 * that page), a store over a key only the replay still holds drops it
 * first.  The counts are printed after the statistics.
 *
 * Settings: the recorded run's (the trace's header), then flags, as demo
 * takes them; the environment is not read.  --compressor can only repeat
 * the recorded one: the trace holds the lengths it produced, no others.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "compress.h"
#include "engine.h"
#include "trace.h"

#define REPLAY_TAG 0x5a53ULL   /* low 16 bits of a synthetic page's word 0 */
#define REPLAY_MIN_LEN 9       /* a tag byte and word 0 */

/* X(name, meaning) */
#define REPLAY_COUNTS(X) \
	X(replay_events, "records replayed") \
	X(replay_recorded_stores, "stores in the trace") \
	X(replay_recorded_writebacks, "writebacks in the trace (the replay's own are written_back_pages)") \
	X(replay_stores_refused, "stores the recorded run kept and the replay refused") \
	X(replay_stores_accepted, "stores the recorded run refused and the replay kept") \
	X(replay_unknown_stores, "stores refused before compression: the replay cannot have them") \
	X(replay_dropped_stale, "stores over a key only the replay still held (dropped first)") \
	X(replay_swap_outs_skipped, "swap-outs of a page the replay had kept in its pool") \
	X(replay_lost_loads, "loads the recorded run served and the replay could not") \
	X(replay_extra_loads, "loads the recorded run missed and the replay served") \
	X(replay_load_errors, "loads that failed in the replay (-EIO)") \
	X(replay_wrong_pages, "loads that returned other bytes than were stored (an engine bug)") \
	X(replay_shrinks, "shrinker calls replayed")

struct replay_counts {
#define REPLAY_FIELD(name, doc) uint64_t name;
	REPLAY_COUNTS(REPLAY_FIELD)
#undef REPLAY_FIELD
};

/* What the replay knows of a key: the page last put under it, and whether
 * the recorded run holds it now. */
struct slot {
	uint64_t page;        /* page number; 0: free slot */
	uint64_t value;       /* same: the word */
	uint32_t length, checksum;
	bool same, rec_held;
};

struct replay {
	const char *file;
	struct zs_trace_header h;
	struct zs_options opt;
	struct zs_engine *e;
	struct slot *slots;
	size_t nslots, used;
	const struct zs_compressor *real; /* the recording's, for same-filled pages */
	void *real_state;
	uint64_t same_value, same_length; /* the last length computed */
	struct replay_counts c;
};

/* ---- the replay compressor ---- */

/* The compressed length compress gives a same-filled page: set before each
 * store (replay is single-threaded). */
static uint32_t same_length;

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void synth_from(uint64_t word0, void *page)
{
	uint64_t *w = page;
	size_t i;

	w[0] = word0;
	for (i = 1; i < ZS_PAGE_SIZE / sizeof(*w); i++)
		w[i] = splitmix(word0 + i);
}

static void synth(uint32_t length, uint32_t checksum, void *page)
{
	synth_from(REPLAY_TAG | (uint64_t)(length & 0xffff) << 16 | (uint64_t)checksum << 32, page);
}

static void fill(uint64_t value, void *page)
{
	uint64_t *w = page;
	size_t i;

	for (i = 0; i < ZS_PAGE_SIZE / sizeof(*w); i++)
		w[i] = value;
}

static bool is_same(const uint64_t *w)
{
	size_t i;

	for (i = 1; i < ZS_PAGE_SIZE / sizeof(*w); i++)
		if (w[i] != w[0])
			return false;
	return true;
}

static int replay_compress(void *state, const void *src, size_t src_len, void *dst,
			   size_t dst_cap)
{
	const uint64_t *w = src;
	unsigned char *d = dst;
	size_t len;

	if (is_same(w))
		len = same_length, d[0] = 'S';
	else if ((w[0] & 0xffff) == REPLAY_TAG && (w[0] >> 16 & 0xffff))
		len = w[0] >> 16 & 0xffff, d[0] = 'C';
	else
		return -EINVAL; /* a length the trace does not know */
	if (len < REPLAY_MIN_LEN)
		len = REPLAY_MIN_LEN;
	if (len > dst_cap)
		return -EINVAL;
	memset(d + 1, 0, len - 1);
	memcpy(d + 1, &w[0], sizeof(w[0]));
	return (int)len;
}

static int replay_decompress(void *dstate, const void *src, size_t src_len, void *dst,
			     size_t dst_cap)
{
	const unsigned char *s = src;
	uint64_t word0;

	if (src_len < REPLAY_MIN_LEN || dst_cap < ZS_PAGE_SIZE || (s[0] != 'S' && s[0] != 'C'))
		return -EINVAL;
	memcpy(&word0, s + 1, sizeof(word0));
	if (s[0] == 'S')
		fill(word0, dst);
	else
		synth_from(word0, dst);
	return (int)ZS_PAGE_SIZE;
}

static struct zs_compressor replay_compressor = {
	.name = "replay",
	.state_size = 16,
	.compress = replay_compress,
	.decompress = replay_decompress,
};

/* ---- keys ---- */

static struct slot *slot_find(struct replay *r, uint64_t page)
{
	size_t i = (size_t)(splitmix(page) & (r->nslots - 1));

	while (r->slots[i].page && r->slots[i].page != page)
		i = (i + 1) & (r->nslots - 1);
	return &r->slots[i];
}

/* The slot of key, created if new; exits when out of memory. */
static struct slot *slot_get(struct replay *r, uintptr_t key)
{
	uint64_t page = key >> ZS_PAGE_SHIFT;
	struct slot *s;

	if (2 * (r->used + 1) > r->nslots) {
		struct slot *old = r->slots;
		size_t n = r->nslots, i;

		r->nslots = n ? 2 * n : 1024;
		r->slots = calloc(r->nslots, sizeof(*r->slots));
		if (!r->slots) {
			fprintf(stderr, "zswapsim: replay: out of memory\n");
			exit(1);
		}
		for (i = 0; i < n; i++)
			if (old[i].page)
				*slot_find(r, old[i].page) = old[i];
		free(old);
	}
	s = slot_find(r, page);
	if (!s->page) {
		s->page = page;
		r->used++;
	}
	return s;
}

/* The page the slot names. */
static void slot_page(struct replay *r, const struct slot *s, void *page)
{
	if (s->same)
		fill(s->value, page);
	else
		synth(s->length, s->checksum, page);
}

/* What the recording's compressor makes of a page filled with value. */
static uint32_t real_same_length(struct replay *r, uint64_t value)
{
	static unsigned char page[ZS_PAGE_SIZE], out[ZS_COMPRESS_BOUND];
	int n;

	if (r->same_length && r->same_value == value)
		return (uint32_t)r->same_length;
	if (!r->real)
		return 64; /* not built here: a small page's size */
	fill(value, page);
	n = r->real->compress(r->real_state, page, ZS_PAGE_SIZE, out, sizeof(out));
	r->same_value = value;
	r->same_length = n > 0 ? (uint64_t)n : 64;
	return (uint32_t)r->same_length;
}

/* ---- events ---- */

/* The page a store or swap-out record names, into s and page. */
static void record_page(struct replay *r, const struct zs_trace_event *ev, struct slot *s,
			void *page)
{
	s->same = ev->op == ZS_TR_STORE_SAME || (ev->flags & ZS_TR_SAME);
	s->value = ev->value;
	s->length = ev->length;
	s->checksum = ev->checksum;
	slot_page(r, s, page);
	if (s->same)
		same_length = ev->length ? ev->length : real_same_length(r, ev->value);
}

static void on_store(struct replay *r, const struct zs_trace_event *ev)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct slot *s = slot_get(r, ev->key);
	bool kept = ev->op <= ZS_TR_STORE_RAW;
	int ret;

	r->c.replay_recorded_stores++;
	if (!s->rec_held && zs_engine_contains(r->e, ev->key)) {
		zs_engine_invalidate(r->e, ev->key);
		r->c.replay_dropped_stale++;
	}
	record_page(r, ev, s, page);
	if (!s->same && !s->length)
		r->c.replay_unknown_stores++;
	ret = zs_engine_store(r->e, ev->key, page);
	if (ret && kept)
		r->c.replay_stores_refused++;
	else if (!ret && !kept)
		r->c.replay_stores_accepted++;
	s->rec_held = kept;
}

static void on_swap_out(struct replay *r, const struct zs_trace_event *ev)
{
	unsigned char page[ZS_PAGE_SIZE];
	struct slot *s = slot_get(r, ev->key);

	if (zs_engine_contains(r->e, ev->key)) {
		r->c.replay_swap_outs_skipped++;
	} else {
		record_page(r, ev, s, page);
		zs_engine_swap_out(r->e, ev->key, page);
	}
	s->rec_held = ev->op == ZS_TR_SWAP_OUT;
}

static void on_load(struct replay *r, const struct zs_trace_event *ev)
{
	unsigned char page[ZS_PAGE_SIZE], want[ZS_PAGE_SIZE];
	struct slot *s = slot_get(r, ev->key);
	bool keep = ev->flags & ZS_TR_KEEP;
	bool hit = ev->op == ZS_TR_LOAD_HIT || ev->op == ZS_TR_LOAD_SWAP;
	int ret = keep ? zs_engine_load_keep(r->e, ev->key, page) :
			 zs_engine_load(r->e, ev->key, page);

	if (ret == 0) {
		slot_page(r, s, want);
		if (memcmp(page, want, ZS_PAGE_SIZE))
			r->c.replay_wrong_pages++;
		if (!hit)
			r->c.replay_extra_loads++;
	} else if (ret == -ENOENT && hit) {
		r->c.replay_lost_loads++;
	} else if (ret != -ENOENT) {
		r->c.replay_load_errors++;
	}
	if (hit && !keep && r->h.exclusive_loads)
		s->rec_held = false;
}

static void forget_all(struct replay *r)
{
	size_t i;

	for (i = 0; i < r->nslots; i++)
		r->slots[i].rec_held = false;
}

static void on_event(struct replay *r, const struct zs_trace_event *ev)
{
	uint64_t pool;

	r->c.replay_events++;
	switch (ev->op) {
	case ZS_TR_SWAP_OUT:
	case ZS_TR_SWAP_OUT_FAIL:
		on_swap_out(r, ev);
		break;
	case ZS_TR_LOAD_HIT:
	case ZS_TR_LOAD_SWAP:
	case ZS_TR_LOAD_MISS:
	case ZS_TR_LOAD_ERR:
		on_load(r, ev);
		break;
	case ZS_TR_INVALIDATE:
		zs_engine_invalidate(r->e, ev->key);
		slot_get(r, ev->key)->rec_held = false;
		break;
	case ZS_TR_INVALIDATE_ALL:
		zs_engine_invalidate_all(r->e);
		forget_all(r);
		break;
	case ZS_TR_WRITEBACK:
		r->c.replay_recorded_writebacks++;
		break;
	case ZS_TR_SHRINK:
		pool = zs_engine_pool_bytes(r->e) >> ZS_PAGE_SHIFT;
		zs_engine_shrink(r->e, (pool > ev->pages ? pool - ev->pages : 0) << ZS_PAGE_SHIFT);
		r->c.replay_shrinks++;
		break;
	default:
		on_store(r, ev);
	}
}

/* ---- settings ---- */

static void replay_usage(FILE *f)
{
	fprintf(f, "Usage: zswapsim replay FILE [--OPTION VALUE]...\n"
		"Simulate again the run recorded in FILE (ZSWAPSIM_TRACE=FILE, or demo --trace\n"
		"FILE) under other settings, and print the statistics it would have had.\n"
		"Settings default to the recorded run's; OPTION is any setting of 'zswapsim\n"
		"options', e.g. --zpool zsmalloc or --max-pool-percent 10 (--compressor only\n"
		"as recorded: the trace holds the sizes that compressor produced).\n");
}

static int header_error(const struct replay *r, unsigned int at, const char *err)
{
	fprintf(stderr, "zswapsim: replay: %s: offset %u: the header's %s\n", r->file, at, err);
	return ZS_EXIT_USAGE;
}

/* The recorded run's engine settings over the defaults, each through the
 * option table as if given by hand: 0, or the exit status for a value the
 * table refuses (a corrupt header). */
static int settings_from_header(struct replay *r)
{
	const struct zs_trace_header *h = &r->h;
	struct zs_options *o = &r->opt;
	const struct { const char *name; unsigned int at; uint64_t v; } num[] = {
		{ "mem_limit", 80, h->mem_limit }, { "max_pool_percent", 88, h->max_pool_percent },
		{ "max_pool_size", 96, h->max_pool_size },
		{ "accept_threshold_percent", 104, h->accept_threshold_percent },
		{ "swap_size", 112, h->swap_size },
	};
	char text[24], err[256];
	size_t i;

	zs_options_defaults(o);
	snprintf(o->compressor, sizeof(o->compressor), "%s", h->compressor);
	if (zs_option_parse(o, zs_option_find("zpool"), "zpool", h->zpool, err, sizeof(err)))
		return header_error(r, 48, err);
	for (i = 0; i < ZS_ARRAY_SIZE(num); i++) {
		snprintf(text, sizeof(text), "%llu", (unsigned long long)num[i].v);
		if (zs_option_parse(o, zs_option_find(num[i].name), num[i].name, text, err,
				    sizeof(err)))
			return header_error(r, num[i].at, err);
	}
	o->same_filled_pages_enabled = h->same_filled_pages_enabled;
	o->exclusive_loads = h->exclusive_loads;
	o->store_incompressible = h->store_incompressible;
	o->shadow_zpools = false; /* its figures are not printed here */
	return 0;
}

/* The option of "--name" or "--name=value", or NULL. */
static const struct zs_option *flag_option(const char *arg)
{
	char name[ZS_NAME_MAX + 8];
	size_t n = strcspn(arg + 2, "=");

	if (n >= sizeof(name))
		return NULL;
	memcpy(name, arg + 2, n);
	name[n] = '\0';
	return zs_option_find(name);
}

/* Flags over the recorded settings: 0, or the exit status. */
static int apply_flags(struct replay *r, int argc, char **argv)
{
	char err[512], *name, *value;
	const struct zs_option *opt;
	int i;

	for (i = 1; i < argc; i++) {
		name = argv[i];
		if (name == r->file)
			continue;
		opt = flag_option(name);
		value = strchr(name, '=');
		if (value)
			*value++ = '\0';
		else
			value = argv[++i];
		if (zs_option_parse(&r->opt, opt, name, value, err, sizeof(err))) {
			fprintf(stderr, "zswapsim: replay: %s\n", err);
			return ZS_EXIT_USAGE;
		}
	}
	if (strcmp(r->opt.compressor, r->h.compressor)) {
		fprintf(stderr, "zswapsim: replay: --compressor %s: the trace holds the sizes %s "
			"produced and no others; expected --compressor %s\n", r->opt.compressor,
			r->h.compressor, r->h.compressor);
		return ZS_EXIT_USAGE;
	}
	return 0;
}

/* Check the command line before the file is read: FILE once, flags known
 * and with a value.  0, or the exit status. */
static int check_args(struct replay *r, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			replay_usage(stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2)) {
			if (r->file) {
				fprintf(stderr, "zswapsim: replay: one FILE expected, got '%s' and "
					"'%s'\n", r->file, a);
				return ZS_EXIT_USAGE;
			}
			r->file = argv[i];
			continue;
		}
		if (!flag_option(a)) {
			fprintf(stderr, "zswapsim: replay: unknown option '%s'; see zswapsim options\n",
				a);
			return ZS_EXIT_USAGE;
		}
		if (!strchr(a, '=') && ++i >= argc) {
			fprintf(stderr, "zswapsim: replay: %s needs a value\n", a);
			return ZS_EXIT_USAGE;
		}
	}
	if (!r->file) {
		replay_usage(stderr);
		return ZS_EXIT_USAGE;
	}
	return 0;
}

/* ---- the run ---- */

static void print_results(struct replay *r)
{
	static const char *const names[] = {
#define REPLAY_NAME(name, doc) #name,
		REPLAY_COUNTS(REPLAY_NAME)
#undef REPLAY_NAME
	};
	const struct zs_options *o = zs_engine_options(r->e);
	struct zs_stats st;
	char buf[8192];
	size_t i;

	printf("settings:\ncompressor %s\nzpool %s\nmem_limit %llu\nmax_pool_percent %llu\n"
	       "max_pool_size %llu\naccept_threshold_percent %llu\nsame_filled_pages_enabled %s\n"
	       "exclusive_loads %s\nstore_incompressible %s\nswap_size %llu\n", o->compressor,
	       o->zpool, (unsigned long long)o->mem_limit, (unsigned long long)o->max_pool_percent,
	       (unsigned long long)o->max_pool_size,
	       (unsigned long long)o->accept_threshold_percent,
	       o->same_filled_pages_enabled ? "Y" : "N", o->exclusive_loads ? "Y" : "N",
	       o->store_incompressible ? "Y" : "N", (unsigned long long)r->opt.swap_size);
	zs_engine_stats(r->e, &st);
	zs_stats_format(&st, buf, sizeof(buf));
	printf("\nstatistics:\n%s\nreplay:\n", buf);
	for (i = 0; i < ZS_ARRAY_SIZE(names); i++)
		printf("%s %llu\n", names[i], (unsigned long long)((const uint64_t *)&r->c)[i]);
}

/* Every record through the engine: 0, or the exit status. */
static int run_events(struct replay *r, struct zs_trace_reader *rd)
{
	struct zs_trace_event ev;
	uint64_t where;
	char err[256];
	int ret;

	while ((ret = zs_trace_next(rd, &ev, &where, err, sizeof(err))) > 0)
		on_event(r, &ev);
	if (ret < 0) {
		fprintf(stderr, "zswapsim: replay: %s: offset %llu: %s\n", r->file,
			(unsigned long long)where, err);
		return ZS_EXIT_USAGE;
	}
	return 0;
}

/* Open FILE and read its header: 0, or the exit status. */
static int open_trace(struct replay *r, struct zs_trace_reader *rd, int *fd)
{
	uint64_t where;
	char err[256];

	*fd = open(r->file, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "zswapsim: replay: %s: %s\n", r->file, strerror(errno));
		return ZS_EXIT_USAGE;
	}
	if (zs_trace_read_header(rd, *fd, &r->h, &where, err, sizeof(err))) {
		fprintf(stderr, "zswapsim: replay: %s: offset %llu: %s\n", r->file,
			(unsigned long long)where, err);
		return ZS_EXIT_USAGE;
	}
	return 0;
}

static int start_engine(struct replay *r)
{
	char err[512];
	int ret;

	r->real = zs_compressor_find(r->h.compressor);
	if (r->real && !(r->real_state = aligned_alloc(16, (r->real->state_size + 15) & ~15UL))) {
		fprintf(stderr, "zswapsim: replay: out of memory\n");
		return 1;
	}
	replay_compressor.name = r->h.compressor;
	ret = zs_engine_create_with(&r->opt, &replay_compressor, &r->e, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "zswapsim: replay: %s\n", err);
		return ret == -EINVAL ? ZS_EXIT_USAGE : 1;
	}
	return 0;
}

int cmd_replay(int argc, char **argv)
{
	static struct zs_trace_reader rd;
	struct replay r = { 0 };
	char msg[512];
	int fd = -1, ret;

	ret = check_args(&r, argc, argv);
	if (!ret)
		ret = open_trace(&r, &rd, &fd);
	if (!ret)
		ret = settings_from_header(&r);
	if (!ret)
		ret = apply_flags(&r, argc, argv);
	if (!ret)
		ret = start_engine(&r);
	if (!ret)
		ret = run_events(&r, &rd);
	if (!ret) {
		print_results(&r);
		if (zs_engine_validate(r.e, msg, sizeof(msg))) {
			fprintf(stderr, "zswapsim: replay: the engine is inconsistent: %s\n", msg);
			ret = 1;
		}
		if (r.c.replay_wrong_pages) {
			fprintf(stderr, "zswapsim: replay: %llu loads returned other bytes than were "
				"stored\n", (unsigned long long)r.c.replay_wrong_pages);
			ret = 1;
		}
	}
	zs_engine_destroy(r.e);
	if (fd >= 0)
		close(fd);
	free(r.slots);
	free(r.real_state);
	return ret;
}
