/* SPDX-License-Identifier: MIT */
/* Consumer of an installed libnc2 (C): see cmake/check-install.sh. */
#include <nc2/nc2.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	const nc2_version_info *v = nc2_version();
	const char *err = nc2_strerror(NC2_ERR_PEER_PROTO);
	uint8_t buf[NC2_U32_MSG_SIZE];
	nc2_msg m, d;
	int n, rc;

	if (v == NULL || v->version == NULL || err == NULL || err[0] == '\0') {
		fprintf(stderr, "consumer.c: nc2_version/nc2_strerror failed\n");
		return 1;
	}
	printf("libnc2 %s (header %s), proto %u..%u\n", v->version, NC2_VERSION,
	       (unsigned)v->proto_min, (unsigned)v->proto_max);
	printf("nc2_strerror(NC2_ERR_PEER_PROTO) = \"%s\"\n", err);
	if (v->version_num != NC2_VERSION_NUM || strcmp(v->version, NC2_VERSION) != 0) {
		fprintf(stderr, "consumer.c: header/library version mismatch\n");
		return 1;
	}

	memset(&m, 0, sizeof(m));
	m.type = NC2_MSG_FINISH_PACKET;
	m.size = 8;
	m.u.value = 7;
	n = nc2_msg_encode(&m, buf, sizeof(buf));
	if (n != 8) {
		fprintf(stderr, "consumer.c: nc2_msg_encode returned %d (%s)\n", n,
			nc2_strerror(n));
		return 1;
	}
	memset(&d, 0, sizeof(d));
	rc = nc2_msg_decode(&d, buf, (size_t)n);
	if (rc != NC2_OK || d.type != NC2_MSG_FINISH_PACKET || d.size != 8 || d.u.value != 7) {
		fprintf(stderr,
			"consumer.c: round trip failed: rc=%d (%s) type=%u size=%u value=%u\n", rc,
			nc2_strerror(rc), (unsigned)d.type, (unsigned)d.size, (unsigned)d.u.value);
		return 1;
	}
	printf("FINISH_PACKET round trip: OK\n");
	return 0;
}
