/* SPDX-License-Identifier: MIT */
/*
 * nc2-bench-shm: shared declarations of the two-process shm benchmark
 * (bench_shm.c: libnc2, netif-style and Unix socket trials, the table;
 * shm_util.c: clocks, pinning, the cache-line round trip, statistics;
 * shm_testpmd.c: DPDK testpmd trials of memif and vhost-user).
 */
#ifndef NC2_BENCH_SHM_H
#define NC2_BENCH_SHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SB_MAX_WIN 16 /* measurement windows per trial */

/* Directions: the frontend (guest side: memif client, virtio-user) sends
 * to the backend (switch side: memif server, vhost-user), or back. */
enum { SB_FE2BE, SB_BE2FE, SB_NR_DIR };
/* Work pattern: "hdr" = what testpmd's txonly/rxonly do (the sender writes
 * the 42 octets of Ethernet/IPv4/UDP headers into a recycled buffer, the
 * receiver releases the buffer unread); "full" = the sender writes every
 * octet, the receiver reads every octet. */
enum { SB_PAT_HDR, SB_PAT_FULL };

extern const char *const sb_dir_name[SB_NR_DIR];

/* The result of one trial (any implementation). */
struct sb_result {
	int ok;        /* 1: a rate was measured */
	char err[512]; /* why not (!ok), or a warning */
	double pps;    /* median of the windows */
	double win[SB_MAX_WIN];
	int nwin;
	double rtt0, rtt1; /* cache-line round trip (ns) before and after */
	uint64_t pkts;     /* packets received in the windows */
	uint64_t notifies, wakeups, sleeps_timed_out; /* event mode, both sides */
	uint64_t total_pkts;                          /* packets received overall */
	double cpu[2]; /* share of a CPU each side got while measured ([0] fe, [1] be) */
};

/* ---- shm_util.c -------------------------------------------------------- */
double sb_now(void);
void sb_sleep(double secs);
/** Pin the calling process to \p cpu. \return 0 or -errno. */
int sb_pin(int cpu);
/**
 * Cache-line round trip between \p cpu_a and \p cpu_b: two processes pinned
 * there ping-pong one cache line in shared memory. \return nanoseconds per
 * round trip (median of several batches), or a negative value on failure.
 */
double sb_rtt_ns(int cpu_a, int cpu_b);
/** Placement class of a round trip: 'F' (fast, < SB_RTT_SLOW_NS), 'S'. */
#define SB_RTT_SLOW_NS 300.0
char sb_class(double rtt_ns);
/** CPU seconds (user + system) \p pid has used so far, or -1. */
double sb_proc_cpu(pid_t pid);
/* A trial only counts if each side had at least this share of its CPU:
 * other jobs on the machine take CPU time in a way the round trip does not
 * show. */
#define SB_MIN_CPU_SHARE 0.9
double sb_median(const double *v, int n);
int sb_cmp_double(const void *a, const void *b);
/** Text of /proc/loadavg's first three fields ("?" if unreadable). */
void sb_loadavg(char *buf, size_t cap);

/* ---- shm_testpmd.c ---------------------------------------------------- */
enum {
	SB_PEER_MEMIF_COPY,
	SB_PEER_MEMIF_ZC,
	SB_PEER_VHOST_PACKED,
	SB_PEER_VHOST_SPLIT,
	SB_NR_DPDK_PEERS
};
extern const char *const sb_peer_name[SB_NR_DPDK_PEERS];

struct sb_dpdk {
	const char *testpmd; /* DPDK_TESTPMD */
	const char *libdir;  /* DPDK_LIBDIR (LD_LIBRARY_PATH) */
	const char *plugins; /* DPDK_PLUGINS ("-d so -d so ...") */
	const char *run_dir; /* sockets and logs (not world-writable) */
	int cpu_fe, cpu_be;
	int nwin; /* full one-second samples to take */
	int keep_logs;
};

/**
 * A running testpmd pair, held stopped between measurements (see
 * shm_testpmd.c). sb_tp_start: NULL on failure, \p err says why with
 * testpmd's own error text. sb_tp_measure: the receiver's Rx-pps over
 * d->nwin one-second windows, bracketed by round trips (r->rtt0, r->rtt1);
 * 0 or -1 (r->err).
 */
struct sb_tp;
struct sb_tp *sb_tp_start(const struct sb_dpdk *d, int peer, int dir, uint32_t size, char *err,
			  size_t cap);
int sb_tp_measure(struct sb_tp *tp, struct sb_result *r);
void sb_tp_stop(struct sb_tp *tp);
/** start + measure + stop. */
int sb_testpmd_trial(const struct sb_dpdk *d, int peer, int dir, uint32_t size,
		     struct sb_result *r);
/** The two command lines of a trial, for the report. */
void sb_testpmd_cmdline(const struct sb_dpdk *d, int peer, int dir, uint32_t size, char *buf,
			size_t cap);

#endif /* NC2_BENCH_SHM_H */
