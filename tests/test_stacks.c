/*
 * test_stacks.c - the attribution tables (src/stacks.c): stacks counted and
 * merged, a full table counting into "other", site ids, the site map and
 * the frozen-page count by site, names from a symboliser, the dump lines;
 * and a capture from a real SIGSEGV handler, on a new thread, that must
 * find the faulting function and its caller without a single malloc-family
 * or mmap call (this program interposes them and counts).
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stacks.h"
#include "tap.h"

/* ---- counting the allocator while a capture runs ---- */

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void __libc_free(void *p);

static volatile int capturing, allocs;

void *malloc(size_t size)
{
	allocs += capturing;
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	allocs += capturing;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	allocs += capturing;
	return __libc_realloc(p, size);
}

void free(void *p)
{
	allocs += capturing;
	__libc_free(p);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	allocs += capturing;
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* ---- the tables ---- */

static struct zs_stacks *t;

static void test_stacks(void)
{
	uintptr_t a[3] = { 0x1000, 0x2000, 0x3000 }, b[3] = { 0x1000, 0x2000, 0x3001 };
	uintptr_t deep[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	unsigned int top[4], i;
	int sa = zs_stacks_add(t, a, 3), sb = zs_stacks_add(t, b, 3);
	uint64_t total = 0;

	ok(sa >= 0 && sb >= 0 && sa != sb, "two stacks, two slots");
	is(zs_stacks_add(t, a, 3), sa, "the same stack counts in its slot");
	is(zs_stacks_add(t, a, 2) == sa, 0, "a prefix is another stack");
	is(t->stack[sa].count, 2, "counted twice");
	ok(zs_stacks_add(t, deep, 12) >= 0, "a deep stack is kept");
	is(t->stack[zs_stacks_add(t, deep, 12)].depth, ZS_STACK_DEPTH, "to ZS_STACK_DEPTH frames");
	is(zs_stacks_top(t, top, 2), 2, "top 2 of 4");
	ok(top[0] == (unsigned int)sa || t->stack[top[0]].count == 2, "most counted first");
	ok(t->stack[top[0]].count >= t->stack[top[1]].count, "in order");
	for (i = 0; i < 4 * ZS_STACK_SLOTS; i++) {
		uintptr_t ip[2] = { 0x400000 + i, 7 };

		zs_stacks_add(t, ip, 2);
	}
	ok(t->stacks_other > 0, "a full table counts into other (%llu)",
	   (unsigned long long)t->stacks_other);
	for (i = 0; i < ZS_STACK_SLOTS; i++)
		total += t->stack[i].count;
	is(total + t->stacks_other, 4 * ZS_STACK_SLOTS + 6, "no occurrence lost");
}

static void test_sites(void)
{
	unsigned int a = zs_sites_id(t, 0x1234), b = zs_sites_id(t, 0x5678), i, full = 0;

	ok(a != b && a != ZS_SITE_UNKNOWN && a != ZS_SITE_OTHER, "two sites, two ids");
	is(zs_sites_id(t, 0x1234), a, "an id is stable");
	zs_sites_thaw(t, a);
	zs_sites_thaw(t, a);
	is(t->site[a].thaws, 2, "thaws by site");
	for (i = 0; i < 2 * ZS_SITE_SLOTS; i++)
		full += zs_sites_id(t, 0x10000 + 16 * i) == ZS_SITE_OTHER;
	ok(full >= ZS_SITE_SLOTS, "a full table gives other (%u)", full);
	is(zs_sites_id(t, 0x1234), a, "old ids stay");
}

static void test_map(void)
{
	struct zs_region r;
	uint16_t *map;
	uint32_t *count = calloc(ZS_SITE_SLOTS, sizeof(*count));
	uintptr_t base;
	size_t i;

	if (zs_region_create(64 * ZS_PAGE_SIZE, &r) || !count) {
		skip(5, "cannot reserve");
		return;
	}
	base = r.base;
	map = zs_map_anon(64 * sizeof(*map));
	zs_sites_mark(&r, map, base + 100, 3 * ZS_PAGE_SIZE, 5);       /* pages 0-3 */
	zs_sites_mark(&r, map, base + 10 * ZS_PAGE_SIZE, 16, 9);      /* page 10 */
	zs_sites_mark(&r, map, base + 63 * ZS_PAGE_SIZE, 2 * ZS_PAGE_SIZE, 9); /* past the end */
	is(map[0] + map[3] + map[4], 10, "a range marks every page it touches");
	is(map[10], 9, "a small allocation marks its page");
	is(map[63], 0, "a range past the region marks nothing");
	for (i = 0; i < 12; i++)
		r.state[i] = ZS_PS_MAPPED | (i % 2 ? ZS_PS_FROZEN : ZS_PS_PRESENT);
	r.state[11] = ZS_PS_FROZEN; /* not mapped */
	zs_sites_count_frozen(&r, map, base + 64 * ZS_PAGE_SIZE, count);
	ok(count[5] == 2 && count[9] == 0 && count[0] == 3, "frozen pages by site: %u %u %u",
	   count[5], count[9], count[0]);
	zs_sites_count_frozen(&r, map, base + 2 * ZS_PAGE_SIZE, count);
	is(count[5], 1, "only below the end");
	zs_unmap(map, 64 * sizeof(*map));
	zs_region_destroy(&r);
	free(count);
}

static int symbolise(uintptr_t ip, char *buf, size_t len)
{
	if (ip == 0x5677) /* a return address: named by its call */
		return -ENOENT;
	snprintf(buf, len, "fn_%lx", (unsigned long)ip);
	return 0;
}

static void test_lines(void)
{
	uintptr_t s[2] = { 0xabc, 0x2001 };
	unsigned int a = zs_sites_id(t, 0x1234), b = zs_sites_id(t, 0x5678);
	int slot = zs_stacks_add(t, s, 2);
	char line[256];

	zs_stacks_line(t, (unsigned int)slot, line, sizeof(line));
	ok(!strcmp(line, "thaw_stack 1 0xabc;0x2001\n"), "raw before naming");
	ok(zs_stacks_resolve(t, symbolise) > 0, "names made");
	zs_stacks_line(t, (unsigned int)slot, line, sizeof(line));
	ok(!strcmp(line, "thaw_stack 1 fn_abc;fn_2000\n"), "named (callers by their call)");
	zs_sites_line(t, a, 7, line, sizeof(line));
	ok(!strcmp(line, "alloc_site 7 0 fn_1233\n"), "a site");
	zs_sites_line(t, b, 0, line, sizeof(line));
	ok(!strcmp(line, "alloc_site 0 0 0x5678\n"), "a site without a name");
	zs_sites_line(t, ZS_SITE_UNKNOWN, 3, line, sizeof(line));
	ok(!strcmp(line, "alloc_site 3 0 unknown\n"), "pages of no recorded allocation");
	is(zs_stacks_line(t, (unsigned int)slot, line, 12), 0, "a line that does not fit: 0");
	is(zs_stacks_resolve(t, symbolise), 0, "nothing new to name");
}

/* ---- a capture in a real handler ---- */

static char *page;
static uintptr_t got[ZS_STACK_DEPTH];
static unsigned int depth;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	capturing = 1;
	depth = zs_stack_capture(uc, got, ZS_STACK_DEPTH);
	capturing = 0;
	mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

__attribute__((noinline)) static void toucher(void)
{
	*(volatile char *)page = 1;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void caller(void)
{
	toucher();
	__asm__ volatile("" ::: "memory");
}

static void *thread(void *arg)
{
	caller();
	return NULL;
}

static void test_capture(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	pthread_t th;

	ok(zs_stack_unwind_init() == 0, "libunwind set up");
	page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sigaction(SIGSEGV, &sa, NULL);
	pthread_create(&th, NULL, thread, NULL);
	pthread_join(th, NULL);
	ok(depth >= 3, "a stack of %u frames", depth);
	ok(got[0] - (uintptr_t)toucher < 64, "the faulting function first");
	ok(got[1] - (uintptr_t)caller < 64, "then its caller");
	is(allocs, 0, "no malloc-family or mmap call in the handler");
}

int main(void)
{
	t = zs_map_anon(sizeof(*t));
	zs_stacks_init(t);
	test_stacks();
	test_sites();
	test_map();
	zs_stacks_init(t);
	test_lines();
	test_capture();
	return done_testing();
}
