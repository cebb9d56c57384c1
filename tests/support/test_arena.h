/*
 * Test support: a host buffer as physical memory, a booted frame allocator on it, a panic
 * handler that longjmps back into the test, and helpers to snapshot the buddy lists.
 */
#ifndef MMSIM_TESTS_SUPPORT_TEST_ARENA_H
#define MMSIM_TESTS_SUPPORT_TEST_ARENA_H

#include <check.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame_alloc.h"

#define MiB (1024ULL * 1024ULL)

/* Map `bytes` of zeroed host memory as physical memory [0, bytes). */
void arena_map(uint64_t bytes);
void arena_unmap(void);
/* arena_map + default boot map + boot_memory_init(1 MiB) + frame_alloc_init. */
void arena_boot(uint64_t bytes);

/* ck_assert that the audit passes, with its report as the message. */
void audit_ok(void);

/* Buddy-list snapshot: every (order, base) on the lists, in list order. */
struct list_snapshot {
	uint64_t count[FRAME_ORDER_COUNT];
	uint64_t *blocks[FRAME_ORDER_COUNT];
};
void snapshot_lists(struct list_snapshot *s);
/* Same blocks per order (as sets). */
bool snapshots_equal_as_sets(const struct list_snapshot *a, const struct list_snapshot *b);
void snapshot_free(struct list_snapshot *s);

/* Panic capture. */
extern jmp_buf panic_jmp;
extern bool panic_armed;
void panic_handler_install(void);

#define EXPECT_PANIC(stmt, needle)                                                             \
	do {                                                                                   \
		panic_armed = true;                                                            \
		if (setjmp(panic_jmp) == 0) {                                                  \
			stmt;                                                                  \
			panic_armed = false;                                                   \
			ck_abort_msg("no panic from: %s", #stmt);                             \
		}                                                                              \
		panic_armed = false;                                                           \
		ck_assert_msg(strstr(host_last_panic(), needle), "panic '%s' lacks '%s'",     \
			      host_last_panic(), needle);                                      \
	} while (0)

#endif
