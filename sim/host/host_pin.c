#include "host/host_pin.h"

#include <pthread.h>

int host_core_nth(const cpu_set_t *cores, unsigned n)
{
	int count = CPU_COUNT(cores);
	unsigned seen = 0;

	if (count == 0)
		return -1;
	n %= (unsigned)count;
	for (int core = 0; core < CPU_SETSIZE; core++)
		if (CPU_ISSET(core, cores) && seen++ == n)
			return core;
	return -1;
}

bool host_pin_thread(const cpu_set_t *cores, unsigned n)
{
	int core = host_core_nth(cores, n);
	cpu_set_t one;

	if (core < 0)
		return false;
	CPU_ZERO(&one);
	CPU_SET(core, &one);
	return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
}
