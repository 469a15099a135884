/*
 * Private: a slot's sequence counter, the seqlock at the heart of the protocol, with
 * each step named once and its barrier documented once, in the manner of Linux's
 * include/linux/seqlock.h (Boehm, "Can seqlocks get along with programming language
 * memory models?", 2012, gives the C11 recipe followed here).
 *
 * The count is odd while the writer fills the slot and even once the slot is stable.
 *
 *   writer                                   reader
 *   seqcount_write_begin(odd)                start = seqcount_read_begin()
 *   ... payload and metadata stores ...      ... payload and metadata loads ...
 *   seqcount_write_end(even)                 if (seqcount_read_retry(start)) discard
 *
 * The payload loads race with the payload stores by design: a reader may read bytes
 * the writer is changing, and seqcount_read_retry() tells it afterwards that it did.
 * Those loads live in racy-copy.h (metadata) and in the caller's own code (pixels).
 */
#ifndef VSHM_SEQCOUNT_H
#define VSHM_SEQCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared-atomic.h"

/*
 * Marks the slot as being written: stores the odd count, then a release fence. The
 * fence pairs with the acquire fence in seqcount_read_retry(): a reader whose loads saw
 * any store the writer makes after this call also sees a count other than the one it
 * started from. The store itself is seq_cst, more than the protocol needs (the writer
 * claims only a slot no reader can enter: not the latest, and with no holders), so that
 * no weaker memory model lets it drift after the first payload store.
 */
static inline void seqcount_write_begin(_Atomic uint64_t *sequence, uint64_t odd)
{
	VSHM_STORE(sequence, odd, memory_order_seq_cst);
	VSHM_FENCE(memory_order_release);
}

/*
 * Marks the slot stable with the even count. Release: every payload and metadata
 * store before it is visible to a reader whose seqcount_read_begin() returns even.
 */
static inline void seqcount_write_end(_Atomic uint64_t *sequence, uint64_t even)
{
	VSHM_STORE(sequence, even, memory_order_release);
}

/*
 * Loads the count before reading the slot. Acquire would do (it pairs with
 * seqcount_write_end(): an even count means the metadata and pixels stored before it
 * are visible); seq_cst costs the same as acquire on x86 and AArch64, and keeps this load
 * after the reader's entering the frame in every model the tests drive.
 */
static inline uint64_t seqcount_read_begin(_Atomic uint64_t *sequence)
{
	return VSHM_LOAD(sequence, memory_order_seq_cst);
}

/*
 * True if the slot changed since seqcount_read_begin() returned start, so whatever was
 * read from it may be torn. The acquire fence pairs with the release fence in
 * seqcount_write_begin(): if any load before this call saw a store the writer made
 * after its odd count, the relaxed re-load below sees the odd count or a later one.
 */
static inline bool seqcount_read_retry(_Atomic uint64_t *sequence, uint64_t start)
{
	VSHM_FENCE(memory_order_acquire);
	return VSHM_LOAD(sequence, memory_order_relaxed) != start;
}

#endif
