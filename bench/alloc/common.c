/* allocbench's small helpers: the arena, anonymous memory, the clock, random numbers and
 * threads. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "allocbench.h"
#include "host/host_pin.h"

void *ab_map(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *ab_map_populated(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void ab_unmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes ? bytes : 1);
}

bool ab_arena_map(struct ab_arena *a, uint64_t bytes)
{
	a->bytes = bytes;
	a->fa.frames = bytes / FA_PAGE_SIZE;
	a->fa.threads = 1;
	a->fa.mem = ab_map(bytes);
	return a->fa.mem != NULL;
}

void ab_arena_unmap(struct ab_arena *a)
{
	ab_unmap(a->fa.mem, a->bytes);
	a->fa.mem = NULL;
}

double ab_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

uint64_t ab_rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

void ab_shuffle(uint64_t *v, uint64_t n, uint64_t *state)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = (uint64_t)(((unsigned __int128)ab_rnd(state) * i) >> 64);
		uint64_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

void run_threads(unsigned n, void *(*fn)(void *), void *args, size_t arg_size)
{
	pthread_t t[64];

	if (n == 1) {
		fn(args);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)args + i * arg_size)) {
			fprintf(stderr, "allocbench: cannot start a thread\n");
			exit(1);
		}
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

bool ab_pin_thread(unsigned i, cpu_set_t *saved)
{
	const char *pin = getenv("MMSIM_BENCH_PIN");

	if ((pin && !strcmp(pin, "0")) || sched_getaffinity(0, sizeof(*saved), saved))
		return false;
	if (host_pin_thread(saved, i))
		return true;
	fprintf(stderr, "allocbench: cannot pin thread %u to CPU %d\n", i, host_core_nth(saved, i));
	return false;
}

void ab_unpin_thread(const cpu_set_t *saved)
{
	sched_setaffinity(0, sizeof(*saved), saved);
}
