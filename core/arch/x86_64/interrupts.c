#include "arch/x86_64/interrupts.h"

#include <stddef.h>

#include "platform.h"

#define VECTOR_COUNT 256
#define EXCEPTION_COUNT 32

/* Written at boot before any CPU can take an interrupt, read-only afterwards. */
static interrupt_handler_t handlers[VECTOR_COUNT];
static exception_handler_t exception_handlers[EXCEPTION_COUNT];

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
	for (unsigned v = 0; v < EXCEPTION_COUNT; v++)
		exception_handlers[v] = NULL;
}

void interrupt_entry(unsigned vector)
{
	KASSERT(vector < VECTOR_COUNT && handlers[vector],
		"interrupt on cpu %u: vector %#x has no handler", plat_cpu_id(), vector);
	handlers[vector](vector);
}

bool exception_register(unsigned vector, exception_handler_t handler)
{
	if (vector >= EXCEPTION_COUNT || exception_handlers[vector] || !handler)
		return false;
	exception_handlers[vector] = handler;
	return true;
}

int exception_entry(unsigned vector, uint32_t error_code)
{
	KASSERT(vector < EXCEPTION_COUNT && exception_handlers[vector],
		"exception on cpu %u: vector %u has no handler", plat_cpu_id(), vector);
	return exception_handlers[vector](vector, error_code);
}
