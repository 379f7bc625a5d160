/* SPDX-License-Identifier: MIT */
/*
 * nc2-bench-shm helpers: clocks, CPU pinning, the cache-line round trip
 * that tells the host's vCPU placement, statistics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm_bench.h"

const char *const sb_dir_name[SB_NR_DIR] = {"fe->be", "be->fe"};

double sb_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sb_sleep(double secs)
{
	if (secs <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)secs,
			      .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int sb_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((size_t)cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int sb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double sb_median(const double *v, int n)
{
	double t[64];
	if (n <= 0)
		return 0;
	if (n > 64)
		n = 64;
	memcpy(t, v, (size_t)n * sizeof(*t));
	qsort(t, (size_t)n, sizeof(*t), sb_cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

char sb_class(double rtt_ns)
{
	return rtt_ns < 0 ? '?' : rtt_ns < SB_RTT_SLOW_NS ? 'F' : 'S';
}

void sb_loadavg(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;
	if (f == NULL || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
		snprintf(buf, cap, "?");
	else
		snprintf(buf, cap, "%.2f %.2f %.2f", a, b, c);
	if (f)
		fclose(f);
}

double sb_proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields after the command (which may hold spaces): state is field 3,
	 * utime 14, stime 15. */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	unsigned long long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

/* ---- cache-line round trip ------------------------------------------- */

#define RTT_BATCHES 7
#define RTT_ITERS   2000

struct rtt_shared {
	_Alignas(64) _Atomic uint64_t line; /* the ping-ponged line */
	_Alignas(64) double batch_ns[RTT_BATCHES];
	_Atomic int ready;
};

/* Ping side: odd values out, waits for the even answer. */
static void rtt_ping(struct rtt_shared *s)
{
	uint64_t v = 0;
	atomic_fetch_add(&s->ready, 1);
	while (atomic_load(&s->ready) < 2)
		;
	for (int b = 0; b < RTT_BATCHES; b++) {
		double t0 = sb_now();
		for (int i = 0; i < RTT_ITERS; i++) {
			atomic_store_explicit(&s->line, ++v, memory_order_release);
			while (atomic_load_explicit(&s->line, memory_order_acquire) != v + 1)
				;
			v++;
		}
		s->batch_ns[b] = (sb_now() - t0) * 1e9 / RTT_ITERS;
	}
}

static void rtt_pong(struct rtt_shared *s)
{
	uint64_t v = 1;
	atomic_fetch_add(&s->ready, 1);
	for (int i = 0; i < RTT_BATCHES * RTT_ITERS; i++, v += 2) {
		while (atomic_load_explicit(&s->line, memory_order_acquire) != v)
			;
		atomic_store_explicit(&s->line, v + 1, memory_order_release);
	}
}

double sb_rtt_ns(int cpu_a, int cpu_b)
{
	struct rtt_shared *s =
	    mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return -1;
	memset(s, 0, sizeof(*s));
	pid_t pid[2];
	for (int k = 0; k < 2; k++) {
		pid[k] = fork();
		if (pid[k] < 0) {
			if (k)
				kill(pid[0], SIGKILL);
			munmap(s, sizeof(*s));
			return -1;
		}
		if (pid[k] == 0) {
			alarm(10); /* never spin forever if the other side died */
			if (sb_pin(k ? cpu_b : cpu_a) < 0)
				_exit(1);
			if (k == 0)
				rtt_ping(s);
			else
				rtt_pong(s);
			_exit(0);
		}
	}
	int ok = 1;
	for (int k = 0; k < 2; k++) {
		int st;
		if (waitpid(pid[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	}
	double r = ok ? sb_median(s->batch_ns, RTT_BATCHES) : -1;
	munmap(s, sizeof(*s));
	return r;
}
