/*
 * malloc.c - the program's malloc family, served by jemalloc with every data
 * page taken from the managed reservation through extent hooks, so the shim
 * sees the whole life of each page it may freeze (DESIGN-NOTES 6.4).
 *
 * How the pages are kept in the reservation:
 * - malloc_conf turns jemalloc's huge arena off (every size goes to a hooked
 *   arena) and its thread cache off: jemalloc initialises in its own
 *   constructor, before ours, and a cache set up then would come from
 *   unhooked memory.  Each thread turns its cache on at its first call here,
 *   once the hooks exist.
 * - Every automatic arena is created with jemalloc's default hooks first,
 *   then given ours: an arena's metadata allocator keeps the hooks it was
 *   created with, so jemalloc's metadata stays outside the reservation and
 *   is never frozen.
 * - If MALLOC_CONF in the environment turns the huge arena back on, large
 *   requests name the thread's own (hooked) arena explicitly.
 * - Allocations made while the shim starts (by jemalloc or the dynamic
 *   linker, on the starting thread) come from a static bootstrap zone;
 *   freeing them is a no-op.
 *
 * - Allocations made from inside the C library itself (stdio buffers,
 *   opendir's, getaddrinfo's, ...) or the dynamic linker (dlopen's link
 *   maps, which dl_iterate_phdr walks) come from an arena of their own with
 *   jemalloc's default hooks, outside the reservation: glibc hands those
 *   buffers to the kernel through internal calls no wrapper sees
 *   (syscalls.c), so they must never be frozen.  The caller is told by the
 *   return address.
 *
 * The hooks never call malloc.  glibc's alignment promise (16 bytes for
 * every size) is kept by rounding tiny requests up to 16 bytes.
 */
#include "config.h"

#include <dlfcn.h>
#include <jemalloc/jemalloc.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

/* Declared by no header glibc 2.36 installs, interposed all the same. */
void *pvalloc(size_t size);
void cfree(void *p);

SHIM_EXPORT const char *malloc_conf = "tcache:false,oversize_threshold:0";

#define BOOT_SIZE (1UL << 20)

static char boot_zone[BOOT_SIZE] __attribute__((aligned(4096)));
static size_t boot_used;

static extent_hooks_t *default_hooks;
static size_t huge_threshold;       /* 0: no huge arena, the intended case */
static size_t mib_tcache[4], mib_tcache_len = 4;
static size_t mib_arena[4], mib_arena_len = 4;
/* [start, +len): the C library's code, jemalloc's, the dynamic linker's, libunwind's */
static uintptr_t libc_text, libc_text_len, je_text, je_text_len, ld_text, ld_text_len;
static uintptr_t unw_text, unw_text_len;
static int libc_flags;                     /* the unmanaged arena, no cache */
static SHIM_TLS int tcache_on;
static SHIM_TLS unsigned int arena_plus_one;

static bool in_boot(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot_zone < BOOT_SIZE;
}

static void *boot_alloc(size_t size, size_t align)
{
	size_t at, old = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);

	if (align < 16)
		align = 16;
	do {
		at = (old + 16 + align - 1) & ~(align - 1);
		if (at + size > BOOT_SIZE || at + size < at)
			return NULL;
	} while (!__atomic_compare_exchange_n(&boot_used, &old, at + size, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	memcpy(boot_zone + at - sizeof(size), &size, sizeof(size));
	return boot_zone + at;
}

static size_t boot_size(const void *p)
{
	size_t size;

	memcpy(&size, (const char *)p - sizeof(size), sizeof(size));
	return size;
}

/* ---- extent hooks: every data page of every arena ---- */

static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t align, bool *zero,
			bool *commit, unsigned int arena)
{
	void *p = zs_region_alloc(shim_region(), size, align, (uintptr_t)new_addr);

	if (!p)
		return NULL;
	if (shim_map_range(p, size, PROT_READ | PROT_WRITE, 0) != 0) {
		zs_region_free(shim_region(), p, size);
		return NULL;
	}
	*zero = true; /* a fresh anonymous mapping */
	*commit = true;
	return p;
}

static bool hook_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
			unsigned int arena)
{
	if (!zs_region_contains(shim_region(), (uintptr_t)addr))
		return true; /* not ours: jemalloc keeps it */
	shim_unmap_range(addr, size);
	return false;
}

static void hook_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
			 unsigned int arena)
{
	hook_dalloc(h, addr, size, committed, arena);
}

static bool hook_commit(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
			unsigned int arena)
{
	return false; /* never decommitted: always accessible */
}

static bool hook_opt_out(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
			 unsigned int arena)
{
	return true; /* no decommit, no MADV_FREE: fewer states to reason about */
}

static bool hook_purge(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
		       unsigned int arena)
{
	char *start = (char *)addr + off;

	if (!zs_region_contains(shim_region(), (uintptr_t)start))
		return zs_sys_madvise(start, len, MADV_DONTNEED) != 0;
	pthread_mutex_lock(&shim.map_lock);
	zs_pager_discard(&shim.pager, (uintptr_t)start, len);
	zs_sys_madvise(start, len, MADV_DONTNEED);
	pthread_mutex_unlock(&shim.map_lock);
	return false;
}

static bool hook_split(extent_hooks_t *h, void *addr, size_t size, size_t a, size_t b,
		       bool committed, unsigned int arena)
{
	return false;
}

static bool hook_merge(extent_hooks_t *h, void *a, size_t sa, void *b, size_t sb, bool committed,
		       unsigned int arena)
{
	return zs_region_contains(shim_region(), (uintptr_t)a) !=
	       zs_region_contains(shim_region(), (uintptr_t)b);
}

static extent_hooks_t hooks = {
	hook_alloc, hook_dalloc, hook_destroy, hook_commit, hook_opt_out,
	hook_opt_out, hook_purge, hook_split, hook_merge,
};

/* Give every automatic arena our hooks, metadata staying outside. */
static int hook_arenas(void)
{
	extent_hooks_t *ours = &hooks, *old;
	unsigned int narenas, i;
	size_t len = sizeof(narenas), threshold = 0;
	char name[64];

	if (mallctl("opt.narenas", &narenas, &len, NULL, 0))
		return -1;
	len = sizeof(default_hooks);
	if (mallctl("arena.0.extent_hooks", &default_hooks, &len, NULL, 0))
		return -1;
	for (i = 0; i < narenas; i++) {
		snprintf(name, sizeof(name), "arena.%u.extent_hooks", i);
		len = sizeof(old);
		if (i > 0 && mallctl(name, &old, &len, &default_hooks, sizeof(default_hooks)))
			return -1;
		len = sizeof(old);
		if (mallctl(name, &old, &len, &ours, sizeof(ours)))
			return -1;
	}
	len = sizeof(threshold);
	if (mallctl("opt.oversize_threshold", &threshold, &len, NULL, 0) == 0)
		huge_threshold = threshold;
	mallctlnametomib("thread.tcache.enabled", mib_tcache, &mib_tcache_len);
	mallctlnametomib("thread.arena", mib_arena, &mib_arena_len);
	return 0;
}

struct text {
	uintptr_t addr, start, len;
};

/* Find the executable segment of the object that holds t->addr. */
static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct text *t = arg;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && t->addr - start < ph->p_memsz) {
			t->start = start;
			t->len = ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* The executable segment of the object loaded at t->addr. */
static int find_base_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct text *t = arg;
	int i;

	for (i = 0; t->addr == info->dlpi_addr && i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			t->start = info->dlpi_addr + ph->p_vaddr;
			t->len = ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

static int text_of(void *sym, uintptr_t *start, uintptr_t *len)
{
	struct text t = { .addr = (uintptr_t)sym };

	if (!sym || !dl_iterate_phdr(find_text, &t))
		return -1;
	*start = t.start;
	*len = t.len;
	return 0;
}

bool shim_caller_is_runtime(uintptr_t ra)
{
	return ra - libc_text < libc_text_len || ra - je_text < je_text_len ||
	       ra - ld_text < ld_text_len || ra - unw_text < unw_text_len;
}

/* The C library's, jemalloc's and the dynamic linker's code ranges, and
 * an arena outside the reservation for the C library's own allocations. */
static int libc_arena(void)
{
	struct text ld = { .addr = getauxval(AT_BASE) };
	unsigned int ind;
	size_t len = sizeof(ind);

	if (text_of(dlsym(RTLD_NEXT, "fopen"), &libc_text, &libc_text_len) ||
	    text_of((void *)mallocx, &je_text, &je_text_len))
		return -1;
	/* The dynamic linker's own allocations too (dlopen's link maps):
	 * dl_iterate_phdr walks them, and its callers (libunwind, in the
	 * fault handler with ZSWAPSIM_FAULT_STACKS) block every signal while
	 * it runs, where a frozen page would be fatal. */
	if (ld.addr && dl_iterate_phdr(find_base_text, &ld)) {
		ld_text = ld.start;
		ld_text_len = ld.len;
	}
	/* libunwind's too: its per-thread cache, mapped at a thread's first
	 * unwind, inside the fault handler, must be plain memory (the mapping
	 * of managed memory takes a lock, and managed memory may be frozen). */
	text_of(dlsym(RTLD_DEFAULT, "unw_backtrace"), &unw_text, &unw_text_len);
	if (mallctl("arenas.create", &ind, &len, NULL, 0))
		return -1;
	libc_flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	return 0;
}

int shim_malloc_init(void)
{
	return hook_arenas() || libc_arena() ? -1 : 0;
}

/* ---- the malloc family ---- */

/* Who called the exported function (each is a leaf into allocate). */
#define CALLER ((uintptr_t)__builtin_return_address(0))

/* Per-thread set-up on the first call; false: serve from the boot zone. */
static bool enter(void)
{
	if (!shim_ready())
		return false;
	if (zs_unlikely(!tcache_on)) {
		bool on = true;

		tcache_on = 1;
		mallctlbymib(mib_tcache, mib_tcache_len, NULL, NULL, &on, sizeof(on));
	}
	return true;
}

/* Flags for a request: alignment, zeroing, and the thread's own arena when
 * a huge arena exists after all. */
static int flags_for(size_t size, size_t align, bool zero, uintptr_t caller)
{
	int flags = zero ? MALLOCX_ZERO : 0;

	if (caller - libc_text < libc_text_len || caller - ld_text < ld_text_len)
		return flags | libc_flags | (align > 16 ? MALLOCX_ALIGN(align) : 0);
	if (align > 16)
		flags |= MALLOCX_ALIGN(align);
	if (zs_unlikely(huge_threshold && size >= huge_threshold / 2)) {
		if (!arena_plus_one) {
			unsigned int a = 0;
			size_t len = sizeof(a);

			mallctlbymib(mib_arena, mib_arena_len, &a, &len, NULL, 0);
			arena_plus_one = a + 1;
		}
		flags |= MALLOCX_ARENA(arena_plus_one - 1) | MALLOCX_TCACHE_NONE;
	}
	return flags;
}

static void *allocate(size_t size, size_t align, bool zero, uintptr_t caller)
{
	void *p;

	if (zs_unlikely(!enter())) {
		p = boot_alloc(size, align); /* static memory: already zero */
	} else {
		if (zs_unlikely(__atomic_load_n(&shim.pressure, __ATOMIC_RELAXED)) &&
		    !shim_caller_is_runtime(caller))
			shim_throttle();
		if (size < 16)
			size = 16; /* glibc's alignment; and mallocx(0) is undefined */
		p = mallocx(size, flags_for(size, align, zero, caller));
		shim_attrib_note_alloc(p, size, caller);
	}
	if (!p)
		errno = ENOMEM;
	return p;
}

SHIM_EXPORT void *malloc(size_t size)
{
	return allocate(size, 0, false, CALLER);
}

SHIM_EXPORT void free(void *p)
{
	if (!p || in_boot(p))
		return;
	dallocx(p, 0);
}

SHIM_EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return allocate(total, 0, true, CALLER);
}

SHIM_EXPORT void *realloc(void *p, size_t size)
{
	void *q;

	if (!p)
		return allocate(size, 0, false, CALLER);
	if (size == 0) {
		free(p);
		return NULL;
	}
	if (in_boot(p)) {
		size_t old = boot_size(p);

		q = allocate(size, 0, false, CALLER);
		if (q)
			memcpy(q, p, old < size ? old : size);
		return q;
	}
	if (size < 16)
		size = 16;
	q = rallocx(p, size, flags_for(size, 0, false, CALLER));
	shim_attrib_note_alloc(q, size, CALLER);
	if (!q)
		errno = ENOMEM;
	return q;
}

SHIM_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

static bool power_of_two(size_t a)
{
	return a && !(a & (a - 1));
}

SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (!power_of_two(align) || align % sizeof(void *))
		return EINVAL;
	p = allocate(size, align, false, CALLER);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* glibc 2.36 rounds an alignment that is not a power of two up. */
SHIM_EXPORT void *memalign(size_t align, size_t size)
{
	size_t a = 16;

	while (a < align && a)
		a <<= 1;
	if (!a) {
		errno = EINVAL;
		return NULL;
	}
	return allocate(size, a, false, CALLER);
}

SHIM_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

SHIM_EXPORT void *valloc(size_t size)
{
	return allocate(size, ZS_PAGE_SIZE, false, CALLER);
}

SHIM_EXPORT void *pvalloc(size_t size)
{
	size_t rounded = (size + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;

	if (rounded < size) {
		errno = ENOMEM;
		return NULL;
	}
	return allocate(rounded ? rounded : ZS_PAGE_SIZE, ZS_PAGE_SIZE, false, CALLER);
}

SHIM_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	return in_boot(p) ? boot_size(p) : sallocx(p, 0);
}

SHIM_EXPORT void cfree(void *p)
{
	free(p);
}
