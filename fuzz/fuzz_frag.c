/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for nc2/frag.h: nc2_packet_validate() and nc2_frag_validate().
 *
 * Input layout (FRAG_CFG_SIZE octets of configuration, then one message):
 *   [0]     max_frags - 1                     (1..256)
 *   [1..3]  max_packet_bytes, LE, 17 bits     (values above 65536 -> 65536)
 *   [4]     offloads (NC2_OFFLOAD_*, low 4 bits)
 *   [5]     negotiated features (NC2_FEATURE_*)
 *   [6..9]  packet_types, LE u32, passed as is
 *   [10]    bits 0-2: misalignment of the private message copy;
 *           bit 3: pass total_len = NULL
 *   [11]    unused
 *
 * An independent reference (written from the validation rules in
 * docs/PROTOCOL.md, not from lib/frag.c) lists the rules the packet breaks.
 * nc2_packet_validate() must succeed exactly when it breaks none and must
 * otherwise return the code of a broken rule; on success the invariants the
 * receive path relies on are checked again from the wire octets.
 */
#include <string.h>

#include <nc2/frag.h>

#include "fuzz.h"

#define FRAG_CFG_SIZE 12

#define B(code) fz_code_bit(code)

static int grant_type(uint8_t t)
{
	return t == NC2_PACKET_TYPE_receiver_copy || t == NC2_PACKET_TYPE_receiver_map;
}

/* Rules one fragment breaks when it belongs to a packet of type \p t. */
static void ref_frag(const uint8_t *w, uint8_t t, const nc2_limits *lim, uint64_t *must,
		     uint64_t *may)
{
	uint32_t size = fz_le16(w + NC2_FRAG_OFF_SIZE);
	uint32_t of = fz_le16(w + NC2_FRAG_OFF_OFFSET);
	uint32_t off = of & NC2_FRAG_OFFSET_MASK;
	int sticky = (of & NC2_FRAG_WIRE_STICKY) != 0;

	if (size == 0)
		*must |= B(NC2_ERR_PEER_BAD_FRAG);
	if (grant_type(t)) {
		if (off + size > NC2_PAGE_SIZE)
			*must |= B(NC2_ERR_PEER_BAD_FRAG);
		if (sticky && !(lim->features & NC2_FEATURE_STICKY))
			*must |= B(NC2_ERR_PEER_OFFLOAD);
	} else {
		if (sticky)
			*must |= B(NC2_ERR_PEER_BAD_FRAG);
		/* A posted buffer is at most a page: a validator may say so early. */
		if (off + size > NC2_PAGE_SIZE)
			*may |= B(NC2_ERR_PEER_BAD_FRAG);
	}
}

struct ref {
	uint64_t must, may;
	uint32_t total;
};

static struct ref ref_validate(const nc2_msg *m, const uint8_t *msg, const nc2_limits *lim)
{
	struct ref r = {0, 0, 0};
	/* Fixed fields read from the wire, not from the decoded struct. */
	uint32_t id = fz_le32(msg + NC2_PACKET_OFF_ID);
	uint8_t t = msg[NC2_PACKET_OFF_TYPE];
	uint8_t flags = msg[NC2_PACKET_OFF_FLAGS];
	uint8_t seg = msg[NC2_PACKET_OFF_SEG_TYPE];
	uint32_t prefix = fz_le16(msg + NC2_PACKET_OFF_PREFIX_SIZE);
	uint32_t mss = fz_le16(msg + NC2_PACKET_OFF_MSS);
	uint32_t cs = fz_le16(msg + NC2_PACKET_OFF_CSUM_START);
	uint32_t co = fz_le16(msg + NC2_PACKET_OFF_CSUM_OFFSET);
	uint32_t nr = (m->size - NC2_PACKET_FIXED_SIZE - fz_round8(prefix)) / NC2_FRAG_SIZE;
	int known = t >= NC2_PACKET_TYPE_receiver_copy && t <= NC2_PACKET_TYPE_small;

	if (!known || !((lim->packet_types >> t) & 1u))
		r.must |= B(NC2_ERR_PEER_BAD_VALUE);
	if (flags & ~NC2_PACKET_FLAGS_KNOWN)
		r.must |= B(NC2_ERR_PEER_RESERVED);

	if (known) {
		if (t == NC2_PACKET_TYPE_small ? nr != 0 : nr == 0)
			r.must |= B(NC2_ERR_PEER_BAD_VALUE);
		if (!grant_type(t) && id != 0)
			r.must |= B(NC2_ERR_PEER_RESERVED);
	} else {
		/* Unknown type: whatever a validator makes of it is a rejection. */
		r.may |= B(NC2_ERR_PEER_BAD_VALUE) | B(NC2_ERR_PEER_RESERVED) |
			 B(NC2_ERR_PEER_BAD_FRAG) | B(NC2_ERR_PEER_OFFLOAD);
	}
	if (nr > lim->max_frags)
		r.must |= B(NC2_ERR_PEER_TOO_MANY_FRAGS);

	r.total = prefix;
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *w = msg + NC2_PACKET_OFF_FRAGS + NC2_FRAG_SIZE * i;
		if (known && t != NC2_PACKET_TYPE_small)
			ref_frag(w, t, lim, &r.must, &r.may);
		else
			ref_frag(w, t, lim, &r.may, &r.may);
		r.total += fz_le16(w + NC2_FRAG_OFF_SIZE);
	}
	if (r.total < NC2_MIN_PACKET_BYTES || r.total > lim->max_packet_bytes)
		r.must |= B(NC2_ERR_PEER_PACKET_SIZE);

	if (flags & NC2_PACKET_FLAG_csum_blank) {
		if (!(lim->offloads & NC2_OFFLOAD_CSUM))
			r.must |= B(NC2_ERR_PEER_OFFLOAD);
		if ((uint64_t)cs + co + 2u > r.total)
			r.must |= B(NC2_ERR_PEER_BAD_CSUM);
	} else if (cs != 0 || co != 0) {
		r.must |= B(NC2_ERR_PEER_RESERVED);
	}

	switch (seg) {
	case NC2_PACKET_SEGMENTATION_TYPE_none:
		if (mss != 0)
			r.must |= B(NC2_ERR_PEER_RESERVED);
		break;
	case NC2_PACKET_SEGMENTATION_TYPE_tcpv4:
	case NC2_PACKET_SEGMENTATION_TYPE_tcpv6: {
		uint32_t need =
		    seg == NC2_PACKET_SEGMENTATION_TYPE_tcpv4 ? NC2_OFFLOAD_TSO4 : NC2_OFFLOAD_TSO6;
		if (!(lim->offloads & (need | NC2_OFFLOAD_LRO)))
			r.must |= B(NC2_ERR_PEER_OFFLOAD);
		if (mss == 0)
			r.must |= B(NC2_ERR_PEER_BAD_VALUE);
		if (!(flags & NC2_PACKET_FLAG_csum_blank))
			r.must |= B(NC2_ERR_PEER_BAD_CSUM);
		break;
	}
	default:
		r.must |= B(NC2_ERR_PEER_BAD_VALUE);
		break;
	}
	return r;
}

/* What the receive path relies on after NC2_OK, from the wire octets. */
static void check_accepted(const nc2_msg *m, const uint8_t *msg, const nc2_limits *lim,
			   uint32_t total_len, int have_total)
{
	const struct nc2_msg_packet *p = &m->u.packet;
	uint8_t t = msg[NC2_PACKET_OFF_TYPE];
	uint8_t flags = msg[NC2_PACKET_OFF_FLAGS];
	uint32_t total = fz_le16(msg + NC2_PACKET_OFF_PREFIX_SIZE);

	FUZZ_CHECK(t >= NC2_PACKET_TYPE_receiver_copy && t <= NC2_PACKET_TYPE_small);
	FUZZ_CHECK((lim->packet_types >> t) & 1u);
	FUZZ_CHECK(p->nr_frags <= lim->max_frags);
	for (uint32_t i = 0; i < p->nr_frags; i++) {
		const uint8_t *w = msg + NC2_PACKET_OFF_FRAGS + NC2_FRAG_SIZE * i;
		uint32_t size = fz_le16(w + NC2_FRAG_OFF_SIZE);
		uint32_t off = fz_le16(w + NC2_FRAG_OFF_OFFSET) & NC2_FRAG_OFFSET_MASK;
		FUZZ_CHECK(size >= 1);
		if (grant_type(t))
			FUZZ_CHECK(off + size <= NC2_PAGE_SIZE);
		total += size;
	}
	if (have_total)
		FUZZ_CHECK(total_len == total);
	FUZZ_CHECK(total >= NC2_MIN_PACKET_BYTES && total <= lim->max_packet_bytes);
	if (flags & NC2_PACKET_FLAG_csum_blank) {
		uint32_t cs = fz_le16(msg + NC2_PACKET_OFF_CSUM_START);
		uint32_t co = fz_le16(msg + NC2_PACKET_OFF_CSUM_OFFSET);
		FUZZ_CHECK(lim->offloads & NC2_OFFLOAD_CSUM);
		FUZZ_CHECK(cs + co + 2u <= total);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FRAG_CFG_SIZE)
		return 0;

	nc2_limits lim;
	lim.max_frags = (uint32_t)data[0] + 1u;
	lim.max_packet_bytes = fz_le32(data + 1) & 0x1ffffu;
	if (lim.max_packet_bytes > NC2_MAX_PACKET_BYTES)
		lim.max_packet_bytes = NC2_MAX_PACKET_BYTES;
	lim.offloads = data[4] & NC2_OFFLOAD_ALL;
	lim.features = data[5];
	lim.packet_types = fz_le32(data + 6);
	size_t shift = data[10] & 7u;
	int want_total = !(data[10] & 8u);

	/* Private copy, misaligned on request, ending exactly at the heap
	 * block's end. */
	size_t len = size - FRAG_CFG_SIZE;
	uint8_t *block = malloc(len + shift ? len + shift : 1u);
	FUZZ_CHECK(block != NULL);
	uint8_t *msg = block + shift;
	if (len)
		memcpy(msg, data + FRAG_CFG_SIZE, len);

	nc2_msg m;
	uint32_t total = 0xdeadbeefu;
	if (nc2_msg_decode(&m, msg, len) != NC2_OK) {
		free(block);
		return 0;
	}
	if (m.type != NC2_MSG_PACKET) {
		FUZZ_CHECK(nc2_packet_validate(&m, &lim, &total) == NC2_ERR_INVALID_ARG);
		free(block);
		return 0;
	}

	struct ref r = ref_validate(&m, msg, &lim);
	int rc = nc2_packet_validate(&m, &lim, want_total ? &total : NULL);
	if (rc == NC2_OK) {
		if (r.must != 0) {
			fprintf(stderr, "validate accepted a packet breaking rules %#llx\n",
				(unsigned long long)r.must);
			FUZZ_TRAP();
		}
		check_accepted(&m, msg, &lim, total, want_total);
	} else if (!((r.must | r.may) & fz_code_bit(rc)) || !nc2_is_peer_error(rc)) {
		fprintf(stderr, "validate returned %d (%s); broken rules: must %#llx may %#llx\n",
			rc, nc2_strerror(rc), (unsigned long long)r.must,
			(unsigned long long)r.may);
		FUZZ_TRAP();
	}

	/* nc2_frag_validate on its own agrees with the per-fragment rules. */
	uint8_t t = m.u.packet.type;
	if (t >= NC2_PACKET_TYPE_receiver_copy && t <= NC2_PACKET_TYPE_small) {
		for (uint32_t i = 0; i < m.u.packet.nr_frags; i++) {
			uint64_t fmust = 0, fmay = 0;
			nc2_frag f;
			nc2_packet_frag(&m, i, &f);
			ref_frag(m.u.packet.frags + NC2_FRAG_SIZE * i, t, &lim, &fmust, &fmay);
			int frc = nc2_frag_validate(&f, t, &lim);
			if (frc == NC2_OK)
				FUZZ_CHECK(fmust == 0);
			else
				FUZZ_CHECK((fmust | fmay) & fz_code_bit(frc));
		}
	}
	free(block);
	return 0;
}
