/*
 * The programs' option parsers (program/options.h): one set of limits for every program,
 * checked at and just past each limit, and every refusal a line that names the option.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"

/* stderr goes to a file between quiet_begin() and quiet_end(), which returns what was
 * written, so each refusal's message can be checked. */
static FILE *captured;
static int saved_stderr = -1;
static char message[512];

static void quiet_begin(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(captured), STDERR_FILENO);
}

static const char *quiet_end(void)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(captured);
	size_t got = fread(message, 1, sizeof(message) - 1, captured);
	message[got] = '\0';
	fclose(captured);
	return message;
}

#define PARSE(call) (quiet_begin(), parse_result = (call), quiet_end(), parse_result)
static int parse_result;

static void sizes(void **state)
{
	(void)state;
	uint32_t width = 7, height = 7;
	assert_int_equal(PARSE(program_parse_size("--size", "1x1", &width, &height)), 0);
	assert_int_equal(width, 1);
	assert_int_equal(height, 1);
	assert_int_equal(PARSE(program_parse_size("--size", "16384X16384", &width, &height)), 0);
	assert_int_equal(width, 16384);
	const char *bad[] = { "0x5",  "5x0", "0x0",  "16385x1",      "1x16385", "x5",
		              "5x",   "5",   "-5x5", "5x-5",         "5x5x5",   " 5x5",
		              "5x5 ", "",    "axb",  "99999999999x1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		width = height = 7;
		int result = PARSE(program_parse_size("--size", bad[i], &width, &height));
		if (result != -1 || width != 7 || height != 7)
			fail_msg("--size '%s' was accepted (%ux%u)", bad[i], width, height);
		assert_non_null(strstr(message, "--size"));
		assert_non_null(strstr(message, "1..16384"));
	}
}

static void counts_and_slots(void **state)
{
	(void)state;
	uint64_t value = 9;
	assert_int_equal(PARSE(program_parse_count("--frames", "1", 1, UINT64_MAX, &value)), 0);
	assert_int_equal(value, 1);
	const char *bad[] = { "0", "-1", "+1", "1.5", "", "x", "18446744073709551616" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		value = 9;
		if (PARSE(program_parse_count("--frames", bad[i], 1, UINT64_MAX, &value)) != -1 ||
		    value != 9)
			fail_msg("--frames '%s' was accepted", bad[i]);
		assert_non_null(strstr(message, "--frames"));
	}
	uint32_t slots = 0;
	assert_int_equal(PARSE(program_parse_slots("--slots", "3", &slots)), 0);
	assert_int_equal(slots, 3);
	assert_int_equal(PARSE(program_parse_slots("--slots", "64", &slots)), 0);
	assert_int_equal(slots, 64);
	assert_int_equal(PARSE(program_parse_slots("--slots", "2", &slots)), -1);
	assert_int_equal(PARSE(program_parse_slots("--slots", "65", &slots)), -1);
	assert_non_null(strstr(message, "3..64"));
}

static void seconds_timeouts_and_rates(void **state)
{
	(void)state;
	double seconds = -1;
	assert_int_equal(PARSE(program_parse_seconds("--watch", "0.1", 0.1, &seconds)), 0);
	assert_int_equal(PARSE(program_parse_seconds("--watch", "0.09", 0.1, &seconds)), -1);
	int timeout = -7;
	assert_int_equal(PARSE(program_parse_timeout("--timeout", "2.5", &timeout)), 0);
	assert_int_equal(timeout, 2500);
	assert_int_equal(PARSE(program_parse_timeout("--timeout", "0", &timeout)), 0);
	assert_int_equal(timeout, 0);
	const char *bad[] = { "-1", "inf", "nan", "1e3", "0x10", "", "86401" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (PARSE(program_parse_timeout("--timeout", bad[i], &timeout)) != -1)
			fail_msg("--timeout '%s' was accepted", bad[i]);
		assert_non_null(strstr(message, "--timeout"));
	}
	double rate = 0;
	assert_int_equal(PARSE(program_parse_rate("--fps", "1000", &rate)), 0);
	assert_int_equal(PARSE(program_parse_rate("--fps", "0.5", &rate)), 0);
	assert_int_equal(PARSE(program_parse_rate("--fps", "0", &rate)), -1);
	assert_int_equal(PARSE(program_parse_rate("--fps", "1000.1", &rate)), -1);
}

/* The list in every error and usage text is the format table's, in its order. */
static void formats_come_from_the_table(void **state)
{
	(void)state;
	char expected[256] = "";
	for (unsigned i = 0; vshm_format_at(i); i++) {
		strcat(expected, i ? " " : "");
		strcat(expected, vshm_format_name(vshm_format_at(i)));
	}
	assert_string_equal(program_format_names(), expected);
	uint32_t format = 0;
	assert_int_equal(PARSE(program_parse_format("--format", "NV12", &format)), 0);
	assert_int_equal(format, VSHM_FORMAT_NV12);
	assert_int_equal(PARSE(program_parse_format("--format", "nv21", &format)), -1);
	assert_non_null(strstr(message, expected));
	char list[64];
	const uint32_t some[] = { VSHM_FORMAT_GRAY8, VSHM_FORMAT_RGBA, VSHM_FORMAT_INVALID };
	program_format_list(some, list, sizeof(list));
	assert_string_equal(list, "gray8 rgba");
}

int main(void)
{
	program_set_name("test-options");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes),
		cmocka_unit_test(counts_and_slots),
		cmocka_unit_test(seconds_timeouts_and_rates),
		cmocka_unit_test(formats_come_from_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
