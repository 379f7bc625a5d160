/* SPDX-License-Identifier: MIT */
/*
 * Private: hints to the compiler about the hot path.
 */
#ifndef NC2_LIB_COMPILER_H
#define NC2_LIB_COMPILER_H

#include <stddef.h>
#include <string.h>

/* Keeps a rarely taken path out of line, so that the common path around it
 * needs fewer registers saved. A hint only. */
#if defined(__GNUC__) || defined(__clang__)
#define NC2_SLOWPATH __attribute__((noinline))
#else
#define NC2_SLOWPATH
#endif

/* Inlined into each caller although it has several: for a small helper on
 * the per-fragment path, whose call would cost more than its body. */
#if defined(__GNUC__) || defined(__clang__)
#define NC2_INLINE inline __attribute__((always_inline))
#else
#define NC2_INLINE inline
#endif

/* Ask for the cache line at \p p for writing (prefetchw where the target
 * has it, -mprfchw; else a plain prefetch). A hint only. */
static inline void nc2_prefetch_w(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
	__builtin_prefetch(p, 1, 3);
#else
	(void)p;
#endif
}

/*
 * memcpy() that stays a call. When a bounds check lets GCC prove a length
 * small (<= one page), it expands memcpy inline as `rep movsq`, which for
 * packet-sized copies is several times slower than the C library's vector
 * copy, worst when the source lines sit in the other core's cache (the shm
 * benchmark fell from 4.4 to 2.1 Mpps at 1500 octets). An empty asm makes
 * the length opaque to the optimizer.
 */
static inline void nc2_copy_data(void *dst, const void *src, size_t len)
{
#if defined(__GNUC__) || defined(__clang__)
	__asm__("" : "+r"(len));
#endif
	memcpy(dst, src, len);
}

#endif /* NC2_LIB_COMPILER_H */
