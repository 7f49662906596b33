/*
 * fault.h - fault injection, so that tests can show that a failed allocation
 * or a failed swap I/O loses nothing.
 *
 * Each point has two counters: skip the next `after` calls, then fail the
 * following `count` calls.  Unarmed points cost one relaxed atomic load.
 * Thread-safe; async-signal-safe.
 */
#ifndef ZS_FAULT_H
#define ZS_FAULT_H

#include <stdbool.h>

enum zs_fault_point {
	ZS_FAULT_PAGE_ALLOC,   /* pool page allocation (zs_page_alloc) */
	ZS_FAULT_ENTRY_ALLOC,  /* index entry / index growth */
	ZS_FAULT_COMPRESS,     /* the compressor reports failure */
	ZS_FAULT_SWAP_WRITE,   /* pwrite to the swap file fails with EIO */
	ZS_FAULT_SWAP_READ,    /* pread from the swap file fails with EIO */
	ZS_FAULT_NPOINTS
};

/* Arm a point: pass `after` calls, then fail `count` calls (0 disarms). */
void zs_fault_arm(enum zs_fault_point point, unsigned int after, unsigned int count);
/* True when this call at `point` must fail. */
bool zs_fault_hit(enum zs_fault_point point);

#endif
