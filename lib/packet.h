/* SPDX-License-Identifier: MIT */
/*
 * Private: PACKET helpers small enough to inline, shared by the codec
 * (wire.c), validation (frag.c) and the channel's send path.
 */
#ifndef NC2_LIB_PACKET_H
#define NC2_LIB_PACKET_H

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

#endif /* NC2_LIB_PACKET_H */
