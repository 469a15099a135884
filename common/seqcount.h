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
 * Marks the slot as being written: stores the odd count, then a release fence.
 *
 * The store is seq_cst because the writer's next step is to re-check that no reader
 * announced a hold on the slot (Dekker with the reader's seq_cst hold store and
 * seq_cst seqcount_read_begin(): either the writer sees the hold, or the reader sees
 * the odd count). The release fence pairs with the acquire fence in
 * seqcount_read_retry(): a reader whose loads saw any store the writer makes after
 * this call also sees a count other than the one it started from.
 */
static inline void seqcount_write_begin(_Atomic uint64_t *sequence, uint64_t odd)
{
	VSHM_STORE(sequence, odd, memory_order_seq_cst);
	VSHM_FENCE(memory_order_release);
}

/*
 * Gives a slot back untouched after seqcount_write_begin(), when the writer found a
 * reader holding it: no byte of the slot was written, so its old even count is true
 * again. Release pairs with seqcount_read_begin()'s acquire.
 */
static inline void seqcount_write_abort(_Atomic uint64_t *sequence, uint64_t previous_even)
{
	VSHM_STORE(sequence, previous_even, memory_order_release);
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
 * Loads the count before reading the slot. seq_cst, which includes acquire (pairs
 * with seqcount_write_end()): the reader announced its hold on the slot with a seq_cst
 * store just before, and this load must not be ordered before that store (the Dekker
 * pair described at seqcount_write_begin()). Inspection without a hold needs only the
 * acquire part; a seq_cst load costs the same as an acquire load on x86 and AArch64.
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
