/*
 * shadow.c - size-only models of the other pools, and the other compressors
 * on the same pages (see shadow.h).
 *
 * Why models and not the allocators themselves: a second and third real
 * pool would cost as much memory as the live one.  A model keeps, per model
 * page, only what placement needs (12 bytes), and never touches data.
 *
 * zbud and z3fold are one "chunk model": pages of ZBUD_NCHUNKS 64-byte data
 * chunks (chunk 0 is the header) with 2 or 3 object slots.
 *
 *   pages[i]:  prev | next | chunks[0..2] | list
 *   head[f]:   pages with a free slot and f free chunks, newest first
 *   full:      pages with no free slot or no free chunk
 *
 * An object of c chunks goes to the head of the first non-empty head[f] with
 * f >= c, into its first free slot (zbud: FIRST, then LAST; z3fold: FIRST,
 * LAST, MIDDLE), or to a new page's first slot; the page is then filed again
 * at the head of its list.  Freeing the last object frees the page.  That is
 * zbud's policy exactly (zbud.c), so the zbud model holds the live zbud's page
 * count whenever no page was reclaimed (and no fork made a child pack its
 * models anew, in its index's order: zs_shadow_reset); for z3fold it
 * assumes the free chunks of a page are one run (z3fold moves its middle
 * object to keep them so).  An object id is page * 4 + slot.
 *
 * zsmalloc is a "class model" of the kernel's zsmalloc (Linux 6.3 and
 * later, 4 KiB pages): an object takes a slot of its size plus the 8-byte
 * handle; slots come in classes ZSM_DELTA bytes apart from ZSM_MIN to a
 * page; each class's zspage is the 1..ZSM_CHAIN pages whose tail waste is
 * least in bytes (a power-of-two class: one page); classes whose zspages
 * come out alike (pages and objects) share one pool, as the kernel merges
 * them into the larger.  The model keeps the objects in use per merged
 * class and counts ceil(in use / objs) zspages: the pool as zsmalloc's
 * compaction leaves it.  An object id is its merged class.  (The live
 * zsmalloc, zsmalloc.c, is this project's own, with zspages of at most 4
 * pages and a header in each: its pool differs from this model's.)
 *
 * Writeback makes the models differ from a live pool of their kind: the live
 * pool picks what to write back by its own LRU, and the models lose the same
 * objects wherever they placed them.  Objects a model cannot hold (above its
 * largest size) count as refused; pages stored raw count a page each in
 * every model.
 *
 * Locking: the engine's lock serialises add/remove/raw; the statistics are
 * relaxed atomics so format can read them from a signal handler.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "histo.h"
#include "shadow.h"
#include "stats.h"
#include "z3fold.h"
#include "zbud.h"

#define NIL UINT32_MAX
#define FULL 255
#define MAX_SLOTS 3
#define ZSM_MIN 32
#define ZSM_DELTA 16
#define ZSM_HANDLE 8
#define ZSM_CHAIN 8   /* CONFIG_ZSMALLOC_CHAIN_SIZE's default */
#define ZSM_CLASSES ((ZS_PAGE_SIZE - ZSM_MIN) / ZSM_DELTA + 1)
#define MAX_COMPRESSORS 16

_Static_assert(ZBUD_NCHUNKS < FULL, "a free-chunk count never looks like FULL");
_Static_assert(ZSM_CLASSES == 255, "classes 32, 48, ... 4096");
_Static_assert(Z3FOLD_NCHUNKS == ZBUD_NCHUNKS, "one chunk geometry for both chunk models");

struct mpage {
	uint32_t prev, next;
	uint8_t chunks[MAX_SLOTS];
	uint8_t list;              /* free chunks, or FULL */
};

struct chunk_model {
	unsigned int slots;
	size_t max_size;
	uint32_t head[ZBUD_NCHUNKS], full;
	struct mpage *pages;
	uint32_t cap, used, free_list;
};

struct class_model {
	uint16_t pages[ZSM_CLASSES], objs[ZSM_CLASSES];
	uint8_t merged[ZSM_CLASSES];        /* the class whose pool a class uses */
	uint64_t in_use[ZSM_CLASSES];
};

struct pool_stats {
	uint64_t pages, stored, refused;    /* model pages; objects held, refused */
	uint64_t peak;                      /* the most pages, raw ones included */
};

struct comp_stats {
	uint64_t pages, bytes, ns;
};

struct zs_shadow {
	bool pools;
	struct chunk_model chunk[2];        /* zbud, z3fold */
	struct class_model zsm;
	struct pool_stats ps[ZS_SHADOW_POOLS];
	uint64_t raw;                       /* raw pages: a page each in every model */
	uint64_t live_peak;                 /* the live pool's most pages */
	unsigned int ncomp, slots, live;    /* live: the engine's compressor */
	int live_pool;                      /* the model of the live pool, or -1 */
	const struct zs_compressor *comp[MAX_COMPRESSORS];
	struct comp_stats cs[MAX_COMPRESSORS];
	void **state;                       /* [slot * ncomp + c] */
	unsigned char *dst;                 /* [slot][ZS_COMPRESS_BOUND] */
	size_t state_bytes;
};

static const char *const pool_names[ZS_SHADOW_POOLS] = { "zbud", "z3fold", "zsmalloc" };

const char *zs_shadow_pool_name(unsigned int model)
{
	return model < ZS_SHADOW_POOLS ? pool_names[model] : "?";
}

/* ---- the chunk model (zbud, z3fold) ---- */

static void chunk_init(struct chunk_model *m, unsigned int slots, size_t max_size)
{
	unsigned int i;

	m->slots = slots;
	m->max_size = max_size;
	for (i = 0; i < ZBUD_NCHUNKS; i++)
		m->head[i] = NIL;
	m->full = NIL;
	m->free_list = NIL;
}

static uint32_t *list_of(struct chunk_model *m, uint8_t list)
{
	return list == FULL ? &m->full : &m->head[list];
}

static void unlink_page(struct chunk_model *m, uint32_t i)
{
	struct mpage *p = &m->pages[i];

	if (p->prev != NIL)
		m->pages[p->prev].next = p->next;
	else
		*list_of(m, p->list) = p->next;
	if (p->next != NIL)
		m->pages[p->next].prev = p->prev;
}

static unsigned int page_free_chunks(const struct chunk_model *m, const struct mpage *p)
{
	unsigned int s, used = 0;

	for (s = 0; s < m->slots; s++)
		used += p->chunks[s];
	return ZBUD_NCHUNKS - used;
}

static int free_slot(const struct chunk_model *m, const struct mpage *p)
{
	static const uint8_t order[MAX_SLOTS] = { 0, 2, 1 }; /* first, last, middle */
	unsigned int k;

	for (k = 0; k < MAX_SLOTS; k++)
		if (order[k] < m->slots && p->chunks[order[k]] == 0)
			return order[k];
	return -1;
}

/* File a page with at least one object at the head of its list. */
static void file_page(struct chunk_model *m, uint32_t i)
{
	struct mpage *p = &m->pages[i];
	unsigned int f = page_free_chunks(m, p);
	uint32_t *head;

	p->list = (f && free_slot(m, p) >= 0) ? (uint8_t)f : FULL;
	head = list_of(m, p->list);
	p->prev = NIL;
	p->next = *head;
	if (*head != NIL)
		m->pages[*head].prev = i;
	*head = i;
}

/* A page for a new object: from the free list or the end of the array,
 * which doubles (mremap) when full.  NIL when no memory. */
static uint32_t new_page(struct chunk_model *m)
{
	uint32_t i = m->free_list;

	if (i != NIL) {
		m->free_list = m->pages[i].next;
	} else {
		if (m->used == m->cap) {
			size_t old = m->cap * sizeof(*m->pages), bytes = old ? 2 * old : ZS_PAGE_SIZE * 4;
			void *p = old ? mremap(m->pages, old, bytes, MREMAP_MAYMOVE) : zs_map_anon(bytes);

			if (!p || p == MAP_FAILED || bytes / sizeof(*m->pages) >= NIL)
				return NIL;
			m->pages = p;
			m->cap = (uint32_t)(bytes / sizeof(*m->pages));
		}
		i = m->used++;
	}
	memset(&m->pages[i], 0, sizeof(m->pages[i]));
	return i;
}

/* Place an object of `size` bytes: its id, or NIL (too big, no memory). */
static uint32_t chunk_add(struct chunk_model *m, size_t size, uint64_t *pages)
{
	unsigned int c = (unsigned int)((size + ZBUD_CHUNK_SIZE - 1) >> ZBUD_CHUNK_SHIFT), f;
	uint32_t i = NIL;
	int slot;

	if (size == 0 || size > m->max_size)
		return NIL;
	for (f = c; f < ZBUD_NCHUNKS && i == NIL; f++)
		i = m->head[f];
	if (i != NIL) {
		unlink_page(m, i);
	} else {
		i = new_page(m);
		if (i == NIL)
			return NIL;
		zs_count_add(pages, 1);
	}
	slot = free_slot(m, &m->pages[i]);
	m->pages[i].chunks[slot] = (uint8_t)c;
	file_page(m, i);
	return i * 4 + (uint32_t)slot;
}

static void chunk_remove(struct chunk_model *m, uint32_t id, uint64_t *pages)
{
	uint32_t i = id / 4;
	struct mpage *p = &m->pages[i];

	unlink_page(m, i);
	p->chunks[id % 4] = 0;
	if (page_free_chunks(m, p) == ZBUD_NCHUNKS) {
		p->next = m->free_list;
		m->free_list = i;
		zs_count_sub(pages, 1);
	} else {
		file_page(m, i);
	}
}

/* Walk every list: each page once, on the list its fill says. */
static int chunk_validate(struct chunk_model *m, uint64_t pages, char *buf, size_t len)
{
	uint64_t seen = 0;
	unsigned int l;

	for (l = 0; l <= ZBUD_NCHUNKS; l++) {
		uint8_t want = l == ZBUD_NCHUNKS ? FULL : (uint8_t)l;
		uint32_t i, prev = NIL;

		for (i = *list_of(m, want); i != NIL; prev = i, i = m->pages[i].next, seen++) {
			struct mpage *p = &m->pages[i];
			unsigned int f = page_free_chunks(m, p);

			if (p->list != want || p->prev != prev || f == ZBUD_NCHUNKS ||
			    (want != FULL && (f != want || free_slot(m, p) < 0)) || seen > m->used) {
				snprintf(buf, len, "shadow: model page %u on the wrong list %u", i, want);
				return -EUCLEAN;
			}
		}
	}
	if (seen != pages) {
		snprintf(buf, len, "shadow: %llu model pages on lists, %llu counted",
			 (unsigned long long)seen, (unsigned long long)pages);
		return -EUCLEAN;
	}
	return 0;
}

/* ---- the class model (zsmalloc) ---- */

/* Each class's zspage: the page count, 1..ZSM_CHAIN, that leaves the
 * fewest bytes unused at its end (the smallest count on a tie); then each
 * class, from the largest down, shares the pool of the class above when
 * their zspages are alike. */
static void class_init(struct class_model *m)
{
	unsigned int c, n;

	for (c = ZSM_CLASSES; c-- > 0;) {
		size_t size = ZSM_MIN + c * ZSM_DELTA, best = SIZE_MAX;

		for (n = 1; n <= ((size & (size - 1)) ? ZSM_CHAIN : 1); n++) {
			size_t waste = n * ZS_PAGE_SIZE % size;

			if (waste < best) {
				best = waste;
				m->pages[c] = (uint16_t)n;
				m->objs[c] = (uint16_t)(n * ZS_PAGE_SIZE / size);
			}
		}
		m->merged[c] = (uint8_t)c;
		if (c + 1 < ZSM_CLASSES && m->pages[c] == m->pages[c + 1] &&
		    m->objs[c] == m->objs[c + 1])
			m->merged[c] = m->merged[c + 1];
	}
}

/* The merged class of an object of `size` bytes (its slot adds the handle). */
static unsigned int class_of(const struct class_model *m, size_t size)
{
	size_t slot = size + ZSM_HANDLE;
	unsigned int c = slot <= ZSM_MIN ? 0 : (unsigned int)((slot - ZSM_MIN + ZSM_DELTA - 1) /
								ZSM_DELTA);

	return m->merged[c < ZSM_CLASSES ? c : ZSM_CLASSES - 1];
}

static uint64_t class_pages(const struct class_model *m, unsigned int c)
{
	return (m->in_use[c] + m->objs[c] - 1) / m->objs[c] * m->pages[c];
}

static uint32_t class_add(struct class_model *m, size_t size, uint64_t *pages)
{
	unsigned int c = class_of(m, size);
	uint64_t before;

	if (size == 0 || size > ZS_PAGE_SIZE)
		return NIL;
	before = class_pages(m, c);
	m->in_use[c]++;
	zs_count_add(pages, class_pages(m, c) - before);
	return c;
}

static void class_remove(struct class_model *m, uint32_t c, uint64_t *pages)
{
	uint64_t before = class_pages(m, c);

	m->in_use[c]--;
	zs_count_sub(pages, before - class_pages(m, c));
}

/* ---- the pool shadows ---- */

/* Each model's high-water mark, after it grew. */
static void note_peaks(struct zs_shadow *s)
{
	unsigned int k;

	for (k = 0; k < ZS_SHADOW_POOLS; k++) {
		uint64_t cur = s->ps[k].pages + s->raw;

		if (cur > s->ps[k].peak)
			__atomic_store_n(&s->ps[k].peak, cur, __ATOMIC_RELAXED);
	}
}

void zs_shadow_live(struct zs_shadow *s, uint64_t live_pages)
{
	if (live_pages > s->live_peak)
		__atomic_store_n(&s->live_peak, live_pages, __ATOMIC_RELAXED);
}

void zs_shadow_add(struct zs_shadow *s, size_t size, uint32_t ids[ZS_SHADOW_POOLS])
{
	unsigned int k;

	for (k = 0; k < ZS_SHADOW_POOLS; k++) {
		struct pool_stats *ps = &s->ps[k];

		if (!s->pools) {
			ids[k] = NIL;
			continue;
		}
		ids[k] = k < 2 ? chunk_add(&s->chunk[k], size, &ps->pages)
			       : class_add(&s->zsm, size, &ps->pages);
		zs_count_add(ids[k] == NIL ? &ps->refused : &ps->stored, 1);
	}
	note_peaks(s);
}

void zs_shadow_remove(struct zs_shadow *s, const uint32_t ids[ZS_SHADOW_POOLS])
{
	unsigned int k;

	for (k = 0; s->pools && k < ZS_SHADOW_POOLS; k++) {
		struct pool_stats *ps = &s->ps[k];

		if (ids[k] == NIL) {
			zs_count_sub(&ps->refused, 1);
			continue;
		}
		if (k < 2)
			chunk_remove(&s->chunk[k], ids[k], &ps->pages);
		else
			class_remove(&s->zsm, ids[k], &ps->pages);
		zs_count_sub(&ps->stored, 1);
	}
}

void zs_shadow_reset(struct zs_shadow *s)
{
	unsigned int k;

	for (k = 0; k < 2; k++) {
		struct chunk_model *m = &s->chunk[k];

		chunk_init(m, m->slots, m->max_size);
		m->used = 0;
	}
	memset(s->zsm.in_use, 0, sizeof(s->zsm.in_use));
	for (k = 0; k < ZS_SHADOW_POOLS; k++) {
		s->ps[k].pages = 0;
		s->ps[k].stored = 0;
		s->ps[k].refused = 0;
	}
	s->raw = 0;
}

void zs_shadow_raw(struct zs_shadow *s, int sign)
{
	if (s->pools)
		zs_count_add(&s->raw, (uint64_t)(int64_t)sign);
	if (s->pools && sign > 0)
		note_peaks(s);
}

uint64_t zs_shadow_pool_pages(struct zs_shadow *s, unsigned int model)
{
	return zs_count_read(&s->ps[model].pages) + zs_count_read(&s->raw);
}

int zs_shadow_validate(struct zs_shadow *s, char *buf, size_t len)
{
	uint64_t pages = 0;
	unsigned int k, c;
	int ret = 0;

	if (!s->pools)
		return 0;
	for (k = 0; k < 2 && !ret; k++)
		ret = chunk_validate(&s->chunk[k], s->ps[k].pages, buf, len);
	for (c = 0; c < ZSM_CLASSES; c++)
		pages += class_pages(&s->zsm, c);
	if (!ret && pages != s->ps[2].pages) {
		snprintf(buf, len, "shadow: zsmalloc classes hold %llu pages, %llu counted",
			 (unsigned long long)pages, (unsigned long long)s->ps[2].pages);
		ret = -EUCLEAN;
	}
	return ret;
}

/* ---- the compressor shadows ---- */

/* Count one page's compressed size; a page that does not compress counts
 * whole, as the pool would have refused it. */
static void comp_count(struct comp_stats *cs, int len, uint64_t ns)
{
	zs_count_add(&cs->pages, 1);
	zs_count_add(&cs->bytes, len > 0 && (size_t)len < ZS_PAGE_SIZE ? (uint64_t)len : ZS_PAGE_SIZE);
	zs_count_add(&cs->ns, ns);
}

void zs_shadow_compress(struct zs_shadow *s, unsigned int slot, const void *page, int live_len,
			uint64_t live_ns)
{
	unsigned char *dst;
	unsigned int c;

	if (!s->ncomp || slot >= s->slots)
		return;
	dst = s->dst + (size_t)slot * ZS_COMPRESS_BOUND;
	for (c = 0; c < s->ncomp; c++) {
		uint64_t t0;
		int len;

		if (c == s->live) {
			comp_count(&s->cs[c], live_len, live_ns);
			continue;
		}
		t0 = zs_now_ns();
		len = s->comp[c]->compress(s->state[slot * s->ncomp + c], page, ZS_PAGE_SIZE, dst,
					   ZS_COMPRESS_BOUND);
		comp_count(&s->cs[c], len, zs_now_ns() - t0);
	}
}

/* Every compressor by name, the live one included: the count, or 0. */
static unsigned int comp_list(struct zs_shadow *s, const struct zs_compressor *live)
{
	const char *names = zs_compressor_names(), *p = names;
	unsigned int n = 0;

	s->live = MAX_COMPRESSORS; /* none, until found (replay's is in no table) */

	while (*p && n < MAX_COMPRESSORS) {
		size_t len = strcspn(p, ", ");
		char name[32];

		if (len && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			s->comp[n] = zs_compressor_find(name);
			if (s->comp[n] == live)
				s->live = n;
			if (s->comp[n])
				n++;
		}
		p += len;
		p += strspn(p, ", ");
	}
	return n;
}

static size_t round_page(size_t bytes)
{
	return (bytes + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
}

/* A state per compressor per slot, and a scratch buffer per slot. */
static int comp_create(struct zs_shadow *s, const struct zs_compressor *live, unsigned int slots)
{
	size_t per_slot = 0;
	unsigned int c, k;
	char *at;

	s->ncomp = comp_list(s, live);
	s->slots = slots;
	for (c = 0; c < s->ncomp; c++)
		per_slot += round_page(s->comp[c]->state_size);
	s->state_bytes = round_page(slots * (per_slot + ZS_COMPRESS_BOUND +
					     s->ncomp * sizeof(void *)));
	at = zs_map_anon(s->state_bytes);
	if (!at)
		return -ENOMEM;
	s->state = (void **)at;
	at += round_page(slots * s->ncomp * sizeof(void *));
	s->dst = (unsigned char *)at;
	at += round_page((size_t)slots * ZS_COMPRESS_BOUND);
	for (k = 0; k < slots; k++)
		for (c = 0; c < s->ncomp; c++) {
			s->state[k * s->ncomp + c] = at;
			at += round_page(s->comp[c]->state_size);
		}
	return 0;
}

/* ---- life and report ---- */

int zs_shadow_create(bool pools, const char *live_pool, bool compressors,
		     const struct zs_compressor *live, unsigned int slots, struct zs_shadow **out)
{
	struct zs_shadow *s = zs_map_anon(sizeof(*s));
	unsigned int k;

	if (!s)
		return -ENOMEM;
	s->pools = pools;
	s->live_pool = -1;
	for (k = 0; live_pool && k < ZS_SHADOW_POOLS; k++)
		if (!strcmp(pool_names[k], live_pool))
			s->live_pool = (int)k;
	chunk_init(&s->chunk[0], 2, ZBUD_MAX_SIZE);
	chunk_init(&s->chunk[1], 3, Z3FOLD_MAX_SIZE);
	class_init(&s->zsm);
	if (compressors && comp_create(s, live, slots)) {
		zs_unmap(s, sizeof(*s));
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void zs_shadow_destroy(struct zs_shadow *s)
{
	unsigned int k;

	if (!s)
		return;
	for (k = 0; k < 2; k++)
		if (s->chunk[k].pages)
			zs_unmap(s->chunk[k].pages, s->chunk[k].cap * sizeof(struct mpage));
	if (s->state)
		zs_unmap(s->state, s->state_bytes);
	zs_unmap(s, sizeof(*s));
}

/* Append text, bounded.  Async-signal-safe. */
static void put(char *buf, size_t len, size_t *at, const char *text)
{
	size_t n = strlen(text);

	if (*at + n < len) {
		memcpy(buf + *at, text, n);
		*at += n;
		buf[*at] = '\0';
	}
}

static void put_num(char *buf, size_t len, size_t *at, const char *label, uint64_t v)
{
	char num[24];

	zs_utoa(v, num);
	put(buf, len, at, label);
	put(buf, len, at, num);
}

/* " ratio N.NN": num / den, two decimals (0.00 when den is 0). */
static void put_ratio(char *buf, size_t len, size_t *at, uint64_t num, uint64_t den)
{
	uint64_t r = den ? num * 100 / den : 0;
	char frac[4] = { '.', (char)('0' + r / 10 % 10), (char)('0' + r % 10), '\0' };

	put_num(buf, len, at, " ratio ", r / 100);
	put(buf, len, at, frac);
}

void zs_shadow_format(struct zs_shadow *s, uint64_t live_pages, uint64_t live_stored, char *buf,
		      size_t len, size_t *at)
{
	uint64_t raw = zs_count_read(&s->raw);
	unsigned int k;

	for (k = 0; s->pools && k < ZS_SHADOW_POOLS; k++) {
		bool live = (int)k == s->live_pool;
		uint64_t pages = live ? live_pages : zs_count_read(&s->ps[k].pages) + raw;
		uint64_t stored = live ? live_stored : zs_count_read(&s->ps[k].stored) + raw;

		put(buf, len, at, "shadow_zpool ");
		put(buf, len, at, pool_names[k]);
		put_num(buf, len, at, " pool_total_size ", pages * ZS_PAGE_SIZE);
		put_num(buf, len, at, " stored_pages ", stored);
		put_num(buf, len, at, " refused_pages ", live ? 0 : zs_count_read(&s->ps[k].refused));
		put_ratio(buf, len, at, stored, pages);
		put(buf, len, at, live ? " live 1" : " live 0");
		put_num(buf, len, at, " model_pool_total_size ",
			(zs_count_read(&s->ps[k].pages) + raw) * ZS_PAGE_SIZE);
		put_num(buf, len, at, " peak_pool_total_size ",
			(live ? zs_count_read(&s->live_peak) : zs_count_read(&s->ps[k].peak)) *
				ZS_PAGE_SIZE);
		put(buf, len, at, "\n");
	}
	for (k = 0; k < s->ncomp; k++) {
		uint64_t pages = zs_count_read(&s->cs[k].pages);

		put(buf, len, at, "shadow_compressor ");
		put(buf, len, at, s->comp[k]->name);
		put_num(buf, len, at, " pages ", pages);
		put_num(buf, len, at, " compressed_bytes ", zs_count_read(&s->cs[k].bytes));
		put_ratio(buf, len, at, pages * ZS_PAGE_SIZE, zs_count_read(&s->cs[k].bytes));
		put_num(buf, len, at, " compress_ns ", pages ? zs_count_read(&s->cs[k].ns) / pages : 0);
		put(buf, len, at, k == s->live ? " live 1\n" : " live 0\n");
	}
}
