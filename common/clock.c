/* The one clock of vshm timestamps. */
#include <time.h>

#include "vshm/util.h"

uint64_t vshm_now_ns(void)
{
	struct timespec now;
	/* CLOCK_MONOTONIC cannot fail with a valid pointer; it is shared by all processes. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}
