/*
 * test_pager.c - freezing and thawing real pages in place, with a SIGSEGV
 * handler like the shim's: contents survive sample, freeze and thaw; frozen
 * pages leave memory (mincore); the program's own protections, MADV_DONTNEED
 * and mlock keep their meaning; threads that read and write while the pages
 * are frozen under them lose nothing.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <errno.h>
#include <ucontext.h>
#include <unistd.h>

#include "fault.h"
#include "pagegen.h"
#include "pager.h"
#include "tap.h"

#define NPAGES 512
#define PG(i) (base + ((size_t)(i) << ZS_PAGE_SHIFT))

static struct zs_pager pager;
static struct zs_engine *engine;
static char *base;
static char tmpdir[] = "/tmp/zs-pager-XXXXXX";
static __thread sigjmp_buf *expect_fault;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;

	if (zs_pager_fault(&pager, (uintptr_t)si->si_addr, write))
		return;
	if (expect_fault)
		siglongjmp(*expect_fault, 1);
	signal(SIGSEGV, SIG_DFL); /* a real fault: die with it */
}

static void setup(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	struct zs_options o;
	char err[256];

	if (!mkdtemp(tmpdir))
		skip_all("no temporary directory");
	zs_options_defaults(&o);
	o.mem_limit = 1ULL << 30;
	o.max_pool_size = 256 << 10; /* writeback as well */
	strcpy(o.swapfile, tmpdir);
	if (zs_engine_create(&o, &engine, err, sizeof(err)) ||
	    zs_pager_create(&pager, engine, 64 << 20, err, sizeof(err))) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	sigaction(SIGSEGV, &sa, NULL);
	base = zs_region_alloc(&pager.region, NPAGES * ZS_PAGE_SIZE, 0, 0);
	mprotect(base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	zs_pager_map(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
}

static void fill(int seed)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		zs_page_generate(zs_page_kind_mixed((uint64_t)(seed + i)), (uint64_t)(seed + i), PG(i));
}

/* Sample every page, then freeze every one still untouched. */
static void freeze_all(void)
{
	zs_pager_sample(&pager, (uintptr_t)base, NPAGES, NULL);
	zs_pager_freeze(&pager, (uintptr_t)base, NPAGES);
}

/* Pages that differ from what fill(seed) wrote. */
static int mismatches(int seed)
{
	unsigned char want[ZS_PAGE_SIZE];
	int i, bad = 0;

	for (i = 0; i < NPAGES; i++) {
		zs_page_generate(zs_page_kind_mixed((uint64_t)(seed + i)), (uint64_t)(seed + i), want);
		bad += memcmp(PG(i), want, ZS_PAGE_SIZE) != 0;
	}
	return bad;
}

static int resident(void)
{
	unsigned char vec[NPAGES];
	int i, n = 0;

	mincore(base, NPAGES * ZS_PAGE_SIZE, vec);
	for (i = 0; i < NPAGES; i++)
		n += vec[i] & 1;
	return n;
}

static struct zs_pager_stats pstats(void)
{
	struct zs_pager_stats s;

	zs_pager_stats(&pager, &s);
	return s;
}

static void test_freeze_thaw(void)
{
	size_t sampled, frozen;
	int i, touched = 0;
	volatile char sink;

	fill(1);
	sampled = zs_pager_sample(&pager, (uintptr_t)base, NPAGES, NULL);
	is(sampled, NPAGES, "every page is sampled");
	for (i = 0; i < NPAGES; i += 8, touched++)
		sink = *PG(i); /* referenced: must not be frozen */
	(void)sink;
	is(pstats().references, touched, "touching sampled pages is seen as references");
	frozen = zs_pager_freeze(&pager, (uintptr_t)base, NPAGES);
	ok(frozen > NPAGES / 2 && frozen <= (size_t)(NPAGES - touched),
	   "untouched pages freeze (%zu), referenced ones do not", frozen);
	ok(resident() <= NPAGES - (int)frozen + 8, "frozen pages leave memory (%d resident)",
	   resident());
	is(mismatches(1), 0, "every page reads back intact, thawed on fault");
	is(pstats().thaws, frozen, "one thaw per frozen page");
	is(pstats().frozen_pages, 0, "nothing frozen after reading everything");
	is(pstats().protected_pages, 0, "pages the engine refused were only sampled: all present now");
	ok(pstats().freeze_refused == 0, "nothing refused: random pages went to the swap file");
}

static void test_writes_and_writeback(void)
{
	int round, bad = 0;

	for (round = 0; round < 5; round++) {
		fill(100 + round); /* writes fault on sampled and frozen pages */
		freeze_all();
		bad += mismatches(100 + round);
	}
	is(bad, 0, "5 rounds of write, freeze, read: intact");
	ok(zs_engine_pool_bytes(engine) <= (256 << 10) + ZS_PAGE_SIZE,
	   "the pool kept its limit while pages were frozen");
}

static void test_protect(void)
{
	sigjmp_buf jb;
	volatile int faulted = 0;

	fill(7);
	freeze_all();
	ok(zs_pager_protect(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, PROT_READ) == 0,
	   "the program's mprotect(PROT_READ) over frozen pages");
	is(mismatches(7), 0, "read-only pages thaw intact");
	expect_fault = &jb;
	if (sigsetjmp(jb, 1) == 0)
		*PG(3) = 'x';
	else
		faulted = 1;
	expect_fault = NULL;
	ok(faulted, "a write to a thawed read-only page still faults for the program");
	zs_pager_protect(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	*PG(3) = 'y';
	ok(*PG(3) == 'y', "writable again after mprotect(READ|WRITE)");
}

static void test_discard_and_lock(void)
{
	struct zs_stats s;
	int i, zero = 1;

	fill(9);
	freeze_all();
	zs_pager_discard(&pager, (uintptr_t)base, NPAGES / 2 * ZS_PAGE_SIZE);
	madvise(base, NPAGES / 2 * ZS_PAGE_SIZE, MADV_DONTNEED);
	for (i = 0; i < NPAGES / 2 * (int)ZS_PAGE_SIZE; i += 512)
		zero &= base[i] == 0;
	ok(zero, "MADV_DONTNEED'd pages read as zeros, never as restored data");
	zs_pager_lock(&pager, (uintptr_t)PG(NPAGES / 2), NPAGES / 2 * ZS_PAGE_SIZE, true);
	ok(zs_pager_sample(&pager, (uintptr_t)base, NPAGES, NULL) <= NPAGES / 2,
	   "locked pages are never sampled");
	ok(zs_pager_freeze(&pager, (uintptr_t)PG(NPAGES / 2), NPAGES / 2) == 0,
	   "nor frozen");
	zs_pager_lock(&pager, (uintptr_t)PG(NPAGES / 2), NPAGES / 2 * ZS_PAGE_SIZE, false);
	for (i = NPAGES / 2; i < NPAGES; i++) {
		unsigned char want[ZS_PAGE_SIZE];

		zs_page_generate(zs_page_kind_mixed((uint64_t)(9 + i)), (uint64_t)(9 + i), want);
		zero += memcmp(PG(i), want, ZS_PAGE_SIZE) != 0;
	}
	is(zero, 1, "locking thawed the frozen half intact");
	freeze_all();
	zs_pager_unmap(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE);
	zs_engine_stats(engine, &s);
	ok(s.stored_pages == 0 && s.swap_pages == 0, "unmap drops everything frozen");
	is(pstats().frozen_pages, 0, "and the pager counts nothing frozen");
	zs_pager_map(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	mprotect(base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
}

/* Threads write counters into their pages while the main thread samples and
 * freezes the whole range over and over: no write may be lost. */
static volatile int stop_threads;

struct writer {
	int id, rounds, bad;
	stack_t ss, old;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	int i, first = w->id * (NPAGES / 4);

	w->ss.ss_sp = malloc(64 << 10);
	w->ss.ss_size = 64 << 10;
	sigaltstack(&w->ss, &w->old);
	while (!stop_threads) {
		for (i = first; i < first + NPAGES / 4; i++) {
			uint64_t *word = (uint64_t *)PG(i) + (i % 500);

			w->bad += *word != (uint64_t)w->rounds;
			*word = (uint64_t)w->rounds + 1;
		}
		w->rounds++;
	}
	sigaltstack(&w->old, NULL); /* the thread's own, as its runtime expects */
	return NULL;
}

static void test_threads(void)
{
	struct writer w[4];
	pthread_t t[4];
	int i, cycles = 0, bad = 0, rounds = 0;

	memset(base, 0, NPAGES * ZS_PAGE_SIZE);
	for (i = 0; i < 4; i++) {
		w[i] = (struct writer){ .id = i };
		pthread_create(&t[i], NULL, writer_run, &w[i]);
	}
	for (cycles = 0; cycles < 300; cycles++) {
		zs_pager_sample(&pager, (uintptr_t)base, NPAGES, NULL);
		usleep(200);
		zs_pager_freeze(&pager, (uintptr_t)base, NPAGES);
	}
	stop_threads = 1;
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
		rounds += w[i].rounds;
		free(w[i].ss.ss_sp);
	}
	ok(rounds > 4, "the writers ran (%d rounds) through %d freeze cycles", rounds, cycles);
	is(bad, 0, "no write was lost, no page seen half restored");
	ok(pstats().thaws > 0, "with pages thawed under them (%llu)",
	   (unsigned long long)pstats().thaws);
}

static void test_pins(void)
{
	int slot, i, bad = 0;

	fill(11);
	freeze_all();
	slot = zs_pager_pin(&pager, (uintptr_t)PG(10) + 100, 20 * ZS_PAGE_SIZE);
	ok(slot >= 0, "a pin takes a slot");
	for (i = 10; i <= 30; i++)
		bad += (*zs_region_state(&pager.region, (uintptr_t)PG(i)) & ZS_PS_STATE_MASK) !=
		       ZS_PS_PRESENT;
	is(bad, 0, "pinning made the frozen pages present");
	freeze_all();
	for (i = 10; i <= 30; i++)
		bad += (*zs_region_state(&pager.region, (uintptr_t)PG(i)) & ZS_PS_STATE_MASK) !=
		       ZS_PS_PRESENT;
	is(bad, 0, "pinned pages are never sampled or frozen");
	ok((*zs_region_state(&pager.region, (uintptr_t)PG(40)) & ZS_PS_STATE_MASK) != ZS_PS_PRESENT,
	   "while the others are");
	zs_pager_unpin(&pager, slot);
	ok(zs_pager_sample(&pager, (uintptr_t)PG(10), 20, NULL) > 0, "unpinned, they sample again");
	is(mismatches(11), 0, "all intact");
	is(zs_pager_pin(&pager, 4096, 100), -1, "memory outside the reservation needs no pin");
}

/* mlock over frozen pages whose stored copy cannot be read (a failing
 * swap file): those pages stay frozen, never opened empty, and come back
 * intact once reads work again. */
static void test_lock_failure(void)
{
	struct zs_pager_stats before = pstats();
	int i, frozen = 0;

	fill(17);
	freeze_all();
	zs_fault_arm(ZS_FAULT_SWAP_READ, 0, 1000000);
	zs_pager_lock(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, true);
	zs_fault_arm(ZS_FAULT_SWAP_READ, 0, 0);
	for (i = 0; i < NPAGES; i++)
		frozen += (*zs_region_state(&pager.region, (uintptr_t)PG(i)) & ZS_PS_STATE_MASK) ==
			  ZS_PS_FROZEN;
	ok(frozen > 0 && pstats().thaw_failures > before.thaw_failures,
	   "pages that could not be read back stay frozen (%d)", frozen);
	zs_pager_lock(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, false);
	is(mismatches(17), 0, "and come back intact once the swap file reads again");
}

/* Near the VMA limit a fault brings back its whole block, so the
 * protection changes over runs instead of splitting areas page by page. */
/* Pages [from, to) that are present. */
static int present_in(int from, int to)
{
	int i, n = 0;

	for (i = from; i < to; i++)
		n += (*zs_region_state(&pager.region, (uintptr_t)PG(i)) & ZS_PS_STATE_MASK) ==
		     ZS_PS_PRESENT;
	return n;
}

static void test_cluster(void)
{
	volatile char sink;

	fill(13);
	freeze_all();
	zs_pager_set_cluster(&pager, 64);
	sink = *PG(70); /* block 64..127 */
	(void)sink;
	is(present_in(64, 128), 64, "one fault brought back its whole 64-page block");
	ok((*zs_region_state(&pager.region, (uintptr_t)PG(128)) & ZS_PS_STATE_MASK) != ZS_PS_PRESENT,
	   "and nothing beyond it");
	zs_pager_set_cluster(&pager, 1);
	is(mismatches(13), 0, "all intact");
}

/* The admission hook: counts what it is asked, waits when told to. */
static volatile size_t admitted_pages, admit_calls; /* set in the handler */
static volatile bool admit_says_waited;

static bool count_admit(struct zs_pager *p, size_t pages)
{
	admit_calls++;
	admitted_pages += pages;
	return admit_says_waited;
}

static uint8_t state_at(char *page)
{
	return *zs_region_state(&pager.region, (uintptr_t)page);
}

/* A fresh mapping stays PROT_NONE until touched: the first touch asks the
 * admission hook, opens a block of fresh neighbours (zeros), and is counted;
 * the clock never freezes what was never touched; discarding keeps it
 * fresh; unmapping leaves nothing protected. */
static void test_fresh(void)
{
	size_t n = 4 * ZS_PAGER_FRESH_BLOCK;
	char *m = zs_region_alloc(&pager.region, n << ZS_PAGE_SHIFT, 0, 0);
	struct zs_pager_stats before = pstats();
	volatile char sink;
	size_t i, open = 0;
	bool zeros = true;

	zs_pager_set_admit(&pager, count_admit);
	zs_pager_map_fresh(&pager, (uintptr_t)m, n << ZS_PAGE_SHIFT, PROT_READ | PROT_WRITE);
	is(pstats().protected_pages - before.protected_pages, n, "fresh pages are protected");
	is(zs_pager_sample(&pager, (uintptr_t)m, n, NULL), 0, "the clock samples no fresh page");
	is(zs_pager_freeze(&pager, (uintptr_t)m, n), 0, "nor freezes one");
	((volatile char *)m)[ZS_PAGE_SIZE + 5] = 7; /* block 0; ordered before the checks */
	is(admit_calls, 1, "the first touch asked the admission hook once");
	is(admitted_pages, ZS_PAGER_FRESH_BLOCK, "for its block");
	for (i = 0; i < n; i++)
		open += (state_at(m + (i << ZS_PAGE_SHIFT)) & ZS_PS_STATE_MASK) == ZS_PS_PRESENT;
	is(open, ZS_PAGER_FRESH_BLOCK, "and opened the block, nothing beyond it");
	is(pstats().first_touches - before.first_touches, ZS_PAGER_FRESH_BLOCK, "counted as first touches");
	for (i = 0; i < ZS_PAGER_FRESH_BLOCK << ZS_PAGE_SHIFT; i += 512)
		zeros &= i == ZS_PAGE_SIZE ? m[i + 5] == 7 : m[i] == 0;
	ok(zeros, "fresh memory reads as zeros, the write kept");

	zs_pager_discard(&pager, (uintptr_t)m, n << ZS_PAGE_SHIFT);
	ok(!(state_at(m + (n - 1) * ZS_PAGE_SIZE) & ZS_PS_STATE_MASK) == 0 &&
	   (state_at(m + (n - 1) * ZS_PAGE_SIZE) & ZS_PS_FRESH),
	   "discarding keeps untouched pages fresh");
	admit_says_waited = true;
	sink = ((volatile char *)m)[(n - 1) << ZS_PAGE_SHIFT];
	(void)sink;
	is(pstats().throttled - before.throttled, 1, "a first touch that waited is counted");
	admit_says_waited = false;

	zs_pager_protect(&pager, (uintptr_t)m, n << ZS_PAGE_SHIFT, PROT_READ);
	ok((state_at(m + 2 * ZS_PAGER_FRESH_BLOCK * ZS_PAGE_SIZE) & ZS_PS_FRESH) &&
	   (state_at(m + 2 * ZS_PAGER_FRESH_BLOCK * ZS_PAGE_SIZE) & ZS_PS_PROT_MASK) == PROT_READ,
	   "mprotect on fresh pages records the protection, keeps them fresh");
	sink = m[2 * ZS_PAGER_FRESH_BLOCK * ZS_PAGE_SIZE];
	ok((state_at(m + 2 * ZS_PAGER_FRESH_BLOCK * ZS_PAGE_SIZE) & ZS_PS_STATE_MASK) == ZS_PS_PRESENT,
	   "a read opens them with it");
	zs_pager_unmap(&pager, (uintptr_t)m, n << ZS_PAGE_SHIFT);
	mmap(m, n << ZS_PAGE_SHIFT, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	zs_region_free(&pager.region, m, n << ZS_PAGE_SHIFT);
	is(pstats().protected_pages, before.protected_pages, "unmapped: nothing left protected");
	zs_pager_set_admit(&pager, NULL);
}

/* A thaw asks the admission hook for its one page, before it moves it. */
static void test_thaw_admitted(void)
{
	volatile char sink;

	fill(19);
	freeze_all();
	admit_calls = admitted_pages = 0;
	zs_pager_set_admit(&pager, count_admit);
	sink = *PG(3);
	(void)sink;
	zs_pager_set_admit(&pager, NULL);
	ok(admit_calls == 1 && admitted_pages == 1, "a thaw asked admission for one page");
	is(mismatches(19), 0, "all intact");
}

/* Between counts the pager estimates the areas: a run protected in the
 * middle of open pages splits one area in three, opening it again merges
 * them back. */
static void test_area_estimate(void)
{
	volatile char sink;
	uint64_t before;

	fill(23);
	zs_pager_note_vmas(&pager, 100, 0);
	before = zs_pager_vma_estimate(&pager);
	zs_pager_sample(&pager, (uintptr_t)PG(200), 4, NULL);
	is(zs_pager_vma_estimate(&pager), before + 2, "sampling a run inside open pages: two more");
	zs_pager_sample(&pager, (uintptr_t)PG(204), 4, NULL);
	is(zs_pager_vma_estimate(&pager), before + 2, "a run next to it joins its area");
	zs_pager_unsample(&pager, (uintptr_t)PG(200), 8);
	is(zs_pager_vma_estimate(&pager), before, "opening the run again merges them back");
	zs_pager_sample(&pager, (uintptr_t)PG(300), 1, NULL);
	sink = *PG(300);
	(void)sink;
	is(zs_pager_vma_estimate(&pager), before, "and so does a thaw of a lone page");
}

/* A thread reads a pipe into managed pages while the clock samples and
 * freezes them: with a pin around each read, the kernel never meets a
 * protected page (no EFAULT). */
static volatile int stop_reader;

static void *reader_run(void *arg)
{
	int *fds = arg, *efaults = (int *)arg + 2;
	char msg[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";

	while (!stop_reader) {
		int slot;
		ssize_t n;

		if (write(fds[1], msg, sizeof(msg)) != sizeof(msg))
			break;
		slot = zs_pager_pin(&pager, (uintptr_t)PG(100), sizeof(msg));
		n = read(fds[0], PG(100), sizeof(msg));
		zs_pager_unpin(&pager, slot);
		if (n < 0 && errno == EFAULT)
			(*efaults)++;
	}
	return NULL;
}

static void test_pinned_syscalls(void)
{
	int io[3] = { 0, 0, 0 }, cycles;
	pthread_t t;

	if (pipe(io) != 0)
		return;
	pthread_create(&t, NULL, reader_run, io);
	for (cycles = 0; cycles < 2000; cycles++) {
		zs_pager_sample(&pager, (uintptr_t)PG(96), 8, NULL);
		zs_pager_freeze(&pager, (uintptr_t)PG(96), 8);
	}
	stop_reader = 1;
	pthread_join(t, NULL);
	close(io[0]);
	close(io[1]);
	is(io[2], 0, "2000 freeze cycles under pinned reads: no EFAULT");
}

/* The process's areas that overlap the test pages. */
static int areas_in_base(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, b = (unsigned long)base, e = b + NPAGES * ZS_PAGE_SIZE;
	char line[512];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < e && hi > b)
			n++;
	if (f)
		fclose(f);
	return n;
}

/* Every other page frozen: shut, each splits the area; guarded, none does,
 * and everything comes back intact through every path that meets a
 * guarded page (fault, mprotect, MADV_DONTNEED, mlock). */
static void test_guard(void)
{
	volatile char sink;
	volatile int faulted = 0, bad = 0;
	sigjmp_buf jb;
	int i;

	if (zs_pager_set_guard(&pager, ZS_GUARD_ALWAYS) != ZS_GUARD_ALWAYS) {
		skip(7, "this kernel has no guard markers (MADV_GUARD_INSTALL, Linux 6.13)");
		return;
	}
	fill(29);
	for (i = 0; i < NPAGES; i += 2)
		zs_pager_sample(&pager, (uintptr_t)PG(i), 1, NULL);
	zs_pager_freeze(&pager, (uintptr_t)base, NPAGES);
	is(pstats().frozen_pages, NPAGES / 2, "every other page frozen");
	is(areas_in_base(), 1, "guarded, they leave the area whole (one VMA, not %d)", NPAGES);
	is(mismatches(29), 0, "each thaws intact on fault");
	is(areas_in_base(), 1, "and thawing leaves it whole");

	freeze_all();
	zs_pager_protect(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, PROT_READ);
	is(areas_in_base(), 1, "mprotect over guarded pages keeps one area");
	expect_fault = &jb;
	if (sigsetjmp(jb, 1) == 0)
		*PG(5) = 'x';
	else
		faulted = 1;
	expect_fault = NULL;
	zs_pager_protect(&pager, (uintptr_t)base, NPAGES * ZS_PAGE_SIZE, PROT_READ | PROT_WRITE);
	ok(faulted && mismatches(29) == 0,
	   "a guarded page thawed read-only faults on write for the program; all intact");

	freeze_all();
	zs_pager_lock(&pager, (uintptr_t)base, 64 * ZS_PAGE_SIZE, true);
	zs_pager_lock(&pager, (uintptr_t)base, 64 * ZS_PAGE_SIZE, false);
	zs_pager_discard(&pager, (uintptr_t)PG(64), 64 * ZS_PAGE_SIZE);
	madvise(PG(64), 64 * ZS_PAGE_SIZE, MADV_DONTNEED);
	for (i = 64; i < 128; i++)
		bad += *PG(i) != 0;
	sink = *PG(0);
	(void)sink;
	ok(bad == 0 && pstats().frozen_pages < NPAGES,
	   "MADV_DONTNEED over guarded pages: zeros, no fault left behind");
	fill(29);
	zs_pager_set_guard(&pager, ZS_GUARD_NEVER);
}

/* Frozen pages shut before guarding began are guarded by the next freeze
 * pass once it has; near the VMA budget the clock freezes cold present
 * pages directly rather than sample (split) them. */
static void test_guard_budget(void)
{
	uint64_t direct;
	int i;

	if (zs_pager_set_guard(&pager, ZS_GUARD_NEVER) != ZS_GUARD_NEVER ||
	    zs_pager_set_guard(&pager, ZS_GUARD_ALWAYS) != ZS_GUARD_ALWAYS) {
		skip(4, "this kernel has no guard markers");
		return;
	}
	zs_pager_set_guard(&pager, ZS_GUARD_NEVER);
	fill(31);
	for (i = 0; i < NPAGES; i += 4)
		zs_pager_sample(&pager, (uintptr_t)PG(i), 2, NULL);
	zs_pager_freeze(&pager, (uintptr_t)base, NPAGES);
	ok(areas_in_base() > NPAGES / 4, "shut, frozen runs split the area (%d VMAs)",
	   areas_in_base());
	zs_pager_set_guard(&pager, ZS_GUARD_NEAR_BUDGET);
	zs_pager_note_vmas(&pager, 100, 100);
	zs_pager_freeze(&pager, (uintptr_t)base, NPAGES);
	is(areas_in_base(), 1, "past half the budget, the next pass guards them: one VMA");
	zs_pager_note_vmas(&pager, 100, 100); /* as counted now */
	direct = pstats().direct_freezes;
	for (i = 2; i < NPAGES; i += 4)
		zs_pager_sample(&pager, (uintptr_t)PG(i), 1, NULL);
	ok(pstats().direct_freezes - direct == NPAGES / 4 && areas_in_base() == 1,
	   "sampling that would split is a direct freeze instead (%llu), still one VMA",
	   (unsigned long long)(pstats().direct_freezes - direct));
	is(mismatches(31), 0, "everything intact");
	zs_pager_note_vmas(&pager, 0, 0);
	zs_pager_set_guard(&pager, ZS_GUARD_NEVER);
}

/* The VMA budget spent, with frozen pages shut (no guard markers): the
 * clock holds back samples that would split an area, and a fault brings
 * back the whole 64-page block around its page instead of splitting one.
 * Nothing is lost either way. */
static void test_budget_spent(void)
{
	volatile char sink;

	zs_pager_set_guard(&pager, ZS_GUARD_NEVER);
	fill(37);
	freeze_all();
	zs_pager_note_vmas(&pager, 1000, 100);
	sink = *PG(200); /* block 192..255 */
	(void)sink;
	is(present_in(192, 256), 64, "over the budget a thaw brings back its whole 64-page block");
	zs_pager_sample(&pager, (uintptr_t)PG(200), 1, NULL);
	is(*zs_region_state(&pager.region, (uintptr_t)PG(200)) & ZS_PS_STATE_MASK, ZS_PS_PRESENT,
	   "and a sample that would split an area is held back");
	is(mismatches(37), 0, "everything intact");
	zs_pager_note_vmas(&pager, 0, 0);
}

int main(void)
{
	static char altstack[64 << 10];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };

	sigaltstack(&ss, NULL);
	setup();
	test_freeze_thaw();
	test_writes_and_writeback();
	test_protect();
	test_discard_and_lock();
	test_threads();
	test_pins();
	test_lock_failure();
	test_cluster();
	test_fresh();
	test_thaw_admitted();
	test_area_estimate();
	test_pinned_syscalls();
	test_budget_spent();
	test_guard();
	test_guard_budget();
	zs_pager_destroy(&pager);
	zs_engine_destroy(engine);
	rmdir(tmpdir);
	return done_testing();
}
