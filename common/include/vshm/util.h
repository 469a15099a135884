/*
 * Small things every user of libvshm needs: stream names, errors, logging, the clock.
 */
#ifndef VSHM_UTIL_H
#define VSHM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <vshm/export.h>

#define VSHM_NAME_MAX 64

/*
 * Checks a stream name: 1 to 64 characters from [A-Za-z0-9._-], not "." or "..",
 * not starting with '.' . Returns 0 or -EINVAL, with vshm_error() naming the rule.
 */
VSHM_EXPORT int vshm_name_check(const char *name);

/*
 * Builds the shm_open() name "/vshm.<name>" into out (at least VSHM_SHM_NAME_MAX
 * bytes). Returns 0 or -EINVAL after vshm_name_check().
 */
#define VSHM_SHM_NAME_MAX (sizeof("/vshm.") + VSHM_NAME_MAX)
VSHM_EXPORT int vshm_shm_name(const char *name, char *out);

/* The directory where Linux keeps POSIX shared memory, and our prefix in it. */
#define VSHM_SHM_DIR    "/dev/shm"
#define VSHM_SHM_PREFIX "vshm."

/*
 * A sentence about why the last failing vshm call in this thread failed, naming the
 * thing (stream, segment field, ...) and what to do. Never NULL; "" if nothing failed.
 */
VSHM_EXPORT const char *vshm_error(void);

enum vshm_log_level {
	VSHM_LOG_ERROR,
	VSHM_LOG_WARNING,
	VSHM_LOG_INFO,
	VSHM_LOG_DEBUG,
};

typedef void (*vshm_log_handler)(enum vshm_log_level level, const char *message, void *data);

/*
 * The library never prints by itself except through this handler. The default one
 * writes warnings and errors to stderr as "vshm: <message>"; VSHM_DEBUG=1 in the
 * environment adds info and debug. Passing NULL restores the default.
 */
VSHM_EXPORT void vshm_log_set_handler(vshm_log_handler handler, void *data);

/* CLOCK_MONOTONIC in nanoseconds, the clock of every vshm timestamp. */
VSHM_EXPORT uint64_t vshm_now_ns(void);

#endif
