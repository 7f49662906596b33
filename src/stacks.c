/*
 * stacks.c - the attribution tables (see stacks.h): call stacks of thaws,
 * allocation sites of frozen memory, and their names.
 *
 * Both tables are open-addressed hash tables probed linearly for at most
 * ZS_PROBES slots.  A slot is claimed once, by a compare-and-swap of its
 * key from 0, and never freed: the key is the stack's hash (forced odd, so
 * never 0) or the site's return address.  A stack's frames are written by
 * its claimer and published with `ready` (release); a thread that finds a
 * matching key not ready yet goes on probing, so a stack first seen by two
 * threads at once may hold two slots (both counted, each right).  Counts
 * are relaxed atomics.
 *
 *   struct zs_stacks (one mapping, ~150 KiB)
 *   +-------------------------+------------------------+---------------+
 *   | stack[512]: key ready   | site[2048]: ra thaws   | names: "fn+0x |
 *   |   depth count ip[8]     |   name                 | 1a@obj\0..."  |
 *   |   name[8]               | (ids 0, 2047 reserved) | written once  |
 *   +-------------------------+------------------------+---------------+
 *
 * Names are appended to `names` by the one resolver and published by a
 * release store of their offset + 1; a reader that sees 0 prints the raw
 * address.  A name already made for the same address is shared.
 *
 * The site map holds a 16-bit site id per page of the region; a page
 * carries the id of the last allocation that handed out part of it.
 */
#include "config.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>
#include <ucontext.h>

#include "stacks.h"
#include "stats.h"

#define SITE_MASK (ZS_SITE_SLOTS - 1)
#define STACK_MASK (ZS_STACK_SLOTS - 1)
/* frames a capture may find above the interrupted one: its own, the
 * handler's (the shim's and any program handler it chains from), the
 * signal trampoline */
#define ZS_STACK_SKIP 24

void zs_stacks_init(struct zs_stacks *t)
{
	memset(t, 0, sizeof(*t));
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 31);
}

static uint64_t stack_hash(const uintptr_t *ip, unsigned int depth)
{
	uint64_t h = depth;
	unsigned int i;

	for (i = 0; i < depth; i++)
		h = mix(h, ip[i]);
	return h | 1;
}

static bool same_stack(const struct zs_stack *s, const uintptr_t *ip, unsigned int depth)
{
	return s->depth == depth && !memcmp(s->ip, ip, depth * sizeof(*ip));
}

int zs_stacks_add(struct zs_stacks *t, const uintptr_t *ip, unsigned int depth)
{
	uint64_t h, key;
	unsigned int i, slot;

	if (depth > ZS_STACK_DEPTH)
		depth = ZS_STACK_DEPTH;
	h = stack_hash(ip, depth);
	for (i = 0; i < ZS_PROBES; i++) {
		struct zs_stack *s = &t->stack[slot = (unsigned int)(h + i) & STACK_MASK];

		key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		if (!key && __atomic_compare_exchange_n(&s->key, &key, h, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
			memcpy(s->ip, ip, depth * sizeof(*ip));
			s->depth = depth;
			__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
			zs_count_add(&t->claims, 1);
			zs_count_add(&s->count, 1);
			return (int)slot;
		}
		if (key == h && __atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) &&
		    same_stack(s, ip, depth)) {
			zs_count_add(&s->count, 1);
			return (int)slot;
		}
	}
	zs_count_add(&t->stacks_other, 1);
	return -ENOSPC;
}

unsigned int zs_sites_id(struct zs_stacks *t, uintptr_t ra)
{
	uint64_t h = mix(0, ra);
	unsigned int i, id;

	for (i = 0; i < ZS_PROBES; i++) {
		uintptr_t key;

		id = (unsigned int)(h + i) & SITE_MASK;
		if (id == ZS_SITE_UNKNOWN || id == ZS_SITE_OTHER)
			continue;
		key = __atomic_load_n(&t->site[id].ra, __ATOMIC_RELAXED);
		if (key == ra)
			return id;
		if (!key && __atomic_compare_exchange_n(&t->site[id].ra, &key, ra, false,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			zs_count_add(&t->claims, 1);
			return id;
		}
		if (key == ra) /* claimed for ra meanwhile */
			return id;
	}
	return ZS_SITE_OTHER;
}

void zs_sites_thaw(struct zs_stacks *t, unsigned int id)
{
	zs_count_add(&t->site[id & SITE_MASK].thaws, 1);
}

void zs_sites_mark(const struct zs_region *r, uint16_t *map, uintptr_t addr, size_t len,
		   unsigned int id)
{
	size_t i, first, last;

	if (!len || !zs_region_contains(r, addr) || !zs_region_contains(r, addr + len - 1))
		return;
	first = (addr - r->base) >> ZS_PAGE_SHIFT;
	last = (addr + len - 1 - r->base) >> ZS_PAGE_SHIFT;
	/* Stores only: the map is a cache miss under the program's traffic,
	 * and a store miss does not hold the program up as a load would. */
	for (i = first; i <= last; i++)
		__atomic_store_n(&map[i], (uint16_t)id, __ATOMIC_RELAXED);
}

void zs_sites_count_frozen(const struct zs_region *r, const uint16_t *map, uintptr_t end,
			   uint32_t *out)
{
	size_t i, n;

	memset(out, 0, ZS_SITE_SLOTS * sizeof(*out));
	if (end <= r->base)
		return;
	if (end > r->end)
		end = r->end;
	n = (end - r->base) >> ZS_PAGE_SHIFT;
	for (i = 0; i < n; i++) {
		uint8_t v = __atomic_load_n(&r->state[i], __ATOMIC_RELAXED);

		if ((v & ZS_PS_MAPPED) && (v & ZS_PS_STATE_MASK) == ZS_PS_FROZEN)
			out[__atomic_load_n(&map[i], __ATOMIC_RELAXED) & SITE_MASK]++;
	}
}

/* ---- names: one resolver, readers any time ---- */

/* A name made for `ip` already (offset + 1), or 0. */
static uint32_t known_name(const struct zs_stacks *t, uintptr_t ip)
{
	unsigned int i, j;

	for (i = 0; i < ZS_STACK_SLOTS; i++) {
		const struct zs_stack *s = &t->stack[i];

		if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
			continue;
		for (j = 0; j < s->depth; j++)
			if (s->ip[j] == ip && s->name[j])
				return s->name[j];
	}
	return 0;
}

/* Make a name for `ip` (a return address unless `exact`): offset + 1 in
 * names, or 0 when there is no room or no name. */
static uint32_t make_name(struct zs_stacks *t, uintptr_t ip, bool exact, zs_symbolise_fn sym)
{
	uint32_t at = t->names_used, found = known_name(t, ip);
	size_t room = ZS_NAMES_BYTES - at;

	if (found)
		return found;
	if (room < ZS_SYM_MAX || sym(exact ? ip : ip - 1, t->names + at, ZS_SYM_MAX) != 0)
		return 0;
	t->names[at + ZS_SYM_MAX - 1] = '\0';
	t->names_used = at + (uint32_t)strlen(t->names + at) + 1;
	return at + 1;
}

size_t zs_stacks_resolve(struct zs_stacks *t, zs_symbolise_fn sym)
{
	uint64_t claims = __atomic_load_n(&t->claims, __ATOMIC_ACQUIRE);
	size_t added = 0;
	unsigned int i, j;
	uint32_t name;

	if (claims == t->claims_named)
		return 0;
	t->claims_named = claims;
	for (i = 0; i < ZS_STACK_SLOTS; i++) {
		struct zs_stack *s = &t->stack[i];

		if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
			continue;
		for (j = 0; j < s->depth; j++) {
			if (s->name[j] || !(name = make_name(t, s->ip[j], j == 0, sym)))
				continue;
			__atomic_store_n(&s->name[j], name, __ATOMIC_RELEASE);
			added++;
		}
	}
	for (i = 0; i < ZS_SITE_SLOTS; i++) {
		uintptr_t ra = __atomic_load_n(&t->site[i].ra, __ATOMIC_RELAXED);

		if (!ra || t->site[i].name || !(name = make_name(t, ra, false, sym)))
			continue;
		__atomic_store_n(&t->site[i].name, name, __ATOMIC_RELEASE);
		added++;
	}
	return added;
}

/* ---- reports: async-signal-safe ---- */

size_t zs_stacks_top(const struct zs_stacks *t, unsigned int *out, size_t n)
{
	size_t found = 0, k;
	unsigned int i;

	for (i = 0; n && i < ZS_STACK_SLOTS; i++) {
		uint64_t c = zs_count_read(&t->stack[i].count);

		if (!c || !__atomic_load_n(&t->stack[i].ready, __ATOMIC_ACQUIRE))
			continue;
		/* insertion into the sorted top n */
		if (found < n)
			k = found++;
		else if (zs_count_read(&t->stack[out[n - 1]].count) >= c)
			continue;
		else
			k = n - 1;
		for (; k > 0 && zs_count_read(&t->stack[out[k - 1]].count) < c; k--)
			out[k] = out[k - 1];
		out[k] = i;
	}
	return found;
}

/* Append s (n bytes) and a NUL to buf at *at if they fit in len; false if
 * not. */
static bool put(char *buf, size_t len, size_t *at, const char *s, size_t n)
{
	if (*at + n >= len)
		return false;
	memcpy(buf + *at, s, n);
	*at += n;
	buf[*at] = '\0';
	return true;
}

static bool put_str(char *buf, size_t len, size_t *at, const char *s)
{
	return put(buf, len, at, s, strlen(s));
}

static bool put_num(char *buf, size_t len, size_t *at, uint64_t v)
{
	char num[24];

	return put(buf, len, at, num, zs_utoa(v, num));
}

static bool put_hex(char *buf, size_t len, size_t *at, uintptr_t v)
{
	char hex[20] = "0x";
	size_t n = 2;
	int shift = 60;

	while (shift > 0 && !((v >> shift) & 15))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		hex[n++] = "0123456789abcdef"[(v >> shift) & 15];
	return put(buf, len, at, hex, n);
}

/* A resolved name, or the raw address. */
static bool put_name(const struct zs_stacks *t, char *buf, size_t len, size_t *at,
		     const uint32_t *name, uintptr_t ip)
{
	uint32_t off = __atomic_load_n(name, __ATOMIC_ACQUIRE);

	return off ? put_str(buf, len, at, t->names + off - 1) : put_hex(buf, len, at, ip);
}

size_t zs_stacks_line(const struct zs_stacks *t, unsigned int i, char *buf, size_t len)
{
	const struct zs_stack *s = &t->stack[i & STACK_MASK];
	size_t at = 0;
	unsigned int j;
	bool ok = put_str(buf, len, &at, "thaw_stack ") && put_num(buf, len, &at, s->count);

	for (j = 0; ok && j < s->depth; j++)
		ok = put(buf, len, &at, j ? ";" : " ", 1) &&
		     put_name(t, buf, len, &at, &s->name[j], s->ip[j]);
	return ok && put(buf, len, &at, "\n", 1) ? at : 0;
}

size_t zs_sites_line(const struct zs_stacks *t, unsigned int id, uint64_t frozen, char *buf,
		     size_t len)
{
	const struct zs_site *s = &t->site[id & SITE_MASK];
	size_t at = 0;
	bool ok = put_str(buf, len, &at, "alloc_site ") && put_num(buf, len, &at, frozen) &&
		  put(buf, len, &at, " ", 1) && put_num(buf, len, &at, zs_count_read(&s->thaws)) &&
		  put(buf, len, &at, " ", 1);

	if (ok && id == ZS_SITE_UNKNOWN)
		ok = put_str(buf, len, &at, "unknown");
	else if (ok && id == ZS_SITE_OTHER)
		ok = put_str(buf, len, &at, "other");
	else if (ok)
		ok = put_name(t, buf, len, &at, &s->name, s->ra);
	return ok && put(buf, len, &at, "\n", 1) ? at : 0;
}

/* ---- capture: libunwind's local unwinding ---- */

static unsigned int unwind(unw_context_t *ctx, int flags, uintptr_t *ip, unsigned int max)
{
	unw_cursor_t c;
	unw_word_t pc;
	unsigned int n = 0;

	if (unw_init_local2(&c, ctx, flags) < 0)
		return 0;
	do {
		if (unw_get_reg(&c, UNW_REG_IP, &pc) < 0 || !pc)
			break;
		ip[n++] = pc;
	} while (n < max && unw_step(&c) > 0);
	return n;
}

int zs_stack_unwind_init(void)
{
	uintptr_t ip[ZS_STACK_DEPTH];
	void *frames[ZS_STACK_DEPTH];
	unw_context_t ctx;

	if (unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD) != 0)
		return -EINVAL;
	if (unw_getcontext(&ctx) != 0 || !unwind(&ctx, 0, ip, ZS_STACK_DEPTH))
		return -EINVAL;
	/* the fast path's key and first cache, made here */
	return unw_backtrace(frames, ZS_STACK_DEPTH) > 0 ? 0 : -EINVAL;
}

/* The fast path: unw_backtrace walks from here, through the signal frame,
 * with its per-thread cache of frame layouts (no system call once the
 * addresses are known), and the stack starts at the interrupted pc. */
static unsigned int backtrace_from(uintptr_t pc, uintptr_t *ip, unsigned int max)
{
	void *frames[ZS_STACK_DEPTH + ZS_STACK_SKIP];
	int n = unw_backtrace(frames, (int)ZS_ARRAY_SIZE(frames)), i;
	unsigned int k = 0;

	for (i = 0; i < n && (uintptr_t)frames[i] != pc; i++)
		;
	for (; i < n && k < max; i++)
		ip[k++] = (uintptr_t)frames[i];
	return k;
}

unsigned int zs_stack_capture(void *ucontext, uintptr_t *ip, unsigned int max)
{
	ucontext_t *uc = ucontext;
	unsigned int n = backtrace_from((uintptr_t)uc->uc_mcontext.gregs[REG_RIP], ip, max);

	/* Not found past the handler's own frames: from the ucontext itself
	 * (on x86-64 libunwind's context is the ucontext), the slow way. */
	return n ? n : unwind(ucontext, UNW_INIT_SIGNAL_FRAME, ip, max);
}
