/*
 * stacks.h - fault attribution: which code thaws pages (call stacks taken
 * in the fault handler, counted in a fixed table), and which call sites
 * allocated the memory that is frozen (a site id per managed page).
 *
 * Everything is preallocated: the tables live in one struct zs_stacks the
 * caller maps once (zs_map_anon), and the per-page site ids in an array the
 * caller maps next to the region (2 bytes a page of address space, touched
 * only where memory is handed out).  Recording (a stack, a site, a thaw) is
 * lock-free and async-signal-safe; a full table counts into "other".
 * Naming (zs_stacks_resolve) calls out to a symboliser the caller gives,
 * outside any handler; formatting reads whatever names exist so far and is
 * async-signal-safe again.
 */
#ifndef ZS_STACKS_H
#define ZS_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define ZS_STACK_DEPTH 8      /* frames kept per stack, innermost first */
#define ZS_STACK_SLOTS 512    /* distinct stacks counted */
#define ZS_SITE_SLOTS 2048    /* distinct allocation sites, ids below this */
#define ZS_SITE_UNKNOWN 0     /* a page no recorded allocation handed out */
#define ZS_SITE_OTHER (ZS_SITE_SLOTS - 1) /* sites past a full table */
#define ZS_PROBES 32          /* slots a lookup tries before giving up */
#define ZS_NAMES_BYTES (96 << 10) /* resolved names, NUL-terminated */
#define ZS_SYM_MAX 160       /* one resolved name, at most */

_Static_assert(ZS_SITE_SLOTS <= 65536, "site ids are 16 bits");
_Static_assert((ZS_STACK_SLOTS & (ZS_STACK_SLOTS - 1)) == 0, "a power of two");
_Static_assert((ZS_SITE_SLOTS & (ZS_SITE_SLOTS - 1)) == 0, "a power of two");

/* One distinct stack.  key: 0 free, else the stack's hash (never 0), set
 * once by compare-and-swap; ready says the frames are written. */
struct zs_stack {
	uint64_t key;
	uint32_t ready, depth;
	uint64_t count;
	uintptr_t ip[ZS_STACK_DEPTH];
	uint32_t name[ZS_STACK_DEPTH]; /* offset + 1 in names; 0: not named yet */
};

/* One allocation site: the return address of the allocating call. */
struct zs_site {
	uintptr_t ra;                  /* 0 free, set once by compare-and-swap */
	uint64_t thaws;                /* thaws of pages it allocated */
	uint32_t name;                 /* offset + 1 in names; 0: not named yet */
};

struct zs_stacks {
	struct zs_stack stack[ZS_STACK_SLOTS];
	uint64_t stacks_other;         /* stacks that found no slot */
	struct zs_site site[ZS_SITE_SLOTS];
	uint64_t claims;               /* slots claimed so far (atomic) */
	uint64_t claims_named;         /* ... when the resolver last looked */
	char names[ZS_NAMES_BYTES];    /* written by the resolver only */
	uint32_t names_used;
};

/* Empty tables.  Not async-signal-safe (the caller's own set-up). */
void zs_stacks_init(struct zs_stacks *t);

/* Count one occurrence of the stack ip[0..depth) (depth clamped to
 * ZS_STACK_DEPTH).  Its slot, or -ENOSPC when the table had no room for a
 * new stack (counted in stacks_other).  Lock-free, async-signal-safe. */
int zs_stacks_add(struct zs_stacks *t, const uintptr_t *ip, unsigned int depth);

/* The id of the allocation site at return address ra (nonzero): claimed
 * on first sight; ZS_SITE_OTHER when the table is full.  Lock-free,
 * async-signal-safe. */
unsigned int zs_sites_id(struct zs_stacks *t, uintptr_t ra);

/* A page the site `id` allocated was thawed.  Async-signal-safe. */
void zs_sites_thaw(struct zs_stacks *t, unsigned int id);

/* Record site `id` for the pages of [addr, addr + len) of the region whose
 * site map is `map`.  Any thread, async-signal-safe. */
void zs_sites_mark(const struct zs_region *r, uint16_t *map, uintptr_t addr, size_t len,
		   unsigned int id);

/* Count the frozen pages of the region by site (out[ZS_SITE_SLOTS]),
 * reading state bytes and the site map below `end`.  Async-signal-safe. */
void zs_sites_count_frozen(const struct zs_region *r, const uint16_t *map, uintptr_t end,
			   uint32_t *out);

/* The symboliser: write a name for the code address ip into buf (len
 * bytes, NUL-terminated); 0, or -errno when it has none. */
typedef int (*zs_symbolise_fn)(uintptr_t ip, char *buf, size_t len);

/* Name every frame and site not named yet (a frame other than a stack's
 * first, and every site, is a return address: it is named by ip - 1,
 * the call).  Nothing to do, and no scan, when no slot was claimed since
 * the last call.  One caller at a time; never in a signal handler (sym
 * may take locks, allocate).  Returns the names added. */
size_t zs_stacks_resolve(struct zs_stacks *t, zs_symbolise_fn sym);

/* The slots of the `n` most counted stacks, most first, into out; how
 * many there are.  Async-signal-safe. */
size_t zs_stacks_top(const struct zs_stacks *t, unsigned int *out, size_t n);

/* The line "thaw_stack COUNT frame;frame;...\n" of slot `i` into buf (len
 * bytes, NUL-terminated): its length, 0 when it does not fit.  A frame is its name if
 * resolved, else 0xADDRESS.  Async-signal-safe. */
size_t zs_stacks_line(const struct zs_stacks *t, unsigned int i, char *buf, size_t len);

/* The line "alloc_site FROZEN_PAGES THAWS name\n" of site `id`, named as
 * resolved, else 0xADDRESS; "unknown" and "other" for the two reserved
 * ids.  Its length, 0 when it does not fit.  Async-signal-safe. */
size_t zs_sites_line(const struct zs_stacks *t, unsigned int id, uint64_t frozen, char *buf,
		     size_t len);

/* Set up libunwind for captures in signal handlers: per-thread caching
 * (no lock a handler could wait for) and one unwind done now, so that its
 * lazy initialisation never runs in a handler.  0 or -EINVAL. */
int zs_stack_unwind_init(void);

/* The call stack of the thread a signal interrupted, from the handler's
 * ucontext: up to `max` code addresses into ip, the faulting instruction
 * first.  The number found (0 when unwinding fails).  Async-signal-safe
 * after zs_stack_unwind_init: it neither allocates nor takes a lock a
 * handler could wait for (libunwind's local unwinding, tests/test_stacks). */
unsigned int zs_stack_capture(void *ucontext, uintptr_t *ip, unsigned int max);

#endif
