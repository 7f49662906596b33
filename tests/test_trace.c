/*
 * test_trace.c - the trace file (trace.h): what the writer records the
 * reader gives back, field for field, for every kind of record, across many
 * buffers; the header carries the options; the checksum tells pages apart
 * and notices same-filled ones; a second recorder of one file writes
 * FILE.PID; a fork child writes nothing; a write error stops tracing, keeps
 * whole records and marks the header incomplete; the reader refuses what
 * is not a trace.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "trace.h"
#include "tap.h"

static char dir[] = "/tmp/zs-trace-XXXXXX";
static char path[256];
static struct zs_trace_reader rd;

static void page_of(uint64_t seed, uint64_t *w)
{
	size_t i;

	for (i = 0; i < ZS_PAGE_SIZE / 8; i++)
		w[i] = (seed + i) * 0x9e3779b97f4a7c15ULL;
}

static struct zs_trace *open_trace(struct zs_options *o)
{
	struct zs_trace *t = NULL;

	zs_options_defaults(o);
	o->mem_limit = 64 << 20;
	o->max_pool_percent = 17;
	o->store_incompressible = true;
	if (zs_trace_open(path, o, &t)) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	return t;
}

static int open_reader(struct zs_trace_header *h)
{
	char err[256];
	uint64_t where;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || zs_trace_read_header(&rd, fd, h, &where, err, sizeof(err))) {
		diag("%s", fd < 0 ? "open" : err);
		return -1;
	}
	return fd;
}

/* One of each record, keys going up and down. */
static void record_each(struct zs_trace *t, uint64_t *page, uint64_t *same)
{
	zs_trace_store(t, ZS_TR_STORE_POOL, 0x7f0000001000, page, 1234);
	zs_trace_store(t, ZS_TR_STORE_SAME, 0x7f0000000000, same, 0);
	zs_trace_store(t, ZS_TR_STORE_POOR, 0x1000, page, 4100);
	zs_trace_store(t, ZS_TR_SWAP_OUT, 0x1000, page, 0);
	zs_trace_store(t, ZS_TR_STORE_RAW, 0xffffffffff000, same, 40);
	zs_trace_load(t, 0x7f0000001000, 0, false, true);
	zs_trace_load(t, 0x1000, 0, true, false);
	zs_trace_load(t, 0x2000, -ENOENT, false, false);
	zs_trace_load(t, 0x2000, -EIO, false, false);
	zs_trace_invalidate(t, 0x7f0000001000, 0);
	zs_trace_invalidate(t, 0x3000, -ENOENT);
	zs_trace_writeback(t, 0x5000);
	zs_trace_shrink(t, 77);
	zs_trace_invalidate(t, 0, 0);
}

static void check_each(uint32_t sum)
{
	static const struct { uint8_t op, flags; uintptr_t key; uint32_t len; bool sum; } want[] = {
		{ ZS_TR_STORE_POOL, 0, 0x7f0000001000, 1234, true },
		{ ZS_TR_STORE_SAME, ZS_TR_SAME, 0x7f0000000000, 0, false },
		{ ZS_TR_STORE_POOR, 0, 0x1000, 4100, true },
		{ ZS_TR_SWAP_OUT, 0, 0x1000, 0, true },
		{ ZS_TR_STORE_RAW, ZS_TR_SAME, 0xffffffffff000, 40, false },
		{ ZS_TR_LOAD_HIT, ZS_TR_KEEP, 0x7f0000001000, 0, false },
		{ ZS_TR_LOAD_SWAP, 0, 0x1000, 0, false },
		{ ZS_TR_LOAD_MISS, 0, 0x2000, 0, false },
		{ ZS_TR_LOAD_ERR, 0, 0x2000, 0, false },
		{ ZS_TR_INVALIDATE, 0, 0x7f0000001000, 0, false },
		{ ZS_TR_INVALIDATE, ZS_TR_MISS, 0x3000, 0, false },
		{ ZS_TR_WRITEBACK, 0, 0x5000, 0, false },
		{ ZS_TR_SHRINK, 0, 0, 0, false },
		{ ZS_TR_INVALIDATE_ALL, 0, 0, 0, false },
	};
	struct zs_trace_event ev;
	uint64_t where, last_us = 0;
	char err[256];
	size_t i, good = 0;

	for (i = 0; i < ZS_ARRAY_SIZE(want); i++) {
		if (zs_trace_next(&rd, &ev, &where, err, sizeof(err)) != 1) {
			diag("record %zu: %s", i, err);
			break;
		}
		if (ev.op != want[i].op || ev.flags != want[i].flags || ev.key != want[i].key ||
		    ev.length != want[i].len || (want[i].sum && ev.checksum != sum) ||
		    (ev.flags & ZS_TR_SAME && ev.value != 0x0101010101010101ULL) ||
		    (ev.op == ZS_TR_SHRINK && ev.pages != 77) || ev.us < last_us)
			diag("record %zu: op %u flags %#x key %#lx length %u", i, ev.op, ev.flags,
			     (unsigned long)ev.key, ev.length);
		else
			good++;
		last_us = ev.us;
	}
	is(good, ZS_ARRAY_SIZE(want), "every kind of record reads back as written");
	is(zs_trace_next(&rd, &ev, &where, err, sizeof(err)), 0, "and then the end");
}

static void test_round_trip(void)
{
	static uint64_t page[ZS_PAGE_SIZE / 8], same[ZS_PAGE_SIZE / 8];
	struct zs_trace_header h;
	struct zs_options o;
	struct zs_trace *t = open_trace(&o);
	bool is_same;
	uint64_t v;
	uint32_t sum;
	int fd;

	page_of(1, page);
	memset(same, 1, sizeof(same));
	sum = zs_trace_checksum(page, &is_same, &v);
	record_each(t, page, same);
	zs_trace_close(t);
	fd = open_reader(&h);
	ok(fd >= 0, "the header reads back");
	ok(!strcmp(h.compressor, o.compressor) && !strcmp(h.zpool, o.zpool) &&
	   h.mem_limit == 64 << 20 && h.max_pool_percent == 17 &&
	   h.accept_threshold_percent == o.accept_threshold_percent &&
	   h.same_filled_pages_enabled && h.exclusive_loads && h.store_incompressible &&
	   h.page_size == ZS_PAGE_SIZE, "with the recording's options");
	check_each(sum);
	close(fd);
}

static void test_many(void)
{
	static uint64_t page[ZS_PAGE_SIZE / 8];
	struct zs_trace_header h;
	struct zs_trace_event ev;
	struct zs_options o;
	struct zs_trace *t = open_trace(&o);
	uint64_t i, n = 0, bad = 0, where;
	char err[256];
	int fd, ret;

	page_of(2, page);
	for (i = 0; i < 100000; i++)
		zs_trace_store(t, ZS_TR_STORE_POOL, ((i * 7919) % 50000 + 1) << 12, page,
			       (uint32_t)(i % 4000 + 1));
	zs_trace_close(t);
	fd = open_reader(&h);
	while ((ret = zs_trace_next(&rd, &ev, &where, err, sizeof(err))) == 1) {
		if (ev.key != ((n * 7919) % 50000 + 1) << 12 || ev.length != n % 4000 + 1)
			bad++;
		n++;
	}
	is(ret, 0, "100000 stores read back to the end");
	is(n, 100000, "all of them");
	is(bad, 0, "each with its key and length");
	diag("%.1f bytes per store", (double)(rd.offset - ZS_TRACE_HEADER) / (double)n);
	close(fd);
}

static void test_checksum(void)
{
	static uint64_t a[ZS_PAGE_SIZE / 8], b[ZS_PAGE_SIZE / 8];
	size_t i, differ = 0;
	bool same;
	uint64_t v;
	uint32_t sum;

	page_of(3, a);
	sum = zs_trace_checksum(a, &same, &v);
	ok(!same, "a varied page is not same-filled");
	for (i = 0; i < ZS_PAGE_SIZE / 8; i++) {
		memcpy(b, a, sizeof(b));
		b[i] ^= 1ULL << (i % 64);
		differ += zs_trace_checksum(b, &same, &v) != sum;
	}
	is(differ, ZS_PAGE_SIZE / 8, "one bit changed in any word changes the checksum");
	memcpy(b, a, sizeof(b));
	b[0] = a[1];
	b[1] = a[0];
	ok(zs_trace_checksum(b, &same, &v) != sum, "so does swapping two words");
	memset(b, 0xab, sizeof(b));
	zs_trace_checksum(b, &same, &v);
	ok(same && v == 0xababababababababULL, "a same-filled page is noticed, with its word");
}

static void test_second_recorder(void)
{
	struct zs_trace *t, *t2 = NULL;
	struct zs_options o;
	char want[300];

	t = open_trace(&o);
	ok(zs_trace_open(path, &o, &t2) == 0, "a second recorder of the same file opens");
	snprintf(want, sizeof(want), "%s.%ld", path, (long)getpid());
	ok(!strcmp(zs_trace_path(t2), want), "it writes FILE.PID (%s)", zs_trace_path(t2));
	zs_trace_close(t2);
	ok(access(want, F_OK) != 0, "which, with no event, it never created");
	zs_trace_open(path, &o, &t2);
	zs_trace_invalidate(t2, 0x1000, 0);
	zs_trace_close(t2);
	ok(access(want, F_OK) == 0, "and with one, it did");
	zs_trace_close(t);
	unlink(want);
}

static void test_fork_child(void)
{
	static uint64_t page[ZS_PAGE_SIZE / 8];
	struct zs_trace_header h;
	struct zs_trace_event ev;
	struct zs_options o;
	struct zs_trace *t = open_trace(&o);
	uint64_t n = 0, where;
	char err[256];
	int fd, status = -1;
	pid_t pid;

	page_of(4, page);
	zs_trace_store(t, ZS_TR_STORE_POOL, 0x1000, page, 100);
	pid = fork();
	if (pid == 0) {
		zs_trace_after_fork_child(t);
		zs_trace_store(t, ZS_TR_STORE_POOL, 0x2000, page, 100);
		status = zs_trace_lost(t) == 1 ? 0 : 1;
		zs_trace_close(t);
		_exit(status);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a fork child counts its event lost");
	zs_trace_store(t, ZS_TR_STORE_POOL, 0x3000, page, 100);
	zs_trace_close(t);
	fd = open_reader(&h);
	while (zs_trace_next(&rd, &ev, &where, err, sizeof(err)) == 1)
		n += ev.key == 0x2000 ? 100 : 1;
	is(n, 2, "the file holds the parent's two events, none of the child's");
	close(fd);
}

static void test_write_error(void)
{
	static uint64_t page[ZS_PAGE_SIZE / 8];
	struct rlimit old, small = { 20000, 0 };
	struct zs_trace_header h;
	struct zs_options o;
	struct zs_trace *t = open_trace(&o);
	char err[256];
	uint64_t i, where;
	int fd;

	page_of(5, page);
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &small);
	for (i = 0; i < 20000; i++) /* about 180 KB */
		zs_trace_store(t, ZS_TR_STORE_POOL, (i + 1) << 12, page, 2000);
	setrlimit(RLIMIT_FSIZE, &old);
	ok(zs_trace_lost(t) > 0, "a write error: %llu events lost, counted",
	   (unsigned long long)zs_trace_lost(t));
	zs_trace_close(t);
	fd = open(path, O_RDONLY);
	ok(lseek(fd, 0, SEEK_END) == ZS_TRACE_HEADER, "the file keeps whole records only");
	lseek(fd, 0, SEEK_SET);
	ok(zs_trace_read_header(&rd, fd, &h, &where, err, sizeof(err)) == -EINVAL && where == 120 &&
	   strstr(err, "incomplete"), "its header says it is incomplete: %s", err);
	close(fd);
	ok(zs_trace_open("/dev/full", &o, &t) == -ENOSPC, "a header that cannot be written fails the open");
}

static void test_not_a_trace(void)
{
	struct zs_trace_header h;
	char err[256];
	uint64_t where;
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (write(fd, "ZSWPTRC\n\1\0\0\0", 12) != 12)
		diag("write");
	close(fd);
	fd = open(path, O_RDONLY);
	ok(zs_trace_read_header(&rd, fd, &h, &where, err, sizeof(err)) == -EINVAL && where == 12,
	   "a header cut short is refused at its end: %s", err);
	close(fd);
	zs_trace_store(NULL, ZS_TR_STORE_POOL, 0x1000, err, 1);
	zs_trace_load(NULL, 0x1000, 0, false, false);
	zs_trace_flush(NULL);
	zs_trace_close(NULL);
	ok(zs_trace_lost(NULL) == 0, "tracing off: every call accepts NULL");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/t.ztr", dir);
	test_round_trip();
	test_many();
	test_checksum();
	test_second_recorder();
	test_fork_child();
	test_write_error();
	test_not_a_trace();
	unlink(path);
	rmdir(dir);
	return done_testing();
}
