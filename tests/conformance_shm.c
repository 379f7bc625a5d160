/* SPDX-License-Identifier: MIT */
/*
 * The transport conformance suite on the shm transport: for every test the
 * parent forks the mapping end B (backend: listens by UUID) and the granting
 * end A (frontend: connects and provides the ring); both serve the suite's
 * requests over pipes, so either may be killed by a test.
 *
 *   conformance_shm [FILTER]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nc2/channel.h>
#include <nc2/shm.h>

#include "conformance.h"

#define ORDER       12u
#define CHILD_LIMIT 20 /* seconds a child may live */

struct shend {
	nc2_shm *s;
	nc2_ring_mem view;
	nc2_conf_hooks h;
	size_t used; /* grantable pages handed out by alloc */
	int closed;
};

struct shpair {
	char run_dir[64];
	uint8_t uuid[16];
	nc2_conf_remote ra, rb;
	pid_t ca, cb;
};

static int s_alloc(void *user, uint32_t pages, void **addr)
{
	struct shend *e = user;
	size_t len;
	uint8_t *gm = nc2_shm_grant_mem(e->s, &len);
	size_t want = (size_t)pages * NC2_SHM_PAGE_SIZE;
	if (want > len - e->used)
		return NC2_ERR_NOSPACE;
	*addr = gm + e->used;
	memset(*addr, 0, want);
	e->used += want;
	return NC2_OK;
}

/* Events are notifications on the eventfd, or the peer hanging up. */
static int s_wait(void *user, int timeout_ms)
{
	struct shend *e = user;
	struct pollfd pf[2] = {{.fd = nc2_shm_event_fd(e->s), .events = POLLIN},
			       {.fd = nc2_shm_ctrl_fd(e->s), .events = POLLRDHUP}};
	int n = poll(pf, 2, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : NC2_ERR_TRANSPORT;
	if (n == 0)
		return 0;
	int ev = nc2_shm_ack_events(e->s);
	if (ev < 0)
		return ev;
	if (pf[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
		ev++;
	return ev;
}

static int s_ring(void *user, nc2_ring_mem *view)
{
	struct shend *e = user;
	*view = e->view;
	return NC2_OK;
}

static int s_close(void *user, int crash)
{
	struct shend *e = user;
	if (crash)
		_exit(0); /* the kernel closes the fds; the memfds stay mapped */
	int held = (int)(nc2_shm_grants_active(e->s) + nc2_shm_maps_active(e->s));
	nc2_shm_close(e->s);
	e->s = NULL;
	e->closed = 1;
	return held;
}

static int io(int fd, void *buf, size_t len, int wr)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One endpoint in a child: B listens and accepts, A connects. Each reports
 * the handshake's result, then serves the suite. */
static _Noreturn void child_main(int role, const struct shpair *p, int rfd, int wfd)
{
	struct shend e;
	nc2_shm_config cfg;
	int rc;
	memset(&e, 0, sizeof(e));
	alarm(CHILD_LIMIT);
	nc2_shm_config_default(&cfg, role == 'a' ? NC2_ROLE_FRONTEND : NC2_ROLE_BACKEND);
	memcpy(cfg.uuid, p->uuid, 16);
	cfg.run_dir = p->run_dir;
	cfg.ring_order = role == 'a' ? ORDER : 0;
	cfg.grant_pages = 64;
	if (role == 'b') {
		nc2_shm_listener *l = NULL;
		rc = nc2_shm_listen(&cfg, &l);
		int ready = rc; /* listening: A may connect now */
		if (io(wfd, &ready, sizeof(ready), 1) != 0 || rc != NC2_OK)
			_exit(3);
		rc = nc2_shm_accept(l, 10000, &e.s);
		nc2_shm_listener_close(l);
	} else {
		rc = nc2_shm_connect(&cfg, 10000, &e.s);
	}
	if (rc == NC2_OK)
		e.view = *nc2_shm_rings(e.s);
	if (io(wfd, &rc, sizeof(rc), 1) != 0 || rc != NC2_OK)
		_exit(3);
	e.h = (nc2_conf_hooks){.t = nc2_shm_transport(e.s),
			       .user = &e,
			       .alloc = s_alloc,
			       .wait = s_wait,
			       .ring = s_ring,
			       .close = s_close};
	nc2_conf_side side;
	nc2_conf_local_side(&side, &e.h);
	int r = nc2_conf_serve(&side, rfd, wfd);
	if (!e.closed)
		nc2_shm_close(e.s);
	_exit(r < 0 ? 4 : 0);
}

static pid_t spawn(int role, const struct shpair *p, nc2_conf_remote *rm)
{
	int p2c[2], c2p[2];
	if (pipe(p2c) != 0 || pipe(c2p) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		child_main(role, p, p2c[0], c2p[1]);
	}
	close(p2c[0]);
	close(c2p[1]);
	*rm = (nc2_conf_remote){.rfd = c2p[0], .wfd = p2c[1]};
	return pid;
}

static void reap(nc2_conf_remote *rm, pid_t pid, int *bad)
{
	int st = 0;
	close(rm->rfd);
	close(rm->wfd);
	if (pid > 0 && waitpid(pid, &st, 0) == pid && !WIFEXITED(st)) {
		fprintf(stderr, "[conf] an endpoint died (status 0x%x)\n", (unsigned)st);
		*bad = 1;
	}
}

static int sp_open(void *user, nc2_conf_side *a, nc2_conf_side *b, uint32_t *a_dom, uint32_t *b_dom)
{
	struct shpair *p = user;
	int rc = NC2_ERR_TRANSPORT, ra = NC2_ERR_TRANSPORT, bad = 0;
	p->uuid[15]++; /* a fresh channel name per test */
	p->cb = spawn('b', p, &p->rb);
	if (p->cb < 0 || io(p->rb.rfd, &rc, sizeof(rc), 0) != 0 || rc != NC2_OK) {
		if (p->cb >= 0)
			reap(&p->rb, p->cb, &bad);
		return rc != NC2_OK ? rc : NC2_ERR_TRANSPORT;
	}
	p->ca = spawn('a', p, &p->ra);
	rc = NC2_ERR_TRANSPORT;
	if (p->ca < 0 || io(p->ra.rfd, &ra, sizeof(ra), 0) != 0 ||
	    io(p->rb.rfd, &rc, sizeof(rc), 0) != 0 || ra != NC2_OK || rc != NC2_OK) {
		if (p->ca >= 0)
			reap(&p->ra, p->ca, &bad);
		reap(&p->rb, p->cb, &bad);
		return ra != NC2_OK ? ra : rc != NC2_OK ? rc : NC2_ERR_TRANSPORT;
	}
	nc2_conf_remote_side(a, &p->ra);
	nc2_conf_remote_side(b, &p->rb);
	/* The shm transport names a peer by its pid (SO_PEERCRED). */
	*a_dom = (uint32_t)p->ca;
	*b_dom = (uint32_t)p->cb;
	return NC2_OK;
}

static int close_end(nc2_conf_side *s)
{
	nc2_conf_req *r = calloc(1, sizeof(*r));
	int rc = 0;
	if (r != NULL) {
		r->op = NC2_CONF_CLOSE;
		rc = s->call(s->ctx, r);
		free(r);
	}
	return rc;
}

static int sp_close(void *user, nc2_conf_side *a, nc2_conf_side *b, int closed)
{
	struct shpair *p = user;
	int leaks = 0, bad = 0;
	/* The mapping end first: then nothing of A is mapped when A goes. */
	if (!(closed & 2))
		leaks += close_end(b);
	if (!(closed & 1))
		leaks += close_end(a);
	reap(&p->rb, p->cb, &bad);
	reap(&p->ra, p->ca, &bad);
	return leaks + (bad ? 1000 : 0);
}

int main(int argc, char **argv)
{
	struct shpair pair;
	memset(&pair, 0, sizeof(pair));
	signal(SIGPIPE, SIG_IGN);
	snprintf(pair.run_dir, sizeof(pair.run_dir), "/tmp/nc2conf-XXXXXX");
	if (mkdtemp(pair.run_dir) == NULL) {
		printf("SKIP: cannot create a run directory: %s\n", strerror(errno));
		return 77;
	}
	if (nc2_shm_uuid_parse("6e633263-6f6e-4600-8000-000000000000", pair.uuid) != NC2_OK)
		return 2;
	nc2_conf_env env = {
	    .name = "shm",
	    .caps = NC2_CONF_CAP_REVOKE_BUSY | NC2_CONF_CAP_REVOKE_ENFORCED |
		    NC2_CONF_CAP_READONLY | NC2_CONF_CAP_POLL_FD | NC2_CONF_CAP_CRASH |
		    NC2_CONF_CAP_CRASH_A | NC2_CONF_CAP_GRANT_COPY | NC2_CONF_CAP_GONE_EVENT,
	    .user = &pair,
	    .open = sp_open,
	    .close = sp_close,
	};
	int failed = nc2_conf_run_all(&env, argc > 1 ? argv[1] : NULL);
	rmdir(pair.run_dir);
	return failed == 0 ? 0 : 1;
}
