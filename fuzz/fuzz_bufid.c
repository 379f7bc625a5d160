/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for nc2/bufid.h: free-buffer id tables fed ids by a peer.
 *
 * Input: octet 0 picks the capacity (1..MAX_CAP, so the bitmap spans up to
 * three words); every following octet is an operation, some taking operand
 * octets after it (missing operands read as 0):
 *
 *   0 alloc                       4 ITER pos: next_in_flight from pos
 *   1 FREE k: free in-flight id k 5 REFREE k: free a recently freed id again
 *   2 PEER a b c d: free that id  6 CHURN n: alloc + free n * 4 times
 *   3 PROBE k x: lookup id k ^ x  7 TEARDOWN: free all via next_in_flight
 *
 * A shadow model written from the header's contract (in flight or not and
 * the generation per slot; generations count up from 1 skipping 0) predicts
 * every result; any divergence traps.
 */
#include <string.h>

#include <nc2/bufid.h>

#include "fuzz.h"

#define MAX_CAP   130u
#define OLD_RING  16u
#define MAX_CHURN 1024u /* alloc/free pairs per input (wrap: see check_bufid) */
#define IDX(id)   ((id)&0xffffu)
#define GEN(id)   ((id) >> 16)

struct model {
	uint32_t cap;
	uint8_t busy[MAX_CAP];
	uint16_t gen[MAX_CAP];
	uint32_t out[MAX_CAP]; /* ids in flight, unordered */
	uint32_t nout;
	uint32_t old[OLD_RING]; /* recently freed ids */
	uint32_t nold;
};

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t next8(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static int valid(const struct model *m, uint32_t id)
{
	uint32_t i = IDX(id);
	return i < m->cap && m->busy[i] && m->gen[i] == GEN(id);
}

static void m_remove(struct model *m, uint32_t id)
{
	m->busy[IDX(id)] = 0;
	for (uint32_t k = 0; k < m->nout; k++)
		if (m->out[k] == id) {
			m->out[k] = m->out[--m->nout];
			break;
		}
	m->old[m->nold++ % OLD_RING] = id;
}

static void do_alloc(nc2_bufid *t, struct model *m, uint32_t *id_out)
{
	uint32_t id = 0xdeadbeefu;
	int rc = nc2_bufid_alloc(t, &id);
	if (m->nout == m->cap) {
		FUZZ_CHECK(rc == NC2_ERR_AGAIN);
		FUZZ_CHECK(id == 0xdeadbeefu);
		*id_out = 0;
		return;
	}
	FUZZ_CHECK(rc == NC2_OK);
	uint32_t i = IDX(id);
	FUZZ_CHECK(i < m->cap);
	FUZZ_CHECK(!m->busy[i]);
	uint16_t g = (uint16_t)(m->gen[i] + 1u);
	if (g == 0)
		g = 1;
	FUZZ_CHECK(GEN(id) == g);
	m->gen[i] = g;
	m->busy[i] = 1;
	m->out[m->nout++] = id;
	*id_out = id;
}

/* Free (or try to) an id of any origin and check the verdict. */
static void do_free(nc2_bufid *t, struct model *m, uint32_t id)
{
	int want = valid(m, id) ? NC2_OK : NC2_ERR_PEER_BAD_ID;
	uint32_t idx = 0xdeadbeefu;
	int rc = nc2_bufid_lookup(t, id, &idx);
	FUZZ_CHECK(rc == want);
	FUZZ_CHECK(rc == NC2_OK ? idx == IDX(id) : idx == 0xdeadbeefu);
	/* Freed by one of the two ways, chosen by the id's lowest bit. */
	if (id & 1u) {
		FUZZ_CHECK(nc2_bufid_free(t, id) == want);
	} else {
		idx = 0xdeadbeefu;
		FUZZ_CHECK(nc2_bufid_take(t, id, &idx) == want);
		FUZZ_CHECK(want == NC2_OK ? idx == IDX(id) : idx == 0xdeadbeefu);
	}
	if (want == NC2_OK)
		m_remove(m, id);
	/* Whatever it was, it is not in flight now. */
	FUZZ_CHECK(nc2_bufid_lookup(t, id, NULL) == NC2_ERR_PEER_BAD_ID);
	FUZZ_CHECK(nc2_bufid_free(t, id) == NC2_ERR_PEER_BAD_ID);
}

static void do_iter(const nc2_bufid *t, const struct model *m, uint32_t start)
{
	uint32_t pos = start, id, i = start;
	for (;;) {
		while (i < m->cap && !m->busy[i])
			i++;
		int rc = nc2_bufid_next_in_flight(t, &pos, &id);
		if (i >= m->cap) {
			FUZZ_CHECK(rc == NC2_ERR_NOT_FOUND);
			return;
		}
		FUZZ_CHECK(rc == NC2_OK);
		FUZZ_CHECK(id == (i | (uint32_t)m->gen[i] << 16));
		FUZZ_CHECK(pos == i + 1u);
		i++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t mem[(MAX_CAP * 8u + 256u) / 8u];
	struct model m;
	struct input in = {data, size};
	nc2_bufid *t = NULL;

	memset(&m, 0, sizeof(m));
	m.cap = 1u + next8(&in) % MAX_CAP;
	size_t fp = nc2_bufid_footprint(m.cap);
	FUZZ_CHECK(fp > 0 && fp % 8u == 0 && fp <= sizeof(mem));
	FUZZ_CHECK(nc2_bufid_init(&t, mem, fp - 1u, m.cap) == NC2_ERR_NOSPACE);
	FUZZ_CHECK(nc2_bufid_init(&t, mem, fp, m.cap) == NC2_OK);
	FUZZ_CHECK(nc2_bufid_capacity(t) == m.cap);

	uint32_t churned = 0;
	while (in.n > 0) {
		uint32_t id, k;
		switch (next8(&in) % 8u) {
		case 0:
			do_alloc(t, &m, &id);
			break;
		case 1:
			k = next8(&in);
			if (m.nout != 0) {
				id = m.out[k % m.nout];
				FUZZ_CHECK(valid(&m, id));
				do_free(t, &m, id);
			}
			break;
		case 2:
			id = next8(&in);
			id |= (uint32_t)next8(&in) << 8;
			id |= (uint32_t)next8(&in) << 16;
			id |= (uint32_t)next8(&in) << 24;
			do_free(t, &m, id);
			break;
		case 3: {
			k = next8(&in);
			uint32_t x = next8(&in);
			/* Near misses of real ids: flip index or generation bits. */
			id = m.nout ? m.out[k % m.nout] : k;
			id ^= (x & 0x80u) ? (x & 0x7fu) << 16 : x;
			int want = valid(&m, id) ? NC2_OK : NC2_ERR_PEER_BAD_ID;
			FUZZ_CHECK(nc2_bufid_lookup(t, id, NULL) == want);
			break;
		}
		case 4:
			do_iter(t, &m, next8(&in));
			break;
		case 5:
			k = next8(&in);
			do_free(t, &m, m.old[k % OLD_RING]);
			break;
		case 6:
			/* Many reuses of free slots: drives generations round. */
			k = (uint32_t)next8(&in) * 4u;
			for (uint32_t n = 0; n < k && churned < MAX_CHURN; n++, churned++) {
				do_alloc(t, &m, &id);
				if (id == 0)
					break; /* full */
				FUZZ_CHECK(nc2_bufid_free(t, id) == NC2_OK);
				m_remove(&m, id);
			}
			break;
		default: {
			uint32_t pos = 0;
			while (nc2_bufid_next_in_flight(t, &pos, &id) == NC2_OK) {
				FUZZ_CHECK(valid(&m, id));
				do_free(t, &m, id);
			}
			FUZZ_CHECK(m.nout == 0);
			break;
		}
		}
		FUZZ_CHECK(nc2_bufid_in_flight(t) == m.nout);
	}
	do_iter(t, &m, 0);
	return 0;
}
