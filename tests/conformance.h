/* SPDX-License-Identifier: MIT */
/*
 * Transport conformance suite: one set of tests for every transport
 * (loopback, shm, xen), run against a connected pair of endpoints.
 *
 * Endpoint A grants (the frontend side), endpoint B maps and copies (the
 * backend side). Each endpoint is driven through a "side": one call taking a
 * request (nc2_conf_req). A side is either local (nc2_conf_local_side over an
 * nc2_transport plus a few hooks) or remote: requests go over a pair of
 * pipes to another process that serves them (nc2_conf_serve), so the two
 * endpoints can live in two processes or two domains. Addresses in requests
 * are the serving side's own.
 *
 * An environment (nc2_conf_env) opens a fresh connected pair for every test
 * and closes it afterwards, reporting what leaked. Its caps say which
 * behaviours the transport has; tests of missing ones report SKIP with the
 * reason, never PASS.
 */
#ifndef NC2_CONFORMANCE_H
#define NC2_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>

#include <nc2/ring.h>
#include <nc2/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_CONF_MAX_OPS  64u
#define NC2_CONF_MAX_DATA 8192u

enum nc2_conf_op {
	NC2_CONF_ALLOC = 1, /* n pages of grantable memory -> addr */
	NC2_CONF_GRANT,     /* addr, flags -> gref */
	NC2_CONF_REVOKE,    /* gref */
	NC2_CONF_MAP,       /* map[0..n) */
	NC2_CONF_UNMAP,     /* map[0..n) */
	NC2_CONF_COPY,      /* copy[0..n); local ends are the side's addresses */
	NC2_CONF_NOTIFY,
	NC2_CONF_WAIT,      /* timeout_ms -> events seen (0: none) */
	NC2_CONF_READ,      /* addr, n octets -> data */
	NC2_CONF_WRITE,     /* data[0..n) -> addr */
	NC2_CONF_PEER,      /* -> peer */
	NC2_CONF_POLLFD,    /* -> nc2_tp_poll_fd() result */
	NC2_CONF_RING,      /* -> ring view (addresses in ring[]) */
	NC2_CONF_CLOSE,     /* orderly close of the endpoint -> its leaks */
	NC2_CONF_CRASH,     /* the endpoint dies without cleanup (may not return) */
	NC2_CONF_END_ACCESS /* gref: end the peer's access, keep the reference */
};

typedef struct nc2_conf_req {
	uint32_t op;
	uint32_t n;
	uint32_t flags;
	uint32_t gref;
	uint64_t addr;
	int32_t timeout_ms;
	int32_t rc;
	uint64_t ring[3]; /* ctrl, payload[0], payload[1] */
	uint32_t ring_order;
	nc2_peer_id peer;
	nc2_map_op map[NC2_CONF_MAX_OPS];
	nc2_copy_op copy[NC2_CONF_MAX_OPS];
	uint8_t data[NC2_CONF_MAX_DATA];
} nc2_conf_req;

/** One endpoint as the tests see it. call() fills req->rc and returns it. */
typedef struct nc2_conf_side {
	int (*call)(void *ctx, nc2_conf_req *req);
	void *ctx;
} nc2_conf_side;

/** What a local side needs besides the transport ops. */
typedef struct nc2_conf_hooks {
	nc2_transport *t;
	void *user;
	/** \p pages grantable, zeroed pages. */
	int (*alloc)(void *user, uint32_t pages, void **addr);
	/** Wait up to \p timeout_ms for events; \return events (>0), 0, or error. */
	int (*wait)(void *user, int timeout_ms);
	/** This endpoint's view of the ring pair. */
	int (*ring)(void *user, nc2_ring_mem *view);
	/** Close the endpoint (crash != 0: as if its process died; may _exit).
	 * \return grants and maps this endpoint still held (leaks), or error. */
	int (*close)(void *user, int crash);
} nc2_conf_hooks;

/** A side driving \p h->t in this process. \p h must outlive the side. */
void nc2_conf_local_side(nc2_conf_side *s, nc2_conf_hooks *h);

/** A side whose requests go to a server over \p wfd and come back on \p rfd. */
typedef struct nc2_conf_remote {
	int rfd, wfd;
	int dead;
} nc2_conf_remote;
void nc2_conf_remote_side(nc2_conf_side *s, nc2_conf_remote *r);

/** Serve requests from \p rfd with \p local until CLOSE, CRASH or EOF.
 * \return 0 after CLOSE, 1 after EOF, -1 on an I/O error. */
int nc2_conf_serve(const nc2_conf_side *local, int rfd, int wfd);

/* Capabilities of a transport (env caps). */
#define NC2_CONF_CAP_REVOKE_BUSY     (1u << 0) /* revoke of a mapped grant: AGAIN */
#define NC2_CONF_CAP_REVOKE_ENFORCED (1u << 1) /* map/copy of a revoked grant fails */
#define NC2_CONF_CAP_READONLY        (1u << 2) /* read-only grants refuse writes */
#define NC2_CONF_CAP_POLL_FD         (1u << 3) /* poll_fd() readable on events */
#define NC2_CONF_CAP_CRASH           (1u << 4) /* B can die; its maps are released */
#define NC2_CONF_CAP_GRANT_COPY      (1u << 5) /* grant-to-grant copy */
#define NC2_CONF_CAP_GONE_EVENT      (1u << 6) /* peer teardown raises an event */
#define NC2_CONF_CAP_CRASH_A         (1u << 7) /* A can die; B's mappings stay valid */

typedef struct nc2_conf_env {
	const char *name;
	uint32_t caps;
	void *user;
	/** Open a fresh connected pair with a ring (order 12). */
	int (*open)(void *user, nc2_conf_side *a, nc2_conf_side *b, uint32_t *a_domid,
		    uint32_t *b_domid);
	/** Close what is left of the pair (\p closed: bit 0 A, bit 1 B already
	 * closed or dead). \return leaks (grants + maps still held, both ends),
	 * or an error. */
	int (*close)(void *user, nc2_conf_side *a, nc2_conf_side *b, int closed);
	/** Why caps are missing (printed with SKIP), may be NULL. */
	const char *why_not;
} nc2_conf_env;

enum nc2_conf_result { NC2_CONF_PASS = 0, NC2_CONF_FAIL = 1, NC2_CONF_SKIP = 2 };

size_t nc2_conf_count(void);
const char *nc2_conf_name(size_t i);
/** Run test \p i in a fresh pair; \p msg gets the failure or skip reason. */
enum nc2_conf_result nc2_conf_run(const nc2_conf_env *env, size_t i, char *msg, size_t cap);
/** Run every test, print one line each and a summary
 * ("conformance <name>: N passed, N failed, N skipped"). \return failures. */
int nc2_conf_run_all(const nc2_conf_env *env, const char *filter);

#ifdef __cplusplus
}
#endif

#endif /* NC2_CONFORMANCE_H */
