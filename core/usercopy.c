/*
 * Copies between the kernel and the current address space (copy_to_user / copy_from_user).
 *
 * Rules kept here (P2: a bad user address is EFAULT, never a crash):
 * - the whole user range is checked first (inside the user half, no wrap-around): a bad
 *   range is EFAULT before any byte moves (access_ok);
 * - the copy goes page by page through the processor (arch_user_access, CR0.WP=1), so
 *   copy-on-write, the zero frame and demand-zero pages fault exactly as for the process;
 *   a fault goes to page_fault_handler (a supervisor fault on a user address: no U bit) and
 *   the chunk is retried; a refused fault ends the copy with EFAULT (the bytes before it were
 *   copied, as with a real copy loop);
 * - a handler that keeps answering success while the access keeps faulting is a kernel bug.
 */
#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/mapper.h"
#include "platform.h"
#include "user_mm.h"

#define KTRACE_KIND TRACE_FAULT

#define MAX_FAULTS_PER_CHUNK 4

static enum mm_status copy_user(uint64_t uaddr, void *kbuf, size_t len, bool write)
{
	uint8_t *k = kbuf;

	if (len == 0)
		return MM_STATUS_OK;
	if (uaddr >= USER_END || len > USER_END - uaddr)
		return MM_STATUS_EFAULT;
	while (len) {
		size_t chunk = PAGE_SIZE - (uaddr & PAGE_MASK);
		int faults = 0;
		uint32_t err;

		if (chunk > len)
			chunk = len;
		while (!arch_user_access(uaddr, k, chunk, write, &err)) {
			enum pf_status r = page_fault_handler(err, uaddr);

			if (r != PF_OK) {
				KTRACE("usercopy: %s at %#llx refused (%s): efault",
				       write ? "copy-out" : "copy-in", (unsigned long long)uaddr,
				       pf_status_name(r));
				return MM_STATUS_EFAULT;
			}
			KASSERT(++faults <= MAX_FAULTS_PER_CHUNK,
				"usercopy: %#llx keeps faulting after the handler fixed it",
				(unsigned long long)uaddr);
		}
		uaddr += chunk;
		k += chunk;
		len -= chunk;
	}
	return MM_STATUS_OK;
}

enum mm_status copy_to_user(uint64_t uaddr, const void *src, size_t len)
{
	return copy_user(uaddr, (void *)(uintptr_t)src, len, true);
}

enum mm_status copy_from_user(void *dst, uint64_t uaddr, size_t len)
{
	return copy_user(uaddr, dst, len, false);
}
