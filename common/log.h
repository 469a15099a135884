/* Private: how the library reports errors (vshm_error()) and logs (vshm_log_set_handler()). */
#ifndef VSHM_LOG_PRIVATE_H
#define VSHM_LOG_PRIVATE_H

#include "vshm/util.h"

#define VSHM_PRINTF(format_index, first_argument)                                                  \
	__attribute__((format(printf, format_index, first_argument)))

/*
 * Records why the current call fails, for vshm_error(), logs it at debug level, and
 * returns -error_number so that callers can write `return fail(EINVAL, "...")`.
 */
int vshm_fail(int error_number, const char *format, ...) VSHM_PRINTF(2, 3);

/* Forgets the last error, at the start of a public call that may fail. */
void vshm_clear_error(void);

void vshm_log(enum vshm_log_level level, const char *format, ...) VSHM_PRINTF(2, 3);

#endif
