/*
 * trace.c - the trace file: its format, the writer the engine records
 * through, and the reader behind `zswapsim replay` (see trace.h).
 *
 * Layout.  A 128-byte header, all numbers little-endian:
 *
 *     0  magic "ZSWPTRC\n"        8  version (u32)    12  page size (u32)
 *    16  compressor (32 bytes, NUL-padded)   48  zpool (32 bytes)
 *    80  mem_limit  88  max_pool_percent  96  max_pool_size
 *   104  accept_threshold_percent  112  swap_size   (u64 each, resolved)
 *   120  flags (u32): 1 same_filled_pages_enabled, 2 exclusive_loads,
 *        4 store_incompressible, 8 incomplete (set after a write error,
 *        when the file is also cut back to its last whole record)
 *   124  zero (u32)
 *
 * then records, back to back, each a byte (op | flags, trace.h) and
 * varints (7 bits a byte, low first):
 *
 *   op|flags  dt  [key]  [fields]
 *   dt      microseconds since the previous record (usually one byte)
 *   key     the page number's difference from the previous record's,
 *           zigzag-coded (neighbouring pages: one byte); absent for
 *           INVALIDATE_ALL and SHRINK
 *   STORE_SAME               the word (a varint: a zero page is one byte)
 *   other stores, SWAP_OUT*  compressed length (0: never compressed), the
 *                            checksum (u32), and the word if ZS_TR_SAME
 *   SHRINK                   pages the caller wanted freed
 *
 * A store takes about 9 bytes, a load or an invalidate 3.  The length is
 * what the recording's compressor produced, kept even when the pool refused
 * it, so that a replay under another allocator or limit can place it; the
 * checksum lets the replay check every page it gets back.  Same-filled
 * pages are noted (ZS_TR_SAME) even when the engine compressed them, so a
 * replay may keep them as one word.
 *
 * The writer.  One buffer of ZS_TRACE_BUF bytes under a zs_lock (a leaf
 * lock: records are encoded under it, which the deltas need, and nothing
 * else is taken there); a record that would not fit first writes the
 * whole buffer with write(2), under the lock, so records reach the file
 * whole and in order.  That costs one system call per ~6000 events.
 * Everything on the recording path is async-signal-safe: the checksum is
 * computed before the lock, time comes from the vDSO clock, the message
 * after a write error is put together by hand.  After fork the child stops
 * (the parent writes what the buffer held); a process that finds the file
 * locked by another recorder (flock) writes FILE.PID instead, created at
 * its first write, so the many short programs a traced shell script starts
 * leave no empty files.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "compress.h"
#include "histo.h"
#include "stats.h"
#include "swapfile.h"
#include "trace.h"

#define ZS_TRACE_BUF (64 * 1024)

_Static_assert(ZS_TRACE_RECORD_MAX >= 1 + 10 + 10 + 5 + 4 + 10, "a record fits its bound");

struct zs_trace {
	struct zs_lock lock;
	int fd;                   /* -1: path.PID, not created yet */
	bool stopped;             /* write error, or a fork child: record nothing */
	uint64_t start_ns;
	uint64_t last_page, last_us;
	size_t used;              /* bytes in buf */
	uint64_t written;         /* bytes in the file: whole records only */
	uint32_t hflags;          /* the header's flags word */
	uint64_t buffered;        /* records in buf */
	uint64_t lost;            /* records never written */
	char path[ZS_PATH_MAX + 16];
	unsigned char header[ZS_TRACE_HEADER];
	unsigned char buf[ZS_TRACE_BUF];
};

/* ---- the checksum ---- */

#define MIX 0x9e3779b97f4a7c15ULL

uint32_t zs_trace_checksum(const void *page, bool *same, uint64_t *value)
{
	const uint64_t *w = page;
	uint64_t a = 1, b = 2, c = 3, d = 4, diff = 0, first = w[0], h;
	size_t i;

	for (i = 0; i < ZS_PAGE_SIZE / sizeof(*w); i += 4) {
		a = (a ^ w[i]) * MIX;
		b = (b ^ w[i + 1]) * MIX;
		c = (c ^ w[i + 2]) * MIX;
		d = (d ^ w[i + 3]) * MIX;
		a ^= a >> 29;
		b ^= b >> 29;
		c ^= c >> 29;
		d ^= d >> 29;
		diff |= (w[i] ^ first) | (w[i + 1] ^ first) | (w[i + 2] ^ first) | (w[i + 3] ^ first);
	}
	h = a ^ (b << 16 | b >> 48) ^ (c << 32 | c >> 32) ^ (d << 48 | d >> 16);
	h *= MIX;
	h ^= h >> 32;
	*same = diff == 0;
	*value = first;
	return (uint32_t)h;
}

/* ---- encoding ---- */

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static size_t put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
	return 4;
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static bool has_key(uint8_t op)
{
	return op != ZS_TR_INVALIDATE_ALL && op != ZS_TR_SHRINK;
}

static bool has_page(uint8_t op)
{
	return op >= ZS_TR_STORE_POOL && op <= ZS_TR_SWAP_OUT_FAIL;
}

/* Encode ev at p, deltas against *last_page and *last_us (updated). */
static size_t encode(unsigned char *p, const struct zs_trace_event *ev, uint64_t *last_page,
		     uint64_t *last_us)
{
	uint64_t page = ev->key >> ZS_PAGE_SHIFT;
	int64_t dk = (int64_t)(page - *last_page);
	size_t n = 0;

	p[n++] = (unsigned char)(ev->op | ev->flags);
	n += put_varint(p + n, ev->us - *last_us);
	*last_us = ev->us;
	if (has_key(ev->op)) {
		n += put_varint(p + n, ((uint64_t)dk << 1) ^ (uint64_t)(dk >> 63));
		*last_page = page;
	}
	if (has_page(ev->op)) {
		n += put_varint(p + n, ev->length);
		n += put_u32(p + n, ev->checksum);
	}
	if (ev->op == ZS_TR_STORE_SAME || (has_page(ev->op) && (ev->flags & ZS_TR_SAME)))
		n += put_varint(p + n, ev->value);
	if (ev->op == ZS_TR_SHRINK)
		n += put_varint(p + n, ev->pages);
	return n;
}

/* ---- the writer ---- */

static const char *errno_text(int err)
{
	switch (err) {
	case ENOSPC: return "No space left on device";
	case EDQUOT: return "Disk quota exceeded";
	case EFBIG: return "File too large";
	case EIO: return "Input/output error";
	default: return "write error";
	}
}

/* After a write error: the file is cut back to its last whole record and
 * its header says it is incomplete (both fit in what the file already
 * has, so a full disk takes them), which replay refuses.  A file that
 * cannot be cut (a pipe) ends where the write stopped. */
static void mark_incomplete(struct zs_trace *t)
{
	unsigned char w[4];

	syscall(SYS_ftruncate, t->fd, (long)t->written);
	put_u32(w, t->hflags | ZS_TRACE_INCOMPLETE);
	zs_pio(t->fd, w, sizeof(w), 120, 1);
}

/* Tracing stops for good after a write error: one message, by hand (this
 * may run in a signal handler).  Under t->lock. */
static void stop_after(struct zs_trace *t, int err)
{
	char msg[ZS_PATH_MAX + 160], num[24];
	size_t at = 0;
	const char *parts[] = { "zswapsim: ZSWAPSIM_TRACE=", t->path, ": ", errno_text(err),
				" (errno ", num, "); tracing stopped, the program goes on\n" };
	size_t i;

	zs_utoa((uint64_t)err, num);
	for (i = 0; i < ZS_ARRAY_SIZE(parts); i++) {
		size_t n = strlen(parts[i]);

		if (at + n < sizeof(msg)) {
			memcpy(msg + at, parts[i], n);
			at += n;
		}
	}
	zs_write_all(2, msg, at);
	mark_incomplete(t);
	t->stopped = true;
	t->lost += t->buffered;
	t->used = 0;
	t->buffered = 0;
}

/* Create path.PID, which waited for a first event, and write its header.
 * 0 or -errno.  Async-signal-safe. */
static int start_file(struct zs_trace *t)
{
	int ret;

	t->fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0)
		return -errno;
	flock(t->fd, LOCK_EX | LOCK_NB);
	ret = zs_write_all(t->fd, t->header, sizeof(t->header));
	if (ret == 0)
		t->written = ZS_TRACE_HEADER;
	return ret;
}

/* Under t->lock: write the buffer out. */
static void write_out(struct zs_trace *t)
{
	int ret;

	if (t->stopped || !t->used)
		return;
	if (t->fd < 0 && (ret = start_file(t))) {
		stop_after(t, -ret);
		return;
	}
	ret = zs_write_all(t->fd, t->buf, t->used);
	if (ret) {
		stop_after(t, -ret);
		return;
	}
	t->written += t->used;
	t->used = 0;
	t->buffered = 0;
}

/* Append one record.  Async-signal-safe. */
static void emit(struct zs_trace *t, struct zs_trace_event *ev)
{
	int saved_errno = errno;

	zs_lock(&t->lock);
	if (t->stopped) {
		t->lost++;
	} else {
		if (t->used + ZS_TRACE_RECORD_MAX > sizeof(t->buf))
			write_out(t);
		if (t->stopped) {
			t->lost++;
		} else {
			ev->us = (zs_now_ns() - t->start_ns) / 1000;
			if (ev->us < t->last_us) /* another thread's clock read */
				ev->us = t->last_us;
			t->used += encode(t->buf + t->used, ev, &t->last_page, &t->last_us);
			t->buffered++;
		}
	}
	zs_unlock(&t->lock);
	errno = saved_errno;
}

void zs_trace_store(struct zs_trace *t, enum zs_trace_op op, uintptr_t key, const void *page,
		    uint32_t length)
{
	struct zs_trace_event ev = { .op = (uint8_t)op, .key = key, .length = length };
	bool same;

	if (!t)
		return;
	ev.checksum = zs_trace_checksum(page, &same, &ev.value);
	if (same)
		ev.flags = ZS_TR_SAME;
	emit(t, &ev);
}

void zs_trace_load(struct zs_trace *t, uintptr_t key, int ret, bool from_swap, bool keep)
{
	struct zs_trace_event ev = { .key = key, .flags = keep ? ZS_TR_KEEP : 0 };

	if (!t)
		return;
	ev.op = ret == 0 ? (from_swap ? ZS_TR_LOAD_SWAP : ZS_TR_LOAD_HIT)
			 : ret == -ENOENT ? ZS_TR_LOAD_MISS : ZS_TR_LOAD_ERR;
	emit(t, &ev);
}

void zs_trace_invalidate(struct zs_trace *t, uintptr_t key, int ret)
{
	struct zs_trace_event ev = { .key = key };

	if (!t)
		return;
	ev.op = key ? ZS_TR_INVALIDATE : ZS_TR_INVALIDATE_ALL;
	ev.flags = key && ret ? ZS_TR_MISS : 0;
	emit(t, &ev);
}

void zs_trace_writeback(struct zs_trace *t, uintptr_t key)
{
	struct zs_trace_event ev = { .op = ZS_TR_WRITEBACK, .key = key };

	if (t)
		emit(t, &ev);
}

void zs_trace_shrink(struct zs_trace *t, uint64_t pages)
{
	struct zs_trace_event ev = { .op = ZS_TR_SHRINK, .pages = pages };

	if (t)
		emit(t, &ev);
}

void zs_trace_flush(struct zs_trace *t)
{
	if (!t)
		return;
	zs_lock(&t->lock);
	write_out(t);
	zs_unlock(&t->lock);
}

void zs_trace_after_fork_child(struct zs_trace *t)
{
	if (!t)
		return;
	zs_lock_reset(&t->lock);
	t->stopped = true;
	t->used = 0;
	t->buffered = 0;
	close(t->fd);
	t->fd = -1;
}

uint64_t zs_trace_lost(const struct zs_trace *t)
{
	return t ? __atomic_load_n(&t->lost, __ATOMIC_RELAXED) : 0;
}

const char *zs_trace_path(const struct zs_trace *t)
{
	return t ? t->path : "";
}

static uint32_t header_flags(const struct zs_options *opt)
{
	return (opt->same_filled_pages_enabled ? 1u : 0) | (opt->exclusive_loads ? 2u : 0) |
	       (opt->store_incompressible ? 4u : 0);
}

static void header_encode(unsigned char *h, const struct zs_options *opt)
{
	memset(h, 0, ZS_TRACE_HEADER);
	memcpy(h, ZS_TRACE_MAGIC, 8);
	put_u32(h + 8, ZS_TRACE_VERSION);
	put_u32(h + 12, (uint32_t)ZS_PAGE_SIZE);
	memcpy(h + 16, opt->compressor, strnlen(opt->compressor, 31));
	memcpy(h + 48, opt->zpool, strnlen(opt->zpool, 31));
	put_u64(h + 80, opt->mem_limit);
	put_u64(h + 88, opt->max_pool_percent);
	put_u64(h + 96, opt->max_pool_size);
	put_u64(h + 104, opt->accept_threshold_percent);
	put_u64(h + 112, opt->swap_size == ZS_SWAP_UNLIMITED ? 0 : opt->swap_size);
	put_u32(h + 120, header_flags(opt));
}

/* Open t->path for us alone: the descriptor, or -errno.  A file another
 * recorder holds (flock) is left to it: we take path.PID, created by the
 * first write (so a program that records nothing leaves no file):
 * -EWOULDBLOCK. */
static int open_locked(struct zs_trace *t, const char *path)
{
	int fd, err;

	snprintf(t->path, sizeof(t->path), "%s", path);
	fd = open(t->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK) {
		close(fd);
		snprintf(t->path, sizeof(t->path), "%s.%ld", path, (long)getpid());
		return -EWOULDBLOCK;
	}
	if (ftruncate(fd, 0) && errno != EINVAL) { /* EINVAL: not a regular file */
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int zs_trace_open(const char *path, const struct zs_options *opt, struct zs_trace **out)
{
	struct zs_trace *t = zs_map_anon(sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock.mutex, NULL);
	header_encode(t->header, opt);
	t->fd = open_locked(t, path);
	ret = t->fd < 0 && t->fd != -EWOULDBLOCK ? t->fd : 0;
	if (t->fd == -EWOULDBLOCK)
		t->fd = -1; /* path.PID, at the first write */
	if (t->fd >= 0 && (ret = zs_write_all(t->fd, t->header, sizeof(t->header))))
		close(t->fd);
	if (ret) {
		zs_unmap(t, sizeof(*t));
		return ret;
	}
	t->start_ns = zs_now_ns();
	t->written = ZS_TRACE_HEADER;
	t->hflags = header_flags(opt);
	*out = t;
	return 0;
}

void zs_trace_close(struct zs_trace *t)
{
	if (!t)
		return;
	zs_trace_flush(t);
	if (t->fd >= 0)
		close(t->fd);
	pthread_mutex_destroy(&t->lock.mutex);
	zs_unmap(t, sizeof(*t));
}

/* ---- the reader ---- */

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* Keep at least ZS_TRACE_RECORD_MAX undecoded bytes in the buffer, unless
 * the file ends first.  0 or -errno. */
static int refill(struct zs_trace_reader *r)
{
	ssize_t n;

	if (r->eof || r->end - r->at >= ZS_TRACE_RECORD_MAX)
		return 0;
	memmove(r->buf, r->buf + r->at, r->end - r->at);
	r->end -= r->at;
	r->at = 0;
	while (!r->eof && r->end < sizeof(r->buf)) {
		n = read(r->fd, r->buf + r->end, sizeof(r->buf) - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		r->eof = n == 0;
		r->end += (size_t)n;
	}
	return 0;
}

/* A string field of the header: NUL-terminated within its 32 bytes. */
static bool header_name(const unsigned char *p, char *out)
{
	if (!memchr(p, '\0', ZS_NAME_MAX))
		return false;
	memcpy(out, p, ZS_NAME_MAX);
	return true;
}

int zs_trace_read_header(struct zs_trace_reader *r, int fd, struct zs_trace_header *h,
			 uint64_t *where, char *err, size_t errlen)
{
	const unsigned char *p = r->buf;
	uint32_t flags;
	int ret;

	memset(r, 0, offsetof(struct zs_trace_reader, buf));
	r->fd = fd;
	*where = 0;
	if ((ret = refill(r)))
		return snprintf(err, errlen, "%s", strerror(-ret)), ret;
	if (r->end < 8 || memcmp(p, ZS_TRACE_MAGIC, 8))
		return snprintf(err, errlen, "not a zswapsim trace (its first 8 bytes are not the "
				"magic \"ZSWPTRC\\n\"); expected a file written under ZSWAPSIM_TRACE"),
		       -EINVAL;
	if (r->end < ZS_TRACE_HEADER)
		return *where = r->end, snprintf(err, errlen, "truncated header: %zu bytes of %d",
						 r->end, ZS_TRACE_HEADER), -EINVAL;
	h->version = get_u32(p + 8);
	h->page_size = get_u32(p + 12);
	*where = 8;
	if (h->version != ZS_TRACE_VERSION)
		return snprintf(err, errlen, "trace format version %u; expected version %d",
				h->version, ZS_TRACE_VERSION), -EINVAL;
	*where = 12;
	if (h->page_size != ZS_PAGE_SIZE)
		return snprintf(err, errlen, "page size %u; expected %lu", h->page_size,
				ZS_PAGE_SIZE), -EINVAL;
	flags = get_u32(p + 120);
	*where = 120;
	if (flags & ZS_TRACE_INCOMPLETE)
		return snprintf(err, errlen, "incomplete trace: writing it failed during the "
				"recorded run (trace_lost_events counted the rest); expected a "
				"complete trace"), -EINVAL;
	*where = 16;
	if (!header_name(p + 16, h->compressor) || !header_name(p + 48, h->zpool) || flags > 7 ||
	    get_u32(p + 124))
		return snprintf(err, errlen, "corrupt header: names must be NUL-terminated within "
				"32 bytes, flags below 8, bytes 124-127 zero"), -EINVAL;
	h->mem_limit = get_u64(p + 80);
	h->max_pool_percent = get_u64(p + 88);
	h->max_pool_size = get_u64(p + 96);
	h->accept_threshold_percent = get_u64(p + 104);
	h->swap_size = get_u64(p + 112);
	h->same_filled_pages_enabled = flags & 1;
	h->exclusive_loads = flags & 2;
	h->store_incompressible = flags & 4;
	r->at = ZS_TRACE_HEADER;
	r->offset = ZS_TRACE_HEADER;
	return 0;
}

/* A varint at r->buf[*at], bounded by r->end: 0, -ENODATA (cut short) or
 * -EINVAL (longer than 64 bits). */
static int get_varint(const struct zs_trace_reader *r, size_t *at, uint64_t *v)
{
	unsigned int shift = 0;

	*v = 0;
	while (*at < r->end && shift < 64) {
		unsigned char b = r->buf[(*at)++];

		if (shift == 63 && b > 1)
			return -EINVAL;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
		shift += 7;
	}
	return shift < 64 ? -ENODATA : -EINVAL;
}

/* The flags each op may carry. */
static uint8_t flags_allowed(uint8_t op)
{
	if (op == ZS_TR_STORE_SAME || has_page(op))
		return ZS_TR_SAME;
	if (op >= ZS_TR_LOAD_HIT && op <= ZS_TR_LOAD_ERR)
		return ZS_TR_KEEP;
	return op == ZS_TR_INVALIDATE ? ZS_TR_MISS : 0;
}

static const char too_long[] = "compressed length";

/* Decode the fields after the first byte; the field that is wrong, with
 * *cut when the bytes ran out in it. */
static const char *decode_fields(struct zs_trace_reader *r, size_t *at,
				 struct zs_trace_event *ev, bool *cut)
{
	uint64_t v, page;
	int ret;

	if ((ret = get_varint(r, at, &v)))
		return *cut = ret == -ENODATA, "time delta";
	ev->us = r->last_us += v;
	if (has_key(ev->op)) {
		if ((ret = get_varint(r, at, &v)))
			return *cut = ret == -ENODATA, "key delta";
		page = r->last_page + ((v >> 1) ^ (0 - (v & 1)));
		if (page == 0 || page >= (UINT64_C(1) << (64 - ZS_PAGE_SHIFT)))
			return "key (a page number from 1 to 2^52 - 1)";
		r->last_page = page;
		ev->key = (uintptr_t)(page << ZS_PAGE_SHIFT);
	}
	if (has_page(ev->op)) {
		if ((ret = get_varint(r, at, &v)))
			return *cut = ret == -ENODATA, "compressed length";
		if (v > ZS_COMPRESS_BOUND)
			return too_long;
		if (v == 0 && ev->op <= ZS_TR_STORE_POOR)
			return "compressed length (a stored or poorly compressed page has one)";
		ev->length = (uint32_t)v;
		if (*at + 4 > r->end)
			return *cut = true, "checksum";
		ev->checksum = get_u32(r->buf + *at);
		*at += 4;
	}
	if ((ev->op == ZS_TR_STORE_SAME || (ev->flags & ZS_TR_SAME)) &&
	    (ret = get_varint(r, at, &ev->value)))
		return *cut = ret == -ENODATA, "word of a same-filled page";
	if (ev->op == ZS_TR_SHRINK && (ret = get_varint(r, at, &ev->pages)))
		return *cut = ret == -ENODATA, "page count";
	return NULL;
}

int zs_trace_next(struct zs_trace_reader *r, struct zs_trace_event *ev, uint64_t *where,
		  char *err, size_t errlen)
{
	bool cut = false;
	const char *bad;
	size_t at;
	int ret;

	if ((ret = refill(r)))
		return snprintf(err, errlen, "%s", strerror(-ret)), ret;
	*where = r->offset;
	if (r->at == r->end)
		return 0;
	memset(ev, 0, sizeof(*ev));
	ev->op = ZS_TR_OP(r->buf[r->at]);
	ev->flags = r->buf[r->at] & 0xf0;
	if (ev->op == 0 || (ev->flags & ~flags_allowed(ev->op)) ||
	    (ev->op == ZS_TR_STORE_SAME && !(ev->flags & ZS_TR_SAME)))
		return snprintf(err, errlen, "corrupt record: first byte 0x%02x is no known op and "
				"flags (ops 1-15, flags 0x10 0x20 0x40 where each applies)",
				r->buf[r->at]), -EINVAL;
	at = r->at + 1;
	bad = decode_fields(r, &at, ev, &cut);
	if (bad && cut) /* refill keeps a whole record buffered unless the file ends */
		return snprintf(err, errlen, "truncated record: the file ends in its %s", bad),
		       -EINVAL;
	if (bad == too_long)
		return snprintf(err, errlen, "corrupt record: bad compressed length (at most %lu, "
				"the compress bound)", (unsigned long)ZS_COMPRESS_BOUND), -EINVAL;
	if (bad)
		return snprintf(err, errlen, "corrupt record: bad %s", bad), -EINVAL;
	r->offset += at - r->at;
	r->at = at;
	return 1;
}
