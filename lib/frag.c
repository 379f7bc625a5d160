/* SPDX-License-Identifier: MIT */
/*
 * Packet validation against what this endpoint negotiated. Operates on a
 * decoded message, i.e. on the private copy; nothing here touches the ring.
 */
#include <nc2/frag.h>

static int is_grant_type(uint8_t ptype)
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

int nc2_offload_validate(const struct nc2_msg_packet *p, uint32_t offloads, uint32_t total)
{
	/* Common case first: no offload field in use. */
	if (((p->flags & NC2_PACKET_FLAG_csum_blank) | p->seg_type | p->mss | p->csum_start |
	     p->csum_offset) == 0)
		return NC2_OK;
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

int nc2_packet_validate(const nc2_msg *m, const nc2_limits *lim, uint32_t *total_len)
{
	if (m == NULL || lim == NULL || m->type != NC2_MSG_PACKET)
		return NC2_ERR_INVALID_ARG;
	const struct nc2_msg_packet *p = &m->u.packet;

	if (p->type == 0 || p->type > NC2_PACKET_TYPE_small ||
	    !(lim->packet_types & (1u << p->type)))
		return NC2_ERR_PEER_BAD_VALUE;
	if (p->flags & ~NC2_PACKET_FLAGS_KNOWN)
		return NC2_ERR_PEER_RESERVED;
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

	/* At most 8188 fragments of at most 65535 octets: no u32 overflow. */
	uint32_t total = p->prefix_size;
	for (uint32_t i = 0; i < p->nr_frags; i++) {
		nc2_frag f;
		nc2_packet_frag(m, i, &f);
		int rc = nc2_frag_validate(&f, p->type, lim);
		if (rc != NC2_OK)
			return rc;
		total += f.size;
	}
	uint32_t max = lim->max_packet_bytes < NC2_MAX_PACKET_BYTES ? lim->max_packet_bytes
								    : NC2_MAX_PACKET_BYTES;
	if (total < NC2_MIN_PACKET_BYTES || total > max)
		return NC2_ERR_PEER_PACKET_SIZE;

	int rc = nc2_offload_validate(p, lim->offloads, total);
	if (rc != NC2_OK)
		return rc;
	if (total_len)
		*total_len = total;
	return NC2_OK;
}
