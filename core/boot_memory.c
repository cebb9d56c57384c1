/*
 * Boot memory map and free-area computation. Invariants are listed in boot_memory.h.
 */
#include "boot_memory.h"

#include "platform.h"

#define KTRACE_KIND TRACE_BOOT

static struct boot_memory_entry map[BOOT_MEMORY_MAP_CAPACITY];
static size_t map_count;
static struct boot_area areas[BOOT_MEMORY_AREA_CAPACITY];
static size_t area_count;
/* scratch for boot_memory_init: the non-free entries, sorted */
static struct boot_area reserved[BOOT_MEMORY_MAP_CAPACITY];

void boot_memory_reset(void)
{
	map_count = 0;
	area_count = 0;
}

static bool kind_known(uint64_t kind)
{
	switch (kind) {
	case BOOT_MEMORY_NULL:
	case BOOT_MEMORY_FREE:
	case BOOT_MEMORY_RECLAIM:
	case BOOT_MEMORY_RESERVED:
	case BOOT_MEMORY_KERNEL:
	case BOOT_MEMORY_DEVICE:
	case BOOT_MEMORY_IDENTITY_MAP:
		return true;
	default:
		return false;
	}
}

const char *bootloader_memory_kind_name(enum bootloader_memory_kind kind)
{
	switch (kind) {
	case BOOT_MEMORY_NULL: return "null";
	case BOOT_MEMORY_FREE: return "free";
	case BOOT_MEMORY_RECLAIM: return "reclaim";
	case BOOT_MEMORY_RESERVED: return "reserved";
	case BOOT_MEMORY_KERNEL: return "kernel";
	case BOOT_MEMORY_DEVICE: return "device";
	case BOOT_MEMORY_IDENTITY_MAP: return "identity-map";
	}
	return "unknown";
}

enum boot_memory_error register_memory_region(paddr_t base, uint64_t size,
					      enum bootloader_memory_kind kind)
{
	if (!kind_known(kind))
		return BOOT_MEMORY_BAD_KIND;
	if (base + size < base)
		return BOOT_MEMORY_BAD_RANGE;
	if (kind == BOOT_MEMORY_NULL || size == 0)
		return BOOT_MEMORY_OK;

	paddr_t start, end;
	if (kind == BOOT_MEMORY_FREE) {
		if (base > UINT64_MAX - PAGE_MASK)
			return BOOT_MEMORY_OK;
		start = (base + PAGE_MASK) & ~PAGE_MASK;
		end = (base + size) & ~PAGE_MASK;
	} else {
		start = base & ~PAGE_MASK;
		end = base + size > UINT64_MAX - PAGE_MASK ? UINT64_MAX & ~PAGE_MASK
							   : (base + size + PAGE_MASK) & ~PAGE_MASK;
	}
	if (start >= end)
		return BOOT_MEMORY_OK;

	/* Absorb every same-kind entry that overlaps or touches; removal by swap with last. */
	for (size_t i = 0; i < map_count;) {
		struct boot_memory_entry *e = &map[i];
		if (e->kind == kind && start <= e->base + e->size && end >= e->base) {
			if (e->base < start)
				start = e->base;
			if (e->base + e->size > end)
				end = e->base + e->size;
			map[i] = map[--map_count];
			continue;
		}
		i++;
	}
	if (map_count == BOOT_MEMORY_MAP_CAPACITY)
		return BOOT_MEMORY_MAP_FULL;
	map[map_count++] = (struct boot_memory_entry){ start, end - start, kind };
	return BOOT_MEMORY_OK;
}

enum boot_memory_error register_bootloader_areas(paddr_t table_pa, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct bootloader_memory_record rec;
		__builtin_memcpy(&rec, (const char *)phys_to_virt(table_pa) + i * sizeof(rec), sizeof(rec));
		if (!kind_known(rec.kind))
			return BOOT_MEMORY_BAD_KIND;
		enum boot_memory_error err =
			register_memory_region(rec.base, rec.size, (enum bootloader_memory_kind)rec.kind);
		if (err != BOOT_MEMORY_OK)
			return err;
	}
	return BOOT_MEMORY_OK;
}

static void sort_areas(struct boot_area *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct boot_area x = a[i];
		size_t j = i;
		for (; j > 0 && a[j - 1].base > x.base; j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

static enum boot_memory_error emit(paddr_t s, paddr_t e)
{
	if (s >= e)
		return BOOT_MEMORY_OK;
	if (area_count == BOOT_MEMORY_AREA_CAPACITY)
		return BOOT_MEMORY_AREAS_FULL;
	areas[area_count++] = (struct boot_area){ s, e - s };
	return BOOT_MEMORY_OK;
}

enum boot_memory_error boot_memory_init(paddr_t low_limit, paddr_t high_limit)
{
	paddr_t lo = low_limit > UINT64_MAX - PAGE_MASK ? UINT64_MAX & ~PAGE_MASK
							: (low_limit + PAGE_MASK) & ~PAGE_MASK;
	paddr_t hi = high_limit ? high_limit & ~PAGE_MASK : UINT64_MAX & ~PAGE_MASK;
	if (lo >= hi)
		return BOOT_MEMORY_BAD_LIMITS;

	size_t nres = 0;
	for (size_t i = 0; i < map_count; i++)
		if (map[i].kind != BOOT_MEMORY_FREE)
			reserved[nres++] = (struct boot_area){ map[i].base, map[i].size };
	sort_areas(reserved, nres);

	area_count = 0;
	for (size_t i = 0; i < map_count; i++) {
		if (map[i].kind != BOOT_MEMORY_FREE)
			continue;
		paddr_t s = map[i].base > lo ? map[i].base : lo;
		paddr_t e = map[i].base + map[i].size < hi ? map[i].base + map[i].size : hi;
		paddr_t cur = s;
		for (size_t r = 0; r < nres && cur < e; r++) {
			paddr_t rs = reserved[r].base, re = reserved[r].base + reserved[r].size;
			if (re <= cur)
				continue;
			if (rs >= e)
				break;
			enum boot_memory_error err = emit(cur, rs);
			if (err != BOOT_MEMORY_OK)
				return err;
			cur = re;
		}
		enum boot_memory_error err = emit(cur, e);
		if (err != BOOT_MEMORY_OK)
			return err;
	}

	sort_areas(areas, area_count);
	size_t out = 0;
	for (size_t i = 0; i < area_count; i++) {
		if (out && areas[i].base <= areas[out - 1].base + areas[out - 1].size) {
			paddr_t end = areas[i].base + areas[i].size;
			if (end > areas[out - 1].base + areas[out - 1].size)
				areas[out - 1].size = end - areas[out - 1].base;
			continue;
		}
		areas[out++] = areas[i];
	}
	area_count = out;

	uint64_t total = 0;
	for (size_t i = 0; i < area_count; i++)
		total += areas[i].size;
	KTRACE("boot: %zu free areas, %llu KiB", area_count, (unsigned long long)(total >> 10));
	return BOOT_MEMORY_OK;
}

enum boot_memory_error boot_memory_default_map(uint64_t machine_bytes)
{
	uint64_t kernel_end = BOOT_MEMORY_DEFAULT_KERNEL_BASE + BOOT_MEMORY_DEFAULT_KERNEL_SIZE;
	if (machine_bytes <= kernel_end)
		return BOOT_MEMORY_TOO_SMALL;

	enum boot_memory_error err;
	if ((err = register_memory_region(0, 0xA0000, BOOT_MEMORY_RESERVED)) ||
	    (err = register_memory_region(0xA0000, 0x100000 - 0xA0000, BOOT_MEMORY_DEVICE)) ||
	    (err = register_memory_region(BOOT_MEMORY_DEFAULT_KERNEL_BASE,
					  BOOT_MEMORY_DEFAULT_KERNEL_SIZE, BOOT_MEMORY_KERNEL)) ||
	    (err = register_memory_region(0x100000, machine_bytes - 0x100000, BOOT_MEMORY_FREE)))
		return err;
	return BOOT_MEMORY_OK;
}

size_t boot_memory_map_count(void)
{
	return map_count;
}

bool boot_memory_map_entry(size_t i, struct boot_memory_entry *out)
{
	if (i >= map_count)
		return false;
	*out = map[i];
	return true;
}

size_t boot_memory_area_count(void)
{
	return area_count;
}

const struct boot_area *boot_memory_areas(void)
{
	return areas;
}
