/*
 * Parsing the options vshm programs share (see options.h). Each function says in one
 * line what it expected; the limits are the library's own constants.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* A day: longer timeouts are "wait for ever" in all but name, and must fit an int. */
#define TIMEOUT_SECONDS_MAX 86400.0

static const char *name = "vshm";

void program_set_name(const char *program)
{
	const char *slash = strrchr(program, '/');
	name = slash ? slash + 1 : program;
}

const char *program_name(void)
{
	return name;
}

void program_say(const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	fprintf(stderr, "%s: ", name);
	vfprintf(stderr, format, arguments);
	fputc('\n', stderr);
	va_end(arguments);
}

int program_common_option(int option, bool *quiet, void (*usage)(FILE *out))
{
	switch (option) {
	case 'q':
		if (!quiet)
			break;
		*quiet = true;
		return 0;
	case 'h':
		usage(stdout);
		return 1;
	case 'V':
		printf("%s %s\n", name, VSHM_VERSION_STRING);
		return 1;
	default:
		break;
	}
	fprintf(stderr, "Try '%s --help'.\n", name);
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int program_parse_size(const char *option, const char *text, uint32_t *width, uint32_t *height)
{
	/* strtoul() would skip spaces and take signs: only digits are a number here. */
	char *end;
	errno = 0;
	unsigned long w = strtoul(text, &end, 10);
	bool ok = is_digit(text[0]) && (*end == 'x' || *end == 'X');
	unsigned long h = 0;
	if (ok) {
		const char *rest = end + 1;
		h = strtoul(rest, &end, 10);
		ok = is_digit(rest[0]) && *end == '\0' && errno == 0;
	}
	if (!ok || w < 1 || h < 1 || w > VSHM_FORMAT_DIMENSION_MAX ||
	    h > VSHM_FORMAT_DIMENSION_MAX) {
		program_say("%s '%s' is not WIDTHxHEIGHT with sizes 1..%d (e.g. 1280x720)", option,
		            text, VSHM_FORMAT_DIMENSION_MAX);
		return -1;
	}
	*width = (uint32_t)w;
	*height = (uint32_t)h;
	return 0;
}

int program_parse_count(const char *option, const char *text, uint64_t minimum, uint64_t maximum,
                        uint64_t *value)
{
	char *end;
	errno = 0;
	unsigned long long parsed = strtoull(text, &end, 10);
	if (errno || !is_digit(text[0]) || *end || parsed < minimum || parsed > maximum) {
		if (maximum == UINT64_MAX)
			program_say("%s '%s' is not a whole number, %llu or more", option, text,
			            (unsigned long long)minimum);
		else
			program_say("%s '%s' is not a whole number %llu..%llu", option, text,
			            (unsigned long long)minimum, (unsigned long long)maximum);
		return -1;
	}
	*value = parsed;
	return 0;
}

int program_parse_slots(const char *option, const char *text, uint32_t *slots)
{
	uint64_t value;
	if (program_parse_count(option, text, VSHM_SLOT_COUNT_MIN, VSHM_SLOT_COUNT_MAX, &value) < 0)
		return -1;
	*slots = (uint32_t)value;
	return 0;
}

/* strtod() without its surprises: no "inf", "nan" or hexadecimal, no trailing text. */
static int parse_decimal(const char *text, double *value)
{
	if (!*text || strspn(text, "0123456789.") != strlen(text))
		return -1;
	char *end;
	errno = 0;
	*value = strtod(text, &end);
	return errno || *end ? -1 : 0;
}

int program_parse_seconds(const char *option, const char *text, double minimum, double *seconds)
{
	double value;
	if (parse_decimal(text, &value) < 0 || value < minimum) {
		program_say("%s '%s' is not a number of seconds, %g or more", option, text,
		            minimum);
		return -1;
	}
	*seconds = value;
	return 0;
}

int program_parse_timeout(const char *option, const char *text, int *timeout_ms)
{
	double value;
	if (parse_decimal(text, &value) < 0 || value > TIMEOUT_SECONDS_MAX) {
		program_say("%s '%s' is not a number of seconds 0..%.0f", option, text,
		            TIMEOUT_SECONDS_MAX);
		return -1;
	}
	*timeout_ms = (int)(value * 1000 + 0.5);
	return 0;
}

int program_parse_rate(const char *option, const char *text, double *rate)
{
	double value;
	if (parse_decimal(text, &value) < 0 || !(value > 0 && value <= PROGRAM_RATE_MAX)) {
		program_say("%s '%s' is not a frame rate above 0 and at most %.0f", option, text,
		            PROGRAM_RATE_MAX);
		return -1;
	}
	*rate = value;
	return 0;
}

int program_parse_format(const char *option, const char *text, uint32_t *format)
{
	uint32_t value = vshm_format_from_name(text);
	if (!value) {
		program_say("%s '%s' is not a pixel format the ring carries: %s", option, text,
		            program_format_names());
		return -1;
	}
	*format = value;
	return 0;
}

void program_format_list(const uint32_t *list, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (unsigned i = 0;; i++) {
		uint32_t format = list ? list[i] : vshm_format_at(i);
		if (!format)
			break;
		int written = snprintf(out + used, size - used, "%s%s", used ? " " : "",
		                       vshm_format_name(format));
		if (written < 0 || (size_t)written >= size - used)
			break; /* cut short; the caller's buffer holds every real list */
		used += (size_t)written;
	}
}

const char *program_format_names(void)
{
	static char names[256];
	if (!names[0])
		program_format_list(NULL, names, sizeof(names));
	return names;
}
