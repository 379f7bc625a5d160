/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/frag.h
 * Packet and fragment validation against limits negotiated on a channel.
 *
 * nc2_msg_decode() checks what a message says about itself; these checks
 * need to know what this endpoint agreed to accept. Pure functions: they
 * read only the decoded message (a private copy) and the limits.
 */
#ifndef NC2_FRAG_H
#define NC2_FRAG_H

#include <nc2/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What the receiving endpoint accepts. */
typedef struct nc2_limits {
	uint32_t max_frags;        /**< fragments per packet, 1..NC2_MAX_FRAGS_LIMIT */
	uint32_t max_packet_bytes; /**< total length cap, <= NC2_MAX_PACKET_BYTES */
	uint32_t offloads;         /**< NC2_OFFLOAD_* this receiver enabled */
	uint32_t features;         /**< NC2_FEATURE_* negotiated on the channel */
	uint32_t packet_types;     /**< bit (1 << NC2_PACKET_TYPE_x) per accepted type */
} nc2_limits;

/**
 * True when [off, off + len) lies within [0, limit). Written so that no
 * addition can wrap, whatever the operands.
 */
static inline int nc2_range_ok(uint32_t off, uint32_t len, uint32_t limit)
{
	return off <= limit && len <= limit - off;
}

/**
 * Validate one fragment of a packet of type \p ptype: non-empty; inside its
 * page for grant types; sticky only on grant types and when negotiated.
 * Buffer bounds of pre_posted fragments are checked by the owner of the
 * buffer table (only it knows each buffer's length).
 * \return NC2_OK, NC2_ERR_PEER_BAD_FRAG or NC2_ERR_PEER_OFFLOAD (sticky
 *  without the feature).
 */
NC2_API int nc2_frag_validate(const nc2_frag *f, uint8_t ptype, const nc2_limits *lim);

/**
 * Check the checksum and segmentation fields of \p p for a packet of \p total
 * octets against the NC2_OFFLOAD_* bits the receiver enabled. Used on
 * receive by nc2_packet_validate() and by senders on their own packets.
 * \return NC2_OK, NC2_ERR_PEER_OFFLOAD, NC2_ERR_PEER_BAD_CSUM,
 *  NC2_ERR_PEER_RESERVED or NC2_ERR_PEER_BAD_VALUE.
 */
NC2_API int nc2_offload_validate(const struct nc2_msg_packet *p, uint32_t offloads, uint32_t total);

/**
 * Validate a decoded PACKET against \p lim: type accepted; fragment count
 * within the limit and consistent with the type; each fragment
 * (nc2_frag_validate); total length in [NC2_MIN_PACKET_BYTES,
 * max_packet_bytes]; checksum offsets inside the packet and only when
 * enabled; segmentation only when enabled and with an mss; id zero where
 * no FINISH_PACKET follows.
 * \param total_len set to prefix + fragment bytes on success (may be NULL).
 * \return NC2_OK, NC2_ERR_INVALID_ARG, or a peer error:
 *  NC2_ERR_PEER_BAD_VALUE, NC2_ERR_PEER_TOO_MANY_FRAGS, NC2_ERR_PEER_BAD_FRAG,
 *  NC2_ERR_PEER_PACKET_SIZE, NC2_ERR_PEER_BAD_CSUM, NC2_ERR_PEER_OFFLOAD,
 *  NC2_ERR_PEER_RESERVED.
 */
NC2_API int nc2_packet_validate(const nc2_msg *m, const nc2_limits *lim, uint32_t *total_len);

/**
 * Validate one decoded SMALL_PACKETS entry against \p lim: exactly the rules
 * of nc2_packet_validate() for the small PACKET it stands for (type
 * accepted, flags known, length, checksum offload), with the same codes.
 */
NC2_API int nc2_small_validate(const nc2_small *e, const nc2_limits *lim);

/**
 * Validate one decoded POSTED_PACKETS entry against \p lim: the rules of
 * nc2_packet_validate() for the pre_posted PACKET of one fragment it stands
 * for (type accepted, flags known, length, checksum offload). The buffer id
 * is the channel's to check.
 */
NC2_API int nc2_posted_validate(const nc2_posted *e, const nc2_limits *lim);

#ifdef __cplusplus
}
#endif

#endif /* NC2_FRAG_H */
