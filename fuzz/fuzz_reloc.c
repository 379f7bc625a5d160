/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for nc2/reloc.h: nc2_reloc_decode(), nc2_reloc_encode(),
 * nc2_reloc_size().
 *
 * An independent reference (written from the record rules in
 * docs/PROTOCOL.md and the layout in reloc.h, not from lib/reloc.c) lists the
 * rules the input breaks: decode must succeed exactly when it breaks none and
 * otherwise return the code of a broken rule. A decoded record re-encodes to
 * the input's first `length` octets, nc2_reloc_size() agrees, and encoding
 * into one octet less fails with NC2_ERR_NOSPACE.
 */
#include <string.h>

#include <nc2/reloc.h>
#include <nc2/wire.h>

#include "fuzz.h"

#define B(code) fz_code_bit(code)

#define RELOC_MIN_MTU 68u

struct ref {
	uint64_t must, may;
};

/* MAC list entry at \p off: six octets and two zero octets. */
static void ref_mac(const uint8_t *b, size_t len, size_t off, int multicast, uint64_t *must)
{
	if (off + NC2_RELOC_MAC_ENTRY > len)
		return;
	const uint8_t *e = b + off;
	int zero = (e[0] | e[1] | e[2] | e[3] | e[4] | e[5]) == 0;
	if (multicast ? !(e[0] & 1u) : ((e[0] & 1u) || zero))
		*must |= B(NC2_ERR_PEER_BAD_VALUE);
	if (e[6] | e[7])
		*must |= B(NC2_ERR_PEER_RESERVED);
}

/* Unprivileged section at \p u, fields present in the first \p len octets;
 * returns nr_mcast (0 when absent). */
static uint32_t ref_unpriv(const uint8_t *b, size_t len, size_t u, uint64_t *must)
{
	const uint8_t *up = b + u;
	uint32_t nr_mcast = 0;

	if (u + NC2_RELOC_U_OFF_PROMISC < len && up[NC2_RELOC_U_OFF_PROMISC] > 1)
		*must |= B(NC2_ERR_PEER_BAD_VALUE);
	if (u + NC2_RELOC_U_OFF_RSVD8 < len && up[NC2_RELOC_U_OFF_RSVD8] != 0)
		*must |= B(NC2_ERR_PEER_RESERVED);
	if (u + NC2_RELOC_U_OFF_MTU + 2 <= len) {
		uint32_t mtu = fz_le16(up + NC2_RELOC_U_OFF_MTU);
		if (mtu != 0 && mtu < RELOC_MIN_MTU)
			*must |= B(NC2_ERR_PEER_BAD_VALUE);
	}
	if (u + NC2_RELOC_U_OFF_OFFLOADS + 4 <= len &&
	    (fz_le32(up + NC2_RELOC_U_OFF_OFFLOADS) & ~NC2_OFFLOAD_ALL))
		*must |= B(NC2_ERR_PEER_RESERVED);
	if (u + NC2_RELOC_U_OFF_NR_MCAST + 2 <= len) {
		nr_mcast = fz_le16(up + NC2_RELOC_U_OFF_NR_MCAST);
		if (nr_mcast > NC2_RELOC_MAX_MCAST)
			*must |= B(NC2_ERR_PEER_BAD_VALUE);
	}
	if (u + NC2_RELOC_U_OFF_RSVD16 + 2 <= len && fz_le16(up + NC2_RELOC_U_OFF_RSVD16) != 0)
		*must |= B(NC2_ERR_PEER_RESERVED);
	if (u + NC2_RELOC_U_OFF_RSVD32 + 4 <= len && fz_le32(up + NC2_RELOC_U_OFF_RSVD32) != 0)
		*must |= B(NC2_ERR_PEER_RESERVED);
	return nr_mcast;
}

/*
 * Every rule is evaluated on whatever octets are present, so a decoder may
 * report any of them first; a record that is framed wrongly additionally
 * breaks the size rule.
 */
static struct ref ref_decode(const uint8_t *b, size_t len)
{
	struct ref r = {0, 0};

	if (len < NC2_RELOC_OFF_RATE_BYTES) {
		/* Too short for a header: either code says so. */
		r.must |= B(NC2_ERR_PEER_MSG_SIZE);
		r.may |= B(NC2_ERR_INVALID_ARG);
		if (len >= 4 && fz_le32(b) != NC2_RELOC_MAGIC)
			r.may |= B(NC2_ERR_PEER_BAD_VALUE);
		if (len >= 6 && fz_le16(b + NC2_RELOC_OFF_VERSION) != NC2_RELOC_VERSION)
			r.may |= B(NC2_ERR_PEER_VERSION);
		return r;
	}
	if (fz_le32(b + NC2_RELOC_OFF_MAGIC) != NC2_RELOC_MAGIC)
		r.must |= B(NC2_ERR_PEER_BAD_VALUE);
	if (fz_le16(b + NC2_RELOC_OFF_VERSION) != NC2_RELOC_VERSION)
		r.must |= B(NC2_ERR_PEER_VERSION);
	uint32_t length = fz_le16(b + NC2_RELOC_OFF_LENGTH);
	if (length > len)
		r.must |= B(NC2_ERR_PEER_MSG_SIZE);

	if (len >= NC2_RELOC_OFF_RATE_USEC + 4 && fz_le32(b + NC2_RELOC_OFF_RATE_BYTES) != 0 &&
	    fz_le32(b + NC2_RELOC_OFF_RATE_USEC) == 0)
		r.must |= B(NC2_ERR_PEER_BAD_VALUE);
	if (len >= NC2_RELOC_OFF_VLAN + 2 && fz_le16(b + NC2_RELOC_OFF_VLAN) > NC2_VLAN_MAX)
		r.must |= B(NC2_ERR_PEER_BAD_VALUE);
	if (len > NC2_RELOC_OFF_FILTER_MAC && b[NC2_RELOC_OFF_FILTER_MAC] > 1)
		r.must |= B(NC2_ERR_PEER_BAD_VALUE);
	if (len <= NC2_RELOC_OFF_NR_MACS) {
		r.must |= B(NC2_ERR_PEER_MSG_SIZE);
		return r;
	}
	uint32_t nr_macs = b[NC2_RELOC_OFF_NR_MACS];
	if (nr_macs > NC2_RELOC_MAX_MACS)
		r.must |= B(NC2_ERR_PEER_BAD_VALUE);
	for (uint32_t i = 0; i < nr_macs; i++)
		ref_mac(b, len, NC2_RELOC_OFF_MACS + NC2_RELOC_MAC_ENTRY * i, 0, &r.must);

	size_t u = NC2_RELOC_OFF_MACS + NC2_RELOC_MAC_ENTRY * (size_t)nr_macs;
	if (u + NC2_RELOC_U_OFF_MCAST > len) {
		r.must |= B(NC2_ERR_PEER_MSG_SIZE);
		ref_unpriv(b, len, u, &r.must);
		return r;
	}
	uint32_t nr_mcast = ref_unpriv(b, len, u, &r.must);
	size_t present = (len - u - NC2_RELOC_U_OFF_MCAST) / NC2_RELOC_MAC_ENTRY;
	for (uint32_t i = 0; i < nr_mcast && i < present; i++)
		ref_mac(b, len, u + NC2_RELOC_U_OFF_MCAST + NC2_RELOC_MAC_ENTRY * i, 1, &r.must);

	if (length != u + NC2_RELOC_U_OFF_MCAST + NC2_RELOC_MAC_ENTRY * (size_t)nr_mcast)
		r.must |= B(NC2_ERR_PEER_MSG_SIZE);
	return r;
}

static void check_fields(const nc2_reloc_state *s, const uint8_t *b)
{
	FUZZ_CHECK(s->rate_bytes == fz_le32(b + NC2_RELOC_OFF_RATE_BYTES));
	FUZZ_CHECK(s->rate_usec == fz_le32(b + NC2_RELOC_OFF_RATE_USEC));
	FUZZ_CHECK(s->vlan == fz_le16(b + NC2_RELOC_OFF_VLAN));
	FUZZ_CHECK(s->filter_mac == b[NC2_RELOC_OFF_FILTER_MAC]);
	FUZZ_CHECK(s->nr_macs == b[NC2_RELOC_OFF_NR_MACS]);
	FUZZ_CHECK(s->nr_macs <= NC2_RELOC_MAX_MACS && s->nr_mcast <= NC2_RELOC_MAX_MCAST);
	for (uint32_t i = 0; i < s->nr_macs; i++)
		FUZZ_CHECK(
		    memcmp(s->macs[i], b + NC2_RELOC_OFF_MACS + NC2_RELOC_MAC_ENTRY * i, 6) == 0);
	const uint8_t *up = b + NC2_RELOC_OFF_MACS + NC2_RELOC_MAC_ENTRY * s->nr_macs;
	FUZZ_CHECK(s->promisc == up[NC2_RELOC_U_OFF_PROMISC]);
	FUZZ_CHECK(s->mtu == fz_le16(up + NC2_RELOC_U_OFF_MTU));
	FUZZ_CHECK(s->offloads == fz_le32(up + NC2_RELOC_U_OFF_OFFLOADS));
	FUZZ_CHECK(s->nr_mcast == fz_le16(up + NC2_RELOC_U_OFF_NR_MCAST));
	for (uint32_t i = 0; i < s->nr_mcast; i++)
		FUZZ_CHECK(memcmp(s->mcast[i], up + NC2_RELOC_U_OFF_MCAST + NC2_RELOC_MAC_ENTRY * i,
				  6) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nc2_reloc_state s;
	struct ref r = ref_decode(data, size);

	memset(&s, 0xa5, sizeof(s));
	int rc = nc2_reloc_decode(&s, data, size);
	FUZZ_CHECK(nc2_strerror(rc) != NULL && nc2_strerror(rc)[0] != '\0');
	if (rc != NC2_OK) {
		if (rc < 0 && ((r.must | r.may) & fz_code_bit(rc)))
			return 0;
		fprintf(stderr, "decode returned %d (%s); broken rules: must %#llx may %#llx\n", rc,
			nc2_strerror(rc), (unsigned long long)r.must, (unsigned long long)r.may);
		FUZZ_TRAP();
	}
	if (r.must != 0) {
		fprintf(stderr, "decode accepted a record breaking rules %#llx\n",
			(unsigned long long)r.must);
		FUZZ_TRAP();
	}

	uint32_t length = fz_le16(data + NC2_RELOC_OFF_LENGTH);
	FUZZ_CHECK(length <= size);
	check_fields(&s, data);
	FUZZ_CHECK(nc2_reloc_size(&s) == length);

	/* Canonical: the encoding is the input's first `length` octets. */
	uint8_t *out = malloc(length);
	FUZZ_CHECK(out != NULL);
	rc = nc2_reloc_encode(&s, out, length);
	FUZZ_CHECK(rc == (int)length);
	FUZZ_CHECK(memcmp(out, data, length) == 0);
	free(out);

	/* One octet short: NOSPACE, nothing written past the buffer. */
	out = malloc(length - 1u);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(nc2_reloc_encode(&s, out, length - 1u) == NC2_ERR_NOSPACE);
	free(out);
	return 0;
}
