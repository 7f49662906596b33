/*
 * fault.c - fault injection counters (see fault.h).
 *
 * State per point: `armed` is the number of calls still to fail plus the
 * number to pass first, packed as (after << 32 | count) and consumed with a
 * compare-and-swap loop, so concurrent callers each see a consistent step.
 */
#include "config.h"

#include <stdint.h>

#include "common.h"
#include "fault.h"

static uint64_t armed[ZS_FAULT_NPOINTS];

void zs_fault_arm(enum zs_fault_point point, unsigned int after, unsigned int count)
{
	uint64_t v = count ? ((uint64_t)after << 32) | count : 0;

	__atomic_store_n(&armed[point], v, __ATOMIC_RELAXED);
}

bool zs_fault_hit(enum zs_fault_point point)
{
	uint64_t v = zs_count_read(&armed[point]), next;

	while (zs_unlikely(v)) {
		uint32_t after = v >> 32, count = (uint32_t)v;

		next = after ? ((uint64_t)(after - 1) << 32) | count : count - 1;
		if (__atomic_compare_exchange_n(&armed[point], &v, next, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return after == 0;
	}
	return false;
}
