/*
 * Errors and logging. The library never prints on its own: error details are kept per
 * thread for vshm_error(), and everything else goes through one replaceable handler.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static _Thread_local char last_error[512];

static void default_handler(enum vshm_log_level level, const char *message, void *data);

static vshm_log_handler handler = default_handler;
static void *handler_data;

static void default_handler(enum vshm_log_level level, const char *message, void *data)
{
	(void)data;
	/* Worked out from the environment at the first message. Threads may log their first
	 * messages at once: they all work out the same answer, so relaxed atomics suffice
	 * to make that a race of equal values rather than a data race. */
	static atomic_int verbose = -1;
	int value = atomic_load_explicit(&verbose, memory_order_relaxed);
	if (value < 0) {
		const char *debug = getenv("VSHM_DEBUG");
		value = debug && *debug && strcmp(debug, "0") != 0;
		atomic_store_explicit(&verbose, value, memory_order_relaxed);
	}
	if (level <= VSHM_LOG_WARNING || value)
		fprintf(stderr, "vshm: %s\n", message);
}

void vshm_log_set_handler(vshm_log_handler new_handler, void *data)
{
	handler = new_handler ? new_handler : default_handler;
	handler_data = new_handler ? data : NULL;
}

VSHM_PRINTF(2, 0)
static void log_message(enum vshm_log_level level, const char *format, va_list arguments)
{
	char message[512];
	vsnprintf(message, sizeof(message), format, arguments);
	handler(level, message, handler_data);
}

void vshm_log(enum vshm_log_level level, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	log_message(level, format, arguments);
	va_end(arguments);
}

int vshm_fail(int error_number, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(last_error, sizeof(last_error), format, arguments);
	va_end(arguments);
	vshm_log(VSHM_LOG_DEBUG, "%s", last_error);
	return -error_number;
}

void vshm_clear_error(void)
{
	last_error[0] = '\0';
}

const char *vshm_error(void)
{
	return last_error;
}
