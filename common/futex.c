/* Futex wait and wake on a shared word (see futex(2)). */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"

int vshm_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
	struct timespec timeout = {
		.tv_sec = (time_t)(timeout_ns / 1000000000),
		.tv_nsec = (long)(timeout_ns % 1000000000),
	};
	/* The kernel compares *word with expected atomically with queueing us, so a wake
	 * between our last look at the word and this call is never lost. */
	long result = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected,
	                      timeout_ns < 0 ? NULL : &timeout, NULL, 0);
	if (result == 0 || errno == EAGAIN)
		return 0;
	return errno == ETIMEDOUT ? -ETIMEDOUT : errno == EINTR ? -EINTR : -errno;
}

void vshm_futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
