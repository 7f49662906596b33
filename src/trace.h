/*
 * trace.h - a compact record of what the engine was asked to do and what it
 * did (ZSWAPSIM_TRACE=FILE), and the reader `zswapsim replay` uses to run
 * it again under other settings.  The format and its reasons are at the
 * top of trace.c.
 *
 * Writer contract: every zs_trace_* recording call accepts NULL (tracing
 * off) and returns at once; each is async-signal-safe (no malloc, no stdio,
 * one zs_lock that is a leaf: nothing else is taken under it), since the
 * engine records from its load path, which runs in the shim's SIGSEGV
 * handler on any thread.  Events go to a preallocated buffer and reach the
 * file by write(2) when it is full, at zs_trace_flush and at zs_trace_close.
 * A write error stops tracing for good, with one message on standard error;
 * the events lost from then on are counted (zs_trace_lost).
 */
#ifndef ZS_TRACE_H
#define ZS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

#define ZS_TRACE_MAGIC "ZSWPTRC\n"
#define ZS_TRACE_VERSION 1
#define ZS_TRACE_HEADER 128    /* bytes, fixed */
#define ZS_TRACE_RECORD_MAX 48 /* bytes one record takes at most */
#define ZS_TRACE_INCOMPLETE 8  /* header flag: a write failed, events are missing */

/* Record kinds: the low four bits of a record's first byte. */
enum zs_trace_op {
	ZS_TR_STORE_SAME = 1,  /* stored as one word */
	ZS_TR_STORE_POOL,      /* stored compressed in the pool */
	ZS_TR_STORE_RAW,       /* stored raw (store_incompressible) */
	ZS_TR_STORE_POOR,      /* refused: compressed too poorly (-E2BIG) */
	ZS_TR_STORE_FAIL,      /* refused otherwise (-ENOMEM, -EINVAL) */
	ZS_TR_SWAP_OUT,        /* zs_engine_swap_out: written to the swap file */
	ZS_TR_SWAP_OUT_FAIL,   /* zs_engine_swap_out refused */
	ZS_TR_LOAD_HIT,        /* loaded from the pool, one word or a raw page */
	ZS_TR_LOAD_SWAP,       /* loaded from the swap file */
	ZS_TR_LOAD_MISS,       /* nothing stored (-ENOENT) */
	ZS_TR_LOAD_ERR,        /* the stored copy could not be read (-EIO) */
	ZS_TR_INVALIDATE,      /* zs_engine_invalidate (ZS_TR_MISS: nothing there) */
	ZS_TR_INVALIDATE_ALL,  /* zs_engine_invalidate_all; no key */
	ZS_TR_WRITEBACK,       /* a pool page written back to the swap file */
	ZS_TR_SHRINK,          /* zs_engine_shrink called from outside; no key */
};

/* Flags: the high four bits of the first byte. */
#define ZS_TR_SAME 0x10 /* store, swap out: the page is one repeated word */
#define ZS_TR_KEEP 0x20 /* load: zs_engine_load_keep */
#define ZS_TR_MISS 0x40 /* invalidate: nothing was stored */
#define ZS_TR_OP(b) ((b) & 0x0f)

/* The recording run's engine settings, as the header holds them. */
struct zs_trace_header {
	uint32_t version, page_size;
	char compressor[ZS_NAME_MAX], zpool[ZS_NAME_MAX];
	uint64_t mem_limit, max_pool_percent, max_pool_size, accept_threshold_percent;
	uint64_t swap_size;
	bool same_filled_pages_enabled, exclusive_loads, store_incompressible;
};

/* One record, decoded.  Fields an op does not carry are zero. */
struct zs_trace_event {
	uint8_t op, flags;
	uint64_t us;        /* microseconds since the trace was opened */
	uintptr_t key;      /* page-aligned; 0 for INVALIDATE_ALL and SHRINK */
	uint32_t length;    /* compressed length; 0: never compressed */
	uint32_t checksum;  /* zs_trace_checksum of the page */
	uint64_t value;     /* ZS_TR_SAME, STORE_SAME: the repeated word */
	uint64_t pages;     /* SHRINK: pages the caller wanted freed */
};

struct zs_trace;

/* ---- writer ---- */

/* Create `path` (mode 0600) and write its header from the engine's
 * resolved options.  If another process is recording into `path` (a
 * program the traced one started, which inherited ZSWAPSIM_TRACE), record
 * into "path.PID" instead, created at its first write (none if the process
 * records nothing).  0, or -errno from open/write, -ENOMEM. */
int zs_trace_open(const char *path, const struct zs_options *opt, struct zs_trace **out);
/* Flush, close and free.  NULL is fine. */
void zs_trace_close(struct zs_trace *t);
/* Write out what is buffered.  Async-signal-safe. */
void zs_trace_flush(struct zs_trace *t);
/* In a child after fork(2): record nothing, never write the parent's file
 * (what the buffer holds is the parent's to write). */
void zs_trace_after_fork_child(struct zs_trace *t);
/* Events that were not written: after a write error, or in a fork child. */
uint64_t zs_trace_lost(const struct zs_trace *t);
/* The file actually written (path or path.PID). */
const char *zs_trace_path(const struct zs_trace *t);

/* A store's (or swap_out's) outcome, `op`, for the page it was given;
 * `length` is the compressed length, 0 when it was never compressed. */
void zs_trace_store(struct zs_trace *t, enum zs_trace_op op, uintptr_t key, const void *page,
		    uint32_t length);
/* A load's result: 0, -ENOENT or another -errno. */
void zs_trace_load(struct zs_trace *t, uintptr_t key, int ret, bool from_swap, bool keep);
/* An invalidate's result (0 or -ENOENT); key 0 for invalidate_all. */
void zs_trace_invalidate(struct zs_trace *t, uintptr_t key, int ret);
void zs_trace_writeback(struct zs_trace *t, uintptr_t key);
void zs_trace_shrink(struct zs_trace *t, uint64_t pages);

/* The 32-bit page checksum the trace records: one pass over the page's
 * 64-bit words, four multiply-xorshift lanes.  *same is whether every word
 * equals the first (*value).  Async-signal-safe. */
uint32_t zs_trace_checksum(const void *page, bool *same, uint64_t *value);

/* ---- reader ---- */

/* A trace being read from a file descriptor, through a buffer. */
struct zs_trace_reader {
	int fd;
	uint64_t offset;     /* of the next byte to decode, from the file's start */
	size_t at, end;      /* the undecoded bytes: buf[at..end) */
	bool eof;
	uint64_t last_page, last_us;
	unsigned char buf[1 << 16];
};

/* Read and check the header.  0, or -EINVAL with what is wrong (and what
 * is accepted) in err; the offset concerned in *where. */
int zs_trace_read_header(struct zs_trace_reader *r, int fd, struct zs_trace_header *h,
			 uint64_t *where, char *err, size_t errlen);
/* The next record: 1, 0 at the end, or -EINVAL for a corrupt or truncated
 * record, with its offset in *where and what is wrong in err; -errno for a
 * read error. */
int zs_trace_next(struct zs_trace_reader *r, struct zs_trace_event *ev, uint64_t *where,
		  char *err, size_t errlen);

#endif
