/* Stream names: the one check that keeps them safe to use as shm_open() names. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static bool is_name_character(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int vshm_name_check(const char *name)
{
	if (!name || name[0] == '\0')
		return vshm_fail(EINVAL,
		                 "stream name is empty: use 1 to %d characters from "
		                 "[A-Za-z0-9._-]",
		                 VSHM_NAME_MAX);
	size_t length = strnlen(name, VSHM_NAME_MAX + 1);
	if (length > VSHM_NAME_MAX)
		return vshm_fail(EINVAL, "stream name is longer than %d characters", VSHM_NAME_MAX);
	/* Control characters and bytes outside ASCII first, naming the byte only: the name
	 * itself goes into the message only once it is known to be printable ASCII, so that
	 * the one line a program prints of it stays one line and cannot send a terminal
	 * escape sequences. */
	for (size_t i = 0; i < length; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return vshm_fail(EINVAL,
			                 "stream name contains control character 0x%02x: "
			                 "only [A-Za-z0-9._-] are allowed",
			                 c);
		if (c > 0x7f)
			return vshm_fail(EINVAL,
			                 "stream name contains byte 0x%02x, not ASCII: "
			                 "only [A-Za-z0-9._-] are allowed",
			                 c);
	}
	for (size_t i = 0; i < length; i++) {
		if (!is_name_character(name[i]))
			return vshm_fail(EINVAL,
			                 "stream name '%s' contains '%c': only [A-Za-z0-9._-] are "
			                 "allowed",
			                 name, name[i]);
	}
	/* A leading dot would allow "." and ".." and hide the segment from listings. */
	if (name[0] == '.')
		return vshm_fail(EINVAL, "stream name '%s' starts with '.': it must not", name);
	if (strstr(name, ".."))
		return vshm_fail(EINVAL, "stream name '%s' contains '..': it must not", name);
	return 0;
}

int vshm_shm_name(const char *name, char *out)
{
	int result = vshm_name_check(name);
	if (result < 0)
		return result;
	snprintf(out, VSHM_SHM_NAME_MAX, "/" VSHM_SHM_PREFIX "%s", name);
	return 0;
}
