#include "arch/x86_64/interrupts.h"

#include <stddef.h>

#include "platform.h"

#define VECTOR_COUNT 256

/* Written at boot before any CPU can take an interrupt, read-only afterwards. */
static interrupt_handler_t handlers[VECTOR_COUNT];

bool interrupt_register(unsigned vector, interrupt_handler_t handler)
{
	if (vector >= VECTOR_COUNT || handlers[vector] || !handler)
		return false;
	handlers[vector] = handler;
	return true;
}

void interrupt_reset(void)
{
	for (unsigned v = 0; v < VECTOR_COUNT; v++)
		handlers[v] = NULL;
}

void interrupt_entry(unsigned vector)
{
	KASSERT(vector < VECTOR_COUNT && handlers[vector],
		"interrupt on cpu %u: vector %#x has no handler", plat_cpu_id(), vector);
	handlers[vector](vector);
}
