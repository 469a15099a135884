/*
 * Private: the two futex operations vshm needs, on a word in shared memory. No
 * FUTEX_PRIVATE_FLAG: waiter and waker are different processes.
 */
#ifndef VSHM_FUTEX_H
#define VSHM_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * Sleeps while *word == expected, at most timeout_ns (negative: no limit).
 * Returns 0 when woken or when *word already differed, -ETIMEDOUT, -EINTR.
 */
int vshm_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns);

/* Wakes every process sleeping on word. */
void vshm_futex_wake_all(_Atomic uint32_t *word);

#endif
