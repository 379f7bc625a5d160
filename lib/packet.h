/* SPDX-License-Identifier: MIT */
/*
 * Private: PACKET helpers small enough to inline, shared by the codec
 * (wire.c), validation (frag.c) and the channel's send and receive paths.
 */
#ifndef NC2_LIB_PACKET_H
#define NC2_LIB_PACKET_H

#include <string.h>

#include <nc2/frag.h>
#include <nc2/wire.h>

#include "le.h"

/* Octets of a PACKET with these counts, or 0 out of range
 * (nc2_packet_msg_size()). */
static inline uint32_t packet_msg_size(uint32_t nr_frags, uint32_t prefix_size)
{
	if (prefix_size > NC2_MAX_INLINE_BYTES ||
	    nr_frags > (NC2_MSG_MAX_SIZE - NC2_PACKET_FIXED_SIZE) / NC2_FRAG_SIZE)
		return 0;
	uint32_t size = NC2_PACKET_FIXED_SIZE + nr_frags * NC2_FRAG_SIZE + nc2_round8(prefix_size);
	return size <= NC2_MSG_MAX_SIZE ? size : 0;
}

/* True when no offload field is in use: the common case, checked inline;
 * nc2_offload_validate() has the rules for the rest. */
static inline int offload_none(const struct nc2_msg_packet *p)
{
	return ((p->flags & NC2_PACKET_FLAG_csum_blank) | p->seg_type | p->mss | p->csum_start |
		p->csum_offset) == 0;
}

/* The rules every packet is checked against first, and last (PROTOCOL.md
 * 6.8); a SMALL_PACKETS entry has nothing in between. Inline, because the
 * channel checks every inline frame it receives with them. */
static inline int packet_head_rules(const struct nc2_msg_packet *p, const nc2_limits *lim)
{
	if (p->type == 0 || p->type > NC2_PACKET_TYPE_small ||
	    !(lim->packet_types & (1u << p->type)))
		return NC2_ERR_PEER_BAD_VALUE;
	if (p->flags & ~NC2_PACKET_FLAGS_KNOWN)
		return NC2_ERR_PEER_RESERVED;
	return NC2_OK;
}

static inline int packet_tail_rules(const struct nc2_msg_packet *p, const nc2_limits *lim,
				    uint32_t total)
{
	uint32_t max = lim->max_packet_bytes < NC2_MAX_PACKET_BYTES ? lim->max_packet_bytes
								    : NC2_MAX_PACKET_BYTES;
	if (total < NC2_MIN_PACKET_BYTES || total > max)
		return NC2_ERR_PEER_PACKET_SIZE;
	return offload_none(p) ? NC2_OK : nc2_offload_validate(p, lim->offloads, total);
}

/* nc2_small_validate() without the argument checks. */
static inline int small_rules(const nc2_small *e, const nc2_limits *lim)
{
	const struct nc2_msg_packet p = {.type = NC2_PACKET_TYPE_small,
					 .flags = e->flags,
					 .prefix_size = e->len,
					 .csum_start = e->csum_start,
					 .csum_offset = e->csum_offset};
	int rc = packet_head_rules(&p, lim);
	return rc != NC2_OK ? rc : packet_tail_rules(&p, lim, e->len);
}

/* nc2_posted_validate() without the argument checks: the pre_posted PACKET
 * of one fragment the entry stands for, less the buffer lookup. */
static inline int posted_rules(const nc2_posted *e, const nc2_limits *lim)
{
	const struct nc2_msg_packet p = {
	    .type = NC2_PACKET_TYPE_pre_posted, .flags = e->flags, .nr_frags = 1};
	int rc = packet_head_rules(&p, lim);
	return rc != NC2_OK ? rc : packet_tail_rules(&p, lim, e->len);
}

/* The header of a SMALL_PACKETS or POSTED_PACKETS (\p type) message of
 * \p size octets and \p count entries, written by the encoders and by the
 * channel when it opens a batch. */
static inline void batch_hdr_put(uint8_t *m, uint8_t type, uint32_t size, uint32_t count)
{
	m[NC2_HDR_OFF_TYPE] = type;
	m[NC2_HDR_OFF_FLAGS] = 0;
	nc2_put_le16(m + NC2_HDR_OFF_SIZE, (uint16_t)size);
	nc2_put_le16(m + NC2_SMALLS_OFF_COUNT, (uint16_t)count);
	nc2_put_le16(m + NC2_SMALLS_OFF_RSVD, 0);
}

/* Write one SMALL_PACKETS entry at e: header, data, zero pad. \return its
 * size. The codec's encoder and the channel's in-place batching share it. */
static inline uint32_t small_entry_put(uint8_t *e, const nc2_small *s)
{
	uint32_t size = NC2_SMALL_ENT_SIZE(s->len);
	nc2_put_le16(e + NC2_SMALL_ENT_OFF_LEN, s->len);
	e[NC2_SMALL_ENT_OFF_FLAGS] = s->flags;
	e[NC2_SMALL_ENT_OFF_RSVD] = 0;
	nc2_put_le16(e + NC2_SMALL_ENT_OFF_CSUM_START, s->csum_start);
	nc2_put_le16(e + NC2_SMALL_ENT_OFF_CSUM_OFFSET, s->csum_offset);
	/* The pad is the top of the last 8 octets: zero them, then the data. */
	memset(e + size - 8, 0, 8);
	memcpy(e + NC2_SMALL_ENT_HDR, s->data, s->len);
	return size;
}

/* Read the SMALL_PACKETS entry at \p b (checked by the decoder) into \p e;
 * \return its size. nc2_small_entry() and the channel's receive loop. */
static inline uint32_t small_entry_get(const uint8_t *b, nc2_small *e)
{
	e->len = nc2_get_le16(b + NC2_SMALL_ENT_OFF_LEN);
	e->flags = b[NC2_SMALL_ENT_OFF_FLAGS];
	e->csum_start = nc2_get_le16(b + NC2_SMALL_ENT_OFF_CSUM_START);
	e->csum_offset = nc2_get_le16(b + NC2_SMALL_ENT_OFF_CSUM_OFFSET);
	e->data = b + NC2_SMALL_ENT_HDR;
	return NC2_SMALL_ENT_SIZE(e->len);
}

/* Write one POSTED_PACKETS entry at \p b. The encoder and the channel's
 * in-place batching. */
static inline void posted_entry_put(uint8_t *b, const nc2_posted *e)
{
	nc2_put_le32(b + NC2_POSTED_ENT_OFF_BUF_ID, e->buf_id);
	nc2_put_le16(b + NC2_POSTED_ENT_OFF_LEN, e->len);
	b[NC2_POSTED_ENT_OFF_FLAGS] = e->flags;
	b[NC2_POSTED_ENT_OFF_RSVD] = 0;
}

/* Read the POSTED_PACKETS entry at \p b (checked by the decoder) into \p e.
 * nc2_posted_entry() and the frontend's receive loop. */
static inline void posted_entry_get(const uint8_t *b, nc2_posted *e)
{
	e->buf_id = nc2_get_le32(b + NC2_POSTED_ENT_OFF_BUF_ID);
	e->len = nc2_get_le16(b + NC2_POSTED_ENT_OFF_LEN);
	e->flags = b[NC2_POSTED_ENT_OFF_FLAGS];
}

/* Write a POST_BUFFERS header of \p n entries, \p size octets, at \p m.
 * The encoder and the frontend's in-place posting. */
static inline void post_hdr_put(uint8_t *m, uint32_t size, uint8_t queue, uint32_t n)
{
	m[NC2_HDR_OFF_TYPE] = NC2_MSG_POST_BUFFERS;
	m[NC2_HDR_OFF_FLAGS] = 0;
	nc2_put_le16(m + NC2_HDR_OFF_SIZE, (uint16_t)size);
	m[NC2_POST_OFF_QUEUE] = queue;
	m[NC2_POST_OFF_RSVD] = 0;
	nc2_put_le16(m + NC2_POST_OFF_COUNT, (uint16_t)n);
}

/* Write one POST_BUFFERS entry at \p e. The encoder and the frontend. */
static inline void post_entry_put(uint8_t *e, const nc2_post_buf *b)
{
	nc2_put_le32(e + NC2_POST_ENTRY_OFF_BUF_ID, b->buf_id);
	nc2_put_le32(e + NC2_POST_ENTRY_OFF_GREF, b->gref);
	nc2_put_le16(e + NC2_POST_ENTRY_OFF_OFFSET, b->offset);
	nc2_put_le16(e + NC2_POST_ENTRY_OFF_LENGTH, b->length);
	nc2_put_le16(e + NC2_POST_ENTRY_OFF_FLAGS, b->flags);
	nc2_put_le16(e + NC2_POST_ENTRY_OFF_RSVD, 0);
}

/* Read POST_BUFFERS entry \p i of \p m (decoded, so in range) into \p b.
 * nc2_post_entry() and the backend's on_post(). */
static inline void post_entry_get(const nc2_msg *m, uint32_t i, nc2_post_buf *b)
{
	const uint8_t *e = m->u.post.entries + (size_t)i * NC2_POST_ENTRY_SIZE;

	b->buf_id = nc2_get_le32(e + NC2_POST_ENTRY_OFF_BUF_ID);
	b->gref = nc2_get_le32(e + NC2_POST_ENTRY_OFF_GREF);
	b->offset = nc2_get_le16(e + NC2_POST_ENTRY_OFF_OFFSET);
	b->length = nc2_get_le16(e + NC2_POST_ENTRY_OFF_LENGTH);
	b->flags = nc2_get_le16(e + NC2_POST_ENTRY_OFF_FLAGS);
}

#endif /* NC2_LIB_PACKET_H */
