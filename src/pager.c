/*
 * pager.c - freeze and thaw in place (see pager.h for the page life).
 *
 * State bytes change only by compare-and-swap (or, for a page a thread owns
 * as BUSY, by a release store), so the fault handler needs no lock.  The
 * protection of a page follows its state: PRESENT and GUARDED pages carry
 * the program's protection, every other state PROT_NONE.  Protections change over runs of
 * consecutive pages with one protection, never page by page on the reclaim
 * side, because each mprotect interrupts every other running thread (TLB
 * shootdown).  If an mprotect fails (the VMA limit), the run goes back to
 * where it was and nothing else happens.
 *
 * The reclaim side owns one buffer of ZS_PAGER_RUN pages (run_buf) to read
 * a run through /proc/self/mem; the fault side uses a page on the signal
 * stack.
 */
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pager.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

#define STATE(v) ((v) & ZS_PS_STATE_MASK)
#define PROT(v) ((v) & ZS_PS_PROT_MASK)
#define PAGE(p, i) ((p) + ((uintptr_t)(i) << ZS_PAGE_SHIFT))
#define PSTAT_ADD(p, name, n) zs_count_add(&(p)->stats.name, (uint64_t)(n))

static unsigned char *run_buf;

static uint8_t *state_of(struct zs_pager *p, uintptr_t page)
{
	return zs_region_state(&p->region, page);
}

static uint8_t load_state(const uint8_t *s)
{
	return __atomic_load_n(s, __ATOMIC_ACQUIRE);
}

static void set_state(uint8_t *s, uint8_t v)
{
	__atomic_store_n(s, v, __ATOMIC_RELEASE);
}

static bool swap_state(uint8_t *s, uint8_t *old, uint8_t v)
{
	return __atomic_compare_exchange_n(s, old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* `v` moved to `state`: a page that changes state is no longer fresh. */
static uint8_t with_state(uint8_t v, uint8_t state)
{
	return (uint8_t)((v & ~(ZS_PS_STATE_MASK | ZS_PS_FRESH)) | state);
}

static bool is_fresh(uint8_t v)
{
	return STATE(v) == ZS_PS_SAMPLED && (v & ZS_PS_FRESH);
}

static bool is_guarded(uint8_t v)
{
	return STATE(v) == ZS_PS_FROZEN && (v & ZS_PS_GUARDED);
}

/* Wait until nobody owns the page; its settled state byte. */
static uint8_t settled(const uint8_t *s)
{
	uint8_t v;

	while (STATE(v = load_state(s)) == ZS_PS_BUSY)
		sched_yield();
	return v;
}

int zs_pager_create(struct zs_pager *p, struct zs_engine *engine, uint64_t reserve_bytes,
		    char *err, size_t errlen)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->engine = engine;
	zs_pager_set_guard(p, ZS_GUARD_NEAR_BUDGET);
	p->mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (p->mem_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "/proc/self/mem: %s", strerror(-ret));
		return ret;
	}
	if (!run_buf)
		run_buf = zs_map_anon(ZS_PAGER_RUN * ZS_PAGE_SIZE);
	ret = run_buf ? zs_region_create(reserve_bytes, &p->region) : -ENOMEM;
	if (ret) {
		snprintf(err, errlen, "cannot reserve %llu bytes of address space",
			 (unsigned long long)reserve_bytes);
		close(p->mem_fd);
		return ret;
	}
	return 0;
}

void zs_pager_destroy(struct zs_pager *p)
{
	zs_region_destroy(&p->region);
	if (p->mem_fd >= 0)
		close(p->mem_fd);
	p->mem_fd = -1;
}

void zs_pager_stats(struct zs_pager *p, struct zs_pager_stats *out)
{
	zs_counters_read(out, &p->stats, sizeof(*out));
}

/* ---- runs ---- */

/* A run of consecutive pages the caller owns (BUSY), all with one
 * protection, with the state each had when it was taken. */
struct run {
	uintptr_t start;
	size_t n;
	int prot;
	uint8_t was[ZS_PAGER_RUN];
};

typedef bool (*want_fn)(uint8_t v);
typedef void (*run_fn)(struct zs_pager *p, struct run *r, void *arg);

static bool run_extends(const struct run *r, uintptr_t page, int prot)
{
	return r->n && r->n < ZS_PAGER_RUN && PAGE(r->start, r->n) == page && r->prot == prot;
}

/* ---- areas: the VMA estimate between counts ---- */

/* The protection the kernel has on a page by its state byte; -1 when it
 * cannot be told (not mapped, or moving). */
static int kernel_prot(struct zs_pager *p, uintptr_t page)
{
	uint8_t v;

	if (!zs_region_contains(&p->region, page))
		return -1;
	v = load_state(state_of(p, page));
	if (!(v & ZS_PS_MAPPED) || STATE(v) == ZS_PS_BUSY)
		return -1;
	return STATE(v) == ZS_PS_PRESENT || is_guarded(v) ? PROT(v) : PROT_NONE;
}

/* [start, start + n pages), inside one area, gets (or just got) `prot`;
 * only the neighbours count, so before and after the change agree:
 * it splits its area in three (+2), unless a neighbour has `prot` already
 * (the run joins it: 0) or both have it (the three areas merge: -2). */
static int area_change(struct zs_pager *p, uintptr_t start, size_t n, int prot)
{
	int joins = (kernel_prot(p, start - ZS_PAGE_SIZE) == prot) +
		    (kernel_prot(p, PAGE(start, n)) == prot);

	return 2 - 2 * joins;
}

static void note_areas(struct zs_pager *p, uintptr_t start, size_t n, int prot)
{
	zs_count_add(&p->splits, (uint64_t)(int64_t)area_change(p, start, n, prot));
}

/* Change the protection of `n` pages from `start` and note the areas. */
static bool reprotect(struct zs_pager *p, uintptr_t start, size_t n, int prot)
{
	if (zs_sys_mprotect((void *)start, n << ZS_PAGE_SHIFT, prot) != 0)
		return false;
	note_areas(p, start, n, prot);
	return true;
}

static bool past_budget(struct zs_pager *p, unsigned int eighths);
static bool over_budget(struct zs_pager *p);
static void freeze_direct(struct zs_pager *p, struct run *r);

/* ---- pins ---- */

static bool want_sample(uint8_t v);
static bool want_freeze(uint8_t v);
static bool want_protected(uint8_t v);

static bool is_pinned(struct zs_pager *p, uintptr_t page)
{
	unsigned int i, n = __atomic_load_n(&p->pins_used, __ATOMIC_SEQ_CST);

	for (i = 0; i < n && i < ZS_PAGER_PINS; i++) {
		uintptr_t start = __atomic_load_n(&p->pins[i].start, __ATOMIC_SEQ_CST);
		uintptr_t end = __atomic_load_n(&p->pins[i].end, __ATOMIC_SEQ_CST);

		if (start <= page && page < end)
			return true;
	}
	return false;
}

/* A page the reclaim side has just taken (BUSY): if a pin covers it, give
 * it back as it was and say so.  Taking first and checking after pairs with
 * zs_pager_pin publishing first and checking states after (both seq_cst):
 * one of the two always sees the other. */
static bool unless_pinned(struct zs_pager *p, uintptr_t page, uint8_t was)
{
	if (!is_pinned(p, page))
		return false;
	set_state(state_of(p, page), was);
	return true;
}

static int fault(struct zs_pager *p, uintptr_t page, bool write);

/* Make every managed page of [start, end) present, as a touch would
 * (with signals blocked: a handler must not meet a page this thread owns). */
static void make_present(struct zs_pager *p, uintptr_t start, uintptr_t end)
{
	uintptr_t page;

	zs_signals_block();
	for (page = start; page < end; page += ZS_PAGE_SIZE) {
		uint8_t v;

		while (((v = __atomic_load_n(state_of(p, page), __ATOMIC_SEQ_CST)) & ZS_PS_MAPPED) &&
		       STATE(v) != ZS_PS_PRESENT)
			fault(p, page, false);
	}
	zs_signals_unblock();
}

static bool range_managed(struct zs_pager *p, uintptr_t *start, uintptr_t *end)
{
	struct zs_region *r = &p->region;

	if (*end <= r->base || *start >= r->end)
		return false;
	if (*start < r->base)
		*start = r->base;
	if (*end > r->end)
		*end = r->end;
	*start &= ZS_PAGE_MASK;
	*end = (*end + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
	return true;
}

/* A free slot, claimed; -1 when none. */
static int claim_slot(struct zs_pager *p, uintptr_t start, uintptr_t end)
{
	unsigned int i, n;

	for (i = 0; i < ZS_PAGER_PINS; i++) {
		uintptr_t zero = 0;

		if (__atomic_compare_exchange_n(&p->pins[i].end, &zero, end, false, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED)) {
			__atomic_store_n(&p->pins[i].start, start, __ATOMIC_SEQ_CST);
			n = __atomic_load_n(&p->pins_used, __ATOMIC_SEQ_CST);
			while (n <= i && !__atomic_compare_exchange_n(&p->pins_used, &n, i + 1, false,
								       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				;
			return (int)i;
		}
	}
	return -1;
}

int zs_pager_pin(struct zs_pager *p, uintptr_t addr, size_t len)
{
	uintptr_t start = addr, end = addr + (len ? len : 1);
	int slot, saved = errno;

	if (end < start || !range_managed(p, &start, &end))
		return -1;
	/* Publish first, then make present: a page the clock takes after
	 * this sees the pin; one it took before is seen BUSY or protected
	 * here and faulted back. */
	slot = claim_slot(p, start, end);
	PSTAT_ADD(p, pins, 1);
	if (slot < 0)
		PSTAT_ADD(p, pins_full, 1);
	make_present(p, start, end);
	errno = saved;
	return slot;
}

void zs_pager_unpin(struct zs_pager *p, int slot)
{
	if (slot < 0 || slot >= ZS_PAGER_PINS)
		return;
	__atomic_store_n(&p->pins[slot].start, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&p->pins[slot].end, 0, __ATOMIC_SEQ_CST);
}

/* Take the page (make it BUSY) if `want` says so of its settled state. */
static bool take(uint8_t *s, uint8_t *v, want_fn want)
{
	*v = settled(s);
	while (want(*v)) {
		if (swap_state(s, v, with_state(*v, ZS_PS_BUSY)))
			return true;
		if (STATE(*v) == ZS_PS_BUSY)
			*v = settled(s);
	}
	return false;
}

/* Take the wanted pages of [addr, npages) (only those with only[i] & 1,
 * when `only` is given) and hand them to `done` in runs.  Returns the pages
 * taken. */
static size_t walk_only(struct zs_pager *p, uintptr_t addr, size_t npages, const unsigned char *only,
			want_fn want, run_fn done, void *arg)
{
	struct run r = { .n = 0 };
	size_t i, taken = 0;
	bool reclaim = want == want_sample || want == want_freeze;

	/* Pages owned BUSY here must not be touched by a handler on this
	 * thread: it would wait for them forever. */
	zs_signals_block();
	for (i = 0; i < npages; i++) {
		uintptr_t page = PAGE(addr, i);
		uint8_t v;

		if ((only && !(only[i] & 1)) || !take(state_of(p, page), &v, want) ||
		    (reclaim && unless_pinned(p, page, v))) {
			if (r.n)
				done(p, &r, arg);
			r.n = 0;
			continue;
		}
		if (!run_extends(&r, page, PROT(v))) {
			if (r.n)
				done(p, &r, arg);
			r.start = page;
			r.n = 0;
			r.prot = PROT(v);
		}
		r.was[r.n++] = v;
		taken++;
	}
	if (r.n)
		done(p, &r, arg);
	zs_signals_unblock();
	return taken;
}

static size_t walk(struct zs_pager *p, uintptr_t addr, size_t npages, want_fn want, run_fn done,
		   void *arg)
{
	return walk_only(p, addr, npages, NULL, want, done, arg);
}

/* Give pages [i, j) of the run `state`, keeping the rest of what they had. */
static void settle_part(struct zs_pager *p, struct run *r, size_t i, size_t j, uint8_t state)
{
	for (; i < j; i++)
		set_state(state_of(p, PAGE(r->start, i)), with_state(r->was[i], state));
}

/* The same for every page of the run. */
static void settle_run(struct zs_pager *p, struct run *r, uint8_t state)
{
	settle_part(p, r, 0, r->n, state);
}

static void settle_back(struct zs_pager *p, struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		set_state(state_of(p, PAGE(r->start, i)), r->was[i]);
}

/* ---- sampling and freezing (the reclaim side) ---- */

static bool want_sample(uint8_t v)
{
	return (v & ZS_PS_MAPPED) && STATE(v) == ZS_PS_PRESENT && !(v & ZS_PS_LOCKED) &&
	       (PROT(v) & (PROT_READ | PROT_WRITE));
}

static void sample_run(struct zs_pager *p, struct run *r, void *arg)
{
	int change = area_change(p, r->start, r->n, PROT_NONE);

	bool guards = __atomic_load_n(&p->guard, __ATOMIC_RELAXED) != ZS_GUARD_NEVER;

	/* Near the VMA budget only runs that join protected neighbours are
	 * sampled: the clock goes on, and the areas merge.  With guard
	 * markers, from half the budget on, the others are frozen directly:
	 * the areas stay well under it, so thaws never need whole blocks. */
	if (change > 0 && past_budget(p, guards ? 4 : 8)) {
		if (guards)
			freeze_direct(p, r);
		else
			settle_back(p, r);
		return;
	}
	if (zs_sys_mprotect((void *)r->start, r->n << ZS_PAGE_SHIFT, PROT_NONE) != 0) {
		zs_sys_mprotect((void *)r->start, r->n << ZS_PAGE_SHIFT, r->prot);
		settle_back(p, r);
		return;
	}
	zs_count_add(&p->splits, (uint64_t)(int64_t)change);
	settle_run(p, r, ZS_PS_SAMPLED);
	PSTAT_ADD(p, samples, r->n);
	PSTAT_ADD(p, protected_pages, r->n);
}

size_t zs_pager_sample(struct zs_pager *p, uintptr_t addr, size_t npages,
		       const unsigned char *resident)
{
	return walk_only(p, addr, npages, resident, want_sample, sample_run, NULL);
}

static bool want_sampled(uint8_t v)
{
	return (v & ZS_PS_MAPPED) && STATE(v) == ZS_PS_SAMPLED && !(v & ZS_PS_FRESH);
}

static void unsample_run(struct zs_pager *p, struct run *r, void *arg)
{
	if (!reprotect(p, r->start, r->n, r->prot)) {
		settle_back(p, r);
		return;
	}
	settle_run(p, r, ZS_PS_PRESENT);
	zs_count_sub(&p->stats.protected_pages, r->n);
}

size_t zs_pager_unsample(struct zs_pager *p, uintptr_t addr, size_t npages)
{
	return walk(p, addr, npages, want_sampled, unsample_run, NULL);
}

static bool want_freeze(uint8_t v)
{
	return want_sampled(v) && !(v & ZS_PS_LOCKED);
}

/* Read a run through /proc/self/mem into run_buf: 0 or -errno. */
static int read_run(struct zs_pager *p, const struct run *r)
{
	return zs_pio(p->mem_fd, run_buf, r->n << ZS_PAGE_SHIFT, (long)r->start, 0);
}

/* Whether a freeze now guards its pages. */
static bool guard_now(struct zs_pager *p)
{
	int mode = __atomic_load_n(&p->guard, __ATOMIC_RELAXED);

	return mode == ZS_GUARD_ALWAYS || (mode == ZS_GUARD_NEAR_BUDGET && past_budget(p, 2));
}


/* Drop `n` stored, PROT_NONE pages from `start`; the bits of their new
 * state: guarded (a marker drops them and they get `prot` back, leaving
 * their area whole) or plainly FROZEN (dropped, still PROT_NONE). */
static uint8_t drop_pages(struct zs_pager *p, uintptr_t start, size_t n, int prot, bool guard)
{
	void *addr = (void *)start;
	size_t len = n << ZS_PAGE_SHIFT;

	if (guard && zs_sys_madvise(addr, len, MADV_GUARD_INSTALL) == 0) {
		if (reprotect(p, start, n, prot)) {
			PSTAT_ADD(p, guarded, n);
			return ZS_PS_FROZEN | ZS_PS_GUARDED;
		}
		zs_sys_madvise(addr, len, MADV_GUARD_REMOVE); /* dropped all the same */
		return ZS_PS_FROZEN;
	}
	if (guard) /* an install that failed part way may have left some */
		zs_sys_madvise(addr, len, MADV_GUARD_REMOVE);
	zs_sys_madvise(addr, len, MADV_DONTNEED);
	return ZS_PS_FROZEN;
}

/* The run (PROT_NONE, read into run_buf) was offered to the engine, which
 * took the pages with ok[i]: drop those, and settle each part in turn (so
 * that the areas noted see the parts before it as they now are).  Refused
 * pages keep their contents: SAMPLED, or `direct`, opened again. */
static void drop_stored(struct zs_pager *p, struct run *r, const bool *ok, bool direct)
{
	bool guard = direct || guard_now(p);
	size_t i, j, frozen = 0;

	for (i = 0; i < r->n; i = j) {
		uintptr_t start = PAGE(r->start, i);
		uint8_t state = ZS_PS_SAMPLED;

		for (j = i; j < r->n && ok[j] == ok[i]; j++)
			;
		if (ok[i]) {
			state = drop_pages(p, start, j - i, r->prot, guard);
			frozen += j - i;
		} else if (direct && reprotect(p, start, j - i, r->prot)) {
			state = ZS_PS_PRESENT;
			zs_count_sub(&p->stats.protected_pages, j - i);
		}
		settle_part(p, r, i, j, state);
	}
	PSTAT_ADD(p, freezes, frozen);
	PSTAT_ADD(p, frozen_pages, frozen);
	PSTAT_ADD(p, freeze_refused, r->n - frozen);
	if (direct)
		PSTAT_ADD(p, direct_freezes, frozen);
}

/* Offer a run of PROT_NONE pages to the engine and drop what it took. */
static void store_run(struct zs_pager *p, struct run *r, bool direct)
{
	bool ok[ZS_PAGER_RUN] = { false };
	size_t i;
	int failed = read_run(p, r);

	if (failed && !direct) {
		settle_back(p, r);
		return;
	}
	for (i = 0; i < r->n && !failed; i++) {
		uintptr_t key = PAGE(r->start, i);
		const unsigned char *page = run_buf + (i << ZS_PAGE_SHIFT);
		int ret = zs_engine_store(p->engine, key, page);

		/* What the pool refuses for its compression goes to the swap
		 * file, as the kernel swaps out a page zswap rejected. */
		if (ret == -E2BIG)
			ret = zs_engine_swap_out(p->engine, key, page);
		ok[i] = ret == 0;
	}
	drop_stored(p, r, ok, direct);
}

static void freeze_run(struct zs_pager *p, struct run *r, void *arg)
{
	store_run(p, r, false);
}

/* Near the VMA budget a present run that sampling would split off is
 * frozen at once, without its second chance: shut (so nobody writes it
 * while it is read), stored, guarded and opened again, its area whole. */
static void freeze_direct(struct zs_pager *p, struct run *r)
{
	if (!reprotect(p, r->start, r->n, PROT_NONE)) {
		settle_back(p, r);
		return;
	}
	PSTAT_ADD(p, protected_pages, r->n);
	store_run(p, r, true);
}

static bool want_plain(uint8_t v)
{
	return (v & ZS_PS_MAPPED) && STATE(v) == ZS_PS_FROZEN && !is_guarded(v);
}

/* A run of plainly frozen pages, frozen before guarding began: guard it,
 * and its area merges with its neighbours. */
static void guard_run(struct zs_pager *p, struct run *r, void *arg)
{
	settle_run(p, r, drop_pages(p, r->start, r->n, r->prot, true));
}

bool zs_pager_window_busy(struct zs_pager *p, uintptr_t addr, size_t npages)
{
	bool guard = guard_now(p);
	size_t i;

	for (i = 0; i < npages; i++) {
		uint8_t v = __atomic_load_n(state_of(p, PAGE(addr, i)), __ATOMIC_RELAXED);

		if (want_sample(v) || want_sampled(v) || (guard && want_plain(v)))
			return true;
	}
	return false;
}

size_t zs_pager_freeze(struct zs_pager *p, uintptr_t addr, size_t npages)
{
	struct zs_pager_stats before;

	zs_pager_stats(p, &before);
	walk(p, addr, npages, want_freeze, freeze_run, NULL);
	if (guard_now(p))
		walk(p, addr, npages, want_plain, guard_run, NULL);
	return zs_count_read(&p->stats.freezes) - before.freezes;
}

/* ---- the fault side ---- */

/* Write a page through /proc/self/mem while it is still PROT_NONE.
 * 0 or -errno.  Async-signal-safe. */
static int write_page(struct zs_pager *p, uintptr_t page, const void *buf)
{
	return zs_pio(p->mem_fd, (void *)buf, ZS_PAGE_SIZE, (long)page, 1);
}

/* A guarded page (owned) becomes a plain frozen one, PROT_NONE and empty,
 * so that it can be written before anyone sees it.  -EAGAIN when the
 * kernel refuses to shut it (its own VMA limit): it stays guarded, never
 * opened empty, and the access is tried again. */
static int unguard(struct zs_pager *p, uintptr_t page)
{
	if (!reprotect(p, page, 1, PROT_NONE))
		return -EAGAIN;
	zs_sys_madvise((void *)page, ZS_PAGE_SIZE, MADV_GUARD_REMOVE);
	return 0;
}

/* Bring a frozen page (owned, BUSY, state *was) back with its contents,
 * still PROT_NONE.  0 or -errno; on an error *was is the state the page is
 * in (a guarded page the engine could not read back stays plainly frozen).
 * The stored copy is dropped only once the page holds it again, so a child
 * forked in between still finds it (zs_pager_after_fork_child). */
static int restore(struct zs_pager *p, uintptr_t page, uint8_t *was)
{
	unsigned char buf[ZS_PAGE_SIZE];
	int ret;

	/* Unguard first: a refusal (-EAGAIN) then costs no decompression. */
	if (is_guarded(*was)) {
		if ((ret = unguard(p, page)) != 0)
			return ret;
		*was = (uint8_t)(*was & ~ZS_PS_GUARDED);
	}
	if ((ret = zs_engine_load_keep(p->engine, page, buf)) != 0)
		return ret;
	ret = write_page(p, page, buf);
	if (ret) {
		/* Not atomic for other threads, but the contents survive. */
		zs_sys_mprotect((void *)page, ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
		memcpy((void *)page, buf, ZS_PAGE_SIZE);
	}
	zs_engine_invalidate(p->engine, page);
	zs_count_sub(&p->stats.frozen_pages, 1);
	return 0;
}

/* A page a thread of the parent owned: the state it has in the child. */
static uint8_t settle_orphan(struct zs_pager *p, uintptr_t page)
{
	void *addr = (void *)page;

	/* Whatever its protection and marker were, shut it: sampled (contents
	 * in place), or plainly frozen (dropped) if its copy is stored. */
	zs_sys_mprotect(addr, ZS_PAGE_SIZE, PROT_NONE);
	zs_sys_madvise(addr, ZS_PAGE_SIZE, MADV_GUARD_REMOVE);
	if (!zs_engine_contains(p->engine, page))
		return ZS_PS_SAMPLED;
	zs_sys_madvise(addr, ZS_PAGE_SIZE, MADV_DONTNEED);
	return ZS_PS_FROZEN;
}

/* In the child of a fork: /proc/self/mem is opened again, for this
 * process's memory.  Pages that a thread of the parent was moving
 * (BUSY) have no owner any more.  A page whose copy is still stored is
 * frozen (the copy is what it held: it was inaccessible since it was
 * sampled); one without is sampled, its contents in place.  Pins of the
 * parent's threads are dropped. */
void zs_pager_after_fork_child(struct zs_pager *p)
{
	struct zs_region *reg = &p->region;
	uintptr_t start, end, page;
	int i, fd;

	/* The inherited /proc/self/mem is the parent's memory: a thaw written
	 * through it would land in the parent. */
	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		dup3(fd, p->mem_fd, O_CLOEXEC), close(fd);
	for (i = 0; i < ZS_PAGER_PINS; i++)
		p->pins[i].start = p->pins[i].end = 0;
	p->pins_used = 0;
	for (page = reg->base; zs_region_next_used(reg, page, &start, &end); page = end) {
		for (page = start; page < end; page += ZS_PAGE_SIZE) {
			uint8_t *s = state_of(p, page), v = *s;

			if (STATE(v) == ZS_PS_BUSY)
				*s = with_state(v, settle_orphan(p, page));
		}
		page = end;
	}
}

/* ---- clusters: thawing without splitting areas ---- */

static bool want_fresh(uint8_t v)
{
	return (v & ZS_PS_MAPPED) && is_fresh(v);
}

/* Take a page `want` says so of, unless another thread owns it (no
 * waiting: two threads clustering side by side must not wait on each
 * other). */
static bool try_take(uint8_t *s, uint8_t *v, want_fn want)
{
	*v = load_state(s);
	return want(*v) && swap_state(s, v, with_state(*v, ZS_PS_BUSY));
}

/* Make a run of owned pages (contents in place, or fresh) accessible; if
 * the kernel refuses, they stay protected as they are: sampled with their
 * contents, or fresh. */
static void open_run(struct zs_pager *p, struct run *r)
{
	size_t i, fresh = 0;

	if (!r->n)
		return;
	for (i = 0; i < r->n; i++)
		fresh += is_fresh(r->was[i]);
	if (reprotect(p, r->start, r->n, r->prot)) {
		settle_run(p, r, ZS_PS_PRESENT);
		zs_count_sub(&p->stats.protected_pages, r->n);
		PSTAT_ADD(p, first_touches, fresh);
	} else {
		for (i = 0; i < r->n; i++)
			set_state(state_of(p, PAGE(r->start, i)),
				  is_fresh(r->was[i]) ? r->was[i] : with_state(r->was[i], ZS_PS_SAMPLED));
	}
	r->n = 0;
}

/* An owned page about to be opened: a frozen one gets its contents back
 * (*v becomes sampled: contents in place, still inaccessible).  false when
 * they cannot be read back: the page is frozen again and must stay shut. */
static bool refill(struct zs_pager *p, uintptr_t page, uint8_t *v)
{
	if (STATE(*v) != ZS_PS_FROZEN)
		return true;
	if (restore(p, page, v) != 0) {
		PSTAT_ADD(p, thaw_failures, 1);
		set_state(state_of(p, page), *v);
		return false;
	}
	PSTAT_ADD(p, thaws, 1);
	*v = with_state(*v, ZS_PS_SAMPLED);
	return true;
}

/* Bring back `page` (owned, state `was`) and every page `want` says so of
 * in the aligned block of `cluster` pages around it, so that the protection
 * changes over whole runs: near the VMA limit, thawing one page in a
 * protected run would split its area in three; a first touch opens its
 * neighbours too.  1: retry the access (the page is open, or the kernel
 * refused and it stays protected with its contents); 0: its contents could
 * not be restored. */
static int thaw_cluster(struct zs_pager *p, uintptr_t page, uint8_t was, size_t cluster,
			want_fn want)
{
	uintptr_t start = page & ~((cluster << ZS_PAGE_SHIFT) - 1), q;
	struct run r = { .n = 0 };
	int ret = 1;

	for (q = start; q < start + (cluster << ZS_PAGE_SHIFT); q += ZS_PAGE_SIZE) {
		uint8_t v = was;

		if (!zs_region_contains(&p->region, q) ||
		    (q != page && !try_take(state_of(p, q), &v, want))) {
			open_run(p, &r);
			continue;
		}
		if (!refill(p, q, &v)) {
			ret = q != page;
			open_run(p, &r);
			continue;
		}
		if (!run_extends(&r, q, PROT(v))) {
			open_run(p, &r);
			r.start = q;
			r.prot = PROT(v);
		}
		r.was[r.n++] = v;
	}
	open_run(p, &r);
	return ret;
}

void zs_pager_set_cluster(struct zs_pager *p, size_t pages)
{
	__atomic_store_n(&p->cluster, pages > 1 ? pages : 1, __ATOMIC_RELAXED);
}

/* Does this kernel have guard markers?  Tried on a page of our own. */
static bool guards_work(void)
{
	void *page = zs_map_anon(ZS_PAGE_SIZE);
	bool ok = page && zs_sys_madvise(page, ZS_PAGE_SIZE, MADV_GUARD_INSTALL) == 0;

	if (page)
		zs_unmap(page, ZS_PAGE_SIZE);
	return ok;
}

enum zs_guard zs_pager_set_guard(struct zs_pager *p, enum zs_guard mode)
{
	static int works = -1;

	if (works < 0)
		works = guards_work();
	if (!works)
		mode = ZS_GUARD_NEVER;
	__atomic_store_n(&p->guard, (int)mode, __ATOMIC_RELAXED);
	return mode;
}

void zs_pager_set_admit(struct zs_pager *p, zs_admit_fn admit)
{
	__atomic_store_n(&p->admit, admit, __ATOMIC_RELEASE);
}

void zs_pager_note_vmas(struct zs_pager *p, uint64_t count, uint64_t budget)
{
	__atomic_store_n(&p->splits_at_count, zs_count_read(&p->splits), __ATOMIC_RELAXED);
	__atomic_store_n(&p->vmas_counted, count, __ATOMIC_RELAXED);
	__atomic_store_n(&p->vma_budget, budget, __ATOMIC_RELAXED);
}

uint64_t zs_pager_vma_estimate(struct zs_pager *p)
{
	int64_t since = (int64_t)(zs_count_read(&p->splits) - zs_count_read(&p->splits_at_count));
	int64_t n = (int64_t)zs_count_read(&p->vmas_counted) + since;

	return n > 0 ? (uint64_t)n : 0;
}

/* Past `eighths` of the VMA budget, by the last count plus what may have
 * split since. */
static bool past_budget(struct zs_pager *p, unsigned int eighths)
{
	uint64_t budget = zs_count_read(&p->vma_budget);

	return budget && zs_pager_vma_estimate(p) > budget * eighths / 8;
}

static bool over_budget(struct zs_pager *p)
{
	return past_budget(p, 8);
}

/* Pages a first touch opens: a block, bigger over the VMA budget. */
static size_t fresh_block(struct zs_pager *p)
{
	return over_budget(p) ? 512 : ZS_PAGER_FRESH_BLOCK;
}

/* Pages a thaw of a page in state `v` brings back: its block near the VMA
 * budget (a guarded page does not split its area: just it), else one. */
static size_t thaw_span(struct zs_pager *p, uint8_t v)
{
	size_t cluster = __atomic_load_n(&p->cluster, __ATOMIC_RELAXED);

	if (is_guarded(v))
		return 1;
	return cluster <= 1 && over_budget(p) ? 64 : cluster;
}

/* Protected pages that split their area (not guarded ones): a cluster
 * brings those back with its page. */
static bool want_shut(uint8_t v)
{
	return want_protected(v) && !is_guarded(v);
}

/* The fault side's one page: bring it back (contents, then protection).
 * If the kernel refuses the protection change (the VMA limit), fall back
 * to a whole cluster, which does not split. */
static int thaw(struct zs_pager *p, uintptr_t page, uint8_t was)
{
	size_t cluster = thaw_span(p, was);
	uint64_t start = zs_now_ns();
	int ret;

	if (is_fresh(was))
		return thaw_cluster(p, page, was, fresh_block(p), want_fresh);
	if (cluster > 1) {
		ret = thaw_cluster(p, page, was, cluster, want_shut);
	} else if (STATE(was) == ZS_PS_FROZEN && (ret = restore(p, page, &was)) != 0) {
		set_state(state_of(p, page), was);
		if (ret == -EAGAIN)
			return 1;
		PSTAT_ADD(p, thaw_failures, 1);
		return 0;
	} else if (!reprotect(p, page, 1, PROT(was))) {
		/* The VMA limit, met between two counts.  A whole block does not
		 * split; if even that is refused the page stays sampled, with
		 * its contents, and the access faults again until the clock has
		 * merged areas back (it unsamples over the budget). */
		thaw_cluster(p, page, with_state(was, ZS_PS_SAMPLED), 512, want_shut);
		if (STATE(was) == ZS_PS_FROZEN)
			PSTAT_ADD(p, thaws, 1);
		ret = 1;
	} else {
		set_state(state_of(p, page), with_state(was, ZS_PS_PRESENT));
		zs_count_sub(&p->stats.protected_pages, 1);
		if (STATE(was) == ZS_PS_FROZEN)
			PSTAT_ADD(p, thaws, 1);
		else
			PSTAT_ADD(p, references, 1);
		ret = 1;
	}
	if (STATE(was) == ZS_PS_FROZEN)
		zs_histo_add(&p->thaw_ns, zs_now_ns() - start);
	return ret;
}

static int allows(int prot, bool write)
{
	return write ? !!(prot & PROT_WRITE) : !!(prot & (PROT_READ | PROT_EXEC));
}

/* A page coming into memory (a first touch, a thaw) may have to wait for
 * room under the limit: it asks before it owns anything, so that nobody
 * waits for it meanwhile. */
static void admit(struct zs_pager *p, uint8_t v)
{
	zs_admit_fn fn = __atomic_load_n(&p->admit, __ATOMIC_ACQUIRE);

	if (fn && fn(p, is_fresh(v) ? fresh_block(p) : thaw_span(p, v)))
		PSTAT_ADD(p, throttled, 1);
}

static int fault(struct zs_pager *p, uintptr_t page, bool write)
{
	uint8_t *s = state_of(p, page);
	bool admitted = false;

	for (;;) {
		uint8_t v = settled(s);

		if (!(v & ZS_PS_MAPPED))
			return 0;
		if (STATE(v) == ZS_PS_PRESENT)
			return allows(PROT(v), write); /* restored meanwhile, or the program's own */
		if ((is_fresh(v) || STATE(v) == ZS_PS_FROZEN) && !admitted) {
			admit(p, v);
			admitted = true;
			continue;
		}
		if (swap_state(s, &v, with_state(v, ZS_PS_BUSY)))
			return thaw(p, page, v);
	}
}

int zs_pager_fault(struct zs_pager *p, uintptr_t addr, bool write)
{
	int saved = errno, ret = 0;

	if (zs_region_contains(&p->region, addr)) {
		ret = fault(p, addr & ZS_PAGE_MASK, write);
		if (ret)
			PSTAT_ADD(p, faults, 1);
	}
	errno = saved;
	return ret;
}

/* ---- the program's own mapping calls ---- */

static size_t pages_in(uintptr_t addr, size_t len)
{
	return (len + (addr & ~ZS_PAGE_MASK) + ZS_PAGE_SIZE - 1) >> ZS_PAGE_SHIFT;
}

static size_t map_as(struct zs_pager *p, uintptr_t addr, size_t len, uint8_t v)
{
	size_t i, n = pages_in(addr, len);

	addr &= ZS_PAGE_MASK;
	for (i = 0; i < n; i++)
		set_state(state_of(p, PAGE(addr, i)), v);
	return n;
}

void zs_pager_map(struct zs_pager *p, uintptr_t addr, size_t len, int prot)
{
	map_as(p, addr, len, (uint8_t)(ZS_PS_MAPPED | ZS_PS_PRESENT | (prot & ZS_PS_PROT_MASK)));
}

/* The kernel merges two neighbouring areas only if they share their
 * anon_vma, which an area gets at its first page fault.  Fresh blocks open
 * in any order, each a piece of its own by then: give the area one now (a
 * write through /proc/self/mem makes a page, MADV_DONTNEED drops it) so
 * that the pieces share it and merge back as they open. */
static void prime_anon_vma(struct zs_pager *p, uintptr_t addr)
{
	char zero = 0;

	if (zs_pio(p->mem_fd, &zero, 1, (long)addr, 1) == 0)
		zs_sys_madvise((void *)addr, ZS_PAGE_SIZE, MADV_DONTNEED);
}

void zs_pager_map_fresh(struct zs_pager *p, uintptr_t addr, size_t len, int prot)
{
	uint8_t v = (uint8_t)(ZS_PS_MAPPED | ZS_PS_SAMPLED | ZS_PS_FRESH | (prot & ZS_PS_PROT_MASK));

	prime_anon_vma(p, addr & ZS_PAGE_MASK);
	PSTAT_ADD(p, protected_pages, map_as(p, addr, len, v));
}

static bool want_protected(uint8_t v)
{
	return (v & ZS_PS_MAPPED) && (STATE(v) == ZS_PS_SAMPLED || STATE(v) == ZS_PS_FROZEN);
}

/* Drop the frozen contents of a run of protected pages. */
static void forget_run(struct zs_pager *p, struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (STATE(r->was[i]) == ZS_PS_FROZEN) {
			zs_engine_invalidate(p->engine, PAGE(r->start, i));
			zs_count_sub(&p->stats.frozen_pages, 1);
		}
	}
	zs_count_sub(&p->stats.protected_pages, r->n);
}

static void unmap_run(struct zs_pager *p, struct run *r, void *arg)
{
	forget_run(p, r);
	settle_run(p, r, ZS_PS_PRESENT); /* cleared below */
}

void zs_pager_unmap(struct zs_pager *p, uintptr_t addr, size_t len)
{
	size_t i, n = pages_in(addr, len);

	addr &= ZS_PAGE_MASK;
	walk(p, addr, n, want_protected, unmap_run, NULL);
	for (i = 0; i < n; i++)
		set_state(state_of(p, PAGE(addr, i)), 0);
}

static void discard_run(struct zs_pager *p, struct run *r, void *arg)
{
	size_t i;

	size_t guarded = 0;

	for (i = 0; i < r->n; i++)
		guarded += is_guarded(r->was[i]);
	if (guarded) /* markers outlive MADV_DONTNEED */
		zs_sys_madvise((void *)r->start, r->n << ZS_PAGE_SHIFT, MADV_GUARD_REMOVE);
	forget_run(p, r);
	if (guarded < r->n) /* guarded pages have the protection already */
		note_areas(p, r->start, r->n, r->prot);
	zs_sys_mprotect((void *)r->start, r->n << ZS_PAGE_SHIFT, r->prot);
	settle_run(p, r, ZS_PS_PRESENT);
}

/* Fresh pages already read as zeros: they stay protected until touched. */
static bool want_discard(uint8_t v)
{
	return want_protected(v) && !is_fresh(v);
}

void zs_pager_discard(struct zs_pager *p, uintptr_t addr, size_t len)
{
	walk(p, addr & ZS_PAGE_MASK, pages_in(addr, len), want_discard, discard_run, NULL);
}

/* Replace the bits `clear` by `set` in every mapped page's state byte. */
static void update_bits(struct zs_pager *p, uintptr_t addr, size_t n, uint8_t clear, uint8_t set)
{
	size_t i;

	for (i = 0; i < n; i++) { /* one CAS at a time: nothing stays BUSY */
		uint8_t *s = state_of(p, PAGE(addr, i)), v = settled(s);

		while ((v & ZS_PS_MAPPED) &&
		       !swap_state(s, &v, (uint8_t)((v & ~clear) | set)))
			if (STATE(v) == ZS_PS_BUSY)
				v = settled(s);
	}
}

/* Pages whose protection is the program's: present and guarded ones. */
static bool want_reprotect(uint8_t v)
{
	return (v & ZS_PS_MAPPED) && (STATE(v) == ZS_PS_PRESENT || is_guarded(v));
}

static void protect_run(struct zs_pager *p, struct run *r, void *arg)
{
	int *ret = arg;

	if (zs_sys_mprotect((void *)r->start, r->n << ZS_PAGE_SHIFT, r->prot) != 0)
		*ret = -errno;
	settle_back(p, r);
}

int zs_pager_protect(struct zs_pager *p, uintptr_t addr, size_t len, int prot)
{
	size_t n = pages_in(addr, len);
	int ret = 0;

	addr &= ZS_PAGE_MASK;
	update_bits(p, addr, n, ZS_PS_PROT_MASK, (uint8_t)(prot & ZS_PS_PROT_MASK));
	walk(p, addr, n, want_reprotect, protect_run, &ret);
	return ret;
}

/* Make a run of protected pages present again, thawing the frozen ones.
 * A page that cannot be restored stays frozen (never opened empty): the
 * run is opened in the pieces around it. */
static void lock_run(struct zs_pager *p, struct run *r, void *arg)
{
	struct run part = { .n = 0, .prot = r->prot };
	size_t i;

	for (i = 0; i < r->n; i++) {
		uintptr_t page = PAGE(r->start, i);
		uint8_t v = r->was[i];

		if (!refill(p, page, &v)) {
			open_run(p, &part);
			continue;
		}
		if (!part.n)
			part.start = page;
		part.was[part.n++] = v;
	}
	open_run(p, &part);
}

void zs_pager_lock(struct zs_pager *p, uintptr_t addr, size_t len, bool locked)
{
	size_t n = pages_in(addr, len);

	addr &= ZS_PAGE_MASK;
	if (locked) {
		walk(p, addr, n, want_protected, lock_run, NULL);
		update_bits(p, addr, n, 0, ZS_PS_LOCKED);
	} else {
		update_bits(p, addr, n, ZS_PS_LOCKED, 0);
	}
}
