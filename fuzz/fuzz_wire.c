/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for nc2/wire.h: nc2_msg_decode() and the encoders.
 *
 * For every input:
 *  - an independent reference checker (written from docs/PROTOCOL.md and the
 *    layouts in wire.h, not from lib/wire.c) works out which decode rules the
 *    input breaks. Decode must succeed exactly when it breaks none, and a
 *    failure must report the code of a rule that is really broken;
 *  - a decoded message never claims more octets than it was given, and its
 *    pointers stay inside them;
 *  - re-encoding the decoded struct with the encoder for its type reproduces
 *    the input's first m.size octets (the encoding is canonical), except the
 *    PAD body (ignored, written as zero) and unknown HELLO feature bits
 *    (dropped on decode);
 *  - encoding into one octet less than needed fails with NC2_ERR_NOSPACE
 *    without writing past the buffer;
 *  - independently of the decode, the same octets are read as arguments to
 *    nc2_packet_msg_size() and nc2_packet_encode() (the one encoder without
 *    a built-in self-check), whose output must decode to those arguments.
 * The input buffer is libFuzzer's (or replay_main's) private, exactly-sized
 * allocation, so ASan catches any read past its end.
 */
#include <string.h>

#include <nc2/wire.h>

#include "fuzz.h"

/* ---- reference decode checker ----------------------------------------- */

#define B(code) fz_code_bit(code)

/*
 * Codes of broken rules. A rule goes to `must` when it concerns octets of a
 * well-framed message; to `may` when the message is already broken (bad size
 * for its type) and the field lies outside what the decoder is obliged to
 * look at, or when the rule is a channel rule a decoder may also apply.
 */
struct ref {
	uint64_t must;
	uint64_t may;
};

struct view {
	const uint8_t *b;
	size_t avail; /* octets a field must lie within to be examined */
	int strict;   /* 1: framing is valid, broken rules are certain */
	struct ref *r;
};

static int has(const struct view *v, size_t off, size_t width)
{
	return off + width <= v->avail;
}

static void broken(const struct view *v, int code)
{
	if (v->strict)
		v->r->must |= B(code);
	else
		v->r->may |= B(code);
}

static void rsvd8(const struct view *v, size_t off)
{
	if (has(v, off, 1) && v->b[off] != 0)
		broken(v, NC2_ERR_PEER_RESERVED);
}

static void rsvd16(const struct view *v, size_t off)
{
	if (has(v, off, 2) && fz_le16(v->b + off) != 0)
		broken(v, NC2_ERR_PEER_RESERVED);
}

static void rsvd32(const struct view *v, size_t off)
{
	if (has(v, off, 4) && fz_le32(v->b + off) != 0)
		broken(v, NC2_ERR_PEER_RESERVED);
}

static void bool8(const struct view *v, size_t off)
{
	if (has(v, off, 1) && v->b[off] > 1)
		broken(v, NC2_ERR_PEER_BAD_VALUE);
}

static size_t fixed_size(uint8_t t)
{
	switch (t) {
	case NC2_MSG_SET_MAX_PACKETS:
	case NC2_MSG_FINISH_PACKET:
	case NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET:
	case NC2_MSG_BYPASS_FRONTEND_READY:
	case NC2_MSG_BYPASS_READY:
	case NC2_MSG_BYPASS_DISABLE:
	case NC2_MSG_BYPASS_DISABLED:
	case NC2_MSG_BYPASS_DETACH:
	case NC2_MSG_BYPASS_DETACHED:
	case NC2_MSG_SET_GRANT_CACHE:
	case NC2_MSG_UNGRANT:
	case NC2_MSG_UNGRANT_ACK:
	case NC2_MSG_RECLAIM_BUFFERS:
		return NC2_U32_MSG_SIZE;
	case NC2_MSG_SET_OFFLOAD:
		return NC2_SET_OFFLOAD_SIZE;
	case NC2_MSG_CREATE_RX_QUEUE:
		return NC2_CREATE_RX_QUEUE_SIZE;
	case NC2_MSG_SUGGEST_BYPASS:
		return NC2_SUGGEST_BYPASS_SIZE;
	case NC2_MSG_HELLO:
		return NC2_HELLO_SIZE;
	case NC2_MSG_MCAST:
		return NC2_MCAST_SIZE;
	default:
		return 0; /* variable size, PAD or unknown */
	}
}

static int known_type(uint8_t t)
{
	return (t >= NC2_MSG_SET_MAX_PACKETS && t <= NC2_MSG_POSTED_PACKETS) || t == NC2_MSG_PAD;
}

/* Size rule of a variable type broken: the body is examined loosely. */
static void bad_size(struct view *v, size_t len)
{
	broken(v, NC2_ERR_PEER_MSG_SIZE);
	v->strict = 0;
	v->avail = len;
}

static void ref_packet(struct view *v, size_t len, uint32_t sz)
{
	if (sz < NC2_PACKET_FIXED_SIZE)
		bad_size(v, len);
	rsvd8(v, NC2_PACKET_OFF_RSVD8);
	rsvd32(v, NC2_PACKET_OFF_RSVD32);
	if (!has(v, NC2_PACKET_OFF_PREFIX_SIZE, 2))
		return;
	uint32_t prefix = fz_le16(v->b + NC2_PACKET_OFF_PREFIX_SIZE);
	if (prefix > NC2_MAX_INLINE_BYTES)
		broken(v, NC2_ERR_PEER_PACKET_SIZE);
	if (!v->strict)
		return; /* no trustworthy layout for fragments and padding */
	if (fz_round8(prefix) > sz - NC2_PACKET_FIXED_SIZE) {
		broken(v, NC2_ERR_PEER_MSG_SIZE);
		return;
	}
	/* Layout known. With an oversized prefix the rest is examined loosely. */
	if (prefix > NC2_MAX_INLINE_BYTES)
		v->strict = 0;
	uint32_t nr = (sz - NC2_PACKET_FIXED_SIZE - fz_round8(prefix)) / NC2_FRAG_SIZE;
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *f = v->b + NC2_PACKET_OFF_FRAGS + NC2_FRAG_SIZE * i;
		if (fz_le16(f + NC2_FRAG_OFF_OFFSET) & NC2_FRAG_RSVD_MASK)
			broken(v, NC2_ERR_PEER_RESERVED);
	}
	uint32_t p0 = NC2_PACKET_OFF_FRAGS + NC2_FRAG_SIZE * nr;
	for (uint32_t i = p0 + prefix; i < p0 + fz_round8(prefix); i++)
		if (v->b[i] != 0)
			broken(v, NC2_ERR_PEER_RESERVED);
}

static void ref_post(struct view *v, size_t len, uint32_t sz)
{
	rsvd8(v, NC2_POST_OFF_RSVD);
	uint32_t count = fz_le16(v->b + NC2_POST_OFF_COUNT); /* sz >= 8 here */
	if (count < 1)
		broken(v, NC2_ERR_PEER_BAD_VALUE);
	if (sz != NC2_POST_OFF_ENTRIES + NC2_POST_ENTRY_SIZE * count)
		bad_size(v, len);
	for (uint32_t i = 0; i < count; i++) {
		size_t off = NC2_POST_OFF_ENTRIES + (size_t)NC2_POST_ENTRY_SIZE * i;
		if (!has(v, off, NC2_POST_ENTRY_SIZE))
			break;
		const uint8_t *e = v->b + off;
		uint32_t eoff = fz_le16(e + NC2_POST_ENTRY_OFF_OFFSET);
		uint32_t elen = fz_le16(e + NC2_POST_ENTRY_OFF_LENGTH);
		if (elen < 1 || eoff + elen > NC2_PAGE_SIZE)
			broken(v, NC2_ERR_PEER_BAD_FRAG);
		if (fz_le16(e + NC2_POST_ENTRY_OFF_FLAGS) & ~NC2_POST_FLAGS_KNOWN)
			broken(v, NC2_ERR_PEER_RESERVED);
		rsvd16(v, off + NC2_POST_ENTRY_OFF_RSVD);
	}
}

static void ref_return(struct view *v, size_t len, uint32_t sz)
{
	uint32_t count = fz_le16(v->b + NC2_RETURN_OFF_COUNT);
	if (count < 1)
		broken(v, NC2_ERR_PEER_BAD_VALUE);
	rsvd16(v, NC2_RETURN_OFF_RSVD);
	uint32_t end = NC2_RETURN_OFF_IDS + 4u * count;
	if (sz != fz_round8(end))
		bad_size(v, len);
	if (count & 1u)
		rsvd32(v, end);
}

/* SMALL_PACKETS: entries walked in order, as far as their layout is known. */
static void ref_smalls(struct view *v, uint32_t sz)
{
	if (has(v, NC2_SMALLS_OFF_COUNT, 2) && fz_le16(v->b + NC2_SMALLS_OFF_COUNT) < 1)
		broken(v, NC2_ERR_PEER_BAD_VALUE);
	rsvd16(v, NC2_SMALLS_OFF_RSVD);
	if (!v->strict)
		return; /* no framing: the entries cannot be located */
	uint32_t count = fz_le16(v->b + NC2_SMALLS_OFF_COUNT), at = NC2_SMALLS_OFF_ENTRIES;
	for (uint32_t i = 0; i < count; i++) {
		if (sz - at < NC2_SMALL_ENT_HDR) {
			broken(v, NC2_ERR_PEER_MSG_SIZE);
			return;
		}
		const uint8_t *e = v->b + at;
		if (e[NC2_SMALL_ENT_OFF_RSVD] != 0)
			broken(v, NC2_ERR_PEER_RESERVED);
		uint32_t n = fz_le16(e + NC2_SMALL_ENT_OFF_LEN);
		if (n < 1 || n > NC2_MAX_INLINE_BYTES) {
			broken(v, NC2_ERR_PEER_BAD_VALUE);
			return;
		}
		uint32_t esz = NC2_SMALL_ENT_HDR + fz_round8(n);
		if (sz - at < esz) {
			broken(v, NC2_ERR_PEER_MSG_SIZE);
			return;
		}
		for (uint32_t k = NC2_SMALL_ENT_HDR + n; k < esz; k++)
			if (e[k] != 0)
				broken(v, NC2_ERR_PEER_RESERVED);
		at += esz;
	}
	if (at != sz)
		broken(v, NC2_ERR_PEER_MSG_SIZE);
}

/* POSTED_PACKETS: a fixed-size entry each; len and flags are the
 * channel's to check. */
static void ref_posteds(struct view *v, size_t len, uint32_t sz)
{
	uint32_t count = fz_le16(v->b + NC2_POSTEDS_OFF_COUNT); /* sz >= 8 here */
	if (count < 1)
		broken(v, NC2_ERR_PEER_BAD_VALUE);
	rsvd16(v, NC2_POSTEDS_OFF_RSVD);
	if (sz != NC2_POSTEDS_OFF_ENTRIES + NC2_POSTED_ENT_SIZE * count)
		bad_size(v, len);
	for (uint32_t i = 0; i < count; i++)
		rsvd8(v, NC2_POSTEDS_OFF_ENTRIES + (size_t)NC2_POSTED_ENT_SIZE * i +
			     NC2_POSTED_ENT_OFF_RSVD);
}

static void ref_bypass(struct view *v, size_t len, uint8_t t, uint32_t sz)
{
	if (t == NC2_MSG_BYPASS_FRONTEND)
		rsvd32(v, NC2_BYPASS_OFF_PORT);
	uint32_t pages = has(v, NC2_BYPASS_OFF_PAGES, 1) ? v->b[NC2_BYPASS_OFF_PAGES] : 0;
	if (sz < NC2_BYPASS_OFF_GREFS || sz != NC2_BYPASS_OFF_GREFS + 8u * pages)
		bad_size(v, len);
	if (has(v, NC2_BYPASS_OFF_PAGES, 1)) {
		pages = v->b[NC2_BYPASS_OFF_PAGES];
		if (pages < 1 || pages > NC2_BYPASS_MAX_RING_PAGES)
			broken(v, NC2_ERR_PEER_BAD_VALUE);
	}
	bool8(v, NC2_BYPASS_OFF_TRUSTED);
	rsvd32(v, NC2_BYPASS_OFF_PAD);
}

static void ref_fixed(struct view *v, uint8_t t)
{
	const uint8_t *b = v->b;

	switch (t) {
	case NC2_MSG_SET_OFFLOAD:
		bool8(v, NC2_SET_OFFLOAD_OFF_CSUM);
		bool8(v, NC2_SET_OFFLOAD_OFF_TSO4);
		bool8(v, NC2_SET_OFFLOAD_OFF_TSO6);
		bool8(v, NC2_SET_OFFLOAD_OFF_LRO);
		break;
	case NC2_MSG_SET_MAX_FRAGMENTS_PER_PACKET:
		if (has(v, 4, 4) && (fz_le32(b + 4) < 1 || fz_le32(b + 4) > NC2_MAX_FRAGS_LIMIT))
			broken(v, NC2_ERR_PEER_BAD_VALUE);
		break;
	case NC2_MSG_BYPASS_READY:
		rsvd32(v, NC2_U32_MSG_OFF_VALUE);
		break;
	case NC2_MSG_RECLAIM_BUFFERS:
		if (has(v, 4, 4) && fz_le32(b + 4) >= NC2_MAX_RX_QUEUES &&
		    fz_le32(b + 4) != NC2_RECLAIM_ALL)
			broken(v, NC2_ERR_PEER_BAD_VALUE);
		break;
	case NC2_MSG_CREATE_RX_QUEUE:
		/* queue < negotiated max_rx_queues is a channel rule; a decoder may
		 * also reject a queue no HELLO can allow. */
		if (has(v, NC2_RXQ_OFF_QUEUE, 1) && b[NC2_RXQ_OFF_QUEUE] >= NC2_MAX_RX_QUEUES)
			v->r->may |= B(NC2_ERR_PEER_BAD_VALUE);
		if (has(v, NC2_RXQ_OFF_FLAGS, 1) && (b[NC2_RXQ_OFF_FLAGS] & ~NC2_RXQ_FLAGS_KNOWN))
			broken(v, NC2_ERR_PEER_RESERVED);
		if (has(v, NC2_RXQ_OFF_VLAN, 2) && fz_le16(b + NC2_RXQ_OFF_VLAN) > NC2_VLAN_MAX)
			broken(v, NC2_ERR_PEER_BAD_VALUE);
		if (has(v, NC2_RXQ_OFF_BUF_SIZE, 4)) {
			uint32_t bs = fz_le32(b + NC2_RXQ_OFF_BUF_SIZE);
			if (bs < NC2_MIN_RX_BUF_SIZE || bs > NC2_PAGE_SIZE)
				broken(v, NC2_ERR_PEER_BAD_VALUE);
		}
		if (has(v, NC2_RXQ_OFF_MAC, 6) && (b[NC2_RXQ_OFF_MAC] & 1u))
			broken(v, NC2_ERR_PEER_BAD_VALUE); /* multicast; all-zero passes */
		rsvd16(v, NC2_RXQ_OFF_RSVD16);
		rsvd32(v, NC2_RXQ_OFF_RSVD32);
		break;
	case NC2_MSG_SUGGEST_BYPASS:
		rsvd16(v, NC2_SUGGEST_OFF_PAD1);
		rsvd32(v, NC2_SUGGEST_OFF_PAD2);
		break;
	case NC2_MSG_HELLO:
		if (has(v, NC2_HELLO_OFF_VERSION_MIN, 4)) {
			uint16_t vmin = fz_le16(b + NC2_HELLO_OFF_VERSION_MIN);
			uint16_t vmax = fz_le16(b + NC2_HELLO_OFF_VERSION_MAX);
			if (vmin < 1 || vmin > vmax)
				broken(v, NC2_ERR_PEER_BAD_VALUE);
		}
		if (has(v, NC2_HELLO_OFF_MAX_RX_QUEUES, 2)) {
			uint16_t q = fz_le16(b + NC2_HELLO_OFF_MAX_RX_QUEUES);
			if (q < 1 || q > NC2_MAX_RX_QUEUES)
				broken(v, NC2_ERR_PEER_BAD_VALUE);
		}
		rsvd16(v, NC2_HELLO_OFF_RSVD);
		break;
	case NC2_MSG_MCAST:
		if (has(v, NC2_MCAST_OFF_MAC, 1) && !(b[NC2_MCAST_OFF_MAC] & 1u))
			broken(v, NC2_ERR_PEER_BAD_VALUE);
		if (has(v, NC2_MCAST_OFF_OP, 1) && b[NC2_MCAST_OFF_OP] != NC2_MCAST_OP_ADD &&
		    b[NC2_MCAST_OFF_OP] != NC2_MCAST_OP_DEL)
			broken(v, NC2_ERR_PEER_BAD_VALUE);
		rsvd8(v, NC2_MCAST_OFF_RSVD8);
		rsvd32(v, NC2_MCAST_OFF_RSVD32);
		break;
	default:
		break; /* u32 messages with any value */
	}
}

static struct ref ref_decode(const uint8_t *b, size_t len)
{
	struct ref r = {0, 0};

	if (len < NC2_MSG_MIN_SIZE) {
		/* wire.h documents INVALID_ARG for len < 8; with a whole header
		 * present its size field is necessarily wrong too. */
		r.must = B(NC2_ERR_INVALID_ARG);
		if (len >= NC2_HDR_SIZE)
			r.may = B(NC2_ERR_PEER_MSG_SIZE);
		return r;
	}
	uint8_t t = b[NC2_HDR_OFF_TYPE];
	uint32_t sz = fz_le16(b + NC2_HDR_OFF_SIZE);
	struct view v = {b, sz, 1, &r};

	if (b[NC2_HDR_OFF_FLAGS] != 0)
		r.must |= B(NC2_ERR_PEER_RESERVED);
	if (sz < NC2_MSG_MIN_SIZE || sz % NC2_MSG_ALIGN != 0 || sz > len) {
		r.must |= B(NC2_ERR_PEER_MSG_SIZE);
		v.strict = 0;
		v.avail = len;
		sz = 0; /* no framing: only loose checks below */
	}
	if (!known_type(t)) {
		r.must |= B(NC2_ERR_PEER_MSG_TYPE);
		return r;
	}
	size_t fixed = fixed_size(t);
	if (fixed != 0) {
		if (sz != fixed)
			bad_size(&v, len);
		ref_fixed(&v, t);
		return r;
	}
	switch (t) {
	case NC2_MSG_PACKET:
		ref_packet(&v, len, sz);
		break;
	case NC2_MSG_POST_BUFFERS:
		ref_post(&v, len, sz);
		break;
	case NC2_MSG_RETURN_BUFFERS:
	case NC2_MSG_FINISH_PACKETS: /* same layout */
		ref_return(&v, len, sz);
		break;
	case NC2_MSG_SMALL_PACKETS:
		ref_smalls(&v, sz);
		break;
	case NC2_MSG_POSTED_PACKETS:
		ref_posteds(&v, len, sz);
		break;
	case NC2_MSG_BYPASS_FRONTEND:
	case NC2_MSG_BYPASS_BACKEND:
		ref_bypass(&v, len, t, sz);
		break;
	default:
		break; /* PAD: any framed size */
	}
	return r;
}

/* ---- round trip -------------------------------------------------------- */

/* Encode \p m into exactly \p cap octets of fresh heap memory (so ASan sees
 * any write past cap); returns the encoder's result, output in *out. */
static int encode(const nc2_msg *m, size_t cap, uint8_t **out)
{
	uint8_t *buf = malloc(cap ? cap : 1);
	int rc = NC2_ERR_INVALID_ARG;

	FUZZ_CHECK(buf != NULL);
	switch (m->type) {
	case NC2_MSG_PACKET: {
		const struct nc2_msg_packet *p = &m->u.packet;
		nc2_frag *frags = malloc(sizeof(*frags) * (p->nr_frags ? p->nr_frags : 1u));
		FUZZ_CHECK(frags != NULL);
		for (uint32_t i = 0; i < p->nr_frags; i++)
			nc2_packet_frag(m, i, &frags[i]);
		rc = nc2_packet_encode(buf, cap, p, frags, p->prefix);
		free(frags);
		break;
	}
	case NC2_MSG_POST_BUFFERS: {
		nc2_post_buf *bufs =
		    malloc(sizeof(*bufs) * (m->u.post.count ? m->u.post.count : 1u));
		FUZZ_CHECK(bufs != NULL);
		for (uint32_t i = 0; i < m->u.post.count; i++)
			nc2_post_entry(m, i, &bufs[i]);
		rc = nc2_post_encode(buf, cap, m->u.post.queue, bufs, m->u.post.count);
		free(bufs);
		break;
	}
	case NC2_MSG_RETURN_BUFFERS:
	case NC2_MSG_FINISH_PACKETS: {
		uint32_t *ids = malloc(sizeof(*ids) * (m->u.ret.count ? m->u.ret.count : 1u));
		FUZZ_CHECK(ids != NULL);
		for (uint32_t i = 0; i < m->u.ret.count; i++)
			ids[i] = nc2_return_id(m, i);
		rc = m->type == NC2_MSG_RETURN_BUFFERS
			 ? nc2_return_encode(buf, cap, ids, m->u.ret.count)
			 : nc2_finish_encode(buf, cap, ids, m->u.ret.count);
		free(ids);
		break;
	}
	case NC2_MSG_SMALL_PACKETS: {
		nc2_small *e = malloc(sizeof(*e) * m->u.smalls.count);
		FUZZ_CHECK(e != NULL);
		for (uint32_t i = 0, off = 0; i < m->u.smalls.count; i++)
			off = nc2_small_entry(m, off, &e[i]);
		rc = nc2_smalls_encode(buf, cap, e, m->u.smalls.count);
		free(e);
		break;
	}
	case NC2_MSG_POSTED_PACKETS: {
		nc2_posted *e = malloc(sizeof(*e) * m->u.posteds.count);
		FUZZ_CHECK(e != NULL);
		for (uint32_t i = 0; i < m->u.posteds.count; i++)
			nc2_posted_entry(m, i, &e[i]);
		rc = nc2_posteds_encode(buf, cap, e, m->u.posteds.count);
		free(e);
		break;
	}
	case NC2_MSG_BYPASS_FRONTEND:
	case NC2_MSG_BYPASS_BACKEND: {
		uint32_t prod[NC2_BYPASS_MAX_RING_PAGES], cons[NC2_BYPASS_MAX_RING_PAGES];
		FUZZ_CHECK(m->u.bypass.ring_pages <= NC2_BYPASS_MAX_RING_PAGES);
		for (uint32_t i = 0; i < m->u.bypass.ring_pages; i++) {
			prod[i] = nc2_bypass_gref(m, 0, i);
			cons[i] = nc2_bypass_gref(m, 1, i);
		}
		rc = nc2_bypass_encode(buf, cap, m->type, &m->u.bypass, prod, cons);
		break;
	}
	default:
		rc = nc2_msg_encode(m, buf, cap);
		break;
	}
	*out = buf;
	return rc;
}

/* Pointers of a decoded message into the input, and the derived counts. */
static void check_layout(const nc2_msg *m, const uint8_t *data)
{
	const uint8_t *end = data + m->size;

	switch (m->type) {
	case NC2_MSG_PACKET: {
		const struct nc2_msg_packet *p = &m->u.packet;
		uint32_t frag_octets = (uint32_t)p->nr_frags * NC2_FRAG_SIZE;
		FUZZ_CHECK(p->prefix_size <= NC2_MAX_INLINE_BYTES);
		FUZZ_CHECK(NC2_PACKET_FIXED_SIZE + frag_octets + fz_round8(p->prefix_size) ==
			   m->size);
		FUZZ_CHECK(nc2_packet_msg_size(p->nr_frags, p->prefix_size) == m->size);
		FUZZ_CHECK(p->frags == data + NC2_PACKET_OFF_FRAGS);
		FUZZ_CHECK(p->prefix == data + NC2_PACKET_OFF_FRAGS + frag_octets);
		FUZZ_CHECK(p->prefix + p->prefix_size <= end);
		for (uint32_t i = 0; i < p->nr_frags; i++) {
			const uint8_t *w = data + NC2_PACKET_OFF_FRAGS + NC2_FRAG_SIZE * i;
			uint16_t of = fz_le16(w + NC2_FRAG_OFF_OFFSET);
			nc2_frag f;
			nc2_packet_frag(m, i, &f);
			FUZZ_CHECK(f.size == fz_le16(w + NC2_FRAG_OFF_SIZE));
			FUZZ_CHECK(f.off == (of & NC2_FRAG_OFFSET_MASK));
			FUZZ_CHECK(f.ref == fz_le32(w + NC2_FRAG_OFF_REF));
			FUZZ_CHECK(f.flags == ((of & NC2_FRAG_WIRE_STICKY) ? NC2_FRAG_STICKY : 0u));
		}
		break;
	}
	case NC2_MSG_POST_BUFFERS:
		FUZZ_CHECK(m->u.post.count >= 1);
		FUZZ_CHECK(m->u.post.entries == data + NC2_POST_OFF_ENTRIES);
		FUZZ_CHECK(NC2_POST_OFF_ENTRIES + NC2_POST_ENTRY_SIZE * (uint32_t)m->u.post.count ==
			   m->size);
		break;
	case NC2_MSG_SMALL_PACKETS: {
		FUZZ_CHECK(m->u.smalls.count >= 1);
		FUZZ_CHECK(m->u.smalls.entries == data + NC2_SMALLS_OFF_ENTRIES);
		uint32_t off = 0;
		for (uint32_t i = 0; i < m->u.smalls.count; i++) {
			nc2_small e;
			off = nc2_small_entry(m, off, &e);
			FUZZ_CHECK(e.len >= 1 && e.len <= NC2_MAX_INLINE_BYTES);
			FUZZ_CHECK(NC2_SMALLS_OFF_ENTRIES + off <= m->size);
		}
		FUZZ_CHECK(NC2_SMALLS_OFF_ENTRIES + off == m->size);
		break;
	}
	case NC2_MSG_POSTED_PACKETS:
		FUZZ_CHECK(m->u.posteds.count >= 1);
		FUZZ_CHECK(m->u.posteds.entries == data + NC2_POSTEDS_OFF_ENTRIES);
		FUZZ_CHECK(NC2_POSTEDS_OFF_ENTRIES +
			       NC2_POSTED_ENT_SIZE * (uint32_t)m->u.posteds.count ==
			   m->size);
		break;
	case NC2_MSG_RETURN_BUFFERS:
	case NC2_MSG_FINISH_PACKETS:
		FUZZ_CHECK(m->u.ret.count >= 1);
		FUZZ_CHECK(m->u.ret.ids == data + NC2_RETURN_OFF_IDS);
		FUZZ_CHECK(fz_round8(NC2_RETURN_OFF_IDS + 4u * m->u.ret.count) == m->size);
		break;
	case NC2_MSG_BYPASS_FRONTEND:
	case NC2_MSG_BYPASS_BACKEND:
		FUZZ_CHECK(m->u.bypass.grefs == data + NC2_BYPASS_OFF_GREFS);
		FUZZ_CHECK(NC2_BYPASS_OFF_GREFS + 8u * m->u.bypass.ring_pages == m->size);
		break;
	default:
		break;
	}
}

/* ---- encoder side ------------------------------------------------------ */

/* nc2_packet_msg_size() against the layout, for any u32 arguments. */
static void check_packet_msg_size(uint32_t nr, uint32_t prefix)
{
	uint64_t want = NC2_PACKET_FIXED_SIZE + (uint64_t)nr * NC2_FRAG_SIZE +
			(((uint64_t)prefix + 7u) & ~(uint64_t)7u);
	if (prefix > NC2_MAX_INLINE_BYTES || want > NC2_MSG_MAX_SIZE)
		want = 0;
	FUZZ_CHECK(nc2_packet_msg_size(nr, prefix) == want);
}

/*
 * nc2_packet_encode() on arguments taken from the input (read differently
 * from the decode path): either NC2_ERR_INVALID_ARG for a documented reason,
 * or a message of nc2_packet_msg_size() octets that decodes to the same
 * fields. Fragments and prefix live in exactly-sized heap blocks.
 */
static void check_packet_encode(const uint8_t *d, size_t n)
{
	if (n < NC2_PACKET_FIXED_SIZE)
		return;
	struct nc2_msg_packet p;
	memset(&p, 0, sizeof(p));
	p.id = fz_le32(d + 4);
	p.type = d[8];
	p.flags = d[9];
	p.seg_type = d[10];
	p.prefix_size = fz_le16(d + 12) & 0x1ffu; /* sometimes above 256 */
	p.mss = fz_le16(d + 14);
	p.csum_start = fz_le16(d + 16);
	p.csum_offset = fz_le16(d + 18);
	uint32_t nr = d[1]; /* at most as many as the input holds */
	if (nr > (n - NC2_PACKET_FIXED_SIZE) / NC2_FRAG_SIZE)
		nr = (uint32_t)((n - NC2_PACKET_FIXED_SIZE) / NC2_FRAG_SIZE);
	p.nr_frags = (uint16_t)nr;

	nc2_frag *frags = malloc(sizeof(*frags) * (nr ? nr : 1u));
	FUZZ_CHECK(frags != NULL);
	int bad_frag = 0;
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *w = d + NC2_PACKET_FIXED_SIZE + NC2_FRAG_SIZE * i;
		frags[i].size = fz_le16(w);
		frags[i].off = fz_le16(w + 2) & 0x1fffu; /* sometimes above 4095 */
		frags[i].flags = (uint8_t)(w[3] >> 5);   /* sometimes unknown bits */
		frags[i].ref = fz_le32(w + 4);
		if (frags[i].off > NC2_FRAG_OFFSET_MASK || (frags[i].flags & ~NC2_FRAG_STICKY))
			bad_frag = 1;
	}
	size_t rest = n - NC2_PACKET_FIXED_SIZE - NC2_FRAG_SIZE * (size_t)nr;
	size_t plen = p.prefix_size <= rest ? p.prefix_size : rest;
	uint8_t *prefix = malloc(plen ? plen : 1u);
	FUZZ_CHECK(prefix != NULL);
	if (plen)
		memcpy(prefix, d + n - rest, plen);
	if (plen < p.prefix_size && p.prefix_size <= NC2_MAX_INLINE_BYTES) {
		free(frags);
		free(prefix);
		return; /* not enough input for a valid prefix */
	}

	uint32_t want = nc2_packet_msg_size(nr, p.prefix_size);
	size_t cap = want ? want : NC2_MSG_MAX_SIZE;
	uint8_t *buf = malloc(cap);
	FUZZ_CHECK(buf != NULL);
	int rc = nc2_packet_encode(buf, cap, &p, frags, prefix);
	if (want == 0 || bad_frag) {
		FUZZ_CHECK(rc == NC2_ERR_INVALID_ARG);
	} else {
		FUZZ_CHECK(rc == (int)want);
		nc2_msg m;
		FUZZ_CHECK(nc2_msg_decode(&m, buf, want) == NC2_OK);
		FUZZ_CHECK(m.type == NC2_MSG_PACKET && m.size == want);
		FUZZ_CHECK(m.u.packet.id == p.id && m.u.packet.type == p.type &&
			   m.u.packet.flags == p.flags && m.u.packet.seg_type == p.seg_type &&
			   m.u.packet.prefix_size == p.prefix_size && m.u.packet.mss == p.mss &&
			   m.u.packet.csum_start == p.csum_start &&
			   m.u.packet.csum_offset == p.csum_offset && m.u.packet.nr_frags == nr);
		for (uint32_t i = 0; i < nr; i++) {
			nc2_frag f;
			nc2_packet_frag(&m, i, &f);
			FUZZ_CHECK(f.size == frags[i].size && f.off == frags[i].off &&
				   f.ref == frags[i].ref && f.flags == frags[i].flags);
		}
		FUZZ_CHECK(plen == 0 || memcmp(m.u.packet.prefix, prefix, plen) == 0);
	}
	free(buf);
	free(prefix);
	free(frags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 8) {
		check_packet_msg_size(fz_le32(data), fz_le32(data + 4));
		check_packet_msg_size(fz_le16(data + 4), fz_le16(data + 6));
	}
	check_packet_encode(data, size);

	nc2_msg m;
	struct ref r = ref_decode(data, size);
	int rc;

	memset(&m, 0xa5, sizeof(m));
	rc = nc2_msg_decode(&m, data, size);
	FUZZ_CHECK(nc2_strerror(rc) != NULL && nc2_strerror(rc)[0] != '\0');
	if (rc != NC2_OK) {
		/* Documented codes only, and the code of a rule really broken. */
		FUZZ_CHECK(rc < 0 && (nc2_is_peer_error(rc) || rc == NC2_ERR_INVALID_ARG));
		if ((r.must | r.may) & fz_code_bit(rc))
			return 0;
		fprintf(stderr, "decode returned %d (%s); broken rules: must %#llx may %#llx\n", rc,
			nc2_strerror(rc), (unsigned long long)r.must, (unsigned long long)r.may);
		FUZZ_TRAP();
	}
	if (r.must != 0) {
		fprintf(stderr, "decode accepted a message breaking rules %#llx\n",
			(unsigned long long)r.must);
		FUZZ_TRAP();
	}

	/* Header as sent, never more octets than given. */
	FUZZ_CHECK(m.size <= size);
	FUZZ_CHECK(m.size >= NC2_MSG_MIN_SIZE && m.size % NC2_MSG_ALIGN == 0);
	FUZZ_CHECK(m.type == data[NC2_HDR_OFF_TYPE]);
	FUZZ_CHECK(m.flags == 0 && data[NC2_HDR_OFF_FLAGS] == 0);
	FUZZ_CHECK(m.size == fz_le16(data + NC2_HDR_OFF_SIZE));
	check_layout(&m, data);

	/* Canonical: re-encoding gives back the input's octets. */
	uint8_t *expect = malloc(m.size);
	FUZZ_CHECK(expect != NULL);
	memcpy(expect, data, m.size);
	size_t cmp = m.size;
	if (m.type == NC2_MSG_PAD) {
		cmp = NC2_HDR_SIZE;
	} else if (m.type == NC2_MSG_HELLO) {
		uint32_t feat = fz_le32(expect + NC2_HELLO_OFF_FEATURES) & NC2_FEATURE_ALL;
		for (unsigned i = 0; i < 4; i++)
			expect[NC2_HELLO_OFF_FEATURES + i] = (uint8_t)(feat >> (8 * i));
		FUZZ_CHECK((m.u.hello.features & ~NC2_FEATURE_ALL) == 0);
	}

	uint8_t *out;
	rc = encode(&m, m.size, &out);
	if (rc != (int)m.size) {
		fprintf(stderr, "re-encode of type %u size %u returned %d\n", m.type, m.size, rc);
		FUZZ_TRAP();
	}
	FUZZ_CHECK(memcmp(out, expect, cmp) == 0);
	if (m.type == NC2_MSG_PAD)
		for (size_t i = cmp; i < m.size; i++)
			FUZZ_CHECK(out[i] == 0);

	/* The encoding decodes to the same message. */
	nc2_msg m2;
	FUZZ_CHECK(nc2_msg_decode(&m2, out, m.size) == NC2_OK);
	FUZZ_CHECK(m2.type == m.type && m2.size == m.size);
	free(out);

	/* One octet short: NOSPACE, and nothing written past the buffer. */
	rc = encode(&m, m.size - 1u, &out);
	FUZZ_CHECK(rc == NC2_ERR_NOSPACE);
	free(out);

	/* nc2_msg_encode refuses the variable-size types. */
	if (m.type == NC2_MSG_PACKET || m.type == NC2_MSG_POST_BUFFERS ||
	    m.type == NC2_MSG_RETURN_BUFFERS || m.type == NC2_MSG_FINISH_PACKETS ||
	    m.type == NC2_MSG_SMALL_PACKETS || m.type == NC2_MSG_POSTED_PACKETS ||
	    m.type == NC2_MSG_BYPASS_FRONTEND || m.type == NC2_MSG_BYPASS_BACKEND) {
		static uint8_t tmp[NC2_MSG_MAX_SIZE];
		FUZZ_CHECK(nc2_msg_encode(&m, tmp, sizeof(tmp)) == NC2_ERR_INVALID_ARG);
	}
	free(expect);
	return 0;
}
