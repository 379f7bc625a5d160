/* SPDX-License-Identifier: MIT */
/**
 * \file nc2/common.h
 * Export macro, status codes and nc2_strerror().
 *
 * Every libnc2 function that can fail returns an int: NC2_OK (0), a positive
 * count where documented, or a negative NC2_ERR_* code. Codes in
 * (-100, -1] are the caller's business (bad argument, ring full, ...).
 * Codes <= NC2_ERR_PEER_PROTO mean the peer broke the protocol; a channel
 * that sees one enters the failed state and reports it until reset.
 */
#ifndef NC2_COMMON_H
#define NC2_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NC2_STATIC)
#define NC2_API
#elif defined(_WIN32)
#if defined(NC2_BUILDING)
#define NC2_API __declspec(dllexport)
#else
#define NC2_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define NC2_API __attribute__((visibility("default")))
#else
#define NC2_API
#endif

/** Status codes. Keep nc2_strerror() (lib/error.c) in step. */
enum nc2_status {
	NC2_OK = 0,

	/* Caller-side conditions and errors: the channel stays usable. */
	NC2_ERR_AGAIN = -1,       /**< ring full or empty; retry later */
	NC2_ERR_INVALID_ARG = -2, /**< argument violates the API contract */
	NC2_ERR_NOSPACE = -3,     /**< caller-provided memory too small */
	NC2_ERR_UNSUPPORTED = -4, /**< feature or optional op not available */
	NC2_ERR_TRANSPORT = -5,   /**< a transport operation failed */
	NC2_ERR_STATE = -6,       /**< call not valid in the current state */
	NC2_ERR_LIMIT = -7,       /**< request exceeds a negotiated limit */
	NC2_ERR_VERSION = -8,     /**< struct or ops version not supported */
	NC2_ERR_NOT_FOUND = -9,   /**< no such object (queue, grant, id) */

	/* Peer protocol violations: fatal for the channel. */
	NC2_ERR_PEER_PROTO = -100,          /**< message not allowed now or from this role */
	NC2_ERR_PEER_RING_INDEX = -101,     /**< ring index out of range or unaligned */
	NC2_ERR_PEER_MSG_SIZE = -102,       /**< message size malformed for its type */
	NC2_ERR_PEER_MSG_TYPE = -103,       /**< unknown message type */
	NC2_ERR_PEER_RESERVED = -104,       /**< reserved field or unknown flag bit set */
	NC2_ERR_PEER_BAD_VALUE = -105,      /**< field value outside its domain */
	NC2_ERR_PEER_BAD_FRAG = -106,       /**< fragment empty or outside its page/buffer */
	NC2_ERR_PEER_TOO_MANY_FRAGS = -107, /**< more fragments than negotiated */
	NC2_ERR_PEER_PACKET_SIZE = -108,    /**< prefix or total length out of range */
	NC2_ERR_PEER_BAD_CSUM = -109,       /**< checksum offsets outside the packet */
	NC2_ERR_PEER_OFFLOAD = -110,        /**< offload used but not enabled */
	NC2_ERR_PEER_BAD_ID = -111,         /**< unknown, duplicate or stale id */
	NC2_ERR_PEER_LIMIT = -112,          /**< peer exceeded a limit it was given */
	NC2_ERR_PEER_VERSION = -113,        /**< no protocol version in common */
	NC2_ERR_PEER_GRANT = -114,          /**< peer's grant could not be used */
	NC2_ERR_PEER_GONE = -115,           /**< peer disconnected or died */
	NC2_ERR_PEER_SETUP = -116           /**< peer's ring/memory setup is invalid */
};

/** Human-readable text for a status code; never NULL, never allocates. */
NC2_API const char *nc2_strerror(int err);

/** Non-zero when \p err is a peer protocol violation (channel-fatal). */
static inline int nc2_is_peer_error(int err)
{
	return err <= NC2_ERR_PEER_PROTO;
}

#ifdef __cplusplus
}
#endif

#endif /* NC2_COMMON_H */
