/*
 * vshm-capture's test pattern against an independent oracle: tests/pattern-oracle.py,
 * a second implementation written from docs/test-pattern.md alone, in Python. The
 * generator's own pattern_color_of() cannot find its own bugs; this can, and it also
 * checks the documentation against the program.
 *
 * For every format at an odd size and an even one (and the other patterns in one
 * format each), vshm-capture runs with a stop point after chosen frames (the first two, a
 * two-digit and a four-digit frame number): each time it stops, the frame it just
 * published is read through libvshm and written to a file, planes without padding.
 * The oracle then compares every byte, and the checksums and the pictures in
 * tests/pattern-references/ (reviewed by eye) pin the frames against later changes of
 * both.
 *
 * VSHM_PATTERN_DUMPS=DIR keeps the frames in DIR, for
 * `pattern-oracle.py write-references DIR tests/pattern-references NAME.png ...`.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"

static const uint64_t chosen[] = { 0, 1, 42, 1234 };
/* The capture running now, for the teardown to end if a failed check left it stopped. */
static pid_t running_capture;
#define CHOSEN_COUNT (sizeof(chosen) / sizeof(chosen[0]))

static const char *dump_directory(void)
{
	const char *kept = getenv("VSHM_PATTERN_DUMPS");
	if (kept && *kept) {
		mkdir(kept, 0700);
		return kept;
	}
	static char directory[512];
	snprintf(directory, sizeof(directory), "%s/frames", program_temporary_directory());
	mkdir(directory, 0700);
	return directory;
}

/* Writes the frame's planes, each row without the stride's padding, to path. */
static void dump_frame(const struct vshm_frame *frame, const char *path)
{
	FILE *file = fopen(path, "wb");
	assert_non_null(file);
	for (uint32_t p = 0; p < frame->plane_count; p++) {
		uint64_t row_bytes;
		uint32_t rows;
		assert_int_equal(vshm_format_plane_extent(frame->format, p, frame->width,
		                                          frame->height, &row_bytes, &rows),
		                 0);
		for (uint32_t row = 0; row < rows; row++)
			assert_int_equal(fwrite(frame->plane[p] + (uint64_t)row * frame->stride[p],
			                        1, row_bytes, file),
			                 row_bytes);
	}
	assert_int_equal(fclose(file), 0);
}

/* Runs vshm-capture with the pattern kind, stops it after each chosen frame and dumps
 * that frame. */
static void capture_chosen_frames(const char *kind, uint32_t format, uint32_t width,
                                  uint32_t height)
{
	char name[64], source[32], size[32], frames[32], errors_path[512];
	test_unique_name(name, sizeof(name), "oracle");
	snprintf(source, sizeof(source), "test:%s", kind);
	snprintf(size, sizeof(size), "%ux%u", width, height);
	snprintf(frames, sizeof(frames), "%llu", (unsigned long long)chosen[CHOSEN_COUNT - 1] + 1);
	snprintf(errors_path, sizeof(errors_path), "%s/capture.err", program_temporary_directory());
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         source,
		         "--format",
		         (char *)vshm_format_name(format),
		         "--size",
		         size,
		         "--fast",
		         "--frames",
		         frames,
		         "--name",
		         name,
		         "--quiet",
		         NULL };
	pid_t capture = program_start_with_stop_points(argv, NULL, errors_path,
	                                               "VSHM_STOP_AFTER_PUBLISH=0,1,42,1234");
	running_capture = capture;
	struct vshm_reader *reader = NULL;
	for (unsigned i = 0; i < CHOSEN_COUNT; i++) {
		/* Stopped right after publishing chosen[i]: it is the latest frame. */
		if (!program_wait_stopped(capture, 20000)) {
			size_t length = 0;
			char *errors = (char *)program_read_file(errors_path, &length);
			fail_msg("vshm-capture did not stop after frame %llu: %.*s",
			         (unsigned long long)chosen[i], (int)length, errors ? errors : "");
		}
		if (!reader)
			reader = vshm_reader_attach(name, NULL);
		assert_non_null(reader);
		struct vshm_frame frame;
		assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
		assert_int_equal(frame.frame_number, chosen[i]);
		assert_int_equal(frame.format, format);
		assert_int_equal(frame.width, width);
		assert_int_equal(frame.height, height);
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s-%s-%ux%u-%llu.raw", dump_directory(), kind,
		         vshm_format_name(format), width, height,
		         (unsigned long long)frame.frame_number);
		dump_frame(&frame, path);
		assert_int_equal(vshm_reader_release(reader), 1);
		kill(capture, SIGCONT);
	}
	vshm_reader_detach(reader);
	assert_int_equal(test_wait(capture, 20000), 0);
	running_capture = 0;
	assert_false(test_segment_exists(name));
}

static void pattern_matches_the_independent_oracle(void **state)
{
	(void)state;
	/* An odd size (odd chroma rounding, the last 4:2:2 pair half used, one-pixel dots)
	 * and an even one with two-pixel dots and a two-pixel step. */
	static const uint32_t sizes[][2] = { { 161, 97 }, { 320, 180 } };
	unsigned captured = 0;
	for (unsigned s = 0; s < 2; s++) {
		for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++, captured++)
			capture_chosen_frames("bars", vshm_format_at(i), sizes[s][0], sizes[s][1]);
	}
	/* The other patterns, one in a planar YUV and one in a packed RGB format. */
	capture_chosen_frames("gradient", VSHM_FORMAT_I420, 161, 97);
	capture_chosen_frames("checkers", VSHM_FORMAT_RGB24, 161, 97);
	captured += 2;

	char *argv[] = { (char *)program_path("VSHM_PYTHON"),
		         (char *)program_path("VSHM_PATTERN_ORACLE"),
		         "check",
		         (char *)dump_directory(),
		         (char *)program_path("VSHM_PATTERN_REFERENCES"),
		         NULL };
	char output_path[512];
	snprintf(output_path, sizeof(output_path), "%s/oracle.out", program_temporary_directory());
	pid_t oracle = program_start(argv, output_path, output_path);
	int status = test_wait(oracle, 120000);
	size_t length = 0;
	char *output = (char *)program_read_file(output_path, &length);
	assert_non_null(output);
	output[length] = '\0';
	print_message("%u captures, %u frames each: %s", captured, (unsigned)CHOSEN_COUNT, output);
	char expected[128];
	snprintf(expected, sizeof(expected), "%u frames compared",
	         captured * (unsigned)CHOSEN_COUNT);
	if (!strstr(output, expected))
		fail_msg("the oracle did not see every frame (%s)", expected);
	free(output);
	assert_int_equal(status, 0);
}

static int teardown(void **state)
{
	(void)state;
	if (running_capture > 0) {
		kill(running_capture, SIGKILL);
		kill(running_capture, SIGCONT);
		test_wait(running_capture, 5000);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(pattern_matches_the_independent_oracle, teardown),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
