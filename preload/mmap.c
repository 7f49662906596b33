/*
 * mmap.c - the program's own memory calls.  Anonymous private mappings go in
 * the managed reservation; munmap, mremap, mprotect, madvise and mlock on
 * managed memory go through the pager so they keep their meaning with pages
 * sampled or frozen (DESIGN-NOTES 6.4): a read-only page stays read-only
 * after a thaw, discarded memory reads as zeros, locked memory is never
 * frozen.  Everything else goes straight to the kernel.  The shim's own
 * memory never comes through here (src/ maps with raw system calls).
 *
 * Not managed: shared and file mappings, stacks (MAP_GROWSDOWN, MAP_STACK;
 * glibc maps thread stacks with calls nobody can interpose anyway), huge
 * pages, MAP_32BIT, fixed mappings outside the reservation, and mappings
 * the C library or jemalloc make for themselves.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static bool present_for_move(uintptr_t addr, size_t len);

#define KEEP_FLAGS (MAP_NORESERVE | MAP_POPULATE | MAP_LOCKED)
#define UNMANAGED (MAP_GROWSDOWN | MAP_STACK | MAP_HUGETLB | MAP_32BIT)

static size_t page_round(size_t len)
{
	return (len + ZS_PAGE_SIZE - 1) & ZS_PAGE_MASK;
}

/* Under map_lock: make a range of the reservation a fresh mapping.  Under
 * a limit it stays PROT_NONE until first touched, so that first touches are
 * charged (pager.h), unless the caller wants it in memory now. */
static int map_locked(void *addr, size_t len, int prot, int flags)
{
	bool fresh = shim.reclaim.limit_pages && !(flags & (MAP_POPULATE | MAP_LOCKED));
	void *p = zs_sys_mmap(addr, len, fresh ? PROT_NONE : prot,
			      MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | (flags & KEEP_FLAGS), -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (fresh)
		zs_pager_map_fresh(&shim.pager, (uintptr_t)addr, len, prot);
	else
		zs_pager_map(&shim.pager, (uintptr_t)addr, len, prot);
	if (flags & MAP_LOCKED)
		zs_pager_lock(&shim.pager, (uintptr_t)addr, len, true);
	return 0;
}

int shim_map_range(void *addr, size_t len, int prot, int flags)
{
	int ret;

	pthread_mutex_lock(&shim.map_lock);
	ret = map_locked(addr, len, prot, flags);
	pthread_mutex_unlock(&shim.map_lock);
	return ret;
}

/* Under map_lock: forget the pages and give the range back as reservation. */
static void unmap_locked(uintptr_t addr, size_t len)
{
	zs_pager_unmap(&shim.pager, addr, len);
	zs_sys_mmap((void *)addr, len, PROT_NONE,
		    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	zs_region_free(shim_region(), (void *)addr, len);
}

void shim_unmap_range(void *addr, size_t len)
{
	pthread_mutex_lock(&shim.map_lock);
	unmap_locked((uintptr_t)addr, len);
	pthread_mutex_unlock(&shim.map_lock);
}

/* The part of [addr, addr + len) inside the reservation, if any. */
static bool managed_part(void *addr, size_t len, uintptr_t *start, uintptr_t *end)
{
	struct zs_region *r = shim_region();
	uintptr_t a = (uintptr_t)addr, b = a + page_round(len);

	if (__atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) != SHIM_ON || b <= r->base ||
	    a >= r->end)
		return false;
	*start = a > r->base ? a : r->base;
	*end = b < r->end ? b : r->end;
	return *start < *end;
}

/* A mapping the shim does not manage (shared, a file, ...) is placed over
 * the reservation: forget what was there and keep the range out of the
 * region's hands, so the clock never samples or freezes it; munmap gives it
 * back. */
static void claim_unmanaged(uintptr_t addr, size_t len)
{
	pthread_mutex_lock(&shim.map_lock);
	zs_pager_unmap(&shim.pager, addr, len);
	zs_region_free(shim_region(), (void *)addr, len);
	zs_region_alloc(shim_region(), len, 0, addr);
	pthread_mutex_unlock(&shim.map_lock);
}

static void *map_managed(void *addr, size_t len, int prot, int flags)
{
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	void *p;

	len = page_round(len);
	if (fixed) {
		/* Over the reservation: whatever was there is replaced, unless
		 * the caller asked not to (MAP_FIXED_NOREPLACE: EEXIST). */
		pthread_mutex_lock(&shim.map_lock);
		if (!(flags & MAP_FIXED_NOREPLACE)) {
			zs_pager_unmap(&shim.pager, (uintptr_t)addr, len);
			zs_region_free(shim_region(), addr, len);
		}
		p = zs_region_alloc(shim_region(), len, 0, (uintptr_t)addr);
		pthread_mutex_unlock(&shim.map_lock);
		if (!p && (flags & MAP_FIXED_NOREPLACE))
			errno = EEXIST;
	} else {
		p = zs_region_alloc(shim_region(), len, 0, 0);
	}
	if (!p)
		return NULL;
	if (shim_map_range(p, len, prot, flags) != 0) {
		zs_region_free(shim_region(), p, len);
		return NULL;
	}
	return p;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	uintptr_t s, e;
	bool anon = (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
		    !(flags & UNMANAGED) &&
		    !shim_caller_is_runtime((uintptr_t)__builtin_return_address(0));
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);

	if (anon && len && (fixed ? managed_part(addr, len, &s, &e) && s == (uintptr_t)addr &&
					    e == (uintptr_t)addr + page_round(len)
				  : shim_ready())) {
		void *p = map_managed(addr, len, prot, flags);

		if (p) {
			shim_attrib_note_alloc(p, len, (uintptr_t)__builtin_return_address(0));
			return p;
		}
		if (fixed) {
			if (!(flags & MAP_FIXED_NOREPLACE))
				errno = ENOMEM;
			return MAP_FAILED;
		}
	}
	if (fixed && managed_part(addr, len, &s, &e))
		claim_unmanaged(s, e - s);
	return zs_sys_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	uintptr_t s, e;

	if (!managed_part(addr, len, &s, &e) || ((uintptr_t)addr & ~ZS_PAGE_MASK))
		return zs_sys_munmap(addr, len);
	pthread_mutex_lock(&shim.map_lock);
	unmap_locked(s, e - s);
	pthread_mutex_unlock(&shim.map_lock);
	/* The parts outside the reservation, if the range straddles it. */
	if ((uintptr_t)addr < s)
		zs_sys_munmap(addr, s - (uintptr_t)addr);
	if ((uintptr_t)addr + page_round(len) > e)
		zs_sys_munmap((void *)e, (uintptr_t)addr + page_round(len) - e);
	return 0;
}

SHIM_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	uintptr_t s, e;
	int ret;

	if (!managed_part(addr, len, &s, &e))
		return zs_sys_mprotect(addr, len, prot);
	pthread_mutex_lock(&shim.map_lock);
	ret = zs_pager_protect(&shim.pager, s, e - s, prot);
	pthread_mutex_unlock(&shim.map_lock);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/* MADV_DONTFORK and MADV_WIPEONFORK: a child must not get back, from the
 * copy of the pool it inherits, pages the kernel did not give it.  Their
 * pages stay present in the parent, as if locked, so the kernel's own
 * treatment is the whole story; a child forgets the ranges it did not
 * inherit (shim_forget_uninherited). */
static int dontfork_seen;

static int fork_advice(void *addr, size_t len, int advice, uintptr_t s, uintptr_t e)
{
	int ret;

	pthread_mutex_lock(&shim.map_lock);
	zs_pager_lock(&shim.pager, s, e - s, true);
	ret = zs_sys_madvise(addr, len, advice);
	if (ret == 0 && advice == MADV_DONTFORK)
		__atomic_store_n(&dontfork_seen, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&shim.map_lock);
	return ret;
}

/* The child's managed pages in [s, e), a hole in its address space: forget
 * them, and reserve the hole again. */
static void forget_hole(uintptr_t s, uintptr_t e)
{
	if (s >= e)
		return;
	zs_pager_unmap(&shim.pager, s, e - s);
	zs_sys_mmap((void *)s, e - s, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

static uintptr_t hex(const char **p)
{
	uintptr_t v = 0;
	int d;

	for (;; (*p)++) {
		d = **p >= '0' && **p <= '9' ? **p - '0' : **p >= 'a' && **p <= 'f' ? **p - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v * 16 + (uintptr_t)d;
	}
}

/* Read /proc/self/maps without allocating (the child of a threaded parent
 * must not take the allocator's locks).  Each line starts with its range;
 * the rest of a line longer than the buffer (a long path) is skipped. */
void shim_forget_uninherited(void)
{
	struct zs_region *reg = shim_region();
	char buf[4096];
	size_t have = 0;
	ssize_t n;
	uintptr_t at = reg->base;
	bool skipping = false;
	int fd;

	if (!__atomic_load_n(&dontfork_seen, __ATOMIC_RELAXED) ||
	    (fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *line = buf, *nl;

		have += (size_t)n;
		buf[have] = 0;
		while ((nl = strchr(line, '\n')) || (line == buf && have == sizeof(buf) - 1)) {
			const char *p = line;
			uintptr_t lo, hi;

			if (!skipping) {
				lo = hex(&p);
				hi = *p == '-' ? (p++, hex(&p)) : 0;
				if (hi > reg->base && lo < reg->end) {
					forget_hole(at, lo > at ? lo : at);
					at = hi;
				}
			}
			skipping = !nl;
			line = nl ? nl + 1 : buf + have;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
	}
	close(fd);
	forget_hole(at, reg->end);
}

SHIM_EXPORT int madvise(void *addr, size_t len, int advice)
{
	uintptr_t s, e;
	int ret;

	if (managed_part(addr, len, &s, &e) && (advice == MADV_DONTFORK || advice == MADV_WIPEONFORK))
		return fork_advice(addr, len, advice, s, e);
	if (!managed_part(addr, len, &s, &e) ||
	    (advice != MADV_DONTNEED && advice != MADV_FREE && advice != MADV_REMOVE))
		return zs_sys_madvise(addr, len, advice);
	/* MADV_FREE may or may not zero: zeroing now is one of its meanings. */
	pthread_mutex_lock(&shim.map_lock);
	zs_pager_discard(&shim.pager, s, e - s);
	ret = zs_sys_madvise(addr, len, MADV_DONTNEED);
	pthread_mutex_unlock(&shim.map_lock);
	return ret;
}

static int lock_range(const void *addr, size_t len, bool locked)
{
	uintptr_t s, e;
	int ret;

	if (!managed_part((void *)addr, len, &s, &e))
		return (int)syscall(locked ? SYS_mlock : SYS_munlock, addr, len);
	pthread_mutex_lock(&shim.map_lock);
	if (locked)
		zs_pager_lock(&shim.pager, s, e - s, true);
	ret = (int)syscall(locked ? SYS_mlock : SYS_munlock, addr, len);
	if (!locked || ret)
		zs_pager_lock(&shim.pager, s, e - s, false);
	pthread_mutex_unlock(&shim.map_lock);
	return ret;
}

void shim_keep_present(const void *addr, size_t len)
{
	uintptr_t s, e;

	if (!managed_part((void *)addr, len, &s, &e))
		return;
	pthread_mutex_lock(&shim.map_lock);
	zs_pager_lock(&shim.pager, s, e - s, true);
	pthread_mutex_unlock(&shim.map_lock);
}

SHIM_EXPORT int mlock(const void *addr, size_t len)
{
	return lock_range(addr, len, true);
}

SHIM_EXPORT int munlock(const void *addr, size_t len)
{
	return lock_range(addr, len, false);
}

/* mremap of managed memory: shrink and grow in place within the
 * reservation; a move thaws the pages first (their keys are addresses), moves
 * them with the kernel, and gives the old range back as reservation. */
static void *remap_managed(uintptr_t old, size_t old_len, size_t new_len, int flags, void *want)
{
	int prot = *zs_region_state(shim_region(), old) & ZS_PS_PROT_MASK;
	void *dst;

	if (new_len <= old_len && !(flags & MREMAP_FIXED)) {
		if (new_len < old_len)
			unmap_locked(old + new_len, old_len - new_len);
		return (void *)old;
	}
	if (!(flags & MREMAP_FIXED) &&
	    zs_region_alloc(shim_region(), new_len - old_len, 0, old + old_len)) {
		if (map_locked((void *)(old + old_len), new_len - old_len, prot, 0) == 0)
			return (void *)old;
		zs_region_free(shim_region(), (void *)(old + old_len), new_len - old_len);
	}
	if (!(flags & MREMAP_MAYMOVE))
		return MAP_FAILED;
	if (flags & MREMAP_FIXED) {
		/* Whatever was mapped at the destination is replaced. */
		zs_pager_unmap(&shim.pager, (uintptr_t)want, new_len);
		zs_region_free(shim_region(), want, new_len);
	}
	dst = zs_region_alloc(shim_region(), new_len, 0, (uintptr_t)want);
	if (!dst)
		return MAP_FAILED;
	if (!present_for_move(old, old_len) ||
	    (void *)syscall(SYS_mremap, old, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) !=
		    dst) {
		zs_region_free(shim_region(), dst, new_len);
		return MAP_FAILED;
	}
	zs_pager_unmap(&shim.pager, old, old_len);
	zs_sys_mmap((void *)old, old_len, PROT_NONE,
		    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	zs_region_free(shim_region(), (void *)old, old_len);
	zs_pager_map(&shim.pager, (uintptr_t)dst, new_len, prot);
	return dst;
}

/* Before a move, under map_lock: every page of the range present (the
 * moved range is recorded as present).  false, with ENOMEM, when one could
 * not be restored (an engine error): it must not move, frozen, to an
 * address recorded as present. */
static bool present_for_move(uintptr_t addr, size_t len)
{
	uintptr_t page;

	zs_pager_lock(&shim.pager, addr, len, true);
	zs_pager_lock(&shim.pager, addr, len, false);
	for (page = addr; page < addr + len; page += ZS_PAGE_SIZE) {
		uint8_t v = *zs_region_state(shim_region(), page);

		if ((v & ZS_PS_MAPPED) && (v & ZS_PS_STATE_MASK) != ZS_PS_PRESENT) {
			errno = ENOMEM;
			return false;
		}
	}
	return true;
}

/* Managed pages leave for an address outside the reservation (or are
 * copied with MREMAP_DONTUNMAP): they go present first, and the old range,
 * if the kernel emptied it, returns to the reservation. */
static void *remap_out(uintptr_t old, size_t old_len, size_t new_len, int flags, void *want)
{
	void *ret;

	pthread_mutex_lock(&shim.map_lock);
	ret = MAP_FAILED;
	if (present_for_move(old, old_len))
		ret = (void *)syscall(SYS_mremap, old, old_len, new_len, flags, want);
	if (ret != MAP_FAILED && ret != (void *)old && !(flags & MREMAP_DONTUNMAP))
		unmap_locked(old, old_len);
	pthread_mutex_unlock(&shim.map_lock);
	return ret;
}

SHIM_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	uintptr_t s, e;
	void *want = NULL, *ret;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		want = va_arg(ap, void *);
		va_end(ap);
	}
	if (!managed_part(old, old_len ? old_len : 1, &s, &e) || s != (uintptr_t)old || !new_len)
		return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, want);
	if ((flags & MREMAP_DONTUNMAP) || (want && !zs_region_contains(shim_region(), (uintptr_t)want)))
		return remap_out((uintptr_t)old, page_round(old_len), new_len, flags, want);
	pthread_mutex_lock(&shim.map_lock);
	ret = remap_managed((uintptr_t)old, page_round(old_len), page_round(new_len), flags, want);
	pthread_mutex_unlock(&shim.map_lock);
	if (ret == MAP_FAILED)
		errno = ENOMEM;
	return ret;
}
