// SPDX-License-Identifier: MIT
// Consumer of an installed libnc2 (C++): see cmake/check-install.sh.
#include <nc2/nc2.h>

#include <cstdio>
#include <cstring>
#include <string>

int main()
{
	const nc2_version_info *v = nc2_version();
	const char *err = nc2_strerror(NC2_ERR_PEER_PROTO);
	if (v == nullptr || v->version == nullptr || err == nullptr || *err == '\0') {
		std::fprintf(stderr, "consumer.cpp: nc2_version/nc2_strerror failed\n");
		return 1;
	}
	std::printf("libnc2 %s (header %s)\n", v->version, NC2_VERSION);
	std::printf("nc2_strerror(NC2_ERR_PEER_PROTO) = \"%s\"\n", err);
	if (v->version_num != NC2_VERSION_NUM || std::string(v->version) != NC2_VERSION) {
		std::fprintf(stderr, "consumer.cpp: header/library version mismatch\n");
		return 1;
	}

	nc2_msg m;
	std::memset(&m, 0, sizeof(m));
	m.type = NC2_MSG_FINISH_PACKET;
	m.size = 8;
	m.u.value = 7;
	uint8_t buf[NC2_U32_MSG_SIZE];
	const int n = nc2_msg_encode(&m, buf, sizeof(buf));
	if (n != 8) {
		std::fprintf(stderr, "consumer.cpp: nc2_msg_encode returned %d (%s)\n", n,
			     nc2_strerror(n));
		return 1;
	}
	nc2_msg d;
	std::memset(&d, 0, sizeof(d));
	const int rc = nc2_msg_decode(&d, buf, static_cast<size_t>(n));
	if (rc != NC2_OK || d.type != NC2_MSG_FINISH_PACKET || d.size != 8 || d.u.value != 7) {
		std::fprintf(stderr, "consumer.cpp: round trip failed: rc=%d (%s)\n", rc,
			     nc2_strerror(rc));
		return 1;
	}
	std::printf("FINISH_PACKET round trip: OK\n");
	return 0;
}
