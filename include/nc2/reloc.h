/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/reloc.h
 * Relocation state record: the device-independent, versioned description
 * of a channel's configuration that a backend exports and a new backend
 * (possibly on other hardware) imports when a channel moves.
 *
 * The record is read from outside the importing backend's trust boundary,
 * so decoding validates it as strictly as a ring message. Layout in
 * docs/PROTOCOL.md, "Relocation state record".
 *
 *   header:       | magic "NC2S" (u32) | version u16 | length u16 |
 *   privileged:   | rate_bytes u32 | rate_usec u32 | vlan u16 | filter_mac u8 |
 *                 | nr_macs u8 | nr_macs x (mac[6] + 2 zero octets) |
 *   unprivileged: | promisc u8 | rsvd u8 | mtu u16 | offloads u32 |
 *                 | nr_mcast u16 | rsvd u16 | rsvd u32 |
 *                 | nr_mcast x (mac[6] + 2 zero octets) |
 */
#ifndef NC2_RELOC_H
#define NC2_RELOC_H

#include <nc2/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC2_RELOC_MAGIC     0x5332434eu /* "NC2S" as little-endian octets */
#define NC2_RELOC_VERSION   1
#define NC2_RELOC_MAX_MACS  8u
#define NC2_RELOC_MAX_MCAST 64u

#define NC2_RELOC_OFF_MAGIC      0
#define NC2_RELOC_OFF_VERSION    4
#define NC2_RELOC_OFF_LENGTH     6
#define NC2_RELOC_OFF_RATE_BYTES 8
#define NC2_RELOC_OFF_RATE_USEC  12
#define NC2_RELOC_OFF_VLAN       16
#define NC2_RELOC_OFF_FILTER_MAC 18
#define NC2_RELOC_OFF_NR_MACS    19
#define NC2_RELOC_OFF_MACS       20
#define NC2_RELOC_MAC_ENTRY      8u
/* Offsets within the unprivileged section, which follows the MAC list. */
#define NC2_RELOC_U_OFF_PROMISC  0
#define NC2_RELOC_U_OFF_RSVD8    1
#define NC2_RELOC_U_OFF_MTU      2
#define NC2_RELOC_U_OFF_OFFLOADS 4
#define NC2_RELOC_U_OFF_NR_MCAST 8
#define NC2_RELOC_U_OFF_RSVD16   10
#define NC2_RELOC_U_OFF_RSVD32   12
#define NC2_RELOC_U_OFF_MCAST    16
#define NC2_RELOC_MAX_SIZE                                                                       \
	(NC2_RELOC_OFF_MACS + NC2_RELOC_MAX_MACS * NC2_RELOC_MAC_ENTRY + NC2_RELOC_U_OFF_MCAST + \
	 NC2_RELOC_MAX_MCAST * NC2_RELOC_MAC_ENTRY)

typedef struct nc2_reloc_state {
	/* privileged: set by the toolstack, enforced by the backend */
	uint32_t rate_bytes; /**< TX credit per window; 0 = unlimited */
	uint32_t rate_usec;  /**< window length; non-zero when rate_bytes is */
	uint16_t vlan;       /**< 0 = untagged, else 1..4094 */
	uint8_t filter_mac;  /**< 1: enforce source MAC in macs[] */
	uint8_t nr_macs;
	uint8_t macs[NC2_RELOC_MAX_MACS][6]; /**< unicast addresses */
	/* unprivileged: chosen by the guest, pushed down to the new device */
	uint8_t promisc;   /**< 0 or 1 */
	uint16_t mtu;      /**< 68..65535, or 0 = default */
	uint32_t offloads; /**< NC2_OFFLOAD_* */
	uint16_t nr_mcast;
	uint8_t mcast[NC2_RELOC_MAX_MCAST][6]; /**< multicast addresses */
} nc2_reloc_state;

/** Octets the encoding of \p s takes (0 if counts are out of range). */
NC2_API uint32_t nc2_reloc_size(const nc2_reloc_state *s);

/** Encode \p s. \return octets written, NC2_ERR_NOSPACE or NC2_ERR_INVALID_ARG. */
NC2_API int nc2_reloc_encode(const nc2_reloc_state *s, uint8_t *buf, size_t cap);

/**
 * Decode and validate a record. \return NC2_OK, NC2_ERR_INVALID_ARG, or
 * NC2_ERR_PEER_MSG_SIZE (truncated, length mismatch), NC2_ERR_PEER_VERSION
 * (unknown version), NC2_ERR_PEER_BAD_VALUE (magic, counts, addresses,
 * flags, vlan, rate), NC2_ERR_PEER_RESERVED (reserved or padding non-zero,
 * unknown offload bits).
 */
NC2_API int nc2_reloc_decode(nc2_reloc_state *s, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* NC2_RELOC_H */
