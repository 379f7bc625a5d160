/* SPDX-License-Identifier: MIT */
/*
 * Relocation state record codec. The record crosses a trust boundary (it
 * comes from another backend via the toolstack), so it is validated like a
 * ring message: exact length, known version, reserved octets zero.
 */
#include <string.h>

#include <nc2/reloc.h>
#include <nc2/wire.h>

#include "le.h"

#define RELOC_MIN_MTU 68u

static uint32_t reloc_len(uint32_t nr_macs, uint32_t nr_mcast)
{
	return NC2_RELOC_OFF_MACS + nr_macs * NC2_RELOC_MAC_ENTRY + NC2_RELOC_U_OFF_MCAST +
	       nr_mcast * NC2_RELOC_MAC_ENTRY;
}

static int mac_is_zero(const uint8_t *mac)
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

uint32_t nc2_reloc_size(const nc2_reloc_state *s)
{
	if (s == NULL || s->nr_macs > NC2_RELOC_MAX_MACS || s->nr_mcast > NC2_RELOC_MAX_MCAST)
		return 0;
	return reloc_len(s->nr_macs, s->nr_mcast);
}

/* Read a MAC list entry: six address octets, then two zero octets. */
static int get_mac(uint8_t mac[6], const uint8_t *e, int multicast)
{
	memcpy(mac, e, 6);
	if (e[6] | e[7])
		return NC2_ERR_PEER_RESERVED;
	if (multicast ? !(mac[0] & 1) : ((mac[0] & 1) || mac_is_zero(mac)))
		return NC2_ERR_PEER_BAD_VALUE;
	return NC2_OK;
}

int nc2_reloc_decode(nc2_reloc_state *s, const uint8_t *buf, size_t len)
{
	if (s == NULL || buf == NULL)
		return NC2_ERR_INVALID_ARG;
	if (len < NC2_RELOC_OFF_RATE_BYTES)
		return NC2_ERR_PEER_MSG_SIZE;
	if (nc2_get_le32(buf + NC2_RELOC_OFF_MAGIC) != NC2_RELOC_MAGIC)
		return NC2_ERR_PEER_BAD_VALUE;
	if (nc2_get_le16(buf + NC2_RELOC_OFF_VERSION) != NC2_RELOC_VERSION)
		return NC2_ERR_PEER_VERSION;
	uint32_t length = nc2_get_le16(buf + NC2_RELOC_OFF_LENGTH);
	if (length > len || length < NC2_RELOC_OFF_MACS)
		return NC2_ERR_PEER_MSG_SIZE;

	memset(s, 0, sizeof(*s));
	s->nr_macs = buf[NC2_RELOC_OFF_NR_MACS];
	if (s->nr_macs > NC2_RELOC_MAX_MACS)
		return NC2_ERR_PEER_BAD_VALUE;
	uint32_t u = NC2_RELOC_OFF_MACS + s->nr_macs * NC2_RELOC_MAC_ENTRY;
	if (length < u + NC2_RELOC_U_OFF_MCAST)
		return NC2_ERR_PEER_MSG_SIZE;
	const uint8_t *up = buf + u;
	s->nr_mcast = nc2_get_le16(up + NC2_RELOC_U_OFF_NR_MCAST);
	if (s->nr_mcast > NC2_RELOC_MAX_MCAST)
		return NC2_ERR_PEER_BAD_VALUE;
	if (length != reloc_len(s->nr_macs, s->nr_mcast))
		return NC2_ERR_PEER_MSG_SIZE;

	s->rate_bytes = nc2_get_le32(buf + NC2_RELOC_OFF_RATE_BYTES);
	s->rate_usec = nc2_get_le32(buf + NC2_RELOC_OFF_RATE_USEC);
	s->vlan = nc2_get_le16(buf + NC2_RELOC_OFF_VLAN);
	s->filter_mac = buf[NC2_RELOC_OFF_FILTER_MAC];
	s->promisc = up[NC2_RELOC_U_OFF_PROMISC];
	s->mtu = nc2_get_le16(up + NC2_RELOC_U_OFF_MTU);
	s->offloads = nc2_get_le32(up + NC2_RELOC_U_OFF_OFFLOADS);
	if (up[NC2_RELOC_U_OFF_RSVD8] || nc2_get_le16(up + NC2_RELOC_U_OFF_RSVD16) ||
	    nc2_get_le32(up + NC2_RELOC_U_OFF_RSVD32) || (s->offloads & ~NC2_OFFLOAD_ALL))
		return NC2_ERR_PEER_RESERVED;
	/* A rate without a window would divide by zero in every shaper. */
	if (s->filter_mac > 1 || s->promisc > 1 || s->vlan > NC2_VLAN_MAX ||
	    (s->rate_bytes != 0 && s->rate_usec == 0) || (s->mtu != 0 && s->mtu < RELOC_MIN_MTU))
		return NC2_ERR_PEER_BAD_VALUE;

	for (uint32_t i = 0; i < s->nr_macs; i++) {
		int rc = get_mac(s->macs[i], buf + NC2_RELOC_OFF_MACS + i * NC2_RELOC_MAC_ENTRY, 0);
		if (rc != NC2_OK)
			return rc;
	}
	for (uint32_t i = 0; i < s->nr_mcast; i++) {
		int rc =
		    get_mac(s->mcast[i], up + NC2_RELOC_U_OFF_MCAST + i * NC2_RELOC_MAC_ENTRY, 1);
		if (rc != NC2_OK)
			return rc;
	}
	return NC2_OK;
}

int nc2_reloc_encode(const nc2_reloc_state *s, uint8_t *buf, size_t cap)
{
	uint32_t size = nc2_reloc_size(s);

	if (size == 0 || buf == NULL)
		return NC2_ERR_INVALID_ARG;
	if (cap < size)
		return NC2_ERR_NOSPACE;

	memset(buf, 0, size);
	nc2_put_le32(buf + NC2_RELOC_OFF_MAGIC, NC2_RELOC_MAGIC);
	nc2_put_le16(buf + NC2_RELOC_OFF_VERSION, NC2_RELOC_VERSION);
	nc2_put_le16(buf + NC2_RELOC_OFF_LENGTH, (uint16_t)size);
	nc2_put_le32(buf + NC2_RELOC_OFF_RATE_BYTES, s->rate_bytes);
	nc2_put_le32(buf + NC2_RELOC_OFF_RATE_USEC, s->rate_usec);
	nc2_put_le16(buf + NC2_RELOC_OFF_VLAN, s->vlan);
	buf[NC2_RELOC_OFF_FILTER_MAC] = s->filter_mac;
	buf[NC2_RELOC_OFF_NR_MACS] = s->nr_macs;
	for (uint32_t i = 0; i < s->nr_macs; i++)
		memcpy(buf + NC2_RELOC_OFF_MACS + i * NC2_RELOC_MAC_ENTRY, s->macs[i], 6);
	uint8_t *up = buf + NC2_RELOC_OFF_MACS + s->nr_macs * NC2_RELOC_MAC_ENTRY;
	up[NC2_RELOC_U_OFF_PROMISC] = s->promisc;
	nc2_put_le16(up + NC2_RELOC_U_OFF_MTU, s->mtu);
	nc2_put_le32(up + NC2_RELOC_U_OFF_OFFLOADS, s->offloads);
	nc2_put_le16(up + NC2_RELOC_U_OFF_NR_MCAST, s->nr_mcast);
	for (uint32_t i = 0; i < s->nr_mcast; i++)
		memcpy(up + NC2_RELOC_U_OFF_MCAST + i * NC2_RELOC_MAC_ENTRY, s->mcast[i], 6);

	/* Refuse to export what an importer would reject. */
	nc2_reloc_state chk;
	return nc2_reloc_decode(&chk, buf, size) == NC2_OK ? (int)size : NC2_ERR_INVALID_ARG;
}
