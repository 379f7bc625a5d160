/* SPDX-License-Identifier: MIT */
/*
 * Shared declarations for the libnc2 fuzz targets (fuzz_<module>.c) and the
 * corpus replay driver (replay_main.c).
 *
 * Each target is built twice: as a libFuzzer binary (clang -fsanitize=fuzzer)
 * and as replay_<module>, which feeds the committed corpus to the same entry
 * point so every `make check` runs it. A failed check traps so both report
 * it as a crash.
 */
#ifndef NC2_FUZZ_H
#define NC2_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/** libFuzzer entry point, one per target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__GNUC__) || defined(__clang__)
#define FUZZ_TRAP() __builtin_trap()
#else
#define FUZZ_TRAP() abort()
#endif

/** Trap with a message when an invariant does not hold. */
#define FUZZ_CHECK(cond)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                       \
			FUZZ_TRAP();                                                          \
		}                                                                             \
	} while (0)

/* Little-endian readers written independently of lib/le.h, so the targets do
 * not share a bug with the code under test. */
static inline uint16_t fz_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t fz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint32_t fz_round8(uint32_t v)
{
	return (v + 7u) & ~7u;
}

/** Bit for status code \p err in a set of codes (peer codes -100..-116 and
 * INVALID_ARG). */
static inline uint64_t fz_code_bit(int err)
{
	if (err <= -100 && err >= -131)
		return 1ull << (uint32_t)(-100 - err);
	if (err == -2)
		return 1ull << 40;
	return 1ull << 41; /* anything else: never in an expected set */
}

#endif /* NC2_FUZZ_H */
