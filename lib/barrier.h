/* SPDX-License-Identifier: MIT */
/*
 * Private: the only place that knows about memory ordering. Every use site
 * names the barrier it pairs with on the peer's side. A kernel build can
 * supply its own smp_* based definitions with NC2_PLATFORM_BARRIER_HEADER.
 */
#ifndef NC2_LIB_BARRIER_H
#define NC2_LIB_BARRIER_H

#include <stdint.h>

#if defined(NC2_PLATFORM_BARRIER_HEADER)
#include NC2_PLATFORM_BARRIER_HEADER
#elif defined(__GNUC__) || defined(__clang__)
/* __atomic builtins work on plain objects in mapped memory and need no
 * <stdatomic.h>, which freestanding C11 does not promise. */
static inline uint32_t nc2_load_acquire_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void nc2_store_release_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* READ_ONCE: a single untorn load the compiler may not repeat. */
static inline uint32_t nc2_load_once_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void nc2_store_once_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Store->load ordering for the event-index handshake (Xen's mb()). */
static inline void nc2_fence_full(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#else
#error "libnc2: no memory-ordering primitives for this compiler; define NC2_PLATFORM_BARRIER_HEADER"
#endif

#endif /* NC2_LIB_BARRIER_H */
