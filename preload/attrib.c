/*
 * attrib.c - fault attribution (ZSWAPSIM_FAULT_STACKS=N, 0 for off): which
 * code thaws pages, and whose memory is frozen.  Glue over src/stacks.c.
 *
 * Thaws.  The SIGSEGV handler asks, before the pager runs, whether the
 * faulting page is frozen (its state byte), and after a handled fault
 * calls shim_attrib_thaw: the thaw is counted for the site that allocated
 * the page, and one thaw in N is unwound (src/stacks.c: libunwind's
 * unw_backtrace through the signal frame, with its per-thread cache,
 * about 0.5 us; at most ZS_STACK_DEPTH frames) into the stack table.
 * Neither allocates nor takes a lock of ours (tests/test_stacks counts the
 * malloc and mmap calls).  libunwind blocks every signal while it walks
 * the dynamic linker's list of objects for an address it has not seen, so
 * what that list points to must never be frozen: malloc.c keeps the
 * dynamic linker's allocations outside the reservation.  The unwinding
 * runs after the pager is done (the page is open, no state of ours is
 * held), and not again inside itself (a frozen page of a stack allocated
 * by the program faults during the unwind: counted, not unwound).
 *
 * Allocation sites.  malloc.c and mmap.c report managed allocations with
 * their caller's return address; the site's 16-bit id is written in the
 * site map (one entry per page of the reservation, mapped MAP_NORESERVE:
 * 2 bytes a page of address space, memory only where pages were handed
 * out) for every page the allocation touches, so a page carries the last
 * recorded allocation that handed out part of it.  Allocations of a page
 * or more are all recorded; smaller ones one in SMALL_SAMPLE per thread
 * (shim.h counts them down inline): a page of small objects still gets
 * the site of one of them, and malloc keeps its speed (the site table and
 * the map are cache misses under a program's own memory traffic, ~25 ns
 * each; the thread's last site is kept in TLS, which is hot).  Frozen
 * pages by site are counted when a dump is made, by walking the state
 * bytes below the highest page ever marked: exact whatever path a page
 * took in or out of FROZEN (thaw, cluster, discard, unmap, fork), and
 * free for the pager.
 *
 * Names.  Symbolising (dladdr, unw_get_proc_name) takes the dynamic
 * linker's lock and maps files and memory, so it never runs in a handler
 * nor in the reclaim thread (which has SIGSEGV blocked, and libunwind's
 * anonymous mappings are managed memory): a thread of its own names new
 * stacks and sites every 50 ms, and the dump at exit does so first.  A
 * dump prints the names made so far, raw addresses otherwise.
 */
#include "config.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "shim.h"
#include "stacks.h"
#include "stats.h"

#define TOP_STACKS 10 /* stacks in a dump */
#define TOP_SITES 10  /* sites in a dump */
#define RESOLVE_NS (50 * 1000 * 1000) /* the namer looks for new stacks and sites */
#define SMALL_SAMPLE 32 /* one allocation under a page in this many is marked */

uint16_t *shim_site_map;
SHIM_TLS int shim_attrib_skip;    /* small allocations to pass before the next one marked */
static SHIM_TLS uintptr_t last_caller; /* this thread's last site, cached: the table */
static SHIM_TLS unsigned int last_id;  /* is cold under a program's memory traffic */
static struct zs_stacks *tables;
static uintptr_t marked_end;   /* the end of the highest range marked (atomic) */
static uint64_t thaws_seen;    /* for sampling one in N (atomic) */
static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;
static SHIM_TLS int naming;    /* this thread is naming: its own thaws are not counted */
static SHIM_TLS int unwinding; /* a thaw inside an unwind (a frozen stack page) unwinds not */

static void *resolver_main(void *arg);

/* A child has no namer thread (its dump at exit names what it needs); the
 * lock may have been held by the parent's. */
static void after_fork_child(void)
{
	pthread_mutex_init(&resolve_lock, NULL);
	naming = 0;
}

int shim_attrib_init(void)
{
	struct zs_region *r = shim_region();
	size_t map_bytes = ((r->end - r->base) >> ZS_PAGE_SHIFT) * sizeof(*shim_site_map);
	uint16_t *map;
	pthread_t t;

	if (!shim.opt.fault_stacks)
		return 0;
	tables = zs_map_anon(sizeof(*tables));
	map = zs_map_anon(map_bytes);
	if (!tables || !map || zs_stack_unwind_init() != 0)
		return -ENOMEM;
	zs_stacks_init(tables);
	__atomic_store_n(&shim_site_map, map, __ATOMIC_RELEASE);
	if (shim_real_pthread_create(&t, NULL, resolver_main, NULL) != 0)
		return -EAGAIN;
	pthread_detach(t);
	pthread_atfork(NULL, NULL, after_fork_child);
	return 0;
}

void shim_attrib_alloc(const void *p, size_t len, uintptr_t caller)
{
	uintptr_t addr = (uintptr_t)p, end = addr + len, seen;

	if (len < ZS_PAGE_SIZE)
		shim_attrib_skip = SMALL_SAMPLE - 1;
	if (!zs_region_contains(shim_region(), addr))
		return;
	if (caller != last_caller) {
		last_id = zs_sites_id(tables, caller);
		last_caller = caller;
	}
	zs_sites_mark(shim_region(), shim_site_map, addr, len, last_id);
	seen = __atomic_load_n(&marked_end, __ATOMIC_RELAXED);
	while (end > seen && !__atomic_compare_exchange_n(&marked_end, &seen, end, false,
							  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

bool shim_attrib_frozen(uintptr_t addr)
{
	uint8_t v;

	if (!shim_site_map || !zs_region_contains(shim_region(), addr))
		return false;
	v = __atomic_load_n(zs_region_state(shim_region(), addr), __ATOMIC_RELAXED);
	return (v & ZS_PS_STATE_MASK) == ZS_PS_FROZEN;
}

void shim_attrib_thaw(uintptr_t addr, void *ucontext)
{
	struct zs_region *r = shim_region();
	uintptr_t ip[ZS_STACK_DEPTH];
	unsigned int n;

	if (naming)
		return;
	zs_sites_thaw(tables, shim_site_map[(addr - r->base) >> ZS_PAGE_SHIFT]);
	if (zs_count_add(&thaws_seen, 1) % shim.opt.fault_stacks || unwinding)
		return;
	unwinding = 1; /* libunwind's per-thread cache is not re-entrant */
	n = zs_stack_capture(ucontext, ip, ZS_STACK_DEPTH);
	unwinding = 0;
	if (n)
		zs_stacks_add(tables, ip, n);
}

/* "function+0xOFF@object", "object+0xOFF" without a symbol, "0xADDR"
 * outside every object. */
static int symbolise(uintptr_t ip, char *buf, size_t len)
{
	char fn[128];
	const char *obj;
	unw_context_t ctx;
	unw_cursor_t c;
	unw_word_t off;
	Dl_info di;

	if (!dladdr((void *)ip, &di) || !di.dli_fname) {
		snprintf(buf, len, "0x%lx", (unsigned long)ip);
		return 0;
	}
	obj = strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname;
	if (!*obj)
		obj = "main";
	/* libunwind 1.6 names an address through a cursor: one moved there.
	 * It reads .symtab, so static functions get their names too. */
	if (unw_getcontext(&ctx) == 0 && unw_init_local(&c, &ctx) == 0 &&
	    unw_set_reg(&c, UNW_REG_IP, ip) == 0 && unw_get_proc_name(&c, fn, sizeof(fn), &off) == 0)
		snprintf(buf, len, "%s+0x%lx@%s", fn, (unsigned long)off, obj);
	else if (di.dli_sname)
		snprintf(buf, len, "%s+0x%lx@%s", di.dli_sname,
			 (unsigned long)(ip - (uintptr_t)di.dli_saddr), obj);
	else
		snprintf(buf, len, "%s+0x%lx", obj, (unsigned long)(ip - (uintptr_t)di.dli_fbase));
	return 0;
}

void shim_attrib_resolve(void)
{
	if (!shim_site_map || pthread_mutex_trylock(&resolve_lock) != 0)
		return;
	naming = 1;
	zs_stacks_resolve(tables, symbolise);
	naming = 0;
	pthread_mutex_unlock(&resolve_lock);
}

static uint64_t site_key(const uint32_t *frozen, unsigned int id)
{
	return ((uint64_t)frozen[id] << 32) | (uint32_t)zs_count_read(&tables->site[id].thaws);
}

/* The namer's thread.  Symbolising maps memory (libunwind reads
 * /proc/self/maps into an anonymous mapping, which is managed memory and
 * may be fresh): SIGSEGV stays open here, unlike in the reclaim thread. */
static void *resolver_main(void *arg)
{
	struct timespec tick = { 0, RESOLVE_NS };
	sigset_t set;

	sigfillset(&set);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	for (;;) {
		nanosleep(&tick, NULL);
		shim_attrib_resolve();
	}
	return NULL;
}

/* The most frozen sites (then the most thawed), into top; how many. */
static size_t top_sites(const uint32_t *frozen, unsigned int *top, size_t n)
{
	size_t found = 0, k;
	unsigned int id;

	for (id = 0; id < ZS_SITE_SLOTS; id++) {
		uint64_t key = site_key(frozen, id);

		if (!key)
			continue;
		if (found < n)
			k = found++;
		else if (site_key(frozen, top[n - 1]) >= key)
			continue;
		else
			k = n - 1;
		for (; k > 0 && site_key(frozen, top[k - 1]) < key; k--)
			top[k] = top[k - 1];
		top[k] = id;
	}
	return found;
}

/* After the "name value" lines: the top stacks, then the top sites.
 * Async-signal-safe (no malloc, no lock).  Its buffers are static, not on
 * the stack: a handler may run on a small signal stack of the program's
 * own.  The caller holds the dump's turn (stats.c), so one dump at a time
 * uses them. */
void shim_attrib_dump(int fd)
{
	static uint32_t frozen[ZS_SITE_SLOTS];
	static char line[ZS_STACK_DEPTH * (ZS_SYM_MAX + 1) + 64];
	unsigned int top[TOP_STACKS > TOP_SITES ? TOP_STACKS : TOP_SITES];
	size_t i, n, len;

	if (fd < 0 || !shim_site_map)
		return;
	n = zs_stacks_top(tables, top, TOP_STACKS);
	for (i = 0; i < n; i++)
		if ((len = zs_stacks_line(tables, top[i], line, sizeof(line))))
			zs_write_all(fd, line, len);
	if (zs_count_read(&tables->stacks_other)) {
		char num[24];

		len = zs_utoa(zs_count_read(&tables->stacks_other), num);
		zs_write_all(fd, "thaw_stack ", 11);
		zs_write_all(fd, num, len);
		zs_write_all(fd, " other\n", 7);
	}
	zs_sites_count_frozen(shim_region(), shim_site_map,
			      __atomic_load_n(&marked_end, __ATOMIC_RELAXED), frozen);
	n = top_sites(frozen, top, TOP_SITES);
	for (i = 0; i < n; i++)
		if ((len = zs_sites_line(tables, top[i], frozen[top[i]], line, sizeof(line))))
			zs_write_all(fd, line, len);
}
