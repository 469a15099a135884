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
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define VSHM_NO_SANITIZE_THREAD __attribute__((no_sanitize("thread")))
#else
#define VSHM_NO_SANITIZE_THREAD
#endif

VSHM_NO_SANITIZE_THREAD static inline void vshm_racy_copy(void *destination, const void *source,
                                                          size_t size)
{
	/* volatile keeps the compiler from merging or moving these reads past the
	 * fences around the call; a byte loop is plenty for 128 bytes of metadata. */
	const volatile unsigned char *from = source;
	unsigned char *to = destination;
	for (size_t i = 0; i < size; i++)
		to[i] = from[i];
}

#endif
