/*
 * bench_faults --cpus N: how the fault path scales (included by bench_faults.c, whose
 * machine and helpers it uses).
 *
 * The machine has N simulated CPUs, each a host thread (sim/cpu_threads). Two experiments,
 * each run with 1 CPU and with N, alternated, median of the runs:
 *
 *   independent   one process per CPU, each in its own address space: demand-zero faults
 *                 on a fresh mapping, then (after a fork whose child keeps every page)
 *                 copy-on-write faults on the same pages, then a munmap of the mapping;
 *   one space     every CPU in one address space, each writing its own pages (a part of one
 *                 mapping): demand-zero faults, then copy-on-write faults after a fork;
 *   memory alone  each CPU zeroes, then copies, as many pages of buffers of its own with the
 *                 kernel's fill routines (page_fill.h), with no fault and no lock: what the
 *                 machine's memory allows N CPUs filling pages at once, the ceiling of the
 *                 fault rows' speedup.
 *
 * A phase starts on every CPU at once (a spin barrier) and lasts from the first start to the
 * last end; throughput is the faults (pages) of all CPUs over that time, the speedup the
 * throughput with N CPUs over the throughput with one. The host kernel does the independent
 * experiment too, with N forked processes.
 *
 * Simulated CPU i's thread (and host process i) is pinned to the i-th host CPU this process
 * may use (modulo their number): a phase lasts a few milliseconds, and left to the host's
 * scheduler the threads, woken one after the other by the driver, often start on the same
 * host CPU and take turns on it for a whole phase before the load balancer separates them
 * (docs/performance.md, "Faults on several CPUs"). MMSIM_BENCH_PIN=0 in the environment
 * pins nothing.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "host/cpu_threads.h"
#include "host/host_pin.h"

enum cphase { CP_DZ, CP_COW, CP_UNMAP, CP_COUNT };
static const char *const cphase_name[CP_COUNT] = { "demand-zero faults", "CoW copy faults",
						   "munmap (pages)" };

struct cjob {
	_Alignas(64) unsigned cpu; /* a line of its own: each CPU writes its times */
	struct addr_space *as, *child;
	uint64_t base, npages;
	double t0, t1;
	char *buf[2]; /* memory alone: zeroed pages, then their copies */
};

static struct cjob cjobs[MAX_CPUS];
static atomic_uint barrier_count;
static unsigned barrier_n;
static uint64_t per_cpu_pages;

/* Every CPU of the experiment arrives before any goes on (interrupts taken meanwhile; the
 * host CPU yielded now and then, for when there are more simulated CPUs than host ones). */
static void cbarrier(void)
{
	unsigned spins = 0;

	atomic_fetch_add(&barrier_count, 1);
	while (atomic_load(&barrier_count) < barrier_n) {
		cpu_threads_interrupt_window();
		if (++spins % 256 == 0)
			sched_yield();
	}
}

/* The host CPUs this process may run on; simulated CPU (or host process) i runs on the
 * (i mod their number)-th of them (none pinned when empty). */
static cpu_set_t host_cpus;

static void find_host_cpus(void)
{
	const char *pin = getenv("MMSIM_BENCH_PIN");

	CPU_ZERO(&host_cpus);
	if (pin && strcmp(pin, "0") == 0)
		return;
	if (sched_getaffinity(0, sizeof(host_cpus), &host_cpus) != 0)
		CPU_ZERO(&host_cpus);
}

/* The calling thread (a simulated CPU's, or host process i) stays on host CPU i's. */
static void pin_to_host_cpu(unsigned i)
{
	if (CPU_COUNT(&host_cpus) && !host_pin_thread(&host_cpus, i))
		fprintf(stderr, "bench_faults: cannot pin cpu %u to host cpu %d\n", i,
			host_core_nth(&host_cpus, i));
}

static void job_pin(void *arg)
{
	pin_to_host_cpu(((struct cjob *)arg)->cpu);
}

static void cwrite_pages(struct cjob *j, uint64_t tag)
{
	for (uint64_t i = 0; i < j->npages; i++) {
		struct user_access a = { .va = j->base + i * PG, .kind = X86_WRITE, .size = 8,
					 .value = tag + i };

		if (user_access(&cpus[j->cpu], &a) != UA_OK)
			die("an access failed");
	}
}

static void job_setup_own(void *arg)
{
	struct cjob *j = arg;

	j->as = addr_space_create();
	if (!j->as)
		die("addr_space_create");
	addr_space_switch(j->as);
	if (mm_mmap(j->as, j->base, j->npages * PG, RW, MM_MAP_FIXED, NULL) != MM_STATUS_OK)
		die("mmap");
}

static void job_switch(void *arg)
{
	struct cjob *j = arg;

	addr_space_switch(j->as);
}

static void job_dz(void *arg)
{
	struct cjob *j = arg;

	cbarrier();
	j->t0 = now_ns();
	cwrite_pages(j, 1);
	j->t1 = now_ns();
}

static void job_fork(void *arg)
{
	struct cjob *j = arg;

	if (mm_fork(j->as, &j->child) != MM_STATUS_OK)
		die("fork");
}

static void job_cow(void *arg)
{
	struct cjob *j = arg;

	cbarrier();
	j->t0 = now_ns();
	cwrite_pages(j, 2);
	j->t1 = now_ns();
}

static void job_unmap(void *arg)
{
	struct cjob *j = arg;

	cbarrier();
	j->t0 = now_ns();
	if (mm_munmap(j->as, j->base, j->npages * PG) != MM_STATUS_OK)
		die("munmap");
	j->t1 = now_ns();
}

static void job_teardown(void *arg)
{
	struct cjob *j = arg;

	addr_space_switch(NULL);
	if (j->child)
		addr_space_destroy(j->child);
	if (j->as)
		addr_space_destroy(j->as);
}

static void job_leave(void *arg)
{
	(void)arg;
	addr_space_switch(NULL);
}

/* fn on CPUs 0..n-1 at once; the phase's time from the first start to the last end. */
static double on_cpus(unsigned n, void (*fn)(void *))
{
	double t0 = 0, t1 = 0;

	atomic_store(&barrier_count, 0);
	barrier_n = n;
	for (unsigned i = 0; i < n; i++)
		cpu_threads_post(i, fn, &cjobs[i]);
	for (unsigned i = 0; i < n; i++)
		cpu_threads_wait(i);
	for (unsigned i = 0; i < n; i++) {
		if (i == 0 || cjobs[i].t0 < t0)
			t0 = cjobs[i].t0;
		if (i == 0 || cjobs[i].t1 > t1)
			t1 = cjobs[i].t1;
	}
	return t1 - t0;
}

static void job_mem_zero(void *arg)
{
	struct cjob *j = arg;

	cbarrier();
	j->t0 = now_ns();
	for (uint64_t i = 0; i < j->npages; i++)
		page_zero_for_access(j->buf[0] + i * PG, 0);
	j->t1 = now_ns();
}

static void job_mem_copy(void *arg)
{
	struct cjob *j = arg;

	cbarrier();
	j->t0 = now_ns();
	for (uint64_t i = 0; i < j->npages; i++)
		page_copy_for_access(j->buf[1] + i * PG, j->buf[0] + i * PG, 0);
	j->t1 = now_ns();
}

/* One run of the memory-alone experiment on n CPUs: pages zeroed, then copied, per
 * microsecond (the buffers' host pages are touched before the timing). */
static void memory_run(unsigned n, double out[CP_COUNT])
{
	for (unsigned i = 0; i < n; i++) {
		cjobs[i] = (struct cjob){ .cpu = i, .npages = per_cpu_pages };
		for (int b = 0; b < 2; b++) {
			cjobs[i].buf[b] = aligned_alloc(PG, per_cpu_pages * PG);
			if (!cjobs[i].buf[b])
				die("memory");
			memset(cjobs[i].buf[b], 0xa5, per_cpu_pages * PG);
		}
	}
	out[CP_DZ] = (double)(n * per_cpu_pages) / on_cpus(n, job_mem_zero) * 1e3;
	out[CP_COW] = (double)(n * per_cpu_pages) / on_cpus(n, job_mem_copy) * 1e3;
	out[CP_UNMAP] = 0;
	for (unsigned i = 0; i < n; i++)
		for (int b = 0; b < 2; b++)
			free(cjobs[i].buf[b]);
}

/* One run of the independent experiment on n CPUs: faults (pages) per microsecond. */
static void independent_run(unsigned n, double out[CP_COUNT])
{
	uint64_t free0 = free_frames();

	for (unsigned i = 0; i < n; i++)
		cjobs[i] = (struct cjob){ .cpu = i, .base = VBASE, .npages = per_cpu_pages };
	for (unsigned i = 0; i < n; i++)
		cpu_threads_run(i, job_setup_own, &cjobs[i]);
	out[CP_DZ] = (double)(n * per_cpu_pages) / on_cpus(n, job_dz) * 1e3;
	for (unsigned i = 0; i < n; i++)
		cpu_threads_run(i, job_fork, &cjobs[i]);
	out[CP_COW] = (double)(n * per_cpu_pages) / on_cpus(n, job_cow) * 1e3;
	out[CP_UNMAP] = (double)(n * per_cpu_pages) / on_cpus(n, job_unmap) * 1e3;
	for (unsigned i = 0; i < n; i++)
		cpu_threads_run(i, job_teardown, &cjobs[i]);
	check(free_frames() == free0, "frames leaked");
}

/* One run of the one-space experiment on n CPUs (demand-zero and CoW only). */
static void one_space_run(unsigned n, double out[CP_COUNT])
{
	uint64_t free0 = free_frames();
	struct addr_space *as = addr_space_create(), *child;

	if (!as || mm_mmap(as, VBASE, n * per_cpu_pages * PG, RW, MM_MAP_FIXED, NULL) != MM_STATUS_OK)
		die("one space");
	for (unsigned i = 0; i < n; i++) {
		cjobs[i] = (struct cjob){ .cpu = i, .as = as, .base = VBASE + i * per_cpu_pages * PG,
					  .npages = per_cpu_pages };
		cpu_threads_run(i, job_switch, &cjobs[i]);
	}
	out[CP_DZ] = (double)(n * per_cpu_pages) / on_cpus(n, job_dz) * 1e3;
	if (mm_fork(as, &child) != MM_STATUS_OK)
		die("fork");
	out[CP_COW] = (double)(n * per_cpu_pages) / on_cpus(n, job_cow) * 1e3;
	out[CP_UNMAP] = 0;
	for (unsigned i = 0; i < n; i++)
		cpu_threads_run(i, job_leave, NULL);
	addr_space_destroy(child);
	addr_space_destroy(as);
	check(free_frames() == free0, "frames leaked");
}

/* The host: n processes at once, each the independent experiment; per phase, the time from
 * the first start to the last end (CLOCK_MONOTONIC is one clock for every process). */
static void host_cpus_run(unsigned n, double out[CP_COUNT])
{
	double t[MAX_CPUS][2 * CP_COUNT];
	int go[2], res[2];
	pid_t pid[MAX_CPUS];
	char c = 'x';

	if (pipe(go) || pipe(res))
		die("pipe");
	for (unsigned i = 0; i < n; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			die("host fork");
		if (pid[i] == 0) {
			uint64_t bytes = per_cpu_pages * PG;
			double m[2 * CP_COUNT];
			int fd;
			pid_t child;
			uint8_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

			if (p == MAP_FAILED)
				_exit(1);
			pin_to_host_cpu(i);
			madvise(p, bytes, MADV_NOHUGEPAGE);
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			m[0] = now_ns();
			for (uint64_t k = 0; k < per_cpu_pages; k++)
				((volatile uint8_t *)p)[k * PG] = 1;
			m[1] = now_ns();
			child = host_fork_child_waiting(&fd);
			m[2] = now_ns();
			for (uint64_t k = 0; k < per_cpu_pages; k++)
				((volatile uint8_t *)p)[k * PG] = 2;
			m[3] = now_ns();
			host_release(child, fd);
			m[4] = now_ns();
			munmap(p, bytes);
			m[5] = now_ns();
			if (write(res[1], m, sizeof(m)) != (ssize_t)sizeof(m))
				_exit(1);
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	/* every child is at its read: let them all go at once */
	usleep(20000);
	for (unsigned i = 0; i < n; i++)
		if (write(go[1], &c, 1) != 1)
			die("pipe write");
	close(go[1]);
	for (unsigned i = 0; i < n; i++)
		if (read(res[0], t[i], sizeof(t[i])) != (ssize_t)sizeof(t[i]))
			die("a host process failed");
	close(res[0]);
	for (unsigned i = 0; i < n; i++)
		waitpid(pid[i], NULL, 0);
	for (int ph = 0; ph < CP_COUNT; ph++) {
		double a = t[0][2 * ph], b = t[0][2 * ph + 1];

		for (unsigned i = 1; i < n; i++) {
			a = t[i][2 * ph] < a ? t[i][2 * ph] : a;
			b = t[i][2 * ph + 1] > b ? t[i][2 * ph + 1] : b;
		}
		out[ph] = (double)(n * per_cpu_pages) / (b - a) * 1e3;
	}
}

static void print_rows(const char *what, double one[CP_COUNT][16], double many[CP_COUNT][16],
		       int nph, unsigned n)
{
	for (int ph = 0; ph < nph; ph++) {
		double a = median(one[ph], runs), b = median(many[ph], runs);

		printf("%-12s %-20s %12.2f %12.2f %9.2fx\n", what, cphase_name[ph], a, b, b / a);
	}
	(void)n;
}

/* Run r's figures, one per phase. */
static void keep(double runs_of[CP_COUNT][16], const double v[CP_COUNT], int r)
{
	for (int ph = 0; ph < CP_COUNT; ph++)
		runs_of[ph][r] = v[ph];
}

static int cpus_main(bool quick, bool smoke, bool host)
{
	double ind1[CP_COUNT][16], indn[CP_COUNT][16], one1[CP_COUNT][16], onen[CP_COUNT][16];
	double h1[CP_COUNT][16], hn[CP_COUNT][16], m1[CP_COUNT][16], mn[CP_COUNT][16];
	uint64_t per_cpu_mb = 64;

	if (getenv("MMSIM_BENCH_MAP_MB"))
		per_cpu_mb = strtoull(getenv("MMSIM_BENCH_MAP_MB"), NULL, 0);
	if (quick)
		per_cpu_mb = 16, runs = 3;
	if (smoke)
		per_cpu_mb = 2, runs = 1;
	per_cpu_pages = (per_cpu_mb << 20) / PG;
	/* each CPU: the mapping, its copies and their tables, with room to spare */
	machine_bytes = ncpus * 2 * (per_cpu_mb << 20) + (64ull << 20);
	if (getenv("MMSIM_BENCH_MB"))
		machine_bytes = strtoull(getenv("MMSIM_BENCH_MB"), NULL, 0) << 20;
	boot();
	if (!cpu_threads_start(ncpus))
		die("cpu threads");
	find_host_cpus();
	for (unsigned i = 0; i < ncpus; i++) {
		cjobs[i] = (struct cjob){ .cpu = i };
		cpu_threads_run(i, job_pin, &cjobs[i]);
	}
	for (int r = 0; r < runs; r++) {
		double v[CP_COUNT];

		/* alternated: a drift of the machine's load touches both columns alike */
		independent_run(1, v);
		keep(ind1, v, r);
		independent_run(ncpus, v);
		keep(indn, v, r);
		one_space_run(1, v);
		keep(one1, v, r);
		one_space_run(ncpus, v);
		keep(onen, v, r);
		memory_run(1, v);
		keep(m1, v, r);
		memory_run(ncpus, v);
		keep(mn, v, r);
		if (host) {
			host_cpus_run(1, v);
			keep(h1, v, r);
			host_cpus_run(ncpus, v);
			keep(hn, v, r);
		}
	}
	if (smoke) {
		char buf[256];

		check(mm_audit(buf, sizeof(buf)), buf);
	}
	cpu_threads_stop();
	printf("bench_faults --cpus %u: %" PRIu64 " MiB (%" PRIu64 " pages) per CPU, median of %d runs,"
	       " faults (pages) per microsecond, all CPUs together, %s\n",
	       ncpus, per_cpu_mb, per_cpu_pages, runs,
	       CPU_COUNT(&host_cpus) ? "each CPU pinned to a host CPU" : "not pinned");
	printf("%-12s %-20s %12s %7u cpus %10s\n", "experiment", "phase", "1 cpu", ncpus, "speedup");
	print_rows("independent", ind1, indn, CP_COUNT, ncpus);
	print_rows("one space", one1, onen, CP_UNMAP, ncpus);
	for (int ph = 0; ph < CP_UNMAP; ph++) {
		double a = median(m1[ph], runs), b = median(mn[ph], runs);

		printf("%-12s %-20s %12.2f %12.2f %9.2fx\n", "memory alone",
		       ph == CP_DZ ? "pages zeroed" : "pages copied", a, b, b / a);
	}
	if (host)
		print_rows("host kernel", h1, hn, CP_COUNT, ncpus);
	host_cpu_ops_attach(NULL, 0);
	for (unsigned i = 0; i < ncpus; i++)
		x86_cpu_destroy(&cpus[i]);
	arena_destroy(&arena);
	return 0;
}
