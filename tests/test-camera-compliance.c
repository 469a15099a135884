/*
 * The fake camera against the V4L2 compliance tool (v4l2-compliance, from v4l-utils),
 * preloaded under it: with the driver's own calls (-s) and through libv4l2 (-w -s),
 * streaming included. Every failure must be one that v4l2-compliance-deliberate.txt
 * lists as deliberate, with its reason; and every failure listed there must still
 * happen, so the list stays true.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"

#define DEVICE       "/dev/video47"
#define FAILURES_MAX 64
#define TEXT_MAX     256

struct failure {
	char mode[16];
	char test[TEXT_MAX];
	char message[TEXT_MAX];
	bool seen;
};

static void trim(char *text)
{
	size_t length = strlen(text);
	while (length && (text[length - 1] == ' ' || text[length - 1] == '\n'))
		text[--length] = '\0';
	size_t start = strspn(text, " \t");
	memmove(text, text + start, strlen(text + start) + 1);
}

/* The deliberate failures: "MODE | TEST | MESSAGE" lines; '#' starts a comment. */
static size_t read_deliberate(struct failure *list)
{
	size_t size;
	char *text = (char *)program_read_file(program_path("VSHM_COMPLIANCE_DELIBERATE"), &size);
	assert_non_null(text);
	text[size] = '\0'; /* the buffer has room for it */
	size_t count = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' || strspn(line, " \t") == strlen(line))
			continue;
		char *first = strstr(line, " | ");
		char *second = first ? strstr(first + 3, " | ") : NULL;
		if (!second)
			fail_msg("not MODE | TEST | MESSAGE: '%s'", line);
		assert_true(count < FAILURES_MAX);
		struct failure *entry = &list[count++];
		*first = *second = '\0';
		snprintf(entry->mode, sizeof(entry->mode), "%s", line);
		snprintf(entry->test, sizeof(entry->test), "%s", first + 3);
		snprintf(entry->message, sizeof(entry->message), "%s", second + 3);
		trim(entry->mode);
		trim(entry->test);
		trim(entry->message);
	}
	free(text);
	return count;
}

/*
 * Runs v4l2-compliance with options on the preloaded fake, and checks its failures
 * against the list: each "fail: FILE(LINE): MESSAGE" belongs to the "test NAME: FAIL"
 * that follows it.
 */
static void comply(const char *mode, char *const *options, struct failure *list, size_t listed)
{
	char output[512];
	snprintf(output, sizeof(output), "%s/compliance.out", program_temporary_directory());
	char *argv[8] = { (char *)program_path("VSHM_V4L2_COMPLIANCE"), "-d", DEVICE };
	int argc = 3;
	for (int i = 0; options[i]; i++)
		argv[argc++] = options[i];
	argv[argc] = NULL;
	setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
	pid_t pid = program_start(argv, output, output);
	unsetenv("LD_PRELOAD");
	int status = test_wait(pid, 240000);
	size_t size;
	char *text = (char *)program_read_file(output, &size);
	assert_non_null(text);
	text[size] = '\0'; /* the buffer has room for it */
	/* Progress lines end with '\r': one line each. */
	for (char *c = text; *c; c++)
		if (*c == '\r')
			*c = '\n';
	print_message("v4l2-compliance %s: exit status %d\n", mode, status);
	assert_true(status == 0 || status == 1); /* 1: some test failed */
	assert_non_null(strstr(text, "Total for fake-camera device " DEVICE));

	char messages[FAILURES_MAX][TEXT_MAX];
	size_t pending = 0;
	unsigned unexpected = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		trim(line);
		if (strncmp(line, "Total for", 9) == 0)
			print_message("  %s\n", line);
		const char *fail = strncmp(line, "fail: ", 6) == 0 ? strstr(line, "): ") : NULL;
		if (fail && pending < FAILURES_MAX) {
			snprintf(messages[pending++], TEXT_MAX, "%s", fail + 3);
			continue;
		}
		size_t length = strlen(line);
		if (strncmp(line, "test ", 5) != 0 || length < 6 ||
		    strcmp(line + length - 6, ": FAIL") != 0) {
			if (strncmp(line, "test ", 5) == 0)
				pending = 0; /* a test that passed after all */
			continue;
		}
		line[length - 6] = '\0';
		const char *test = line + 5;
		for (size_t m = 0; m < (pending ? pending : 1); m++) {
			const char *message = pending ? messages[m] : "";
			bool deliberate = false;
			for (size_t d = 0; d < listed; d++) {
				if (strcmp(list[d].mode, mode) == 0 &&
				    strcmp(list[d].test, test) == 0 &&
				    strcmp(list[d].message, message) == 0) {
					list[d].seen = deliberate = true;
				}
			}
			if (!deliberate) {
				print_error("not listed as deliberate: %s | %s | %s\n", mode, test,
				            message);
				unexpected++;
			}
		}
		pending = 0;
	}
	free(text);
	assert_int_equal(unexpected, 0);
}

static void the_fake_complies(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_DEVICE", DEVICE, 1);
	unsetenv("FAKE_CAMERA_FORMATS"); /* every format it has */
	unsetenv("FAKE_CAMERA_SIZES");
	setenv("FAKE_CAMERA_FPS", "100,30", 1);
	setenv("FAKE_CAMERA_EMULATE", "1", 1); /* libv4l2's formats on its fds, as it adds them */
	struct failure list[FAILURES_MAX];
	size_t listed = read_deliberate(list);
	char *direct[] = { "-s", NULL };
	char *wrapped[] = { "-w", "-s", NULL };
	comply("-s", direct, list, listed);
	comply("-w -s", wrapped, list, listed);
	unsigned stale = 0;
	for (size_t d = 0; d < listed; d++) {
		if (!list[d].seen) {
			print_error("listed as deliberate, but does not fail: %s | %s | %s\n",
			            list[d].mode, list[d].test, list[d].message);
			stale++;
		}
	}
	assert_int_equal(stale, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_fake_complies),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
