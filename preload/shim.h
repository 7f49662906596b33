/*
 * shim.h - what the parts of libzswapsim.so share.  The library is glue:
 * every algorithm lives in src/ (engine, pager, reclaim, region); these files
 * interpose the program's calls and drive them.
 *
 *   init.c     start-up, options, the reclaim thread, fork handlers
 *   stats.c    statistics dumps, the time series, answers to `zswapsim stats`
 *   malloc.c   the malloc family, served by jemalloc from the reservation
 *   mmap.c     the program's anonymous mmap, munmap, mremap, mprotect,
 *              madvise and mlock on managed memory
 *   signals.c  the SIGSEGV handler, the program's own handlers (chained),
 *              a signal stack in every thread
 *   syscalls.c the program's system calls on its own memory: buffers
 *              pinned for the call
 *   attrib.c   fault attribution: thaws by call stack, frozen pages by the
 *              call that allocated them
 *
 * Locking: shim.map_lock serialises every change to the managed mappings
 * (jemalloc's extent hooks, the program's mapping calls) with the reclaim
 * thread's sampling and freezing.  The fault handler never takes it.  Order:
 * jemalloc's locks, then map_lock, then the engine's.  Nothing under
 * map_lock calls malloc.
 */
#ifndef ZS_SHIM_H
#define ZS_SHIM_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "engine.h"
#include "options.h"
#include "pager.h"
#include "reclaim.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_TLS __thread __attribute__((tls_model("initial-exec")))
/* How long an exec holds the clock off at most (the kernel reads the new
 * program's arguments in that time). */
#define SHIM_EXEC_PAUSE_NS (200 * 1000 * 1000ULL)

enum shim_state { SHIM_OFF, SHIM_STARTING, SHIM_ON, SHIM_DISABLED };

struct shim {
	int state;                 /* enum shim_state, atomic */
	struct zs_options opt;
	struct zs_engine *engine;
	struct zs_pager pager;
	struct zs_reclaim reclaim;
	pthread_mutex_t map_lock;
	uint64_t exec_until_ns;    /* exec in flight: the clock waits till then (atomic) */
	int pressure;              /* RSS well over the limit: allocators help (atomic) */
	int kicked;                /* a first touch waits: reclaim now (futex word) */
	int reclaim_stuck;         /* the clock can free nothing more (atomic) */
	int reclaim_orphaned;      /* a child after fork: no reclaim thread yet (atomic) */
	uint64_t vmas;             /* VMAs of the process, last counted */
	int stats_fd;              /* where dumps go */
};

extern struct shim shim;

/* Start the shim if it is not started; false while it is starting on this
 * very thread (the caller must serve itself without it) or disabled. */
bool shim_ready(void);

static inline struct zs_region *shim_region(void)
{
	return &shim.pager.region;
}

static inline bool shim_manages(const void *addr)
{
	return __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_ON &&
	       zs_region_contains(&shim.pager.region, (uintptr_t)addr);
}

/* A managed range comes into use (accessible with prot) or leaves it
 * (PROT_NONE again, back to the region).  Under map_lock. */
int shim_map_range(void *addr, size_t len, int prot, int flags);
void shim_unmap_range(void *addr, size_t len);

/* mmap.c: keep the managed pages of a range present for good, as mlock
 * would (never sampled or frozen). */
void shim_keep_present(const void *addr, size_t len);
/* In a child after fork: forget the managed ranges it did not inherit
 * (MADV_DONTFORK). */
void shim_forget_uninherited(void);
/* malloc.c */
int shim_malloc_init(void);
/* Is a return address in the C library's or jemalloc's code?  Their own
 * memory (stdio buffers, jemalloc's metadata and unhooked arenas) is never
 * managed: glibc touches some of it with every signal blocked (a new
 * thread's start), where a frozen page would be fatal. */
bool shim_caller_is_runtime(uintptr_t ra);
/* attrib.c: fault attribution (ZSWAPSIM_FAULT_STACKS).  The site map is
 * NULL while it is off, which is all malloc looks at then. */
extern uint16_t *shim_site_map;
extern SHIM_TLS int shim_attrib_skip;
int shim_attrib_init(void);
void shim_attrib_alloc(const void *p, size_t len, uintptr_t caller);
/* Every allocation of a page or more, one smaller one in 32 per thread. */
static inline void shim_attrib_note_alloc(const void *p, size_t len, uintptr_t caller)
{
	if (zs_unlikely(shim_site_map != NULL) && p &&
	    (len >= ZS_PAGE_SIZE || --shim_attrib_skip < 0))
		shim_attrib_alloc(p, len, caller);
}
/* Is the page of addr frozen (asked before the pager runs)?  Then, the
 * fault handled: count the thaw, maybe unwind it.  Both async-signal-safe. */
bool shim_attrib_frozen(uintptr_t addr);
void shim_attrib_thaw(uintptr_t addr, void *ucontext);
/* Name what is new (never in a handler); the dump's section (async-signal-safe). */
void shim_attrib_resolve(void);
void shim_attrib_dump(int fd);
/* dispatch.c: Syscall User Dispatch (ZSWAPSIM_SYSCALL_DISPATCH) */
int shim_dispatch_init(void);
bool shim_dispatch_enabled(void);
void shim_dispatch_arm(void);           /* this thread, if on */
void shim_dispatch_disarm(void);        /* this thread, for good */
void shim_dispatch_rearm(void);         /* this thread, after a clone let through */
char shim_dispatch_allow(void);         /* let this thread's calls through; the old selector */
void shim_dispatch_restore(char was);
void shim_dispatch_after_fork_child(void);
/* signals.c */
int shim_signals_init(void);
/* Run the program's handler for a signal the shim owns. */
void shim_chain_signal(int sig, siginfo_t *si, void *uc);
void shim_thread_altstack(void);
/* The libc pthread_create, for the shim's own thread. */
int shim_real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg);
/* stats.c: a dump of every statistic to fd, and the answer to a query of
 * `zswapsim stats` (both async-signal-safe); the series and the query's
 * paths set up at start, and put right in a child after fork. */
void shim_dump_stats(int fd);
void shim_stats_answer(void);
void shim_stats_init(void);
void shim_stats_after_fork_child(void);
/* init.c */
/* Direct reclaim: when memory is well over the limit, the allocating thread
 * runs the clock itself for a moment, as the kernel makes an allocating
 * task reclaim.  Called from malloc. */
void shim_throttle(void);
void shim_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
