/*
 * Private: the one place where vshm copies bytes that another process may be writing
 * at the same moment (a slot's frame metadata; the pixels themselves are never copied
 * by the library). Under the seqlock protocol such a copy may be torn; the sequence
 * counter read after it tells, and a torn copy is discarded, never used. The copy is
 * outside the C memory model's data-race rules by design, as in every seqlock; it is
 * kept here so ThreadSanitizer can be told about exactly this function and nothing else.
 */
#ifndef VSHM_RACY_COPY_H
#define VSHM_RACY_COPY_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
#define VSHM_NO_SANITIZE_THREAD __attribute__((no_sanitize("thread")))
#else
#define VSHM_NO_SANITIZE_THREAD
#endif

/*
 * Copies size bytes (a multiple of 8, both ends 8-byte aligned) as 64-bit words: whole
 * words keep the loads few and independent, so the cache lines they touch are fetched
 * together; volatile keeps the compiler from merging or moving them past the fences
 * around the call.
 */
VSHM_NO_SANITIZE_THREAD static inline void vshm_racy_copy(void *destination, const void *source,
                                                          size_t size)
{
	const volatile uint64_t *from = source;
	uint64_t *to = destination;
	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		to[i] = from[i];
}

#endif
