/* SPDX-License-Identifier: MIT */
/*
 * nc2-bench-shm: the DPDK peers, measured with Debian's dpdk-testpmd the
 * way their users measure them: txonly on one side, rxonly on the other,
 * two processes pinned to the two CPUs, no hugepages.
 *
 *   memif:  server (backend, switch side) and client (frontend),
 *           net_memif vdev, socket-abstract=no; zero-copy=yes on the
 *           client for the zero-copy mode (its mbufs must then live in
 *           shareable memory: --single-file-segments).
 *   vhost:  net_vhost (backend) <-> net_virtio_user (frontend),
 *           packed_vq=1 or 0 (split); virtio-user shares its memory with
 *           the vhost side by fd, hence --single-file-segments.
 *
 * Each side: --lcores=0@CPU,1@CPU (main and forwarding lcore on the same
 * CPU, so the pair uses exactly two CPUs), --no-pci --no-huge -m 512,
 * --total-num-mbufs=16384, --stats-period 1.
 *
 * testpmd takes seconds to start, longer than the host keeps the vCPUs in
 * one placement, so a trial is split: sb_tp_start() launches both sides,
 * waits until traffic flows and stops both (SIGSTOP); sb_tp_measure()
 * measures the cache-line round trip, lets them run (SIGCONT) for nwin + 1
 * of the receiver's one-second Rx-pps samples, stops them again and
 * measures the round trip once more. The first sample after the resume
 * spans the stop and is dropped; the next nwin are the windows. Meanwhile
 * the two processes use no CPU, so the libnc2 trial of a pair runs right
 * before or after the peer's windows, seconds of startup apart from
 * neither.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm_bench.h"

const char *const sb_peer_name[SB_NR_DPDK_PEERS] = {"memif copy", "memif zero-copy",
						    "vhost-user packed", "vhost-user split"};

#define MAX_ARGS     64
#define TRIAL_LIMIT  45.0 /* seconds until traffic flows */
#define START_LIMIT  20.0 /* seconds until the server's socket exists */
#define STOP_LIMIT   10.0 /* seconds for a side to exit after SIGINT */
#define TESTPMD_MEM  "512"
#define TESTPMD_MBUF "16384"

struct side {
	char *argv[MAX_ARGS];
	int argc;
	char store[MAX_ARGS][512];
	char log[512];
	int cpu;
	pid_t pid;
};

static void add(struct side *s, const char *fmt, const char *a, const char *b)
{
	if (s->argc >= MAX_ARGS - 1)
		return;
	snprintf(s->store[s->argc], sizeof(s->store[0]), fmt, a ? a : "", b ? b : "");
	s->argv[s->argc] = s->store[s->argc];
	s->argc++;
	s->argv[s->argc] = NULL;
}

static int is_memif(int peer)
{
	return peer == SB_PEER_MEMIF_COPY || peer == SB_PEER_MEMIF_ZC;
}

/* Build both command lines. be: server / vhost; fe: client / virtio-user. */
static void build(const struct sb_dpdk *d, int peer, int dir, uint32_t size, struct side *be,
		  struct side *fe, char *sock, size_t sockcap)
{
	char cpu[32], sz[16], prefix[64];
	snprintf(sock, sockcap, "%s/%s-%d.sock", d->run_dir, is_memif(peer) ? "memif" : "vhost",
		 (int)getpid());
	snprintf(sz, sizeof(sz), "%u", size);
	for (int k = 0; k < 2; k++) {
		struct side *s = k ? fe : be;
		int is_fe = k == 1;
		int tx = (dir == SB_FE2BE) == is_fe;
		memset(s, 0, sizeof(*s));
		s->cpu = is_fe ? d->cpu_fe : d->cpu_be;
		snprintf(cpu, sizeof(cpu), "%d", s->cpu);
		snprintf(prefix, sizeof(prefix), "nc2b-%s-%d", is_fe ? "fe" : "be", (int)getpid());
		snprintf(s->log, sizeof(s->log), "%s/testpmd-%s.log", d->run_dir,
			 is_fe ? "fe" : "be");
		add(s, "%s", d->testpmd, NULL);
		add(s, "--lcores=0@%s,1@%s", cpu, cpu);
		add(s, "--no-pci", NULL, NULL);
		add(s, "--no-huge", NULL, NULL);
		add(s, "-m", NULL, NULL);
		add(s, TESTPMD_MEM, NULL, NULL);
		if (is_fe && (peer == SB_PEER_MEMIF_ZC || !is_memif(peer)))
			add(s, "--single-file-segments", NULL, NULL);
		add(s, "--file-prefix=%s", prefix, NULL);
		/* plugins: "-d a.so -d b.so" */
		char pl[4096];
		snprintf(pl, sizeof(pl), "%s", d->plugins ? d->plugins : "");
		for (char *save = NULL, *t = strtok_r(pl, " \t", &save); t;
		     t = strtok_r(NULL, " \t", &save))
			add(s, "%s", t, NULL);
		switch (peer) {
		case SB_PEER_MEMIF_COPY:
		case SB_PEER_MEMIF_ZC:
			if (is_fe)
				add(s,
				    "--vdev=net_memif0,role=client,socket=%s,socket-abstract=no%s",
				    sock, peer == SB_PEER_MEMIF_ZC ? ",zero-copy=yes" : "");
			else
				add(s,
				    "--vdev=net_memif0,role=server,socket=%s,socket-abstract=no%s",
				    sock, "");
			break;
		default:
			if (is_fe)
				add(s, "--vdev=net_virtio_user0,path=%s,queues=1,packed_vq=%s",
				    sock, peer == SB_PEER_VHOST_PACKED ? "1" : "0");
			else
				add(s, "--vdev=net_vhost0,iface=%s,queues=1%s", sock, "");
			break;
		}
		add(s, "--", NULL, NULL);
		add(s, "--total-num-mbufs=" TESTPMD_MBUF, NULL, NULL);
		add(s, "--forward-mode=%s", tx ? "txonly" : "rxonly", NULL);
		if (tx)
			add(s, "--txpkts=%s", sz, NULL);
		add(s, "--stats-period=1", NULL, NULL);
		add(s, "--no-lsc-interrupt", NULL, NULL);
	}
}

void sb_testpmd_cmdline(const struct sb_dpdk *d, int peer, int dir, uint32_t size, char *buf,
			size_t cap)
{
	struct side be, fe;
	char sock[512], pmds[512] = "";
	size_t at = 0, plen = 0;
	build(d, peer, dir, size, &be, &fe, sock, sizeof(sock));
	/* The plugins' directory, written once as $PMDS. */
	for (int i = 0; i + 1 < be.argc; i++)
		if (strcmp(be.argv[i], "-d") == 0) {
			const char *slash = strrchr(be.argv[i + 1], '/');
			if (slash) {
				plen = (size_t)(slash - be.argv[i + 1]);
				snprintf(pmds, sizeof(pmds), "%.*s", (int)plen, be.argv[i + 1]);
			}
			break;
		}
	if (plen)
		at += (size_t)snprintf(buf, cap, "  PMDS=%s\n", pmds);
	for (int k = 0; k < 2; k++) {
		struct side *s = k ? &fe : &be;
		at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0,
				       "%s  %s (cpu %d): ", k ? "\n" : "",
				       k ? "frontend" : "backend ", s->cpu);
		for (int i = 0; i < s->argc && at < cap; i++) {
			const char *a = i == 0 ? "dpdk-testpmd" : s->argv[i];
			if (plen && strncmp(a, pmds, plen) == 0 && a[plen] == '/')
				at += (size_t)snprintf(buf + at, cap - at, " $PMDS%s", a + plen);
			else
				at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? " " : "", a);
		}
	}
}

static pid_t spawn(const struct sb_dpdk *d, struct side *s)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || in < 0)
		_exit(126);
	dup2(in, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (d->libdir)
		setenv("LD_LIBRARY_PATH", d->libdir, 1);
	sb_pin(s->cpu);
	signal(SIGINT, SIG_DFL);
	execv(s->argv[0], s->argv);
	fprintf(stderr, "exec %s: %s\n", s->argv[0], strerror(errno));
	_exit(127);
}

/* Rx-pps samples in a testpmd log (escape codes and all). */
static int read_samples(const char *log, double *v, int cap)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	int n = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "Rx-pps:");
		if (p && n < cap)
			v[n++] = strtod(p + 7, NULL);
	}
	fclose(f);
	return n;
}

/* The lines of a log that explain a failure (EAL/PMD errors), or its tail. */
static void explain(const char *who, const char *log, char *err, size_t cap)
{
	FILE *f = fopen(log, "r");
	char line[512], keep[8][512];
	int n = 0, hits = 0;
	size_t at = strlen(err);
	at += (size_t)snprintf(err + at, at < cap ? cap - at : 0, "%s: ", who);
	if (f == NULL) {
		snprintf(err + at, at < cap ? cap - at : 0, "no log %s", log);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (strstr(line, "rror") || strstr(line, "Cause") || strstr(line, "annot") ||
		    strstr(line, "ailed") || strstr(line, "refuse") || strstr(line, "nvalid")) {
			if (hits < 4 && at < cap)
				at += (size_t)snprintf(err + at, cap - at, "%s%s",
						       hits ? " | " : "", line);
			hits++;
		}
		snprintf(keep[n % 8], sizeof(keep[0]), "%s", line);
		n++;
	}
	fclose(f);
	if (hits == 0)
		for (int i = n > 3 ? n - 3 : 0; i < n && at < cap; i++)
			at += (size_t)snprintf(err + at, cap - at, "%s%s", i ? " | " : "",
					       keep[i % 8]);
}

/* testpmd runs on without a port when its vdev failed: catch that early. */
static int log_fatal(const char *log)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	int bad = 0;
	if (f == NULL)
		return 0;
	while (!bad && fgets(line, sizeof(line), f))
		bad = strstr(line, "No probed ethernet devices") != NULL ||
		      strstr(line, "probe failed") != NULL;
	fclose(f);
	return bad;
}

static int exited(pid_t pid, int *status)
{
	pid_t r = waitpid(pid, status, WNOHANG);
	return r == pid;
}

/* SIGINT, then SIGKILL after STOP_LIMIT. \return 1 if it had to be killed. */
static int stop_side(pid_t pid)
{
	int st;
	if (pid <= 0)
		return 0;
	if (exited(pid, &st))
		return 0;
	kill(pid, SIGINT);
	double t0 = sb_now();
	while (sb_now() - t0 < STOP_LIMIT) {
		if (exited(pid, &st))
			return 0;
		sb_sleep(0.02);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* EAL's runtime directory of a --file-prefix (root: /var/run/dpdk/P). */
static void cleanup_prefix(const char *arg)
{
	const char *p = strchr(arg, '=');
	char dir[512];
	const char *base = getenv("XDG_RUNTIME_DIR");
	if (p == NULL)
		return;
	if (geteuid() == 0 || base == NULL)
		snprintf(dir, sizeof(dir), "/var/run/dpdk/%s", p + 1);
	else
		snprintf(dir, sizeof(dir), "%s/dpdk/%s", base, p + 1);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

struct sb_tp {
	const struct sb_dpdk *d;
	struct side be, fe;
	struct side *rx, *tx;
	char sock[512];
	int failed;
};

static void tp_signal(struct sb_tp *tp, int sig)
{
	if (tp->tx->pid > 0)
		kill(tp->tx->pid, sig);
	if (tp->rx->pid > 0)
		kill(tp->rx->pid, sig);
}

/* Either side gone or fatally unhappy: say why. */
static int tp_check(struct sb_tp *tp, char *err, size_t cap)
{
	int st;
	for (int k = 0; k < 2; k++) {
		struct side *s = k ? &tp->fe : &tp->be;
		const char *who = k ? "frontend testpmd" : "backend testpmd";
		if (s->pid > 0 && exited(s->pid, &st)) {
			s->pid = 0;
			explain(who, s->log, err, cap);
			return -1;
		}
		if (log_fatal(s->log)) {
			explain(who, s->log, err, cap);
			return -1;
		}
	}
	return 0;
}

static int count_nonzero(const double *v, int n)
{
	int nz = 0;
	for (int i = 0; i < n; i++)
		nz += v[i] > 0;
	return nz;
}

struct sb_tp *sb_tp_start(const struct sb_dpdk *d, int peer, int dir, uint32_t size, char *err,
			  size_t cap)
{
	err[0] = 0;
	if (d->testpmd == NULL || access(d->testpmd, X_OK) != 0) {
		snprintf(err, cap, "dpdk-testpmd not available (%s)",
			 d->testpmd ? d->testpmd : "DPDK_TESTPMD unset");
		return NULL;
	}
	struct sb_tp *tp = calloc(1, sizeof(*tp));
	if (tp == NULL) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	tp->d = d;
	build(d, peer, dir, size, &tp->be, &tp->fe, tp->sock, sizeof(tp->sock));
	tp->rx = dir == SB_FE2BE ? &tp->be : &tp->fe;
	tp->tx = dir == SB_FE2BE ? &tp->fe : &tp->be;
	unlink(tp->sock);
	unlink(tp->be.log);
	unlink(tp->fe.log);
	double t0 = sb_now();

	/* The backend (memif server, vhost) creates the socket. */
	tp->be.pid = spawn(d, &tp->be);
	if (tp->be.pid < 0) {
		snprintf(err, cap, "fork: %s", strerror(errno));
		goto fail;
	}
	while (access(tp->sock, F_OK) != 0) {
		if (tp_check(tp, err, cap) < 0)
			goto fail;
		if (sb_now() - t0 > START_LIMIT) {
			explain("backend socket never appeared", tp->be.log, err, cap);
			goto fail;
		}
		sb_sleep(0.02);
	}
	tp->fe.pid = spawn(d, &tp->fe);
	if (tp->fe.pid < 0) {
		snprintf(err, cap, "fork: %s", strerror(errno));
		goto fail;
	}
	/* Traffic flowing: two non-zero samples. Then hold both still. */
	for (;;) {
		double v[256];
		int n = read_samples(tp->rx->log, v, 256);
		if (count_nonzero(v, n) >= 2)
			break;
		if (tp_check(tp, err, cap) < 0)
			goto fail;
		if (sb_now() - t0 > TRIAL_LIMIT) {
			snprintf(err, cap, "no traffic after %.0f s: ", TRIAL_LIMIT);
			explain("backend", tp->be.log, err, cap);
			snprintf(err + strlen(err), cap - strlen(err), "; ");
			explain("frontend", tp->fe.log, err, cap);
			goto fail;
		}
		sb_sleep(0.05);
	}
	tp_signal(tp, SIGSTOP);
	return tp;
fail:
	tp->failed = 1;
	sb_tp_stop(tp);
	return NULL;
}

int sb_tp_measure(struct sb_tp *tp, struct sb_result *r)
{
	const struct sb_dpdk *d = tp->d;
	double v[512];
	memset(r, 0, sizeof(*r));
	r->rtt0 = sb_rtt_ns(d->cpu_fe, d->cpu_be);
	int s0 = read_samples(tp->rx->log, v, 512);
	/* Receiver first, so the sender never runs against a stopped ring. */
	double c0[2] = {sb_proc_cpu(tp->fe.pid), sb_proc_cpu(tp->be.pid)};
	if (tp->rx->pid > 0)
		kill(tp->rx->pid, SIGCONT);
	if (tp->tx->pid > 0)
		kill(tp->tx->pid, SIGCONT);
	double t0 = sb_now();
	int n;
	for (;;) {
		n = read_samples(tp->rx->log, v, 512);
		if (n >= s0 + 1 + d->nwin)
			break;
		if (tp_check(tp, r->err, sizeof(r->err)) < 0) {
			tp->failed = 1;
			return -1;
		}
		if (sb_now() - t0 > 3.0 * d->nwin + 10) {
			snprintf(r->err, sizeof(r->err), "testpmd stopped printing statistics");
			tp->failed = 1;
			return -1;
		}
		sb_sleep(0.05);
	}
	tp_signal(tp, SIGSTOP);
	double dt = sb_now() - t0;
	r->cpu[0] = (sb_proc_cpu(tp->fe.pid) - c0[0]) / dt;
	r->cpu[1] = (sb_proc_cpu(tp->be.pid) - c0[1]) / dt;
	r->rtt1 = sb_rtt_ns(d->cpu_fe, d->cpu_be);
	/* Sample s0 spans the stop: skip it; the next nwin are full seconds. */
	for (int i = s0 + 1; i < n && r->nwin < d->nwin; i++)
		r->win[r->nwin++] = v[i];
	r->pps = sb_median(r->win, r->nwin);
	r->ok = r->pps > 0;
	if (!r->ok)
		snprintf(r->err, sizeof(r->err), "no packets received");
	return r->ok ? 0 : -1;
}

void sb_tp_stop(struct sb_tp *tp)
{
	if (tp == NULL)
		return;
	tp_signal(tp, SIGCONT);
	/* The sender first, then the receiver. */
	stop_side(tp->tx->pid);
	tp->tx->pid = 0;
	stop_side(tp->rx->pid);
	tp->rx->pid = 0;
	unlink(tp->sock);
	for (int k = 0; k < 2; k++) {
		struct side *s = k ? &tp->fe : &tp->be;
		for (int i = 0; i < s->argc; i++)
			if (strncmp(s->argv[i], "--file-prefix=", 14) == 0)
				cleanup_prefix(s->argv[i]);
		if (!tp->d->keep_logs && !tp->failed)
			unlink(s->log);
	}
	free(tp);
}

int sb_testpmd_trial(const struct sb_dpdk *d, int peer, int dir, uint32_t size, struct sb_result *r)
{
	memset(r, 0, sizeof(*r));
	struct sb_tp *tp = sb_tp_start(d, peer, dir, size, r->err, sizeof(r->err));
	if (tp == NULL)
		return -1;
	int rc = sb_tp_measure(tp, r);
	sb_tp_stop(tp);
	return rc;
}
