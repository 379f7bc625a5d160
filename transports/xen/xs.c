/* SPDX-License-Identifier: MIT */
/*
 * Xenstore helper for the Xen transport: vif2-style device directories and
 * the xenbus state machine, for userspace frontends, backends and a stand-in
 * toolstack (include/nc2/xen.h).
 *
 * Frontend directory  /local/domain/<fe>/device/vif2/<handle>/
 *   backend, backend-id, handle        (toolstack)
 *   state                              (frontend)
 *   ring-order, ring-ref-<i>, event-channel   (frontend, one transaction with
 *                                              state = Initialised)
 * Backend directory   /local/domain/<be>/backend/vif2/<fe>/<handle>/
 *   frontend, frontend-id, handle, online   (toolstack)
 *   state, max-ring-order                   (backend)
 */
#define _DEFAULT_SOURCE 1

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "xen_internal.h"

struct nc2_xen_xs {
	struct xs_handle *h;
	int fd;
	char err[XN_ERR_MAX];
};

static int xs_fail(nc2_xen_xs *xs, const char *call, const char *path, int err_no, int code)
{
	nc2_xen_fmt_error(xs->err, sizeof(xs->err), call, err_no, path);
	return code;
}

static int parse_u32(const char *s, uint32_t *v)
{
	if (s == NULL || *s < '0' || *s > '9')
		return NC2_ERR_PEER_SETUP;
	char *end = NULL;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n > UINT32_MAX)
		return NC2_ERR_PEER_SETUP;
	*v = (uint32_t)n;
	return NC2_OK;
}

static int join(char *buf, size_t cap, const char *dir, const char *key)
{
	int n = snprintf(buf, cap, "%s/%s", dir, key);
	return n < 0 || (size_t)n >= cap ? NC2_ERR_INVALID_ARG : NC2_OK;
}

int nc2_xen_xs_open(nc2_xen_xs **out)
{
	if (out == NULL)
		return NC2_ERR_INVALID_ARG;
	*out = NULL;
	nc2_xen_xs *xs = calloc(1, sizeof(*xs));
	if (xs == NULL)
		return NC2_ERR_NOSPACE;
	xs->h = xs_open(0);
	if (xs->h == NULL) {
		free(xs);
		return NC2_ERR_TRANSPORT;
	}
	xs->fd = xs_fileno(xs->h);
	*out = xs;
	return NC2_OK;
}

void nc2_xen_xs_close(nc2_xen_xs *xs)
{
	if (xs == NULL)
		return;
	xs_close(xs->h);
	free(xs);
}

int nc2_xen_xs_fd(nc2_xen_xs *xs)
{
	return xs != NULL && xs->fd >= 0 ? xs->fd : NC2_ERR_INVALID_ARG;
}

const char *nc2_xen_xs_last_error(const nc2_xen_xs *xs)
{
	return xs != NULL ? xs->err : "";
}

/* Read \p path into a malloc'd string (NULL: errno set). */
static char *xs_get(nc2_xen_xs *xs, xs_transaction_t t, const char *path)
{
	unsigned int len = 0;
	return xs_read(xs->h, t, path, &len);
}

int nc2_xen_xs_domid(nc2_xen_xs *xs, uint32_t *domid)
{
	if (xs == NULL || domid == NULL)
		return NC2_ERR_INVALID_ARG;
	char *s = xs_get(xs, XBT_NULL, "domid");
	if (s == NULL) {
		int e = errno;
		/* dom0 before xen-init-dom0 wrote its "domid" */
		FILE *f = fopen("/proc/xen/capabilities", "r");
		char caps[64] = "";
		if (f != NULL) {
			if (fgets(caps, sizeof(caps), f) == NULL)
				caps[0] = '\0';
			fclose(f);
		}
		if (strstr(caps, "control_d") != NULL) {
			*domid = 0;
			return NC2_OK;
		}
		return xs_fail(xs, "xs_read", "domid", e, NC2_ERR_TRANSPORT);
	}
	int rc = parse_u32(s, domid);
	free(s);
	return rc == NC2_OK ? NC2_OK : xs_fail(xs, "malformed", "domid", 0, NC2_ERR_TRANSPORT);
}

void nc2_xen_xs_dev_init(nc2_xen_xs_dev *dev, uint32_t fe_domid, uint32_t be_domid, uint32_t handle)
{
	if (dev == NULL)
		return;
	memset(dev, 0, sizeof(*dev));
	dev->fe_domid = fe_domid;
	dev->be_domid = be_domid;
	dev->handle = handle;
	snprintf(dev->fe_path, sizeof(dev->fe_path), "/local/domain/%u/device/vif2/%u", fe_domid,
		 handle);
	snprintf(dev->be_path, sizeof(dev->be_path), "/local/domain/%u/backend/vif2/%u/%u",
		 be_domid, fe_domid, handle);
}

static int write_str(nc2_xen_xs *xs, xs_transaction_t t, const char *dir, const char *key,
		     const char *val)
{
	char path[NC2_XEN_XS_PATH_MAX + 32];
	if (join(path, sizeof(path), dir, key) != NC2_OK)
		return NC2_ERR_INVALID_ARG;
	if (!xs_write(xs->h, t, path, val, (unsigned int)strlen(val)))
		return xs_fail(xs, "xs_write", path, errno, NC2_ERR_TRANSPORT);
	return NC2_OK;
}

static int write_u32(nc2_xen_xs *xs, xs_transaction_t t, const char *dir, const char *key,
		     uint32_t v)
{
	char val[16];
	snprintf(val, sizeof(val), "%u", v);
	return write_str(xs, t, dir, key, val);
}

static int read_u32(nc2_xen_xs *xs, xs_transaction_t t, const char *dir, const char *key,
		    uint32_t *v)
{
	char path[NC2_XEN_XS_PATH_MAX + 32];
	if (join(path, sizeof(path), dir, key) != NC2_OK)
		return NC2_ERR_INVALID_ARG;
	char *s = xs_get(xs, t, path);
	if (s == NULL) {
		int e = errno;
		return xs_fail(xs, "xs_read", path, e,
			       e == ENOENT ? NC2_ERR_NOT_FOUND : NC2_ERR_TRANSPORT);
	}
	int rc = parse_u32(s, v);
	free(s);
	return rc == NC2_OK ? NC2_OK : xs_fail(xs, "malformed value", path, 0, rc);
}

/* Run \p body in a transaction, retrying when xenstored says EAGAIN. */
typedef int (*tx_body)(nc2_xen_xs *xs, xs_transaction_t t, const void *arg);

static int in_transaction(nc2_xen_xs *xs, tx_body body, const void *arg)
{
	for (int tries = 0; tries < 16; tries++) {
		xs_transaction_t t = xs_transaction_start(xs->h);
		if (t == XBT_NULL)
			return xs_fail(xs, "xs_transaction_start", "", errno, NC2_ERR_TRANSPORT);
		int rc = body(xs, t, arg);
		if (rc != NC2_OK) {
			xs_transaction_end(xs->h, t, true);
			return rc;
		}
		if (xs_transaction_end(xs->h, t, false))
			return NC2_OK;
		if (errno != EAGAIN)
			return xs_fail(xs, "xs_transaction_end", "", errno, NC2_ERR_TRANSPORT);
	}
	return xs_fail(xs, "xs_transaction_end", "too many retries", EAGAIN, NC2_ERR_AGAIN);
}

static int set_perms(nc2_xen_xs *xs, xs_transaction_t t, const char *path, uint32_t owner,
		     uint32_t reader)
{
	struct xs_permissions p[2] = {{.id = owner, .perms = XS_PERM_NONE},
				      {.id = reader, .perms = XS_PERM_READ}};
	if (!xs_set_permissions(xs->h, t, path, p, owner == reader ? 1u : 2u))
		return xs_fail(xs, "xs_set_permissions", path, errno, NC2_ERR_TRANSPORT);
	return NC2_OK;
}

static int device_add_tx(nc2_xen_xs *xs, xs_transaction_t t, const void *arg)
{
	const nc2_xen_xs_dev *d = arg;
	int rc;
	if (!xs_mkdir(xs->h, t, d->fe_path))
		return xs_fail(xs, "xs_mkdir", d->fe_path, errno, NC2_ERR_TRANSPORT);
	if (!xs_mkdir(xs->h, t, d->be_path))
		return xs_fail(xs, "xs_mkdir", d->be_path, errno, NC2_ERR_TRANSPORT);
	/* Each end owns its directory; the other end may read it. Keys
	 * written below inherit these permissions. */
	if ((rc = set_perms(xs, t, d->fe_path, d->fe_domid, d->be_domid)) != NC2_OK ||
	    (rc = set_perms(xs, t, d->be_path, d->be_domid, d->fe_domid)) != NC2_OK)
		return rc;
	if ((rc = write_str(xs, t, d->fe_path, "backend", d->be_path)) != NC2_OK ||
	    (rc = write_u32(xs, t, d->fe_path, "backend-id", d->be_domid)) != NC2_OK ||
	    (rc = write_u32(xs, t, d->fe_path, "handle", d->handle)) != NC2_OK ||
	    (rc = write_u32(xs, t, d->fe_path, "state", NC2_XB_INITIALISING)) != NC2_OK)
		return rc;
	if ((rc = write_str(xs, t, d->be_path, "frontend", d->fe_path)) != NC2_OK ||
	    (rc = write_u32(xs, t, d->be_path, "frontend-id", d->fe_domid)) != NC2_OK ||
	    (rc = write_u32(xs, t, d->be_path, "handle", d->handle)) != NC2_OK ||
	    (rc = write_u32(xs, t, d->be_path, "online", 1)) != NC2_OK ||
	    (rc = write_u32(xs, t, d->be_path, "state", NC2_XB_INITIALISING)) != NC2_OK)
		return rc;
	return NC2_OK;
}

int nc2_xen_xs_device_add(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev)
{
	if (xs == NULL || dev == NULL)
		return NC2_ERR_INVALID_ARG;
	return in_transaction(xs, device_add_tx, dev);
}

int nc2_xen_xs_device_remove(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev)
{
	if (xs == NULL || dev == NULL)
		return NC2_ERR_INVALID_ARG;
	int rc = NC2_OK;
	if (!xs_rm(xs->h, XBT_NULL, dev->be_path) && errno != ENOENT)
		rc = xs_fail(xs, "xs_rm", dev->be_path, errno, NC2_ERR_TRANSPORT);
	/* The per-frontend directory above it, once empty. */
	char parent[NC2_XEN_XS_PATH_MAX];
	snprintf(parent, sizeof(parent), "/local/domain/%u/backend/vif2/%u", dev->be_domid,
		 dev->fe_domid);
	unsigned int num = 0;
	char **ents = xs_directory(xs->h, XBT_NULL, parent, &num);
	if (ents != NULL) {
		free(ents);
		if (num == 0)
			(void)xs_rm(xs->h, XBT_NULL, parent);
	}
	if (!xs_rm(xs->h, XBT_NULL, dev->fe_path) && errno != ENOENT && rc == NC2_OK)
		rc = xs_fail(xs, "xs_rm", dev->fe_path, errno, NC2_ERR_TRANSPORT);
	return rc;
}

int nc2_xen_xs_state(nc2_xen_xs *xs, const char *dir, enum nc2_xenbus_state *st)
{
	if (xs == NULL || dir == NULL || st == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t v;
	int rc = read_u32(xs, XBT_NULL, dir, "state", &v);
	if (rc == NC2_ERR_NOT_FOUND)
		return NC2_ERR_PEER_GONE;
	if (rc != NC2_OK)
		return rc;
	if (v > NC2_XB_CLOSED)
		return xs_fail(xs, "state out of range", dir, 0, NC2_ERR_PEER_SETUP);
	*st = (enum nc2_xenbus_state)v;
	return NC2_OK;
}

int nc2_xen_xs_set_state(nc2_xen_xs *xs, const char *dir, enum nc2_xenbus_state st)
{
	if (xs == NULL || dir == NULL)
		return NC2_ERR_INVALID_ARG;
	return write_u32(xs, XBT_NULL, dir, "state", (uint32_t)st);
}

int nc2_xen_xs_read_u32(nc2_xen_xs *xs, const char *dir, const char *key, uint32_t *val)
{
	if (xs == NULL || dir == NULL || key == NULL || val == NULL)
		return NC2_ERR_INVALID_ARG;
	return read_u32(xs, XBT_NULL, dir, key, val);
}

int nc2_xen_xs_write_u32(nc2_xen_xs *xs, const char *dir, const char *key, uint32_t val)
{
	if (xs == NULL || dir == NULL || key == NULL)
		return NC2_ERR_INVALID_ARG;
	return write_u32(xs, XBT_NULL, dir, key, val);
}

int nc2_xen_xs_front_find(nc2_xen_xs *xs, uint32_t handle, nc2_xen_xs_dev *dev)
{
	if (xs == NULL || dev == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t me, be;
	int rc = nc2_xen_xs_domid(xs, &me);
	if (rc != NC2_OK)
		return rc;
	nc2_xen_xs_dev d;
	nc2_xen_xs_dev_init(&d, me, 0, handle);
	if ((rc = read_u32(xs, XBT_NULL, d.fe_path, "backend-id", &be)) != NC2_OK)
		return rc;
	char path[NC2_XEN_XS_PATH_MAX + 32];
	(void)join(path, sizeof(path), d.fe_path, "backend");
	char *bp = xs_get(xs, XBT_NULL, path);
	if (bp == NULL)
		return xs_fail(xs, "xs_read", path, errno,
			       errno == ENOENT ? NC2_ERR_NOT_FOUND : NC2_ERR_TRANSPORT);
	nc2_xen_xs_dev_init(dev, me, be, handle);
	if (strlen(bp) >= sizeof(dev->be_path) || bp[0] != '/') {
		free(bp);
		return xs_fail(xs, "malformed backend path", path, 0, NC2_ERR_PEER_SETUP);
	}
	snprintf(dev->be_path, sizeof(dev->be_path), "%s", bp);
	free(bp);
	return NC2_OK;
}

struct publish_arg {
	const nc2_xen_xs_dev *dev;
	const nc2_xen_conn *conn;
};

static int publish_tx(nc2_xen_xs *xs, xs_transaction_t t, const void *arg)
{
	const struct publish_arg *a = arg;
	const char *dir = a->dev->fe_path;
	int rc;
	if ((rc = write_u32(xs, t, dir, "ring-order", a->conn->order)) != NC2_OK)
		return rc;
	for (uint32_t i = 0; i < a->conn->nr_refs; i++) {
		char key[24];
		snprintf(key, sizeof(key), "ring-ref-%u", i);
		if ((rc = write_u32(xs, t, dir, key, a->conn->refs[i])) != NC2_OK)
			return rc;
	}
	if ((rc = write_u32(xs, t, dir, "event-channel", a->conn->evtchn)) != NC2_OK)
		return rc;
	return write_u32(xs, t, dir, "state", NC2_XB_INITIALISED);
}

int nc2_xen_xs_front_publish(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev, const nc2_xen_conn *conn)
{
	if (xs == NULL || dev == NULL || conn == NULL || conn->nr_refs > NC2_XEN_RING_REFS_MAX)
		return NC2_ERR_INVALID_ARG;
	struct publish_arg a = {.dev = dev, .conn = conn};
	return in_transaction(xs, publish_tx, &a);
}

int nc2_xen_xs_back_read(nc2_xen_xs *xs, const nc2_xen_xs_dev *dev, nc2_xen_conn *conn)
{
	if (xs == NULL || dev == NULL || conn == NULL)
		return NC2_ERR_INVALID_ARG;
	memset(conn, 0, sizeof(*conn));
	const char *dir = dev->fe_path;
	int rc;
	if ((rc = read_u32(xs, XBT_NULL, dir, "ring-order", &conn->order)) != NC2_OK)
		return NC2_ERR_PEER_SETUP;
	uint32_t rp = nc2_xen_ring_pages(conn->order);
	if (rp == 0)
		return xs_fail(xs, "ring-order out of range", dir, 0, NC2_ERR_PEER_SETUP);
	conn->nr_refs = 1u + 2u * rp;
	for (uint32_t i = 0; i < conn->nr_refs; i++) {
		char key[24];
		snprintf(key, sizeof(key), "ring-ref-%u", i);
		if (read_u32(xs, XBT_NULL, dir, key, &conn->refs[i]) != NC2_OK)
			return NC2_ERR_PEER_SETUP;
	}
	if (read_u32(xs, XBT_NULL, dir, "event-channel", &conn->evtchn) != NC2_OK)
		return NC2_ERR_PEER_SETUP;
	return NC2_OK;
}

int nc2_xen_xs_watch(nc2_xen_xs *xs, const char *path)
{
	if (xs == NULL || path == NULL)
		return NC2_ERR_INVALID_ARG;
	if (!xs_watch(xs->h, path, path))
		return xs_fail(xs, "xs_watch", path, errno, NC2_ERR_TRANSPORT);
	return NC2_OK;
}

int nc2_xen_xs_unwatch(nc2_xen_xs *xs, const char *path)
{
	if (xs == NULL || path == NULL)
		return NC2_ERR_INVALID_ARG;
	if (!xs_unwatch(xs->h, path, path))
		return xs_fail(xs, "xs_unwatch", path, errno, NC2_ERR_TRANSPORT);
	return NC2_OK;
}

int nc2_xen_xs_next_event(nc2_xen_xs *xs, char *path, size_t cap)
{
	if (xs == NULL)
		return NC2_ERR_INVALID_ARG;
	char **v = xs_check_watch(xs->h);
	if (v == NULL) {
		if (errno == EAGAIN)
			return 0;
		return xs_fail(xs, "xs_check_watch", "", errno, NC2_ERR_TRANSPORT);
	}
	if (path != NULL && cap > 0)
		snprintf(path, cap, "%s", v[XS_WATCH_PATH]);
	free(v);
	return 1;
}

int nc2_xen_xs_back_list(nc2_xen_xs *xs, uint32_t be_domid, uint32_t *fe_domids, uint32_t *handles,
			 uint32_t cap)
{
	if (xs == NULL || (cap > 0 && (fe_domids == NULL || handles == NULL)))
		return NC2_ERR_INVALID_ARG;
	char base[NC2_XEN_XS_PATH_MAX];
	snprintf(base, sizeof(base), "/local/domain/%u/backend/vif2", be_domid);
	unsigned int nfe = 0;
	char **fes = xs_directory(xs->h, XBT_NULL, base, &nfe);
	if (fes == NULL)
		return errno == ENOENT
			   ? 0
			   : xs_fail(xs, "xs_directory", base, errno, NC2_ERR_TRANSPORT);
	uint32_t n = 0;
	for (unsigned int i = 0; i < nfe; i++) {
		uint32_t fe;
		if (parse_u32(fes[i], &fe) != NC2_OK)
			continue;
		char dir[NC2_XEN_XS_PATH_MAX + 16];
		snprintf(dir, sizeof(dir), "%s/%u", base, fe);
		unsigned int nh = 0;
		char **hs = xs_directory(xs->h, XBT_NULL, dir, &nh);
		if (hs == NULL)
			continue;
		for (unsigned int j = 0; j < nh; j++) {
			uint32_t h;
			if (parse_u32(hs[j], &h) != NC2_OK)
				continue;
			if (n < cap) {
				fe_domids[n] = fe;
				handles[n] = h;
			}
			n++;
		}
		free(hs);
	}
	free(fes);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int nc2_xen_xs_domain_exists(nc2_xen_xs *xs, uint32_t domid)
{
	if (xs == NULL)
		return 0;
	return xs_is_domain_introduced(xs->h, domid) ? 1 : 0;
}
