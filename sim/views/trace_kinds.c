/*
 * Names of the trace kinds. The bits are the kernel's (core/platform.h); the simulator's own
 * narration (walks, register writes, INVLPG) uses the same bits.
 */
#include "views/trace_kinds.h"

#include <string.h>

#include "platform.h"

static const struct {
	const char *name;
	unsigned bits;
} kinds[] = {
	{"boot", TRACE_BOOT},   {"walk", TRACE_WALK},	  {"fault", TRACE_FAULT},
	{"frame", TRACE_FRAME}, {"tlb", TRACE_TLB},	  {"pressure", TRACE_PRESSURE},
	{"mm", TRACE_MM},	{"heap", TRACE_HEAP},	  {"cpu", TRACE_CPU},
	{"all", TRACE_ALL},
};

bool trace_kinds_parse(const char *list, unsigned *out, const char **bad, size_t *bad_len)
{
	unsigned k = 0;
	const char *s = list;

	for (;;) {
		size_t len = strcspn(s, ",");
		bool found = false;

		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			if (strlen(kinds[i].name) == len && strncmp(kinds[i].name, s, len) == 0) {
				k |= kinds[i].bits;
				found = true;
			}
		}
		if (!found) {
			*bad = s;
			*bad_len = len;
			return false;
		}
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
	*out = k;
	return true;
}

const char *trace_kind_names(void)
{
	return "boot, walk, fault, frame, tlb, pressure, mm, heap, cpu, all";
}
