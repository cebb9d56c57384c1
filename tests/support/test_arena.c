#include "test_arena.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot_memory.h"
#include "frame_alloc_state.h"
#include "frame_audit.h"
#include "frame_section.h"
#include "host/host_platform.h"
#include "phys.h"

jmp_buf panic_jmp;
bool panic_armed;
static void *arena;
static uint64_t arena_bytes;

static void on_panic(const char *msg)
{
	if (panic_armed)
		longjmp(panic_jmp, 1);
	fprintf(stderr, "unexpected kernel panic: %s\n", msg);
	abort();
}

void panic_handler_install(void)
{
	host_set_panic_handler(on_panic);
}

void arena_map(uint64_t bytes)
{
	arena_unmap();
	arena = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		     -1, 0);
	ck_assert_ptr_ne(arena, MAP_FAILED);
	arena_bytes = bytes;
	phys_direct_map_base = (uintptr_t)arena;
	panic_handler_install();
}

void arena_unmap(void)
{
	if (arena) {
		munmap(arena, arena_bytes);
		arena = NULL;
	}
}

void arena_boot(uint64_t bytes)
{
	arena_map(bytes);
	boot_memory_reset();
	ck_assert_int_eq(boot_memory_default_map(bytes), BOOT_MEMORY_OK);
	ck_assert_int_eq(boot_memory_init(0x100000, 0), BOOT_MEMORY_OK);
	ck_assert_int_eq(frame_alloc_init(boot_memory_areas(), boot_memory_area_count()), FRAME_INIT_OK);
}

void audit_ok(void)
{
	char buf[512];
	bool ok = frame_audit(buf, sizeof(buf));
	ck_assert_msg(ok, "audit: %s", buf);
}

void snapshot_lists(struct list_snapshot *s)
{
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++) {
		uint64_t n = 0;
		for (paddr_t f = frame_alloc_state.heads[k]; f;
		     f = page_meta_next(page_info_meta(frame_section_lookup(f))) << PAGE_SHIFT)
			n++;
		s->count[k] = n;
		s->blocks[k] = calloc(n ? n : 1, sizeof(uint64_t));
		n = 0;
		for (paddr_t f = frame_alloc_state.heads[k]; f;
		     f = page_meta_next(page_info_meta(frame_section_lookup(f))) << PAGE_SHIFT)
			s->blocks[k][n++] = f;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

bool snapshots_equal_as_sets(const struct list_snapshot *a, const struct list_snapshot *b)
{
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++) {
		if (a->count[k] != b->count[k])
			return false;
		qsort(a->blocks[k], a->count[k], sizeof(uint64_t), cmp_u64);
		qsort(b->blocks[k], b->count[k], sizeof(uint64_t), cmp_u64);
		if (memcmp(a->blocks[k], b->blocks[k], a->count[k] * sizeof(uint64_t)))
			return false;
	}
	return true;
}

void snapshot_free(struct list_snapshot *s)
{
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++)
		free(s->blocks[k]);
}
