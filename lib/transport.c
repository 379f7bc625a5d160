/* SPDX-License-Identifier: MIT */
/*
 * The one place the core calls transport ops: version/size gating for
 * optional methods, per-op call counts, the test fault hook, and the
 * map + memcpy fallback for transports without grant copy.
 */
#include <string.h>

#include <nc2/transport.h>
#include <nc2/wire.h>

#define OPS_HAS(t, field)                                                                  \
	((t)->ops->size >= offsetof(nc2_transport_ops, field) + sizeof((t)->ops->field) && \
	 (t)->ops->field != NULL)

static int enter(nc2_transport *t, enum nc2_tp_op op)
{
	t->calls[op]++;
	return t->fault ? t->fault(t->fault_user, op) : NC2_OK;
}

int nc2_transport_check(const nc2_transport *t)
{
	if (t == NULL || t->ops == NULL)
		return NC2_ERR_INVALID_ARG;
	if (t->ops->version < 1 || t->ops->size < offsetof(nc2_transport_ops, copy))
		return NC2_ERR_VERSION;
	if (!t->ops->grant || !t->ops->revoke || !t->ops->map || !t->ops->unmap || !t->ops->notify)
		return NC2_ERR_INVALID_ARG;
	return NC2_OK;
}

int nc2_tp_grant(nc2_transport *t, void *page, uint32_t flags, uint32_t *gref)
{
	int rc = enter(t, NC2_TP_GRANT);
	return rc < 0 ? rc : t->ops->grant(t->ctx, page, flags, gref);
}

int nc2_tp_revoke(nc2_transport *t, uint32_t gref)
{
	int rc = enter(t, NC2_TP_REVOKE);
	return rc < 0 ? rc : t->ops->revoke(t->ctx, gref);
}

/* A hook failure fails the whole batch: every element reports it. */
static int fail_maps(nc2_map_op *ops, uint32_t n, int rc)
{
	for (uint32_t i = 0; i < n; i++)
		ops[i].status = rc;
	return rc;
}

int nc2_tp_map(nc2_transport *t, nc2_map_op *ops, uint32_t n)
{
	int rc = enter(t, NC2_TP_MAP);
	return rc < 0 ? fail_maps(ops, n, rc) : t->ops->map(t->ctx, ops, n);
}

int nc2_tp_unmap(nc2_transport *t, nc2_map_op *ops, uint32_t n)
{
	int rc = enter(t, NC2_TP_UNMAP);
	return rc < 0 ? fail_maps(ops, n, rc) : t->ops->unmap(t->ctx, ops, n);
}

/* No copy op: map the grant side, memcpy, unmap, one segment at a time. */
static int copy_by_map(nc2_transport *t, nc2_copy_op *op)
{
	int src_is_gref = op->src.local == NULL;
	const nc2_copy_end *g = src_is_gref ? &op->src : &op->dst;

	if (op->src.local == NULL && op->dst.local == NULL)
		return NC2_ERR_UNSUPPORTED; /* grant to grant needs a hypervisor */
	if (g->offset > NC2_PAGE_SIZE || op->len > NC2_PAGE_SIZE - g->offset)
		return NC2_ERR_INVALID_ARG;
	nc2_map_op m = {.gref = g->gref, .flags = src_is_gref ? NC2_GNT_READONLY : 0u};
	int rc = nc2_tp_map(t, &m, 1);
	if (rc < 0)
		return rc;
	uint8_t *p = (uint8_t *)m.addr + g->offset;
	if (src_is_gref)
		memcpy(op->dst.local, p, op->len);
	else
		memcpy(p, op->src.local, op->len);
	return nc2_tp_unmap(t, &m, 1);
}

int nc2_tp_copy(nc2_transport *t, nc2_copy_op *ops, uint32_t n)
{
	int rc = enter(t, NC2_TP_COPY);
	if (rc < 0) {
		for (uint32_t i = 0; i < n; i++)
			ops[i].status = rc;
		return rc;
	}
	if (OPS_HAS(t, copy))
		return t->ops->copy(t->ctx, ops, n);
	int first = NC2_OK;
	for (uint32_t i = 0; i < n; i++) {
		ops[i].status = copy_by_map(t, &ops[i]);
		if (ops[i].status < 0 && first == NC2_OK)
			first = ops[i].status;
	}
	return first;
}

int nc2_tp_notify(nc2_transport *t)
{
	int rc = enter(t, NC2_TP_NOTIFY);
	return rc < 0 ? rc : t->ops->notify(t->ctx);
}

int nc2_tp_poll_fd(nc2_transport *t)
{
	return OPS_HAS(t, poll_fd) ? t->ops->poll_fd(t->ctx) : NC2_ERR_UNSUPPORTED;
}

int nc2_tp_peer(nc2_transport *t, nc2_peer_id *id)
{
	return OPS_HAS(t, peer) ? t->ops->peer(t->ctx, id) : NC2_ERR_UNSUPPORTED;
}

int nc2_tp_has_end_access(const nc2_transport *t)
{
	return OPS_HAS(t, end_access);
}

int nc2_tp_end_access(nc2_transport *t, uint32_t gref)
{
	if (!OPS_HAS(t, end_access))
		return NC2_ERR_UNSUPPORTED;
	int rc = enter(t, NC2_TP_END_ACCESS);
	return rc < 0 ? rc : t->ops->end_access(t->ctx, gref);
}
