/* SPDX-License-Identifier: MIT */
/*
 * Packet validation against what this endpoint negotiated. Operates on a
 * decoded message, i.e. on the private copy; nothing here touches the ring.
 */
#include <nc2/frag.h>

#include "le.h"
#include "packet.h"

static inline int is_grant_type(uint8_t ptype)
{
	return ptype == NC2_PACKET_TYPE_receiver_copy || ptype == NC2_PACKET_TYPE_receiver_map;
}

int nc2_frag_validate(const nc2_frag *f, uint8_t ptype, const nc2_limits *lim)
{
	if (f->size == 0)
		return NC2_ERR_PEER_BAD_FRAG;
	if (!is_grant_type(ptype))
		/* A posted buffer is already mapped by its owner: nothing to keep. */
		return (f->flags & NC2_FRAG_STICKY) ? NC2_ERR_PEER_BAD_FRAG : NC2_OK;
	/* A grant covers one page; a fragment must not run off its end. */
	if (!nc2_range_ok(f->off, f->size, NC2_PAGE_SIZE))
		return NC2_ERR_PEER_BAD_FRAG;
	if ((f->flags & NC2_FRAG_STICKY) && !(lim->features & NC2_FEATURE_STICKY))
		return NC2_ERR_PEER_OFFLOAD;
	return NC2_OK;
}

/* Checksum and segmentation fields of a packet that uses at least one. */
static int offload_check(const struct nc2_msg_packet *p, uint32_t offloads, uint32_t total)
{
	if (p->flags & NC2_PACKET_FLAG_csum_blank) {
		if (!(offloads & NC2_OFFLOAD_CSUM))
			return NC2_ERR_PEER_OFFLOAD;
		/* The 16-bit checksum field must lie inside the packet. */
		if (!nc2_range_ok(p->csum_start, 2, total) ||
		    !nc2_range_ok(p->csum_offset, 2, total - p->csum_start))
			return NC2_ERR_PEER_BAD_CSUM;
	} else if (p->csum_start != 0 || p->csum_offset != 0) {
		return NC2_ERR_PEER_RESERVED;
	}

	switch (p->seg_type) {
	case NC2_PACKET_SEGMENTATION_TYPE_none:
		return p->mss == 0 ? NC2_OK : NC2_ERR_PEER_RESERVED;
	case NC2_PACKET_SEGMENTATION_TYPE_tcpv4:
		if (!(offloads & (NC2_OFFLOAD_TSO4 | NC2_OFFLOAD_LRO)))
			return NC2_ERR_PEER_OFFLOAD;
		break;
	case NC2_PACKET_SEGMENTATION_TYPE_tcpv6:
		if (!(offloads & (NC2_OFFLOAD_TSO6 | NC2_OFFLOAD_LRO)))
			return NC2_ERR_PEER_OFFLOAD;
		break;
	default:
		return NC2_ERR_PEER_BAD_VALUE;
	}
	if (p->mss == 0)
		return NC2_ERR_PEER_BAD_VALUE;
	/* Segments get their checksums from the receiver, as with virtio GSO. */
	if (!(p->flags & NC2_PACKET_FLAG_csum_blank))
		return NC2_ERR_PEER_BAD_CSUM;
	return NC2_OK;
}

int nc2_offload_validate(const struct nc2_msg_packet *p, uint32_t offloads, uint32_t total)
{
	return offload_none(p) ? NC2_OK : offload_check(p, offloads, total);
}

int nc2_small_validate(const nc2_small *e, const nc2_limits *lim)
{
	if (e == NULL || lim == NULL)
		return NC2_ERR_INVALID_ARG;
	return small_rules(e, lim);
}

int nc2_posted_validate(const nc2_posted *e, const nc2_limits *lim)
{
	if (e == NULL || lim == NULL)
		return NC2_ERR_INVALID_ARG;
	return posted_rules(e, lim);
}

int nc2_packet_validate(const nc2_msg *m, const nc2_limits *lim, uint32_t *total_len)
{
	if (m == NULL || lim == NULL || m->type != NC2_MSG_PACKET)
		return NC2_ERR_INVALID_ARG;
	const struct nc2_msg_packet *p = &m->u.packet;

	int rc = packet_head_rules(p, lim);
	if (rc != NC2_OK)
		return rc;
	if (p->type == NC2_PACKET_TYPE_small) {
		if (p->nr_frags != 0)
			return NC2_ERR_PEER_BAD_VALUE;
	} else if (p->nr_frags == 0) {
		return NC2_ERR_PEER_BAD_VALUE;
	}
	/* Only receiver_copy/receiver_map are FINISHed, so only they carry an id. */
	if (!is_grant_type(p->type) && p->id != 0)
		return NC2_ERR_PEER_RESERVED;
	if (p->nr_frags > lim->max_frags)
		return NC2_ERR_PEER_TOO_MANY_FRAGS;

	/*
	 * The rules of nc2_frag_validate() for every fragment, read straight
	 * from the decoded message's wire fragments (as nc2_packet_frag() does:
	 * the offset is the low 12 bits, the sticky flag the top bit) with the
	 * packet type's branch taken once. Fragments are checked in order and
	 * the first violation is returned, as fragment by fragment.
	 * At most 8188 fragments of at most 65535 octets: no u32 overflow.
	 */
	uint32_t total = p->prefix_size;
	const uint32_t nr = p->nr_frags;
	if (is_grant_type(p->type)) {
		/* A grant covers one page; a fragment must not run off its end. */
		int sticky_ok = (lim->features & NC2_FEATURE_STICKY) != 0;
		for (uint32_t i = 0; i < nr; i++) {
			const uint8_t *w = p->frags + (size_t)i * NC2_FRAG_SIZE;
			uint32_t size = nc2_get_le16(w + NC2_FRAG_OFF_SIZE);
			uint32_t of = nc2_get_le16(w + NC2_FRAG_OFF_OFFSET);
			if (size == 0 ||
			    !nc2_range_ok(of & NC2_FRAG_OFFSET_MASK, size, NC2_PAGE_SIZE))
				return NC2_ERR_PEER_BAD_FRAG;
			if ((of & NC2_FRAG_WIRE_STICKY) && !sticky_ok)
				return NC2_ERR_PEER_OFFLOAD;
			total += size;
		}
	} else {
		/* A posted buffer is already mapped by its owner: nothing to keep. */
		for (uint32_t i = 0; i < nr; i++) {
			const uint8_t *w = p->frags + (size_t)i * NC2_FRAG_SIZE;
			uint32_t size = nc2_get_le16(w + NC2_FRAG_OFF_SIZE);
			uint32_t of = nc2_get_le16(w + NC2_FRAG_OFF_OFFSET);
			if (size == 0 || (of & NC2_FRAG_WIRE_STICKY))
				return NC2_ERR_PEER_BAD_FRAG;
			total += size;
		}
	}
	rc = packet_tail_rules(p, lim, total);
	if (rc != NC2_OK)
		return rc;
	if (total_len)
		*total_len = total;
	return NC2_OK;
}
