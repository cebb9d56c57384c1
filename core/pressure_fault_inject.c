/*
 * Allocation-failure injection: refuse the Nth normal allocation, or every one after the Nth
 * (tests, scenarios and the fuzzers reach the OOM path with it).
 */
#include "pressure_governor.h"

#define KTRACE_KIND TRACE_PRESSURE

void pressure_inject_failure(enum alloc_fail_mode mode, uint64_t n)
{
	atomic_store(&G.fail_n, n);
	atomic_store(&G.checked, 0);
	atomic_store(&G.fail_mode, (int)mode);
	KTRACE("pressure: allocation failure injection %s %llu",
	       mode == ALLOC_FAIL_OFF ? "off" : mode == ALLOC_FAIL_NTH ? "at allocation" : "after allocation",
	       (unsigned long long)n);
}

uint64_t pressure_checked_allocations(void)
{
	return atomic_load(&G.checked);
}

bool memory_for(uint64_t n)
{
	return atomic_load(&G.fail_mode) != ALLOC_FAIL_AFTER && available_frames() >= n;
}

