/* SPDX-License-Identifier: MIT */
/*
 * Shared-memory transport (see include/nc2/shm.h for the layout, the wire
 * format of the handshake and the error codes).
 *
 * Design decisions:
 *  - One memfd per side and per connection (MFD_ALLOW_SEALING|MFD_CLOEXEC),
 *    sized, written (header, zeroed ring control) and sealed
 *    F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL before it is sent. The ring pair
 *    lives in the frontend's region, outside the grant table's reach (it is
 *    control-plane memory both sides always have).
 *  - Before mapping a peer's memfd: it must be a tmpfs (memfd) regular file
 *    opened O_RDWR, fstat size >= the declared size, F_SEAL_SHRINK and
 *    F_SEAL_GROW present, and the declared geometry must be exactly the
 *    canonical layout for the declared (entries, order, grant pages) within
 *    max_peer_pages. After mapping, the header page is compared once with
 *    the message; nothing in the peer's memory is read again for geometry.
 *  - The peer's region is mapped twice, RW and RO. A read-only map returns
 *    an address in the RO mapping, so writing through it faults (as a
 *    read-only grant mapping does under Xen).
 *  - Grant entries: {flags, gen, map_ro, map_rw} form one 64-bit word,
 *    changed only by __atomic compare-and-swap. The mapper snapshots the
 *    word, reads page and "to" once, validates them, and increments its
 *    counter with a CAS that fails if anything in the word changed; the
 *    owner's revoke CASes the word to free only when both counters are
 *    zero. The generation makes a revoke + re-grant between snapshot and
 *    CAS visible. Counters are 16 bits: a 65536th concurrent map of one
 *    grant fails with NC2_ERR_NOSPACE. The owner trusts only its private
 *    copy of each entry (shm_gnt), never the shared flags or page.
 *  - end_access (optional op) swaps the shared entry to free like revoke
 *    (NC2_ERR_AGAIN while mapped) but keeps the reference allocated in our
 *    private copy until revoke, so it is not handed out again meanwhile.
 *  - Grant copy takes an in-use count for the duration of the memmove, so
 *    a revoke racing with a copy returns NC2_ERR_AGAIN, as in Xen.
 *  - A counter the peer corrupted (gone, or from another generation) on
 *    unmap is NC2_ERR_PEER_GRANT; our maptrack slot is released anyway.
 *  - Once the peer has hung up (socket POLLHUP/POLLRDHUP, seen by notify,
 *    nc2_shm_peer_alive() or a revoke finding a non-zero count), revoke
 *    ignores its counts, unmap still succeeds (writing into the sealed,
 *    still-mapped region is safe) and map, copy and notify fail with
 *    NC2_ERR_PEER_GONE.
 *  - Notify: one poll() over {peer eventfd POLLOUT, socket} then write(1).
 *    Own eventfd drained with preadv2(RWF_NOWAIT) so that a peer clearing
 *    O_NONBLOCK on the shared description cannot block us (poll + read on
 *    kernels without RWF_NOWAIT support for eventfd).
 *    Residual limit: eventfd writes do not honour RWF_NOWAIT, so a hostile
 *    peer that clears O_NONBLOCK on its own eventfd and fills its counter
 *    to the maximum exactly between our poll() and write() can block one
 *    notify until it reads its eventfd. The window is a few instructions;
 *    an honest peer never gets near the counter limit.
 *  - Handshake: CONNECT, ACCEPT, READY (the backend's accept returns only
 *    once the frontend validated ACCEPT, so a frontend that dies or refuses
 *    at any step fails the accept). Every receive takes at most
 *    SHM_MAX_RX_FDS fds (more: MSG_CTRUNC, which the kernel has already
 *    closed); every received fd is closed on every error path. A
 *    zero-length SEQPACKET record reads like EOF; it is told apart with
 *    POLLRDHUP.
 *  - The accept timeout covers waiting for a peer; the handshake has its
 *    own bound (handshake_timeout_ms). A handshake timeout is reported as
 *    NC2_ERR_PEER_GONE (an unresponsive peer).
 *  - Listening replaces a stale socket file (connect gets ECONNREFUSED) but
 *    refuses a live one (NC2_ERR_STATE) and anything that is not a socket.
 *  - Credentials (SO_PEERCRED) are checked by both sides before any
 *    message is read; a refusal is NC2_ERR_PEER_SETUP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include <nc2/shm.h>
#include <nc2/version.h>

#include "shm_internal.h"

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
	       "grant entries need lock-free 64-bit atomics (shared between processes)");
_Static_assert(NC2_SHM_PAGE_SIZE == NC2_PAGE_SIZE, "grant page size");
_Static_assert(NC2_RING_CTRL_SIZE <= NC2_SHM_PAGE_SIZE, "ring control fits its page");
_Static_assert(SHM_MAX_PATH == sizeof(((struct sockaddr_un *)0)->sun_path), "sun_path");

/* ---- little-endian fields ----------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* Single-copy atomic loads and stores of LE fields in shared memory. */
static uint32_t shared_ld32(const uint8_t *p)
{
	uint32_t raw = __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
	uint8_t b[4];
	memcpy(b, &raw, sizeof(b));
	return get32(b);
}

static uint16_t shared_ld16(const uint8_t *p)
{
	uint16_t raw = __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
	uint8_t b[2];
	memcpy(b, &raw, sizeof(b));
	return get16(b);
}

static void shared_st32(uint8_t *p, uint32_t v)
{
	uint8_t b[4];
	uint32_t raw;
	put32(b, v);
	memcpy(&raw, b, sizeof(raw));
	__atomic_store_n((uint32_t *)(void *)p, raw, __ATOMIC_RELAXED);
}

static void shared_st16(uint8_t *p, uint16_t v)
{
	uint8_t b[2];
	uint16_t raw;
	put16(b, v);
	memcpy(&raw, b, sizeof(raw));
	__atomic_store_n((uint16_t *)(void *)p, raw, __ATOMIC_RELAXED);
}

/* ---- grant entry state word ---------------------------------------------- */

static uint64_t gs_pack(shm_gstate g)
{
	uint8_t b[8];
	uint64_t v;
	put16(b + NC2_SHM_GNT_OFF_FLAGS, g.flags);
	put16(b + NC2_SHM_GNT_OFF_GEN, g.gen);
	put16(b + NC2_SHM_GNT_OFF_MAP_RO, g.ro);
	put16(b + NC2_SHM_GNT_OFF_MAP_RW, g.rw);
	memcpy(&v, b, sizeof(v));
	return v;
}

static shm_gstate gs_unpack(uint64_t v)
{
	uint8_t b[8];
	shm_gstate g;
	memcpy(b, &v, sizeof(b));
	g.flags = get16(b + NC2_SHM_GNT_OFF_FLAGS);
	g.gen = get16(b + NC2_SHM_GNT_OFF_GEN);
	g.ro = get16(b + NC2_SHM_GNT_OFF_MAP_RO);
	g.rw = get16(b + NC2_SHM_GNT_OFF_MAP_RW);
	return g;
}

static uint64_t *gs_word(uint8_t *entry)
{
	return (uint64_t *)(void *)entry;
}

static uint8_t *own_entry(nc2_shm *s, uint32_t gref)
{
	return s->own_base + (size_t)SHM_GT_PAGE * SHM_PAGE + (size_t)gref * NC2_SHM_GNT_SIZE;
}

static uint8_t *peer_entry(nc2_shm *s, uint32_t gref)
{
	return s->peer_rw + (size_t)SHM_GT_PAGE * SHM_PAGE + (size_t)gref * NC2_SHM_GNT_SIZE;
}

/* ---- time and waiting ----------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline \p timeout_ms from now; -1 (never) for a negative timeout. */
static int64_t deadline_in(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int remaining_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t r = deadline - now_ms();
	if (r <= 0)
		return 0;
	return r > INT_MAX ? INT_MAX : (int)r;
}

/* Wait for \p events on \p fd: 1 ready (revents in *rev), 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline, short *rev)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int rc = poll(&p, 1, remaining_ms(deadline));
		if (rc > 0) {
			if (rev != NULL)
				*rev = p.revents;
			return 1;
		}
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void close_fds(int *fds, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		close_fd(&fds[i]);
	*n = 0;
}

/* ---- geometry ----------------------------------------------------------- */

/* The canonical layout of a region of \p role; NC2_ERR_INVALID_ARG if the
 * values are out of range or the region exceeds \p max_pages. */
static int geom_make(uint32_t role, uint32_t entries, uint32_t order, uint32_t gnt_pages,
		     uint32_t max_pages, shm_geom *g)
{
	memset(g, 0, sizeof(*g));
	if (entries == 0 || entries > NC2_SHM_MAX_GRANT_ENTRIES || gnt_pages == 0 ||
	    gnt_pages > NC2_SHM_MAX_PAGES)
		return NC2_ERR_INVALID_ARG;
	g->role = role;
	g->entries = entries;
	g->gt_pages = NC2_SHM_GT_PAGES(entries);
	uint64_t pages = (uint64_t)SHM_GT_PAGE + g->gt_pages;
	if (role == NC2_ROLE_FRONTEND) {
		if (order < NC2_RING_ORDER_MIN || order > NC2_RING_ORDER_MAX)
			return NC2_ERR_INVALID_ARG;
		g->order = order;
		g->ring_page = (uint32_t)pages;
		g->area_pages = NC2_SHM_RING_AREA_PAGES(order);
		pages += 1u + 2u * (uint64_t)g->area_pages;
	} else if (role == NC2_ROLE_BACKEND) {
		if (order != 0)
			return NC2_ERR_INVALID_ARG;
	} else {
		return NC2_ERR_INVALID_ARG;
	}
	g->gnt_page = (uint32_t)pages;
	g->gnt_pages = gnt_pages;
	pages += gnt_pages;
	if (pages > max_pages || pages > NC2_SHM_MAX_PAGES || pages * SHM_PAGE > SIZE_MAX)
		return NC2_ERR_INVALID_ARG;
	g->pages = (uint32_t)pages;
	g->bytes = (size_t)(pages * SHM_PAGE);
	return NC2_OK;
}

/* ---- configuration ------------------------------------------------------ */

void nc2_shm_config_default(nc2_shm_config *cfg, uint32_t role)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->struct_size = sizeof(*cfg);
	cfg->role = role;
	int fe = role == NC2_ROLE_FRONTEND;
	cfg->ring_order = fe ? 15u : 0u;
	cfg->grant_pages = fe ? 1024u : 16u;
	cfg->grant_entries = fe ? 4096u : 256u;
	cfg->features = NC2_FEATURE_ALL;
}

int nc2_shm_cred_check(const nc2_shm_config *cfg, uint32_t peer_uid)
{
	if (cfg == NULL)
		return NC2_ERR_PEER_SETUP;
	if (cfg->flags & NC2_SHM_ANY_UID)
		return NC2_OK;
	uint32_t want = (cfg->flags & NC2_SHM_MATCH_UID) ? cfg->peer_uid : (uint32_t)geteuid();
	return peer_uid == want ? NC2_OK : NC2_ERR_PEER_SETUP;
}

int nc2_shm_uuid_parse(const char *text, uint8_t uuid[16])
{
	uuid_t u;
	if (text == NULL || uuid == NULL || strlen(text) != 36 || uuid_parse(text, u) != 0)
		return NC2_ERR_INVALID_ARG;
	memcpy(uuid, u, 16);
	return NC2_OK;
}

void nc2_shm_uuid_unparse(const uint8_t uuid[16], char text[37])
{
	uuid_t u;
	memcpy(u, uuid, 16);
	uuid_unparse_lower(u, text);
}

static const char *run_dir_of(const nc2_shm_config *cfg)
{
	return cfg->run_dir != NULL ? cfg->run_dir : NC2_SHM_RUN_DIR;
}

int nc2_shm_socket_path(const nc2_shm_config *cfg, char *buf, size_t cap)
{
	char u[37];
	if (cfg == NULL || buf == NULL || cap == 0)
		return NC2_ERR_INVALID_ARG;
	const char *dir = run_dir_of(cfg);
	if (dir[0] == '\0')
		return NC2_ERR_INVALID_ARG;
	nc2_shm_uuid_unparse(cfg->uuid, u);
	int n = snprintf(buf, cap, "%s/%s.sock", dir, u);
	if (n < 0 || (size_t)n >= cap || (size_t)n >= SHM_MAX_PATH) {
		buf[0] = '\0';
		return NC2_ERR_INVALID_ARG;
	}
	return NC2_OK;
}

static int uuid_is_nil(const uint8_t *u)
{
	for (unsigned i = 0; i < 16; i++)
		if (u[i] != 0)
			return 0;
	return 1;
}

/* Our own configuration: valid for \p role and its region computable. */
static int cfg_check(const nc2_shm_config *cfg, uint32_t role)
{
	shm_geom g;
	char path[SHM_MAX_PATH];
	if (cfg == NULL)
		return NC2_ERR_INVALID_ARG;
	if (cfg->struct_size < sizeof(*cfg))
		return NC2_ERR_VERSION;
	if (cfg->role != role || uuid_is_nil(cfg->uuid) ||
	    (cfg->flags & ~(NC2_SHM_ANY_UID | NC2_SHM_MATCH_UID)) != 0 ||
	    (cfg->flags & NC2_SHM_ANY_UID && cfg->flags & NC2_SHM_MATCH_UID))
		return NC2_ERR_INVALID_ARG;
	if (role == NC2_ROLE_BACKEND && cfg->ring_order != 0 &&
	    (cfg->ring_order < NC2_RING_ORDER_MIN || cfg->ring_order > NC2_RING_ORDER_MAX))
		return NC2_ERR_INVALID_ARG;
	if (geom_make(role, cfg->grant_entries, role == NC2_ROLE_FRONTEND ? cfg->ring_order : 0,
		      cfg->grant_pages, NC2_SHM_MAX_PAGES, &g) != NC2_OK)
		return NC2_ERR_INVALID_ARG;
	return nc2_shm_socket_path(cfg, path, sizeof(path));
}

static uint32_t max_peer_pages(const nc2_shm_config *cfg)
{
	return cfg->max_peer_pages != 0 && cfg->max_peer_pages < NC2_SHM_MAX_PAGES
		   ? cfg->max_peer_pages
		   : NC2_SHM_MAX_PAGES;
}

static int64_t hs_deadline(const nc2_shm_config *cfg)
{
	uint32_t t =
	    cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : NC2_SHM_DEFAULT_TIMEOUT;
	return deadline_in(t > INT_MAX ? INT_MAX : (int)t);
}

/* ---- handshake messages ------------------------------------------------- */

typedef struct shm_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint8_t uuid[16];
	uint32_t features, order, pages, entries, gt_page, ring_page, gnt_page, gnt_pages;
	uint32_t page_size, rsvd;
} shm_msg;

static void msg_encode(const shm_msg *m, uint8_t *b)
{
	memset(b, 0, NC2_SHM_MSG_SIZE);
	put32(b + NC2_SHM_MSG_OFF_MAGIC, m->magic);
	put16(b + NC2_SHM_MSG_OFF_VERSION, m->version);
	put16(b + NC2_SHM_MSG_OFF_TYPE, m->type);
	memcpy(b + NC2_SHM_MSG_OFF_UUID, m->uuid, 16);
	put32(b + NC2_SHM_MSG_OFF_FEATURES, m->features);
	put32(b + NC2_SHM_MSG_OFF_ORDER, m->order);
	put32(b + NC2_SHM_MSG_OFF_PAGES, m->pages);
	put32(b + NC2_SHM_MSG_OFF_ENTRIES, m->entries);
	put32(b + NC2_SHM_MSG_OFF_GT_PAGE, m->gt_page);
	put32(b + NC2_SHM_MSG_OFF_RING_PAGE, m->ring_page);
	put32(b + NC2_SHM_MSG_OFF_GNT_PAGE, m->gnt_page);
	put32(b + NC2_SHM_MSG_OFF_GNT_PAGES, m->gnt_pages);
	put32(b + NC2_SHM_MSG_OFF_PAGE_SIZE, m->page_size);
	put32(b + NC2_SHM_MSG_OFF_RSVD, m->rsvd);
}

static void msg_decode(const uint8_t *b, shm_msg *m)
{
	m->magic = get32(b + NC2_SHM_MSG_OFF_MAGIC);
	m->version = get16(b + NC2_SHM_MSG_OFF_VERSION);
	m->type = get16(b + NC2_SHM_MSG_OFF_TYPE);
	memcpy(m->uuid, b + NC2_SHM_MSG_OFF_UUID, 16);
	m->features = get32(b + NC2_SHM_MSG_OFF_FEATURES);
	m->order = get32(b + NC2_SHM_MSG_OFF_ORDER);
	m->pages = get32(b + NC2_SHM_MSG_OFF_PAGES);
	m->entries = get32(b + NC2_SHM_MSG_OFF_ENTRIES);
	m->gt_page = get32(b + NC2_SHM_MSG_OFF_GT_PAGE);
	m->ring_page = get32(b + NC2_SHM_MSG_OFF_RING_PAGE);
	m->gnt_page = get32(b + NC2_SHM_MSG_OFF_GNT_PAGE);
	m->gnt_pages = get32(b + NC2_SHM_MSG_OFF_GNT_PAGES);
	m->page_size = get32(b + NC2_SHM_MSG_OFF_PAGE_SIZE);
	m->rsvd = get32(b + NC2_SHM_MSG_OFF_RSVD);
}

/* Our message of \p type describing our region. */
static void msg_make(const nc2_shm *s, uint16_t type, uint32_t features, uint32_t order, shm_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->magic = NC2_SHM_MSG_MAGIC;
	m->version = NC2_SHM_VERSION;
	m->type = type;
	memcpy(m->uuid, s->uuid, 16);
	if (type == NC2_SHM_MSG_READY)
		return;
	m->features = features;
	m->order = order;
	m->pages = s->own.pages;
	m->entries = s->own.entries;
	m->gt_page = SHM_GT_PAGE;
	m->ring_page = s->own.ring_page;
	m->gnt_page = s->own.gnt_page;
	m->gnt_pages = s->own.gnt_pages;
	m->page_size = SHM_PAGE;
}

/* Magic, version, type, uuid, reserved: in that order of precedence. */
static int msg_check_head(const shm_msg *m, uint16_t type, const uint8_t *uuid)
{
	if (m->magic != NC2_SHM_MSG_MAGIC)
		return NC2_ERR_PEER_PROTO;
	if (m->version != NC2_SHM_VERSION)
		return NC2_ERR_PEER_VERSION;
	if (m->type != type)
		return NC2_ERR_PEER_PROTO;
	if (memcmp(m->uuid, uuid, 16) != 0)
		return NC2_ERR_PEER_SETUP;
	if (m->rsvd != 0)
		return NC2_ERR_PEER_RESERVED;
	if (type == NC2_SHM_MSG_READY &&
	    (m->features | m->order | m->pages | m->entries | m->gt_page | m->ring_page |
	     m->gnt_page | m->gnt_pages | m->page_size) != 0)
		return NC2_ERR_PEER_RESERVED;
	return NC2_OK;
}

/* The peer's region as declared in \p m: exactly the canonical layout. */
static int msg_geom(const shm_msg *m, uint32_t peer_role, uint32_t max_pages, shm_geom *g)
{
	if (m->page_size != SHM_PAGE || m->gt_page != SHM_GT_PAGE)
		return NC2_ERR_PEER_SETUP;
	if (geom_make(peer_role, m->entries, peer_role == NC2_ROLE_FRONTEND ? m->order : 0,
		      m->gnt_pages, max_pages, g) != NC2_OK)
		return NC2_ERR_PEER_SETUP;
	if (m->pages != g->pages || m->ring_page != g->ring_page || m->gnt_page != g->gnt_page)
		return NC2_ERR_PEER_SETUP;
	return NC2_OK;
}

/* ---- control socket ----------------------------------------------------- */

/* Did the peer hang up? (after a zero-length read: EOF or an empty record) */
static int sock_hung_up(int sock)
{
	short rev = 0;
	if (wait_fd(sock, POLLIN | POLLRDHUP, 0, &rev) != 1)
		return 0;
	return (rev & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

/*
 * Receive one handshake message into \p msg (NC2_SHM_MSG_SIZE octets) and
 * its fds (up to SHM_MAX_RX_FDS) by \p deadline. On error every received fd
 * is closed. The caller checks the message and the fd count.
 */
static int sock_recv(int sock, int64_t deadline, uint8_t *msg, int *fds, unsigned *nfds)
{
	*nfds = 0;
	for (;;) {
		int w = wait_fd(sock, POLLIN, deadline, NULL);
		if (w == 0)
			return NC2_ERR_PEER_GONE; /* unresponsive */
		if (w < 0)
			return NC2_ERR_TRANSPORT;

		uint8_t buf[NC2_SHM_MSG_SIZE + 1];
		union {
			struct cmsghdr h;
			uint8_t b[CMSG_SPACE(sizeof(int) * SHM_MAX_RX_FDS)];
		} cb;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b)};
		memset(cb.b, 0, sizeof(cb.b));
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			if (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN)
				return NC2_ERR_PEER_GONE;
			return NC2_ERR_TRANSPORT;
		}
		int other_cmsg = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
				other_cmsg = 1;
				continue;
			}
			size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < cnt; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				if (*nfds < SHM_MAX_RX_FDS)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		int rc = NC2_OK;
		if (n == 0 && *nfds == 0 && !(mh.msg_flags & MSG_CTRUNC))
			rc = sock_hung_up(sock) ? NC2_ERR_PEER_GONE : NC2_ERR_PEER_PROTO;
		else if (n != NC2_SHM_MSG_SIZE || (mh.msg_flags & MSG_TRUNC))
			rc = NC2_ERR_PEER_PROTO;
		else if ((mh.msg_flags & MSG_CTRUNC) || other_cmsg)
			rc = NC2_ERR_PEER_SETUP;
		if (rc != NC2_OK) {
			close_fds(fds, nfds);
			return rc;
		}
		memcpy(msg, buf, NC2_SHM_MSG_SIZE);
		return NC2_OK;
	}
}

static int sock_send(int sock, int64_t deadline, const uint8_t *msg, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(int) * 2)];
	} cb;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)msg, .iov_len = NC2_SHM_MSG_SIZE};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 2)
		return NC2_ERR_INVALID_ARG;
	memset(cb.b, 0, sizeof(cb.b));
	if (nfds != 0) {
		mh.msg_control = cb.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)NC2_SHM_MSG_SIZE)
			return NC2_OK;
		if (n >= 0)
			return NC2_ERR_TRANSPORT; /* SEQPACKET: all or nothing */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_fd(sock, POLLOUT, deadline, NULL);
			if (w == 0)
				return NC2_ERR_PEER_GONE;
			if (w < 0)
				return NC2_ERR_TRANSPORT;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			return NC2_ERR_PEER_GONE;
		return NC2_ERR_TRANSPORT;
	}
}

/*
 * After the handshake: act on the socket's poll state \p rev. A hang-up marks
 * the peer dead; anything it sends is a protocol violation (read and
 * dropped, fds closed). \return the sticky error or NC2_OK.
 */
static int sock_check(nc2_shm *s, short rev)
{
	if (s->dead)
		return s->err;
	if (rev & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) {
		s->dead = 1;
		s->err = NC2_ERR_PEER_GONE;
		return s->err;
	}
	if (rev & POLLIN) {
		uint8_t buf[NC2_SHM_MSG_SIZE];
		union {
			struct cmsghdr h;
			uint8_t b[CMSG_SPACE(sizeof(int) * SHM_MAX_RX_FDS)];
		} cb;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b)};
		ssize_t n = recvmsg(s->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0) {
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
			     c = CMSG_NXTHDR(&mh, c)) {
				if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
					continue;
				size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < cnt; i++) {
					int fd;
					memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
					close(fd);
				}
			}
		}
		if (n == 0 && sock_hung_up(s->sock)) {
			s->dead = 1;
			s->err = NC2_ERR_PEER_GONE;
		} else if (n >= 0) {
			if (s->err == NC2_OK)
				s->err = NC2_ERR_PEER_PROTO;
		} else if (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN) {
			s->dead = 1;
			s->err = NC2_ERR_PEER_GONE;
		}
	}
	return s->err;
}

/* Poll the socket without blocking and update the peer's state. */
static int sock_poll(nc2_shm *s)
{
	short rev = 0;
	if (s->dead)
		return s->err;
	int w = wait_fd(s->sock, POLLIN | POLLRDHUP, 0, &rev);
	if (w < 0)
		return s->err;
	return sock_check(s, w == 1 ? rev : 0);
}

/* ---- memory ----------------------------------------------------------- */

/* Is \p fd an eventfd? */
static int is_eventfd(int fd)
{
	char path[SHM_EFD_PROC_LEN], link[SHM_EFD_PROC_LEN];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n >= 0) {
		link[n] = '\0';
		return strcmp(link, "anon_inode:[eventfd]") == 0;
	}
	/* No /proc: an anonymous inode (no file type bits) at least. */
	struct stat st;
	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0;
}

/* Validate the peer's eventfd and make it non-blocking. */
static int take_peer_efd(nc2_shm *s, int fd)
{
	if (!is_eventfd(fd))
		return NC2_ERR_PEER_SETUP;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NC2_ERR_PEER_SETUP;
	s->peer_efd = fd;
	return NC2_OK;
}

static void write_header(uint8_t *h, const shm_geom *g)
{
	put32(h + NC2_SHM_HDR_OFF_MAGIC, NC2_SHM_HDR_MAGIC);
	put32(h + NC2_SHM_HDR_OFF_VERSION, NC2_SHM_VERSION);
	put32(h + NC2_SHM_HDR_OFF_ROLE, g->role);
	put32(h + NC2_SHM_HDR_OFF_PAGES, g->pages);
	put32(h + NC2_SHM_HDR_OFF_ENTRIES, g->entries);
	put32(h + NC2_SHM_HDR_OFF_ORDER, g->order);
	put32(h + NC2_SHM_HDR_OFF_RING_PAGE, g->ring_page);
	put32(h + NC2_SHM_HDR_OFF_GNT_PAGE, g->gnt_page);
	put32(h + NC2_SHM_HDR_OFF_GNT_PAGES, g->gnt_pages);
}

/* Read the peer's header page once and compare it with its message. */
static int check_header(const uint8_t *h, const shm_geom *g)
{
	uint8_t c[NC2_SHM_HDR_OFF_GNT_PAGES + 4];
	for (size_t i = 0; i < sizeof(c); i += 4)
		put32(c + i, shared_ld32(h + i));
	if (get32(c + NC2_SHM_HDR_OFF_MAGIC) != NC2_SHM_HDR_MAGIC ||
	    get32(c + NC2_SHM_HDR_OFF_VERSION) != NC2_SHM_VERSION ||
	    get32(c + NC2_SHM_HDR_OFF_ROLE) != g->role ||
	    get32(c + NC2_SHM_HDR_OFF_PAGES) != g->pages ||
	    get32(c + NC2_SHM_HDR_OFF_ENTRIES) != g->entries ||
	    get32(c + NC2_SHM_HDR_OFF_ORDER) != g->order ||
	    get32(c + NC2_SHM_HDR_OFF_RING_PAGE) != g->ring_page ||
	    get32(c + NC2_SHM_HDR_OFF_GNT_PAGE) != g->gnt_page ||
	    get32(c + NC2_SHM_HDR_OFF_GNT_PAGES) != g->gnt_pages)
		return NC2_ERR_PEER_SETUP;
	return NC2_OK;
}

static void set_rings(nc2_shm *s, uint8_t *base, const shm_geom *g)
{
	uint8_t *ctrl = base + (size_t)g->ring_page * SHM_PAGE;
	s->rings.ctrl = ctrl;
	s->rings.payload[0] = ctrl + SHM_PAGE;
	s->rings.payload[1] = ctrl + SHM_PAGE + (size_t)g->area_pages * SHM_PAGE;
	s->rings.order[0] = g->order;
	s->rings.order[1] = g->order;
}

/* Create, fill and seal our region and our eventfd. \p memfd: to send. */
static int own_setup(nc2_shm *s, int *memfd)
{
	*memfd = -1;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0)
		return NC2_ERR_TRANSPORT;
	off_t size = (off_t)s->own.bytes;
	if (size < 0 || (uint64_t)size != (uint64_t)s->own.bytes)
		return NC2_ERR_NOSPACE;
	int fd = memfd_create("nc2-shm", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (fd < 0)
		return NC2_ERR_TRANSPORT;
	if (ftruncate(fd, size) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return e == ENOMEM || e == ENOSPC || e == EFBIG ? NC2_ERR_NOSPACE
								: NC2_ERR_TRANSPORT;
	}
	void *p = mmap(NULL, s->own.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		errno = e;
		return e == ENOMEM ? NC2_ERR_NOSPACE : NC2_ERR_TRANSPORT;
	}
	s->own_base = p;
	write_header(s->own_base, &s->own);
	if (s->role == NC2_ROLE_FRONTEND) {
		set_rings(s, s->own_base, &s->own);
		nc2_ring_ctrl_init(s->rings.ctrl);
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NC2_ERR_TRANSPORT;
	}
	*memfd = fd;
	return NC2_OK;
}

/* Validate the peer's memfd against \p g and map it (RW and RO views). */
static int peer_map(nc2_shm *s, int memfd, const shm_geom *g)
{
	struct stat st;
	struct statfs sf;
	if (fstat(memfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size < (uint64_t)g->bytes)
		return NC2_ERR_PEER_SETUP;
	if (fstatfs(memfd, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
		return NC2_ERR_PEER_SETUP; /* not a memfd (hugetlbfs, a disk file, ...) */
	int seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return NC2_ERR_PEER_SETUP;
	int fl = fcntl(memfd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		return NC2_ERR_PEER_SETUP;
	s->peer = *g;
	void *rw = mmap(NULL, g->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (rw == MAP_FAILED)
		return errno == ENOMEM ? NC2_ERR_NOSPACE : NC2_ERR_PEER_SETUP;
	s->peer_rw = rw;
	void *ro = mmap(NULL, g->bytes, PROT_READ, MAP_SHARED, memfd, 0);
	if (ro == MAP_FAILED)
		return errno == ENOMEM ? NC2_ERR_NOSPACE : NC2_ERR_PEER_SETUP;
	s->peer_ro = ro;
	return check_header(s->peer_ro, g);
}

/* Fail a map or copy when the peer is known to be gone or broken. */
static int peer_usable(const nc2_shm *s)
{
	return s->err;
}

/* ---- grant pins (the mapper's side of the in-use counts) ---------------- */

/*
 * Take an in-use count on the peer's grant \p gref for read (rw = 0) or
 * write (rw = 1) access; returns the page index and the entry's generation.
 */
static int pin(nc2_shm *s, uint32_t gref, int rw, uint32_t *page, uint16_t *gen)
{
	if (gref == 0 || gref > s->peer.entries)
		return NC2_ERR_PEER_GRANT;
	uint8_t *e = peer_entry(s, gref);
	uint64_t *word = gs_word(e);
	for (unsigned tries = 0; tries < SHM_CAS_TRIES; tries++) {
		uint64_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		shm_gstate g = gs_unpack(old);
		if ((g.flags & ~NC2_SHM_GTF_KNOWN) != 0 || !(g.flags & NC2_SHM_GTF_INUSE))
			return NC2_ERR_PEER_GRANT;
		if (rw && (g.flags & NC2_SHM_GTF_READONLY))
			return NC2_ERR_PEER_GRANT;
		uint32_t pg = shared_ld32(e + NC2_SHM_GNT_OFF_PAGE);
		uint16_t to = shared_ld16(e + NC2_SHM_GNT_OFF_TO);
		if (to != s->role || pg >= s->peer.gnt_pages)
			return NC2_ERR_PEER_GRANT;
		if ((rw ? g.rw : g.ro) == SHM_COUNT_MAX)
			return NC2_ERR_NOSPACE;
		if (rw)
			g.rw++;
		else
			g.ro++;
		if (__atomic_compare_exchange_n(word, &old, gs_pack(g), 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			*page = pg;
			*gen = g.gen;
			return NC2_OK;
		}
	}
	return NC2_ERR_PEER_GRANT; /* the peer keeps changing the entry */
}

/* Drop a count taken by pin(). NC2_ERR_PEER_GRANT if the peer broke it. */
static int unpin(nc2_shm *s, uint32_t gref, int rw, uint16_t gen)
{
	uint64_t *word = gs_word(peer_entry(s, gref));
	for (unsigned tries = 0; tries < SHM_CAS_TRIES; tries++) {
		uint64_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		shm_gstate g = gs_unpack(old);
		if (g.gen != gen || !(g.flags & NC2_SHM_GTF_INUSE) || (rw ? g.rw : g.ro) == 0)
			return NC2_ERR_PEER_GRANT;
		if (rw)
			g.rw--;
		else
			g.ro--;
		if (__atomic_compare_exchange_n(word, &old, gs_pack(g), 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return NC2_OK;
	}
	return NC2_ERR_PEER_GRANT;
}

static uint8_t *peer_page(nc2_shm *s, uint32_t page, int rw)
{
	return (rw ? s->peer_rw : s->peer_ro) + ((size_t)s->peer.gnt_page + page) * SHM_PAGE;
}

/* ---- transport ops ------------------------------------------------------- */

static int shm_op_grant(void *ctx, void *page, uint32_t flags, uint32_t *gref)
{
	nc2_shm *s = ctx;
	if (page == NULL || gref == NULL || (flags & ~NC2_GNT_FLAGS_KNOWN) != 0)
		return NC2_ERR_INVALID_ARG;
	uintptr_t base = (uintptr_t)(s->own_base + (size_t)s->own.gnt_page * SHM_PAGE);
	uintptr_t p = (uintptr_t)page;
	if (p < base || p - base >= (uintptr_t)s->own.gnt_pages * SHM_PAGE ||
	    (p - base) % SHM_PAGE != 0)
		return NC2_ERR_INVALID_ARG;
	uint32_t ref = s->free_head;
	if (ref == 0)
		return NC2_ERR_NOSPACE;
	shm_gnt *g = &s->gnt[ref];
	s->free_head = g->next_free;
	g->next_free = 0;
	g->page = (uint32_t)((p - base) / SHM_PAGE);
	g->flags = NC2_SHM_GTF_INUSE;
	if (flags & NC2_GNT_READONLY)
		g->flags |= NC2_SHM_GTF_READONLY;
	if (flags & NC2_GNT_STICKY)
		g->flags |= NC2_SHM_GTF_STICKY;
	g->gen++;
	s->grants_active++;

	/* Publish: page and "to" first, then the state word (release). */
	uint8_t *e = own_entry(s, ref);
	shared_st32(e + NC2_SHM_GNT_OFF_PAGE, g->page);
	shared_st16(
	    e + NC2_SHM_GNT_OFF_TO,
	    (uint16_t)(s->role == NC2_ROLE_FRONTEND ? NC2_ROLE_BACKEND : NC2_ROLE_FRONTEND));
	shared_st16(e + NC2_SHM_GNT_OFF_RSVD, 0);
	shm_gstate st = {.flags = g->flags, .gen = g->gen, .ro = 0, .rw = 0};
	__atomic_store_n(gs_word(e), gs_pack(st), __ATOMIC_RELEASE);
	*gref = ref;
	return NC2_OK;
}

/*
 * Swap our shared entry \p gref to free (generation \p gen kept) once no
 * map or copy of the peer holds it; a dead peer's counts do not count.
 * \return NC2_OK or NC2_ERR_AGAIN.
 */
static int set_free(nc2_shm *s, uint32_t gref, uint16_t gen)
{
	uint64_t *word = gs_word(own_entry(s, gref));
	shm_gstate freed = {.flags = 0, .gen = gen, .ro = 0, .rw = 0};
	for (;;) {
		uint64_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		shm_gstate cur = gs_unpack(old);
		if ((cur.ro != 0 || cur.rw != 0) && !s->dead) {
			/* Still mapped, unless the peer has died meanwhile. */
			sock_poll(s);
			if (!s->dead)
				return NC2_ERR_AGAIN;
		}
		if (s->dead) {
			__atomic_store_n(word, gs_pack(freed), __ATOMIC_RELEASE);
			return NC2_OK;
		}
		if (__atomic_compare_exchange_n(word, &old, gs_pack(freed), 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return NC2_OK;
	}
}

static int shm_op_revoke(void *ctx, uint32_t gref)
{
	nc2_shm *s = ctx;
	if (gref == 0 || gref > s->own.entries || !(s->gnt[gref].flags & NC2_SHM_GTF_INUSE))
		return NC2_ERR_NOT_FOUND;
	shm_gnt *g = &s->gnt[gref];
	int rc = set_free(s, gref, g->gen);
	if (rc != NC2_OK)
		return rc;
	g->flags = 0;
	g->page = 0;
	g->next_free = s->free_head;
	s->free_head = gref;
	s->grants_active--;
	return NC2_OK;
}

/* End the peer's access but keep the reference until revoke (the shared
 * entry reads as free, our private copy keeps the ref allocated). */
static int shm_op_end_access(void *ctx, uint32_t gref)
{
	nc2_shm *s = ctx;
	if (gref == 0 || gref > s->own.entries || !(s->gnt[gref].flags & NC2_SHM_GTF_INUSE))
		return NC2_ERR_NOT_FOUND;
	shm_gnt *g = &s->gnt[gref];
	int rc = set_free(s, gref, g->gen);
	if (rc == NC2_OK)
		g->flags |= SHM_GNT_ENDED;
	return rc;
}

static int shm_op_map(void *ctx, nc2_map_op *ops, uint32_t n)
{
	nc2_shm *s = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		nc2_map_op *op = &ops[i];
		int rw = !(op->flags & NC2_GNT_READONLY);
		uint32_t page = 0;
		uint16_t gen = 0;
		int rc = peer_usable(s);
		if (rc == NC2_OK && (op->flags & ~NC2_GNT_FLAGS_KNOWN) != 0)
			rc = NC2_ERR_INVALID_ARG;
		if (rc == NC2_OK)
			rc = pin(s, op->gref, rw, &page, &gen);
		mt_entry *m = NULL;
		if (rc == NC2_OK &&
		    (m = mt_add(&s->maps, 0, rw, op->gref, peer_page(s, page, rw))) == NULL) {
			(void)unpin(s, op->gref, rw, gen);
			rc = NC2_ERR_NOSPACE;
		}
		if (m != NULL) {
			m->gen = gen;
			op->addr = m->addr;
			op->handle = m->handle;
		} else {
			op->addr = NULL;
			op->handle = 0;
		}
		op->status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

static int shm_op_unmap(void *ctx, nc2_map_op *ops, uint32_t n)
{
	nc2_shm *s = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		nc2_map_op *op = &ops[i];
		mt_entry *m = mt_find(&s->maps, op->handle, op->addr);
		int rc = NC2_ERR_INVALID_ARG;
		if (m != NULL) {
			rc = unpin(s, m->gref, m->rw, m->gen);
			if (s->dead)
				rc = NC2_OK; /* nobody left to count */
			mt_remove(&s->maps, m);
		}
		op->status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

/* One end of a copy: local memory, or a pinned peer grant. */
typedef struct copy_end {
	uint8_t *p;
	uint32_t gref;
	uint16_t gen;
	int pinned;
	int rw;
} copy_end;

static int copy_resolve(nc2_shm *s, const nc2_copy_end *e, uint16_t len, int write, copy_end *r)
{
	memset(r, 0, sizeof(*r));
	if (e->local != NULL) {
		r->p = e->local;
		return NC2_OK;
	}
	if ((uint32_t)e->offset + len > SHM_PAGE)
		return NC2_ERR_INVALID_ARG;
	uint32_t page;
	int rc = pin(s, e->gref, write, &page, &r->gen);
	if (rc != NC2_OK)
		return rc;
	r->pinned = 1;
	r->rw = write;
	r->gref = e->gref;
	r->p = peer_page(s, page, 1) + e->offset;
	return NC2_OK;
}

static int copy_release(nc2_shm *s, copy_end *r)
{
	if (!r->pinned)
		return NC2_OK;
	r->pinned = 0;
	return unpin(s, r->gref, r->rw, r->gen);
}

static int shm_op_copy(void *ctx, nc2_copy_op *ops, uint32_t n)
{
	nc2_shm *s = ctx;
	int ret = NC2_OK;
	if (n != 0 && ops == NULL)
		return NC2_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < n; i++) {
		nc2_copy_op *op = &ops[i];
		copy_end src, dst;
		memset(&src, 0, sizeof(src));
		memset(&dst, 0, sizeof(dst));
		int rc = peer_usable(s);
		if (rc == NC2_OK)
			rc = copy_resolve(s, &op->src, op->len, 0, &src);
		if (rc == NC2_OK)
			rc = copy_resolve(s, &op->dst, op->len, 1, &dst);
		if (rc == NC2_OK && op->len != 0)
			memmove(dst.p, src.p, op->len);
		int r1 = copy_release(s, &src);
		int r2 = copy_release(s, &dst);
		if (rc == NC2_OK)
			rc = r1 != NC2_OK ? r1 : r2;
		op->status = rc;
		if (ret == NC2_OK)
			ret = rc;
	}
	return ret;
}

static int shm_op_notify(void *ctx)
{
	nc2_shm *s = ctx;
	if (s->err != NC2_OK)
		return s->err;
	struct pollfd p[2] = {{.fd = s->peer_efd, .events = POLLOUT},
			      {.fd = s->sock, .events = POLLIN | POLLRDHUP}};
	int rc;
	while ((rc = poll(p, 2, 0)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return NC2_ERR_TRANSPORT;
	if (sock_check(s, p[1].revents) != NC2_OK)
		return s->err;
	if (p[0].revents & (POLLERR | POLLNVAL)) {
		s->err = NC2_ERR_PEER_GONE;
		return s->err;
	}
	if (!(p[0].revents & POLLOUT))
		return NC2_OK; /* counter saturated: the peer has a wakeup pending */
	uint64_t one = 1;
	for (;;) {
		ssize_t w = write(s->peer_efd, &one, sizeof(one));
		if (w == (ssize_t)sizeof(one))
			return NC2_OK;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return NC2_OK;
		s->err = NC2_ERR_PEER_GONE;
		return s->err;
	}
}

static int shm_op_poll_fd(void *ctx)
{
	nc2_shm *s = ctx;
	return s->efd;
}

static int shm_op_peer(void *ctx, nc2_peer_id *id)
{
	nc2_shm *s = ctx;
	if (id == NULL)
		return NC2_ERR_INVALID_ARG;
	memset(id, 0, sizeof(*id));
	id->domid = s->peer_pid;
	memcpy(id->uuid, s->uuid, 16);
	return NC2_OK;
}

static const nc2_transport_ops shm_ops = {
    .version = NC2_TRANSPORT_OPS_VERSION,
    .size = sizeof(nc2_transport_ops),
    .grant = shm_op_grant,
    .revoke = shm_op_revoke,
    .map = shm_op_map,
    .unmap = shm_op_unmap,
    .copy = shm_op_copy,
    .notify = shm_op_notify,
    .poll_fd = shm_op_poll_fd,
    .peer = shm_op_peer,
    .end_access = shm_op_end_access,
};

/* ---- connection lifetime -------------------------------------------------- */

static nc2_shm *shm_new(const nc2_shm_config *cfg, uint32_t role)
{
	nc2_shm *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->sock = s->efd = s->peer_efd = -1;
	s->role = role;
	memcpy(s->uuid, cfg->uuid, 16);
	if (geom_make(role, cfg->grant_entries, role == NC2_ROLE_FRONTEND ? cfg->ring_order : 0,
		      cfg->grant_pages, NC2_SHM_MAX_PAGES, &s->own) != NC2_OK) {
		free(s);
		return NULL;
	}
	s->gnt = calloc((size_t)s->own.entries + 1u, sizeof(*s->gnt));
	if (s->gnt == NULL) {
		free(s);
		return NULL;
	}
	for (uint32_t ref = s->own.entries; ref >= 1; ref--) {
		s->gnt[ref].next_free = s->free_head;
		s->free_head = ref;
	}
	mt_init(&s->maps);
	s->tp.ops = &shm_ops;
	s->tp.ctx = s;
	return s;
}

static void shm_free(nc2_shm *s)
{
	if (s == NULL)
		return;
	/* Give back the counts of maps still held (harmless if the peer died:
	 * its region stays mapped and sealed until we unmap it below). */
	if (s->peer_rw != NULL) {
		for (uint32_t i = 0; i < s->maps.nr; i++)
			if (s->maps.e[i].used)
				(void)unpin(s, s->maps.e[i].gref, s->maps.e[i].rw,
					    s->maps.e[i].gen);
	}
	if (s->peer_rw != NULL)
		munmap(s->peer_rw, s->peer.bytes);
	if (s->peer_ro != NULL)
		munmap(s->peer_ro, s->peer.bytes);
	if (s->own_base != NULL)
		munmap(s->own_base, s->own.bytes);
	close_fd(&s->sock);
	close_fd(&s->efd);
	close_fd(&s->peer_efd);
	mt_fini(&s->maps);
	free(s->gnt);
	memset(s, 0, sizeof(*s));
	free(s);
}

void nc2_shm_close(nc2_shm *s)
{
	shm_free(s);
}

/* SO_PEERCRED and the policy; records the peer's pid and uid. */
static int peer_cred(nc2_shm *s, const nc2_shm_config *cfg)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	if (getsockopt(s->sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc))
		return NC2_ERR_TRANSPORT;
	s->peer_pid = (uint32_t)uc.pid;
	s->peer_uid = (uint32_t)uc.uid;
	return nc2_shm_cred_check(cfg, (uint32_t)uc.uid);
}

/* Set up our region and eventfd and send both with a \p type message
 * (CONNECT or ACCEPT); the memfd is closed here once sent. */
static int send_own(nc2_shm *s, uint16_t type, uint32_t features, uint32_t order, int64_t deadline)
{
	uint8_t b[NC2_SHM_MSG_SIZE];
	shm_msg m;
	int memfd;
	int rc = own_setup(s, &memfd);
	if (rc == NC2_OK) {
		msg_make(s, type, features, order, &m);
		msg_encode(&m, b);
		int out[2] = {memfd, s->efd};
		rc = sock_send(s->sock, deadline, b, out, 2);
	}
	close_fd(&memfd);
	return rc;
}

/* Backend side: CONNECT in, ACCEPT out, READY in. */
static int hs_backend(nc2_shm *s, const nc2_shm_config *cfg, int64_t deadline)
{
	uint8_t b[NC2_SHM_MSG_SIZE];
	int fds[SHM_MAX_RX_FDS];
	unsigned nfds = 0;
	shm_msg m;
	shm_geom g;
	int rc = peer_cred(s, cfg);
	if (rc != NC2_OK)
		return rc;

	if ((rc = sock_recv(s->sock, deadline, b, fds, &nfds)) != NC2_OK)
		return rc;
	msg_decode(b, &m);
	rc = msg_check_head(&m, NC2_SHM_MSG_CONNECT, s->uuid);
	if (rc == NC2_OK && nfds != 2)
		rc = NC2_ERR_PEER_SETUP;
	if (rc == NC2_OK)
		rc = msg_geom(&m, NC2_ROLE_FRONTEND, max_peer_pages(cfg), &g);
	if (rc == NC2_OK && cfg->ring_order != 0 && m.order != cfg->ring_order)
		rc = NC2_ERR_PEER_SETUP;
	if (rc == NC2_OK)
		rc = take_peer_efd(s, fds[1]);
	if (rc == NC2_OK)
		fds[1] = -1; /* now s->peer_efd */
	if (rc == NC2_OK)
		rc = peer_map(s, fds[0], &g);
	close_fds(fds, &nfds);
	if (rc != NC2_OK)
		return rc;
	s->peer_features = m.features;
	set_rings(s, s->peer_rw, &s->peer);

	if ((rc = send_own(s, NC2_SHM_MSG_ACCEPT, cfg->features, s->peer.order, deadline)) !=
	    NC2_OK)
		return rc;

	if ((rc = sock_recv(s->sock, deadline, b, fds, &nfds)) != NC2_OK)
		return rc;
	msg_decode(b, &m);
	rc = msg_check_head(&m, NC2_SHM_MSG_READY, s->uuid);
	if (rc == NC2_OK && nfds != 0)
		rc = NC2_ERR_PEER_SETUP;
	close_fds(fds, &nfds);
	return rc;
}

/* Frontend side: CONNECT out, ACCEPT in, READY out. */
static int hs_frontend(nc2_shm *s, const nc2_shm_config *cfg, int64_t deadline)
{
	uint8_t b[NC2_SHM_MSG_SIZE];
	int fds[SHM_MAX_RX_FDS];
	unsigned nfds = 0;
	shm_msg m;
	shm_geom g;
	int rc = peer_cred(s, cfg);
	if (rc != NC2_OK)
		return rc;

	if ((rc = send_own(s, NC2_SHM_MSG_CONNECT, cfg->features, s->own.order, deadline)) !=
	    NC2_OK)
		return rc;

	if ((rc = sock_recv(s->sock, deadline, b, fds, &nfds)) != NC2_OK)
		return rc;
	msg_decode(b, &m);
	rc = msg_check_head(&m, NC2_SHM_MSG_ACCEPT, s->uuid);
	if (rc == NC2_OK && nfds != 2)
		rc = NC2_ERR_PEER_SETUP;
	if (rc == NC2_OK && m.order != s->own.order)
		rc = NC2_ERR_PEER_SETUP;
	if (rc == NC2_OK && m.ring_page != 0)
		rc = NC2_ERR_PEER_SETUP;
	if (rc == NC2_OK)
		rc = msg_geom(&m, NC2_ROLE_BACKEND, max_peer_pages(cfg), &g);
	if (rc == NC2_OK)
		rc = take_peer_efd(s, fds[1]);
	if (rc == NC2_OK)
		fds[1] = -1;
	if (rc == NC2_OK)
		rc = peer_map(s, fds[0], &g);
	close_fds(fds, &nfds);
	if (rc != NC2_OK)
		return rc;
	s->peer_features = m.features;

	msg_make(s, NC2_SHM_MSG_READY, 0, 0, &m);
	msg_encode(&m, b);
	return sock_send(s->sock, deadline, b, NULL, 0);
}

/* ---- listener ----------------------------------------------------------- */

static int sun_of(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(sa->sun_path))
		return NC2_ERR_INVALID_ARG;
	memcpy(sa->sun_path, path, len + 1);
	return NC2_OK;
}

/* Is someone accepting on \p sa? (a stale socket file refuses) */
static int socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 1; /* cannot tell: do not remove it */
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	return !(rc < 0 && (e == ECONNREFUSED || e == ENOENT));
}

static int ensure_dir(const char *dir)
{
	struct stat st;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return NC2_ERR_TRANSPORT;
	if (lstat(dir, &st) < 0)
		return NC2_ERR_TRANSPORT;
	return S_ISDIR(st.st_mode) ? NC2_OK : NC2_ERR_INVALID_ARG;
}

int nc2_shm_listen(const nc2_shm_config *cfg, nc2_shm_listener **out)
{
	struct sockaddr_un sa;
	struct stat st;
	if (out == NULL)
		return NC2_ERR_INVALID_ARG;
	*out = NULL;
	int rc = cfg_check(cfg, NC2_ROLE_BACKEND);
	if (rc != NC2_OK)
		return rc;
	nc2_shm_listener *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NC2_ERR_NOSPACE;
	l->fd = -1;
	l->cfg = *cfg;
	l->cfg.struct_size = sizeof(l->cfg);
	l->run_dir = strdup(run_dir_of(cfg));
	if (l->run_dir == NULL) {
		free(l);
		return NC2_ERR_NOSPACE;
	}
	l->cfg.run_dir = l->run_dir;
	if ((rc = nc2_shm_socket_path(&l->cfg, l->path, sizeof(l->path))) != NC2_OK ||
	    (rc = sun_of(l->path, &sa)) != NC2_OK || (rc = ensure_dir(l->run_dir)) != NC2_OK)
		goto fail;
	l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0) {
		rc = NC2_ERR_TRANSPORT;
		goto fail;
	}
	if (bind(l->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE) {
			rc = NC2_ERR_TRANSPORT;
			goto fail;
		}
		if (lstat(l->path, &st) < 0 || !S_ISSOCK(st.st_mode) || socket_is_live(&sa)) {
			rc = NC2_ERR_STATE;
			goto fail;
		}
		if ((unlink(l->path) < 0 && errno != ENOENT) ||
		    bind(l->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
			rc = errno == EADDRINUSE ? NC2_ERR_STATE : NC2_ERR_TRANSPORT;
			goto fail;
		}
	}
	if (listen(l->fd, 16) < 0 || stat(l->path, &st) < 0) {
		int e = errno;
		unlink(l->path);
		errno = e;
		rc = NC2_ERR_TRANSPORT;
		goto fail;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	*out = l;
	return NC2_OK;
fail:
	close_fd(&l->fd);
	free(l->run_dir);
	free(l);
	return rc;
}

int nc2_shm_accept(nc2_shm_listener *l, int timeout_ms, nc2_shm **out)
{
	if (out != NULL)
		*out = NULL;
	if (l == NULL || out == NULL)
		return NC2_ERR_INVALID_ARG;
	int w = wait_fd(l->fd, POLLIN, deadline_in(timeout_ms), NULL);
	if (w == 0)
		return NC2_ERR_AGAIN;
	if (w < 0)
		return NC2_ERR_TRANSPORT;
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED)
			return NC2_ERR_AGAIN;
		return errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS
			   ? NC2_ERR_NOSPACE
			   : NC2_ERR_TRANSPORT;
	}
	nc2_shm *s = shm_new(&l->cfg, NC2_ROLE_BACKEND);
	if (s == NULL) {
		close(fd);
		return NC2_ERR_NOSPACE;
	}
	s->sock = fd;
	int rc = hs_backend(s, &l->cfg, hs_deadline(&l->cfg));
	if (rc != NC2_OK) {
		int e = errno;
		shm_free(s);
		errno = e;
		return rc;
	}
	*out = s;
	return NC2_OK;
}

void nc2_shm_listener_close(nc2_shm_listener *l)
{
	struct stat st;
	if (l == NULL)
		return;
	if (lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
	close_fd(&l->fd);
	free(l->run_dir);
	free(l);
}

/* ---- connect ------------------------------------------------------------ */

int nc2_shm_connect(const nc2_shm_config *cfg, int timeout_ms, nc2_shm **out)
{
	char path[SHM_MAX_PATH];
	struct sockaddr_un sa;
	if (out == NULL)
		return NC2_ERR_INVALID_ARG;
	*out = NULL;
	int rc = cfg_check(cfg, NC2_ROLE_FRONTEND);
	if (rc != NC2_OK)
		return rc;
	if ((rc = nc2_shm_socket_path(cfg, path, sizeof(path))) != NC2_OK ||
	    (rc = sun_of(path, &sa)) != NC2_OK)
		return rc;
	int64_t deadline = deadline_in(timeout_ms);
	int fd;
	for (;;) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return NC2_ERR_TRANSPORT;
		if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		int e = errno;
		close(fd);
		if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN && e != EINTR) {
			errno = e;
			return NC2_ERR_TRANSPORT;
		}
		int left = remaining_ms(deadline);
		if (left == 0)
			return NC2_ERR_AGAIN;
		int ms = left < 0 || left > SHM_RETRY_MS ? SHM_RETRY_MS : left;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
		nanosleep(&ts, NULL);
	}
	nc2_shm *s = shm_new(cfg, NC2_ROLE_FRONTEND);
	if (s == NULL) {
		close(fd);
		return NC2_ERR_NOSPACE;
	}
	s->sock = fd;
	rc = hs_frontend(s, cfg, hs_deadline(cfg));
	if (rc != NC2_OK) {
		int e = errno;
		shm_free(s);
		errno = e;
		return rc;
	}
	*out = s;
	return NC2_OK;
}

/* ---- accessors ---------------------------------------------------------- */

nc2_transport *nc2_shm_transport(nc2_shm *s)
{
	return s != NULL ? &s->tp : NULL;
}

const nc2_ring_mem *nc2_shm_rings(const nc2_shm *s)
{
	return s != NULL ? &s->rings : NULL;
}

uint8_t *nc2_shm_grant_mem(nc2_shm *s, size_t *len)
{
	if (len != NULL)
		*len = s != NULL ? (size_t)s->own.gnt_pages * SHM_PAGE : 0;
	return s != NULL ? s->own_base + (size_t)s->own.gnt_page * SHM_PAGE : NULL;
}

uint32_t nc2_shm_peer_features(const nc2_shm *s)
{
	return s != NULL ? s->peer_features : 0;
}

int nc2_shm_event_fd(const nc2_shm *s)
{
	return s != NULL ? s->efd : NC2_ERR_INVALID_ARG;
}

int nc2_shm_ctrl_fd(const nc2_shm *s)
{
	return s != NULL ? s->sock : NC2_ERR_INVALID_ARG;
}

int nc2_shm_ack_events(nc2_shm *s)
{
	if (s == NULL)
		return NC2_ERR_INVALID_ARG;
	uint64_t v = 0;
	struct iovec iov = {.iov_base = &v, .iov_len = sizeof(v)};
	for (;;) {
		ssize_t n = preadv2(s->efd, &iov, 1, -1, RWF_NOWAIT);
		if (n < 0 && errno == EOPNOTSUPP) {
			/* Older kernels: read only what poll says is there. */
			if (wait_fd(s->efd, POLLIN, 0, NULL) != 1)
				return 0;
			n = read(s->efd, &v, sizeof(v));
		}
		if (n == (ssize_t)sizeof(v))
			return v > (uint64_t)INT_MAX ? INT_MAX : (int)v;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return NC2_ERR_TRANSPORT;
	}
}

int nc2_shm_peer_alive(nc2_shm *s)
{
	if (s == NULL)
		return NC2_ERR_INVALID_ARG;
	return sock_poll(s);
}

uint32_t nc2_shm_grants_active(const nc2_shm *s)
{
	return s != NULL ? s->grants_active : 0;
}

uint32_t nc2_shm_maps_active(const nc2_shm *s)
{
	return s != NULL ? s->maps.active : 0;
}

int nc2_shm_grant_info_get(const nc2_shm *s, uint32_t gref, nc2_shm_grant_info *info)
{
	if (s == NULL || info == NULL)
		return NC2_ERR_INVALID_ARG;
	if (gref == 0 || gref > s->own.entries || !(s->gnt[gref].flags & NC2_SHM_GTF_INUSE))
		return NC2_ERR_NOT_FOUND;
	const shm_gnt *g = &s->gnt[gref];
	const uint8_t *e =
	    s->own_base + (size_t)SHM_GT_PAGE * SHM_PAGE + (size_t)gref * NC2_SHM_GNT_SIZE;
	shm_gstate st =
	    gs_unpack(__atomic_load_n((const uint64_t *)(const void *)e, __ATOMIC_ACQUIRE));
	memset(info, 0, sizeof(*info));
	if (g->flags & NC2_SHM_GTF_READONLY)
		info->flags |= NC2_GNT_READONLY;
	if (g->flags & NC2_SHM_GTF_STICKY)
		info->flags |= NC2_GNT_STICKY;
	info->ended = (g->flags & SHM_GNT_ENDED) ? 1u : 0u;
	info->page = g->page;
	info->map_ro = st.ro;
	info->map_rw = st.rw;
	return NC2_OK;
}
