/* SPDX-License-Identifier: MIT */
/*
 * Message codec. Decoding reads only the caller's private copy, at named
 * offsets, and rejects anything the message itself shows to be malformed;
 * limits negotiated on a channel are frag.c's business.
 */
#include <string.h>

#include <nc2/frag.h>
#include <nc2/wire.h>

#include "le.h"
#include "packet.h"

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Per type: its exact size, VAR for variable-size types, 0 when unknown.
 * A table, because decode runs for every message on the ring. */
#define VAR 1u
static const uint8_t msg_size[256] = {
    [NC2_MSG_SET_MAX_PACKETS] = NC2_U32_MSG_SIZE,
    [NC2_MSG_PACKET] = VAR,
    [NC2_MSG_FINISH_PACKET] = NC2_U32_MSG_SIZE,
    [NC2_MSG_SET_OFFLOAD] = NC2_SET_OFFLOAD_SIZE,
    [NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET] = NC2_U32_MSG_SIZE,
    [NC2_MSG_POST_BUFFERS] = VAR,
    [NC2_MSG_RETURN_BUFFERS] = VAR,
    [NC2_MSG_CREATE_RX_QUEUE] = NC2_CREATE_RX_QUEUE_SIZE,
    [NC2_MSG_BYPASS_FRONTEND] = VAR,
    [NC2_MSG_BYPASS_BACKEND] = VAR,
    [NC2_MSG_BYPASS_FRONTEND_READY] = NC2_U32_MSG_SIZE,
    [NC2_MSG_BYPASS_READY] = NC2_U32_MSG_SIZE,
    [NC2_MSG_BYPASS_DISABLE] = NC2_U32_MSG_SIZE,
    [NC2_MSG_BYPASS_DISABLED] = NC2_U32_MSG_SIZE,
    [NC2_MSG_BYPASS_DETACH] = NC2_U32_MSG_SIZE,
    [NC2_MSG_BYPASS_DETACHED] = NC2_U32_MSG_SIZE,
    [NC2_MSG_SUGGEST_BYPASS] = NC2_SUGGEST_BYPASS_SIZE,
    [NC2_MSG_HELLO] = NC2_HELLO_SIZE,
    [NC2_MSG_SET_GRANT_CACHE] = NC2_U32_MSG_SIZE,
    [NC2_MSG_UNGRANT] = NC2_U32_MSG_SIZE,
    [NC2_MSG_UNGRANT_ACK] = NC2_U32_MSG_SIZE,
    [NC2_MSG_MCAST] = NC2_MCAST_SIZE,
    [NC2_MSG_RECLAIM_BUFFERS] = NC2_U32_MSG_SIZE,
    [NC2_MSG_FINISH_PACKETS] = VAR,
    [NC2_MSG_SMALL_PACKETS] = VAR,
    [NC2_MSG_POSTED_PACKETS] = VAR,
    [NC2_MSG_PAD] = VAR,
};

/* Exact size of a fixed-size type; 0 for variable-size or unknown types. */
static uint32_t fixed_size(uint8_t type)
{
	return msg_size[type] > VAR ? msg_size[type] : 0;
}

static int decode_packet(struct nc2_msg_packet *p, const uint8_t *b, uint32_t size)
{
	if (size < NC2_PACKET_FIXED_SIZE)
		return NC2_ERR_PEER_MSG_SIZE;
	p->id = nc2_get_le32(b + NC2_PACKET_OFF_ID);
	p->type = b[NC2_PACKET_OFF_TYPE];
	p->flags = b[NC2_PACKET_OFF_FLAGS];
	p->seg_type = b[NC2_PACKET_OFF_SEG_TYPE];
	p->prefix_size = nc2_get_le16(b + NC2_PACKET_OFF_PREFIX_SIZE);
	p->mss = nc2_get_le16(b + NC2_PACKET_OFF_MSS);
	p->csum_start = nc2_get_le16(b + NC2_PACKET_OFF_CSUM_START);
	p->csum_offset = nc2_get_le16(b + NC2_PACKET_OFF_CSUM_OFFSET);
	if (b[NC2_PACKET_OFF_RSVD8] != 0 || nc2_get_le32(b + NC2_PACKET_OFF_RSVD32) != 0)
		return NC2_ERR_PEER_RESERVED;
	if (p->prefix_size > NC2_MAX_INLINE_BYTES)
		return NC2_ERR_PEER_PACKET_SIZE;

	/* The fragment count is implied by the size; the prefix must fit. */
	uint32_t body = size - NC2_PACKET_FIXED_SIZE;
	uint32_t prefix_room = nc2_round8(p->prefix_size);
	if (prefix_room > body)
		return NC2_ERR_PEER_MSG_SIZE;
	uint32_t nr = (body - prefix_room) / NC2_FRAG_SIZE;
	p->nr_frags = (uint16_t)nr;
	p->frags = b + NC2_PACKET_OFF_FRAGS;
	p->prefix = p->frags + nr * NC2_FRAG_SIZE;
	/* The prefix ends the message, so its 0..7 octets of padding are the
	 * top octets of the message's last 8 (size >= NC2_PACKET_FIXED_SIZE). */
	uint32_t pad = prefix_room - p->prefix_size;
	if (nc2_get_le64(b + size - 8u) & ~(UINT64_MAX >> (8u * pad)))
		return NC2_ERR_PEER_RESERVED;
	/* One test for the reserved offset bits of every fragment. */
	uint32_t rsvd = 0;
	for (uint32_t i = 0; i < nr; i++)
		rsvd |= nc2_get_le16(p->frags + i * NC2_FRAG_SIZE + NC2_FRAG_OFF_OFFSET);
	if (rsvd & NC2_FRAG_RSVD_MASK)
		return NC2_ERR_PEER_RESERVED;
	return NC2_OK;
}

/* The rules for one posted buffer, shared by the decoder (on the wire
 * fields) and the encoder (on its input, instead of a self_check). */
static int post_buf_rules(uint16_t off, uint16_t len, uint16_t flags)
{
	if (len == 0 || !nc2_range_ok(off, len, NC2_PAGE_SIZE))
		return NC2_ERR_PEER_BAD_FRAG;
	if (flags & ~NC2_POST_FLAGS_KNOWN)
		return NC2_ERR_PEER_RESERVED;
	return NC2_OK;
}

static int check_post_entry(const uint8_t *e)
{
	int rc = post_buf_rules(nc2_get_le16(e + NC2_POST_ENTRY_OFF_OFFSET),
				nc2_get_le16(e + NC2_POST_ENTRY_OFF_LENGTH),
				nc2_get_le16(e + NC2_POST_ENTRY_OFF_FLAGS));
	if (rc != NC2_OK)
		return rc;
	return nc2_get_le16(e + NC2_POST_ENTRY_OFF_RSVD) != 0 ? NC2_ERR_PEER_RESERVED : NC2_OK;
}

static int decode_post(struct nc2_msg_post *p, const uint8_t *b, uint32_t size)
{
	p->queue = b[NC2_POST_OFF_QUEUE];
	p->count = nc2_get_le16(b + NC2_POST_OFF_COUNT);
	p->entries = b + NC2_POST_OFF_ENTRIES;
	if (b[NC2_POST_OFF_RSVD] != 0)
		return NC2_ERR_PEER_RESERVED;
	if (p->count == 0)
		return NC2_ERR_PEER_BAD_VALUE;
	if (size != NC2_POST_OFF_ENTRIES + (uint32_t)p->count * NC2_POST_ENTRY_SIZE)
		return NC2_ERR_PEER_MSG_SIZE;
	for (uint32_t i = 0; i < p->count; i++) {
		int rc = check_post_entry(p->entries + i * NC2_POST_ENTRY_SIZE);
		if (rc != NC2_OK)
			return rc;
	}
	return NC2_OK;
}

static int decode_return(struct nc2_msg_return *r, const uint8_t *b, uint32_t size)
{
	r->count = nc2_get_le16(b + NC2_RETURN_OFF_COUNT);
	r->ids = b + NC2_RETURN_OFF_IDS;
	if (nc2_get_le16(b + NC2_RETURN_OFF_RSVD) != 0)
		return NC2_ERR_PEER_RESERVED;
	if (r->count == 0)
		return NC2_ERR_PEER_BAD_VALUE;
	uint32_t used = NC2_RETURN_OFF_IDS + 4u * r->count;
	if (size != nc2_round8(used))
		return NC2_ERR_PEER_MSG_SIZE;
	if (!all_zero(b + used, size - used))
		return NC2_ERR_PEER_RESERVED;
	return NC2_OK;
}

static int decode_smalls(struct nc2_msg_smalls *sm, const uint8_t *b, uint32_t size)
{
	sm->count = nc2_get_le16(b + NC2_SMALLS_OFF_COUNT);
	sm->entries = b + NC2_SMALLS_OFF_ENTRIES;
	if (sm->count == 0)
		return NC2_ERR_PEER_BAD_VALUE;
	if (nc2_get_le16(b + NC2_SMALLS_OFF_RSVD) != 0)
		return NC2_ERR_PEER_RESERVED;
	uint32_t at = NC2_SMALLS_OFF_ENTRIES;
	for (uint32_t i = 0; i < sm->count; i++) {
		if (size - at < NC2_SMALL_ENT_HDR)
			return NC2_ERR_PEER_MSG_SIZE;
		const uint8_t *e = b + at;
		if (e[NC2_SMALL_ENT_OFF_RSVD] != 0)
			return NC2_ERR_PEER_RESERVED;
		uint32_t len = nc2_get_le16(e + NC2_SMALL_ENT_OFF_LEN);
		if (len == 0 || len > NC2_MAX_INLINE_BYTES)
			return NC2_ERR_PEER_BAD_VALUE;
		uint32_t esz = NC2_SMALL_ENT_SIZE(len);
		if (size - at < esz)
			return NC2_ERR_PEER_MSG_SIZE;
		/* The 0..7 pad octets are the top of the entry's last 8. */
		uint32_t pad = esz - NC2_SMALL_ENT_HDR - len;
		if (pad && (nc2_get_le64(e + esz - 8) & ~(UINT64_MAX >> (8u * pad))) != 0)
			return NC2_ERR_PEER_RESERVED;
		at += esz;
	}
	return at == size ? NC2_OK : NC2_ERR_PEER_MSG_SIZE;
}

static int decode_posteds(struct nc2_msg_posteds *pm, const uint8_t *b, uint32_t size)
{
	pm->count = nc2_get_le16(b + NC2_POSTEDS_OFF_COUNT);
	pm->entries = b + NC2_POSTEDS_OFF_ENTRIES;
	if (pm->count == 0)
		return NC2_ERR_PEER_BAD_VALUE;
	if (nc2_get_le16(b + NC2_POSTEDS_OFF_RSVD) != 0)
		return NC2_ERR_PEER_RESERVED;
	if (size != NC2_POSTEDS_OFF_ENTRIES + (uint32_t)pm->count * NC2_POSTED_ENT_SIZE)
		return NC2_ERR_PEER_MSG_SIZE;
	for (uint32_t i = 0; i < pm->count; i++)
		if (pm->entries[i * NC2_POSTED_ENT_SIZE + NC2_POSTED_ENT_OFF_RSVD] != 0)
			return NC2_ERR_PEER_RESERVED;
	return NC2_OK;
}

static int decode_bypass(struct nc2_msg_bypass *y, uint8_t type, const uint8_t *b, uint32_t size)
{
	if (size < NC2_BYPASS_OFF_GREFS)
		return NC2_ERR_PEER_MSG_SIZE;
	y->port = nc2_get_le32(b + NC2_BYPASS_OFF_PORT);
	y->ring_domid = nc2_get_le16(b + NC2_BYPASS_OFF_RING_DOMID);
	y->peer_domid = nc2_get_le16(b + NC2_BYPASS_OFF_PEER_DOMID);
	y->handle = nc2_get_le32(b + NC2_BYPASS_OFF_HANDLE);
	memcpy(y->remote_mac, b + NC2_BYPASS_OFF_MAC, 6);
	y->peer_trusted = b[NC2_BYPASS_OFF_TRUSTED];
	y->ring_pages = b[NC2_BYPASS_OFF_PAGES];
	y->control_gref = nc2_get_le32(b + NC2_BYPASS_OFF_CONTROL_GREF);
	y->grefs = b + NC2_BYPASS_OFF_GREFS;
	if (y->ring_pages == 0 || y->ring_pages > NC2_BYPASS_MAX_RING_PAGES || y->peer_trusted > 1)
		return NC2_ERR_PEER_BAD_VALUE;
	if (size != NC2_BYPASS_OFF_GREFS + 8u * y->ring_pages)
		return NC2_ERR_PEER_MSG_SIZE;
	if ((type == NC2_MSG_BYPASS_FRONTEND && y->port != 0) ||
	    nc2_get_le32(b + NC2_BYPASS_OFF_PAD) != 0)
		return NC2_ERR_PEER_RESERVED;
	return NC2_OK;
}

static int decode_fixed(nc2_msg *m, const uint8_t *b)
{
	switch (m->type) {
	case NC2_MSG_SET_OFFLOAD:
		m->u.offload.csum = b[NC2_SET_OFFLOAD_OFF_CSUM];
		m->u.offload.tso4 = b[NC2_SET_OFFLOAD_OFF_TSO4];
		m->u.offload.tso6 = b[NC2_SET_OFFLOAD_OFF_TSO6];
		m->u.offload.lro = b[NC2_SET_OFFLOAD_OFF_LRO];
		if ((m->u.offload.csum | m->u.offload.tso4 | m->u.offload.tso6 | m->u.offload.lro) >
		    1)
			return NC2_ERR_PEER_BAD_VALUE;
		return NC2_OK;
	case NC2_MSG_CREATE_RX_QUEUE: {
		struct nc2_msg_rxq *q = &m->u.rxq;
		q->queue = b[NC2_RXQ_OFF_QUEUE];
		q->flags = b[NC2_RXQ_OFF_FLAGS];
		q->vlan = nc2_get_le16(b + NC2_RXQ_OFF_VLAN);
		q->buf_size = nc2_get_le32(b + NC2_RXQ_OFF_BUF_SIZE);
		memcpy(q->mac, b + NC2_RXQ_OFF_MAC, 6);
		if ((q->flags & ~NC2_RXQ_FLAGS_KNOWN) || nc2_get_le16(b + NC2_RXQ_OFF_RSVD16) ||
		    nc2_get_le32(b + NC2_RXQ_OFF_RSVD32))
			return NC2_ERR_PEER_RESERVED;
		/* Steering keys are unicast: group traffic goes to the default queue. */
		if (q->vlan > NC2_VLAN_MAX || q->buf_size < NC2_MIN_RX_BUF_SIZE ||
		    q->buf_size > NC2_PAGE_SIZE || (q->mac[0] & 1))
			return NC2_ERR_PEER_BAD_VALUE;
		return NC2_OK;
	}
	case NC2_MSG_SUGGEST_BYPASS:
		memcpy(m->u.suggest_mac, b + NC2_SUGGEST_OFF_MAC, 6);
		if (nc2_get_le16(b + NC2_SUGGEST_OFF_PAD1) ||
		    nc2_get_le32(b + NC2_SUGGEST_OFF_PAD2))
			return NC2_ERR_PEER_RESERVED;
		return NC2_OK;
	case NC2_MSG_HELLO: {
		struct nc2_msg_hello *h = &m->u.hello;
		h->version_min = nc2_get_le16(b + NC2_HELLO_OFF_VERSION_MIN);
		h->version_max = nc2_get_le16(b + NC2_HELLO_OFF_VERSION_MAX);
		/* Unknown feature bits are a newer peer's offer, not an error. */
		h->features = nc2_get_le32(b + NC2_HELLO_OFF_FEATURES) & NC2_FEATURE_ALL;
		h->max_rx_queues = nc2_get_le16(b + NC2_HELLO_OFF_MAX_RX_QUEUES);
		if (nc2_get_le16(b + NC2_HELLO_OFF_RSVD))
			return NC2_ERR_PEER_RESERVED;
		if (h->version_min == 0 || h->version_min > h->version_max ||
		    h->max_rx_queues == 0 || h->max_rx_queues > NC2_MAX_RX_QUEUES)
			return NC2_ERR_PEER_BAD_VALUE;
		return NC2_OK;
	}
	case NC2_MSG_MCAST:
		memcpy(m->u.mcast.mac, b + NC2_MCAST_OFF_MAC, 6);
		m->u.mcast.op = b[NC2_MCAST_OFF_OP];
		if (b[NC2_MCAST_OFF_RSVD8] || nc2_get_le32(b + NC2_MCAST_OFF_RSVD32))
			return NC2_ERR_PEER_RESERVED;
		if (!(m->u.mcast.mac[0] & 1) ||
		    (m->u.mcast.op != NC2_MCAST_OP_ADD && m->u.mcast.op != NC2_MCAST_OP_DEL))
			return NC2_ERR_PEER_BAD_VALUE;
		return NC2_OK;
	default: /* the single-u32 messages */
		m->u.value = nc2_get_le32(b + NC2_U32_MSG_OFF_VALUE);
		if (m->type == NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET &&
		    (m->u.value == 0 || m->u.value > NC2_MAX_FRAGS_LIMIT))
			return NC2_ERR_PEER_BAD_VALUE;
		if (m->type == NC2_MSG_BYPASS_READY && m->u.value != 0)
			return NC2_ERR_PEER_RESERVED;
		if (m->type == NC2_MSG_RECLAIM_BUFFERS && m->u.value >= NC2_MAX_RX_QUEUES &&
		    m->u.value != NC2_RECLAIM_ALL)
			return NC2_ERR_PEER_BAD_VALUE;
		return NC2_OK;
	}
}

int nc2_msg_decode(nc2_msg *m, const uint8_t *buf, size_t len)
{
	if (m == NULL || buf == NULL || len < NC2_HDR_SIZE)
		return NC2_ERR_INVALID_ARG;
	m->type = buf[NC2_HDR_OFF_TYPE];
	m->flags = buf[NC2_HDR_OFF_FLAGS];
	m->size = nc2_get_le16(buf + NC2_HDR_OFF_SIZE);
	if (m->size < NC2_MSG_MIN_SIZE || (m->size % NC2_MSG_ALIGN) != 0 || m->size > len)
		return NC2_ERR_PEER_MSG_SIZE;
	/* The common case first; the checks below would pass PACKET's type
	 * and send it to decode_packet after the same flags check. */
	if (m->type == NC2_MSG_PACKET) {
		if (m->flags != 0)
			return NC2_ERR_PEER_RESERVED;
		return decode_packet(&m->u.packet, buf, m->size);
	}
	if (msg_size[m->type] == 0)
		return NC2_ERR_PEER_MSG_TYPE;
	if (m->flags != 0)
		return NC2_ERR_PEER_RESERVED;

	uint32_t want = fixed_size(m->type);
	if (want != 0) {
		if (m->size != want)
			return NC2_ERR_PEER_MSG_SIZE;
		return decode_fixed(m, buf);
	}
	switch (m->type) {
	case NC2_MSG_PACKET:
		return decode_packet(&m->u.packet, buf, m->size);
	case NC2_MSG_POST_BUFFERS:
		return decode_post(&m->u.post, buf, m->size);
	case NC2_MSG_RETURN_BUFFERS:
	case NC2_MSG_FINISH_PACKETS: /* same layout */
		return decode_return(&m->u.ret, buf, m->size);
	case NC2_MSG_SMALL_PACKETS:
		return decode_smalls(&m->u.smalls, buf, m->size);
	case NC2_MSG_POSTED_PACKETS:
		return decode_posteds(&m->u.posteds, buf, m->size);
	case NC2_MSG_BYPASS_FRONTEND:
	case NC2_MSG_BYPASS_BACKEND:
		return decode_bypass(&m->u.bypass, m->type, buf, m->size);
	default: /* PAD: the body is filler and is never read */
		return NC2_OK;
	}
}

/* Every encoder finishes by decoding its own output, so the library cannot
 * emit a message that a conforming receiver (itself included) rejects. */
static int self_check(uint8_t *buf, uint32_t size)
{
	nc2_msg chk;

	return nc2_msg_decode(&chk, buf, size) == NC2_OK ? (int)size : NC2_ERR_INVALID_ARG;
}

static void put_hdr(uint8_t *buf, uint8_t type, uint32_t size)
{
	buf[NC2_HDR_OFF_TYPE] = type;
	buf[NC2_HDR_OFF_FLAGS] = 0;
	nc2_put_le16(buf + NC2_HDR_OFF_SIZE, (uint16_t)size);
}

int nc2_msg_encode(const nc2_msg *m, uint8_t *buf, size_t cap)
{
	if (m == NULL || buf == NULL)
		return NC2_ERR_INVALID_ARG;
	uint32_t size = fixed_size(m->type);
	if (m->type == NC2_MSG_PAD) {
		if (m->size < NC2_MSG_MIN_SIZE || m->size % NC2_MSG_ALIGN)
			return NC2_ERR_INVALID_ARG;
		size = m->size;
	}
	if (size == 0 || m->flags != 0)
		return NC2_ERR_INVALID_ARG;
	if (cap < size)
		return NC2_ERR_NOSPACE;

	memset(buf, 0, size);
	put_hdr(buf, m->type, size);
	switch (m->type) {
	case NC2_MSG_PAD:
		return (int)size;
	case NC2_MSG_SET_OFFLOAD:
		buf[NC2_SET_OFFLOAD_OFF_CSUM] = m->u.offload.csum;
		buf[NC2_SET_OFFLOAD_OFF_TSO4] = m->u.offload.tso4;
		buf[NC2_SET_OFFLOAD_OFF_TSO6] = m->u.offload.tso6;
		buf[NC2_SET_OFFLOAD_OFF_LRO] = m->u.offload.lro;
		break;
	case NC2_MSG_CREATE_RX_QUEUE:
		buf[NC2_RXQ_OFF_QUEUE] = m->u.rxq.queue;
		buf[NC2_RXQ_OFF_FLAGS] = m->u.rxq.flags;
		nc2_put_le16(buf + NC2_RXQ_OFF_VLAN, m->u.rxq.vlan);
		nc2_put_le32(buf + NC2_RXQ_OFF_BUF_SIZE, m->u.rxq.buf_size);
		memcpy(buf + NC2_RXQ_OFF_MAC, m->u.rxq.mac, 6);
		break;
	case NC2_MSG_SUGGEST_BYPASS:
		memcpy(buf + NC2_SUGGEST_OFF_MAC, m->u.suggest_mac, 6);
		break;
	case NC2_MSG_HELLO:
		if (m->u.hello.features & ~NC2_FEATURE_ALL)
			return NC2_ERR_INVALID_ARG;
		nc2_put_le16(buf + NC2_HELLO_OFF_VERSION_MIN, m->u.hello.version_min);
		nc2_put_le16(buf + NC2_HELLO_OFF_VERSION_MAX, m->u.hello.version_max);
		nc2_put_le32(buf + NC2_HELLO_OFF_FEATURES, m->u.hello.features);
		nc2_put_le16(buf + NC2_HELLO_OFF_MAX_RX_QUEUES, m->u.hello.max_rx_queues);
		break;
	case NC2_MSG_MCAST:
		memcpy(buf + NC2_MCAST_OFF_MAC, m->u.mcast.mac, 6);
		buf[NC2_MCAST_OFF_OP] = m->u.mcast.op;
		break;
	default:
		nc2_put_le32(buf + NC2_U32_MSG_OFF_VALUE, m->u.value);
		break;
	}
	return self_check(buf, size);
}

uint32_t nc2_packet_msg_size(uint32_t nr_frags, uint32_t prefix_size)
{
	return packet_msg_size(nr_frags, prefix_size);
}

/* Hot path: PACKET is checked field by field instead of by self_check. */
int nc2_packet_encode(uint8_t *buf, size_t cap, const struct nc2_msg_packet *p,
		      const nc2_frag *frags, const uint8_t *prefix)
{
	if (buf == NULL || p == NULL || (p->nr_frags && frags == NULL) ||
	    (p->prefix_size && prefix == NULL))
		return NC2_ERR_INVALID_ARG;
	uint32_t size = packet_msg_size(p->nr_frags, p->prefix_size);
	if (size == 0)
		return NC2_ERR_INVALID_ARG;
	if (cap < size)
		return NC2_ERR_NOSPACE;

	put_hdr(buf, NC2_MSG_PACKET, size);
	nc2_put_le32(buf + NC2_PACKET_OFF_ID, p->id);
	buf[NC2_PACKET_OFF_TYPE] = p->type;
	buf[NC2_PACKET_OFF_FLAGS] = p->flags;
	buf[NC2_PACKET_OFF_SEG_TYPE] = p->seg_type;
	buf[NC2_PACKET_OFF_RSVD8] = 0;
	nc2_put_le16(buf + NC2_PACKET_OFF_PREFIX_SIZE, p->prefix_size);
	nc2_put_le16(buf + NC2_PACKET_OFF_MSS, p->mss);
	nc2_put_le16(buf + NC2_PACKET_OFF_CSUM_START, p->csum_start);
	nc2_put_le16(buf + NC2_PACKET_OFF_CSUM_OFFSET, p->csum_offset);
	nc2_put_le32(buf + NC2_PACKET_OFF_RSVD32, 0);

	uint8_t *f = buf + NC2_PACKET_OFF_FRAGS;
	for (uint32_t i = 0; i < p->nr_frags; i++, f += NC2_FRAG_SIZE) {
		/* The offset shares its octets with flag bits: keep it in range. */
		if (frags[i].off > NC2_FRAG_OFFSET_MASK || (frags[i].flags & ~NC2_FRAG_STICKY))
			return NC2_ERR_INVALID_ARG;
		uint16_t of = frags[i].off;
		if (frags[i].flags & NC2_FRAG_STICKY)
			of |= NC2_FRAG_WIRE_STICKY;
		nc2_put_le16(f + NC2_FRAG_OFF_SIZE, frags[i].size);
		nc2_put_le16(f + NC2_FRAG_OFF_OFFSET, of);
		nc2_put_le32(f + NC2_FRAG_OFF_REF, frags[i].ref);
	}
	if (p->prefix_size) {
		/* The prefix ends the message: zero its last 8 octets, which
		 * hold all 0..7 octets of padding, then copy the prefix over
		 * the rest. f + room == buf + size <= buf + cap. */
		uint32_t room = nc2_round8(p->prefix_size);
		memset(f + room - 8u, 0, 8);
		memcpy(f, prefix, p->prefix_size);
	}
	return (int)size;
}

void nc2_packet_frag(const nc2_msg *m, uint32_t i, nc2_frag *f)
{
	const uint8_t *w = m->u.packet.frags + (size_t)i * NC2_FRAG_SIZE;
	uint16_t of = nc2_get_le16(w + NC2_FRAG_OFF_OFFSET);

	f->size = nc2_get_le16(w + NC2_FRAG_OFF_SIZE);
	f->off = (uint16_t)(of & NC2_FRAG_OFFSET_MASK);
	f->flags = (of & NC2_FRAG_WIRE_STICKY) ? NC2_FRAG_STICKY : 0;
	f->ref = nc2_get_le32(w + NC2_FRAG_OFF_REF);
}

int nc2_post_encode(uint8_t *buf, size_t cap, uint8_t queue, const nc2_post_buf *bufs, uint32_t n)
{
	if (buf == NULL || bufs == NULL || n == 0 || n > NC2_POST_MAX_COUNT)
		return NC2_ERR_INVALID_ARG;
	uint32_t size = NC2_POST_OFF_ENTRIES + n * NC2_POST_ENTRY_SIZE;
	if (cap < size)
		return NC2_ERR_NOSPACE;

	/* Hot path (every re-post): the decoder's entry rules on the input
	 * instead of a self_check; count and size hold by construction. */
	for (uint32_t i = 0; i < n; i++)
		if (post_buf_rules(bufs[i].offset, bufs[i].length, bufs[i].flags) != NC2_OK)
			return NC2_ERR_INVALID_ARG;
	post_hdr_put(buf, size, queue, n);
	for (uint32_t i = 0; i < n; i++)
		post_entry_put(buf + NC2_POST_OFF_ENTRIES + i * NC2_POST_ENTRY_SIZE, &bufs[i]);
	return (int)size;
}

void nc2_post_entry(const nc2_msg *m, uint32_t i, nc2_post_buf *b)
{
	post_entry_get(m, i, b);
}

/* RETURN_BUFFERS and FINISH_PACKETS: count, reserved, ids, zero pad. */
static int id_list_encode(uint8_t *buf, size_t cap, uint8_t type, const uint32_t *ids, uint32_t n)
{
	if (buf == NULL || ids == NULL || n == 0 || n > NC2_RETURN_MAX_COUNT)
		return NC2_ERR_INVALID_ARG;
	uint32_t used = NC2_RETURN_OFF_IDS + 4u * n;
	uint32_t size = nc2_round8(used);
	if (cap < size)
		return NC2_ERR_NOSPACE;

	put_hdr(buf, type, size);
	nc2_put_le16(buf + NC2_RETURN_OFF_COUNT, (uint16_t)n);
	nc2_put_le16(buf + NC2_RETURN_OFF_RSVD, 0);
	for (uint32_t i = 0; i < n; i++)
		nc2_put_le32(buf + NC2_RETURN_OFF_IDS + 4u * i, ids[i]);
	memset(buf + used, 0, size - used);
	return (int)size;
}

int nc2_return_encode(uint8_t *buf, size_t cap, const uint32_t *ids, uint32_t n)
{
	return id_list_encode(buf, cap, NC2_MSG_RETURN_BUFFERS, ids, n);
}

int nc2_finish_encode(uint8_t *buf, size_t cap, const uint32_t *ids, uint32_t n)
{
	return id_list_encode(buf, cap, NC2_MSG_FINISH_PACKETS, ids, n);
}

int nc2_smalls_encode(uint8_t *buf, size_t cap, const nc2_small *e, uint32_t n)
{
	if (buf == NULL || e == NULL || n == 0 || n > 0xffffu)
		return NC2_ERR_INVALID_ARG;
	uint32_t size = NC2_SMALLS_OFF_ENTRIES;
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].len == 0 || e[i].len > NC2_MAX_INLINE_BYTES || e[i].data == NULL)
			return NC2_ERR_INVALID_ARG;
		size += NC2_SMALL_ENT_SIZE(e[i].len);
		if (size > NC2_MSG_MAX_SIZE)
			return NC2_ERR_INVALID_ARG;
	}
	if (cap < size)
		return NC2_ERR_NOSPACE;
	batch_hdr_put(buf, NC2_MSG_SMALL_PACKETS, size, n);
	uint8_t *at = buf + NC2_SMALLS_OFF_ENTRIES;
	for (uint32_t i = 0; i < n; i++)
		at += small_entry_put(at, &e[i]);
	return self_check(buf, size);
}

uint32_t nc2_small_entry(const nc2_msg *m, uint32_t off, nc2_small *e)
{
	return off + small_entry_get(m->u.smalls.entries + off, e);
}

int nc2_posteds_encode(uint8_t *buf, size_t cap, const nc2_posted *e, uint32_t n)
{
	if (buf == NULL || e == NULL || n == 0 || n > NC2_POSTED_MAX_COUNT)
		return NC2_ERR_INVALID_ARG;
	uint32_t size = NC2_POSTEDS_OFF_ENTRIES + n * NC2_POSTED_ENT_SIZE;
	if (cap < size)
		return NC2_ERR_NOSPACE;
	batch_hdr_put(buf, NC2_MSG_POSTED_PACKETS, size, n);
	for (uint32_t i = 0; i < n; i++)
		posted_entry_put(buf + NC2_POSTEDS_OFF_ENTRIES + i * NC2_POSTED_ENT_SIZE, &e[i]);
	return self_check(buf, size);
}

void nc2_posted_entry(const nc2_msg *m, uint32_t i, nc2_posted *e)
{
	posted_entry_get(m->u.posteds.entries + (size_t)i * NC2_POSTED_ENT_SIZE, e);
}

uint32_t nc2_return_id(const nc2_msg *m, uint32_t i)
{
	return nc2_get_le32(m->u.ret.ids + (size_t)i * 4u);
}

int nc2_bypass_encode(uint8_t *buf, size_t cap, uint8_t type, const struct nc2_msg_bypass *b,
		      const uint32_t *prod, const uint32_t *cons)
{
	if (buf == NULL || b == NULL || prod == NULL || cons == NULL ||
	    (type != NC2_MSG_BYPASS_FRONTEND && type != NC2_MSG_BYPASS_BACKEND) ||
	    b->ring_pages == 0 || b->ring_pages > NC2_BYPASS_MAX_RING_PAGES)
		return NC2_ERR_INVALID_ARG;
	uint32_t size = NC2_BYPASS_OFF_GREFS + 8u * b->ring_pages;
	if (cap < size)
		return NC2_ERR_NOSPACE;

	put_hdr(buf, type, size);
	nc2_put_le32(buf + NC2_BYPASS_OFF_PORT, b->port);
	nc2_put_le16(buf + NC2_BYPASS_OFF_RING_DOMID, b->ring_domid);
	nc2_put_le16(buf + NC2_BYPASS_OFF_PEER_DOMID, b->peer_domid);
	nc2_put_le32(buf + NC2_BYPASS_OFF_HANDLE, b->handle);
	memcpy(buf + NC2_BYPASS_OFF_MAC, b->remote_mac, 6);
	buf[NC2_BYPASS_OFF_TRUSTED] = b->peer_trusted;
	buf[NC2_BYPASS_OFF_PAGES] = b->ring_pages;
	nc2_put_le32(buf + NC2_BYPASS_OFF_CONTROL_GREF, b->control_gref);
	nc2_put_le32(buf + NC2_BYPASS_OFF_PAD, 0);
	for (uint32_t i = 0; i < b->ring_pages; i++) {
		nc2_put_le32(buf + NC2_BYPASS_OFF_GREFS + 4u * i, prod[i]);
		nc2_put_le32(buf + NC2_BYPASS_OFF_GREFS + 4u * (b->ring_pages + i), cons[i]);
	}
	return self_check(buf, size);
}

uint32_t nc2_bypass_gref(const nc2_msg *m, int cons, uint32_t i)
{
	uint32_t idx = cons ? m->u.bypass.ring_pages + i : i;

	return nc2_get_le32(m->u.bypass.grefs + (size_t)idx * 4u);
}
