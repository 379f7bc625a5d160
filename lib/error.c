/* SPDX-License-Identifier: MIT */
#include <nc2/common.h>
#include <nc2/version.h>

const char *nc2_strerror(int err)
{
	switch (err) {
	case NC2_OK:
		return "success";
	case NC2_ERR_AGAIN:
		return "ring full or empty, try again";
	case NC2_ERR_INVALID_ARG:
		return "invalid argument";
	case NC2_ERR_NOSPACE:
		return "buffer too small";
	case NC2_ERR_UNSUPPORTED:
		return "not supported";
	case NC2_ERR_TRANSPORT:
		return "transport operation failed";
	case NC2_ERR_STATE:
		return "not allowed in the current state";
	case NC2_ERR_LIMIT:
		return "negotiated limit exceeded";
	case NC2_ERR_VERSION:
		return "unsupported struct or ops version";
	case NC2_ERR_NOT_FOUND:
		return "no such object";
	case NC2_ERR_PEER_PROTO:
		return "peer: message not allowed now or from this role";
	case NC2_ERR_PEER_RING_INDEX:
		return "peer: ring index out of range";
	case NC2_ERR_PEER_MSG_SIZE:
		return "peer: malformed message size";
	case NC2_ERR_PEER_MSG_TYPE:
		return "peer: unknown message type";
	case NC2_ERR_PEER_RESERVED:
		return "peer: reserved field or unknown flag set";
	case NC2_ERR_PEER_BAD_VALUE:
		return "peer: field value out of range";
	case NC2_ERR_PEER_BAD_FRAG:
		return "peer: fragment outside its page or buffer";
	case NC2_ERR_PEER_TOO_MANY_FRAGS:
		return "peer: too many fragments";
	case NC2_ERR_PEER_PACKET_SIZE:
		return "peer: packet length out of range";
	case NC2_ERR_PEER_BAD_CSUM:
		return "peer: checksum offsets outside the packet";
	case NC2_ERR_PEER_OFFLOAD:
		return "peer: offload or feature not enabled";
	case NC2_ERR_PEER_BAD_ID:
		return "peer: unknown, duplicate or stale id";
	case NC2_ERR_PEER_LIMIT:
		return "peer: exceeded a limit it was given";
	case NC2_ERR_PEER_VERSION:
		return "peer: no common protocol version";
	case NC2_ERR_PEER_GRANT:
		return "peer: grant unusable";
	case NC2_ERR_PEER_GONE:
		return "peer: disconnected";
	case NC2_ERR_PEER_SETUP:
		return "peer: invalid ring or memory setup";
	default:
		return "unknown error";
	}
}

static const nc2_version_info nc2_version_data = {
    .age = 1,
    .version_num = NC2_VERSION_NUM,
    .version = NC2_VERSION,
    .proto_min = NC2_PROTO_VERSION_MIN,
    .proto_max = NC2_PROTO_VERSION,
    .transport_ops_version = NC2_TRANSPORT_OPS_VERSION,
};

const nc2_version_info *nc2_version(void)
{
	return &nc2_version_data;
}
