/*
 * pager.h - freezing and thawing pages of the managed reservation in place:
 * the mechanics the preloaded library drives from its reclaim thread (sample,
 * freeze) and from its SIGSEGV handler (fault).
 *
 * Page life, in the page's state byte (region.h):
 *
 *   map_fresh --> SAMPLED|FRESH --first touch (admitted)--> PRESENT
 *
 *   PRESENT --sample--> SAMPLED --fault--> PRESENT
 *                          |
 *                        freeze (still SAMPLED: untouched since sampled)
 *                          v
 *                        FROZEN --fault--> PRESENT
 *
 * SAMPLED and FROZEN pages are PROT_NONE.  A sampled page keeps its contents;
 * a frozen page's contents are in the engine (key: the page address) and
 * the page itself has been dropped.  A fresh page has never been touched:
 * its first touch is where the kernel would charge it to a memory cgroup,
 * so it passes an admission hook first (the shim waits there for room
 * under its limit), then opens a block of fresh neighbours with it.  A thaw
 * passes the same hook: the kernel charges a swap-in as well.  BUSY marks a page in transition; every
 * transition starts with a compare-and-swap on the state byte, so exactly one
 * thread moves a page and the others wait for it.
 *
 * A frozen page may instead be GUARDED (Linux 6.13+, MADV_GUARD_INSTALL): the
 * guard marker drops it and faults on access without a protection of its
 * own, so frozen pages do not split their area: a program that touches its
 * pages at random keeps its VMAs whole however many are frozen.  Thawing
 * one costs two more calls (it is shut, unguarded, written, opened), so the
 * pager guards only near the VMA budget unless told always.  Near the
 * budget it also freezes present pages directly (shut, stored, guarded,
 * opened) rather than sample them, which would split areas: without their
 * second chance, so hot pages among them come back at their next touch.
 * zs_pager_sample counts these among the freezes.
 *
 * Thaw writes the page through /proc/self/mem while it is still PROT_NONE,
 * then restores the program's protection: no thread ever sees it half
 * restored.  Freeze reads it the same way, since a sampled page is already
 * inaccessible.
 *
 * Caller contract: map, unmap, discard, protect, sample and freeze are
 * serialised by the caller (the shim's mapping lock); fault may run at any
 * moment on any thread, and is async-signal-safe.
 */
#ifndef ZS_PAGER_H
#define ZS_PAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "histo.h"
#include "region.h"

#define ZS_PAGER_RUN 16 /* pages per protection or release call, at most */
#define ZS_PAGER_PINS 256 /* ranges pinned at once (system calls in flight) */
#define ZS_PAGER_FRESH_BLOCK 64 /* pages a first touch opens, at most */

/* X(name, meaning) */
#define ZS_STATS_PAGER(X) \
	X(faults, "faults on managed pages the pager handled") \
	X(thaws, "frozen pages restored on fault") \
	X(thaw_failures, "frozen pages that could not be restored (engine error)") \
	X(samples, "pages made inaccessible to sample references") \
	X(references, "sampled pages found referenced (fault on a sampled page)") \
	X(freezes, "pages frozen into the engine") \
	X(freeze_refused, "cold pages the engine refused; they stay in place") \
	X(frozen_pages, "pages frozen now") \
	X(pins, "ranges pinned for system calls") \
	X(pins_full, "pins refused for want of a free slot") \
	X(first_touches, "fresh pages opened at their first touch") \
	X(throttled, "first touches and thaws that waited for room under the limit") \
	X(guarded, "pages frozen under a guard marker, leaving their area whole") \
	X(direct_freezes, "present pages frozen without sampling, near the VMA budget") \
	X(protected_pages, "pages sampled, frozen or fresh now")

struct zs_pager_stats {
#define ZS_PAGER_FIELD(name, doc) uint64_t name;
	ZS_STATS_PAGER(ZS_PAGER_FIELD)
#undef ZS_PAGER_FIELD
};

/* A range of pages the kernel is about to access for the program: kept
 * present until unpinned (end 0: a free slot). */
struct zs_pin {
	uintptr_t start, end;
};

/* When frozen pages are guarded rather than shut (zs_pager_set_guard). */
enum zs_guard { ZS_GUARD_NEVER, ZS_GUARD_NEAR_BUDGET, ZS_GUARD_ALWAYS };

struct zs_pager;
/* Called before a fault brings `pages` into memory (a first touch opening
 * fresh pages, a thaw); may wait (async-signal-safe).  Returns true when it
 * waited. */
typedef bool (*zs_admit_fn)(struct zs_pager *p, size_t pages);

struct zs_pager {
	struct zs_region region;
	struct zs_engine *engine;
	int mem_fd;                  /* /proc/self/mem */
	struct zs_pager_stats stats; /* relaxed atomics */
	struct zs_histo thaw_ns;     /* time in the handler to thaw a page */
	size_t cluster;              /* pages a fault brings back at once */
	int guard;                   /* enum zs_guard, as supported */
	zs_admit_fn admit;           /* NULL: first touches never wait */
	uint64_t splits;             /* protection changes that may add areas, x2 */
	uint64_t vmas_counted, splits_at_count, vma_budget;
	struct zs_pin pins[ZS_PAGER_PINS];
	unsigned int pins_used;      /* slots below this may be in use */
};

/* Reserve `reserve_bytes` of address space and open /proc/self/mem.
 * 0 or -errno, with the cause in err. */
int zs_pager_create(struct zs_pager *p, struct zs_engine *engine, uint64_t reserve_bytes,
		    char *err, size_t errlen);
void zs_pager_destroy(struct zs_pager *p);

/* [addr, addr + len) of the reservation now belongs to a mapping with
 * protection `prot`, accessible (the caller made it so), its pages PRESENT. */
void zs_pager_map(struct zs_pager *p, uintptr_t addr, size_t len, int prot);
/* The same, but left PROT_NONE by the caller: the pages are fresh, opened
 * by their first touch. */
void zs_pager_map_fresh(struct zs_pager *p, uintptr_t addr, size_t len, int prot);
/* The mapping is going: drop what is frozen, forget the pages.  The caller
 * makes the range PROT_NONE again and returns it to the region. */
void zs_pager_unmap(struct zs_pager *p, uintptr_t addr, size_t len);
/* MADV_DONTNEED semantics: frozen contents are dropped, every page but the
 * fresh ones is accessible again with its protection, and reads as zero
 * afterwards once the caller has made the madvise call itself. */
void zs_pager_discard(struct zs_pager *p, uintptr_t addr, size_t len);
/* The program's mprotect: record `prot`; present pages get it now, sampled
 * and frozen pages when they are next touched.  0 or -errno. */
int zs_pager_protect(struct zs_pager *p, uintptr_t addr, size_t len, int prot);
/* mlock / munlock: locked pages are never sampled or frozen; locking thaws
 * what is frozen.  */
void zs_pager_lock(struct zs_pager *p, uintptr_t addr, size_t len, bool locked);

/* Sample the present pages of [addr, addr + npages pages): make them
 * PROT_NONE, keeping their contents.  With `resident` (mincore's vector for
 * the range), only pages in memory.  Returns the pages sampled. */
size_t zs_pager_sample(struct zs_pager *p, uintptr_t addr, size_t npages,
		       const unsigned char *resident);
/* Give the sampled pages of the range their protection back (present
 * again, contents in place): merges the areas sampling split, when the
 * process nears its VMA limit.  Returns the pages unsampled. */
size_t zs_pager_unsample(struct zs_pager *p, uintptr_t addr, size_t npages);
/* Whether sampling or freezing [addr, addr + npages pages) has anything to
 * do: a page present or sampled, or plainly frozen while frozen pages are
 * being guarded.  Reads state bytes only: no system call. */
bool zs_pager_window_busy(struct zs_pager *p, uintptr_t addr, size_t npages);
/* Freeze the pages of [addr, addr + npages pages) that are still sampled.
 * Returns the pages frozen. */
size_t zs_pager_freeze(struct zs_pager *p, uintptr_t addr, size_t npages);

/* From now on a fault brings back every protected page of the aligned
 * block of `pages` around it (1: just the page).  Near the VMA limit this
 * keeps thaws from splitting protected areas.  Any thread. */
void zs_pager_set_cluster(struct zs_pager *p, size_t pages);
/* Guard frozen pages `mode` from now on, as far as the kernel can (it is
 * NEAR_BUDGET by default where it can).  Returns the mode in force.  Any
 * thread. */
enum zs_guard zs_pager_set_guard(struct zs_pager *p, enum zs_guard mode);
/* The admission hook for first touches (NULL: none).  Any thread. */
void zs_pager_set_admit(struct zs_pager *p, zs_admit_fn admit);

/* The VMA budget: `count` areas were just counted, and the pager should
 * stay under `budget`.  Between counts it estimates (each run it protects
 * and each page it thaws alone may add two areas) and, over the budget,
 * thaws whole 64-page blocks.  Any thread. */
void zs_pager_note_vmas(struct zs_pager *p, uint64_t count, uint64_t budget);
uint64_t zs_pager_vma_estimate(struct zs_pager *p);

/* A fault at `addr` (`write`: a write access).  1 when the pager made the
 * access possible (return from the handler and retry it), 0 when the fault
 * is not the pager's (outside the reservation, a page the program itself
 * protected against this access): pass it on.  Async-signal-safe;
 * preserves errno. */
int zs_pager_fault(struct zs_pager *p, uintptr_t addr, bool write);

/* Pin [addr, addr + len): make its pages present and keep them so (never
 * sampled or frozen) until zs_pager_unpin, so that the kernel can access
 * them for a system call.  Returns the pin's slot, or -1 when nothing had
 * to be pinned (no managed page) or no slot was free (the pages are present
 * now but not held).  Any thread; async-signal-safe. */
int zs_pager_pin(struct zs_pager *p, uintptr_t addr, size_t len);
void zs_pager_unpin(struct zs_pager *p, int slot);

/* In the child of a fork, after the engine's locks were reset: settle the
 * pages the parent's other threads were moving. */
void zs_pager_after_fork_child(struct zs_pager *p);

/* A snapshot of the pager's counters.  Async-signal-safe. */
void zs_pager_stats(struct zs_pager *p, struct zs_pager_stats *out);

#endif
