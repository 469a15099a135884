/*
 * A filter whose input goes wrong, run as a real process: its input overwritten while
 * it reads it (the writer out of free slots) gives nothing made of the torn frame; its
 * input ending makes it end too, by itself, leaving nothing behind; bad arguments, a
 * missing input and an unsupported format get a clear message and a non-zero status.
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

#include <cmocka.h>

#include "filter-run.h"
#include "program-util.h"
#include "test-util.h"

/* What a filter's final status line says: torn inputs dropped, and two medians per frame. */
struct filter_summary {
	unsigned long long torn;
	double work_us;  /* the median time in process() */
	double stage_us; /* the median time from input published to output published */
};

static struct filter_summary final_status(const char *errors_path)
{
	size_t size;
	char *text = (char *)program_read_file(errors_path, &size);
	assert_non_null(text);
	struct filter_summary summary = { 0 };
	const char *done = strstr(text, "done: ");
	const char *frames = done ? strstr(done, " frames, ") : NULL;
	const char *median = frames ? strstr(frames, "(median ") : NULL;
	if (!frames || sscanf(frames, " frames, %llu torn inputs dropped", &summary.torn) != 1 ||
	    !median ||
	    sscanf(median, "(median %lf us), %lf us input to output", &summary.work_us,
	           &summary.stage_us) != 2)
		fail_msg("no final status line in the filter's output: %s", text);
	free(text);
	return summary;
}

/*
 * Frames of one value each, published as fast as the test can, into 3 slots of which a
 * reader of ours holds one for good: whenever the filter still reads its input when
 * the writer needs a slot, both candidates are held, and the writer overwrites the
 * older, the filter's. The filter must drop every such input (its release says it was
 * rewritten): every output frame is one value, 255 less its input's.
 */
static void a_torn_input_is_dropped_not_published(void **state)
{
	(void)state;
	enum { FRAME_WIDTH = 1920, FRAME_HEIGHT = 1080 };
	char input[64], output[80], errors[512];
	test_unique_name(input, sizeof(input), "torn-in");
	snprintf(output, sizeof(output), "%s.out", input);
	snprintf(errors, sizeof(errors), "%s/torn-filter.err", program_temporary_directory());
	struct vshm_writer_options options = { .slot_count = 3,
		                               .max_format = VSHM_FORMAT_GRAY8,
		                               .max_width = FRAME_WIDTH,
		                               .max_height = FRAME_HEIGHT };
	struct vshm_writer *writer = vshm_writer_create(input, &options);
	assert_non_null(writer);
	struct vshm_frame frame;
	assert_int_equal(
	    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, FRAME_WIDTH, FRAME_HEIGHT, &frame), 0);
	memset(frame.plane[0], 1, (size_t)frame.stride[0] * FRAME_HEIGHT);
	assert_true(vshm_writer_publish(writer, &frame) >= 0);
	struct vshm_reader *holder = vshm_reader_attach(input, NULL);
	assert_non_null(holder);
	struct vshm_frame held;
	assert_int_equal(vshm_reader_acquire(holder, &held), 0);
	char *argv[] = { filter_path("invert"), input, output, NULL };
	pid_t filter = program_start(argv, NULL, errors);
	struct vshm_reader *checker = NULL;
	uint64_t checked = 0, mixed = 0, last_checked = 0, start = vshm_now_ns();
	for (uint64_t n = 2; vshm_now_ns() - start < 3000000000u; n++) {
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, FRAME_WIDTH, FRAME_HEIGHT, &frame),
		    0);
		memset(frame.plane[0], (int)(16 + n % 200), (size_t)frame.stride[0] * FRAME_HEIGHT);
		frame.frame_number = n;
		assert_true(vshm_writer_publish(writer, &frame) >= 0);
		if (!checker)
			checker = vshm_reader_attach(output, NULL);
		struct vshm_frame out;
		if (!checker || vshm_reader_acquire(checker, &out) < 0)
			continue;
		if (out.sequence == last_checked) {
			vshm_reader_release(checker);
			continue;
		}
		/* The filter reads its input, and the writer fills it, top to bottom: a frame
		 * made of two differs between the starts of two rows, or at the very end. */
		const uint8_t *first = out.plane[0];
		bool one_value =
		    first[(uint64_t)(out.height - 1) * out.stride[0] + out.width - 1] == first[0];
		for (uint32_t y = 1; y < out.height; y++)
			one_value = one_value && first[(uint64_t)y * out.stride[0]] == first[0];
		if (vshm_reader_release(checker) == 1) {
			last_checked = out.sequence;
			checked++;
			mixed += !one_value;
		}
	}
	kill(filter, SIGTERM);
	assert_int_equal(test_wait(filter, 10000), 128 + SIGTERM);
	struct filter_summary summary = final_status(errors);
	unsigned long long torn = summary.torn;
	print_message("%llu output frames checked, %llu made of two inputs; the filter dropped "
	              "%llu torn inputs; per frame, median: %.1f us of work, %.1f us from input "
	              "to output\n",
	              (unsigned long long)checked, (unsigned long long)mixed, torn, summary.work_us,
	              summary.stage_us);
	vshm_reader_detach(checker);
	vshm_reader_detach(holder);
	vshm_writer_destroy(writer);
	assert_int_equal(mixed, 0);
	assert_true(checked > 0);
	assert_true(torn > 0); /* the case happened: the writer overwrote the filter's input */
	/* Each frame's input was published before the filter took it, and its output after
	 * the work on it: so for every frame, and for their medians, the time from input
	 * to output is at least the work. */
	assert_true(summary.work_us > 0);
	assert_true(summary.stage_us >= summary.work_us);
}

/* A finite source: the filter passes its end on, then exits by itself, its output gone. */
static void a_filter_ends_with_its_input(void **state)
{
	(void)state;
	char input[64], output[80];
	test_unique_name(input, sizeof(input), "ends");
	snprintf(output, sizeof(output), "%s.out", input);
	pid_t filter = start_filter("invert", input, output);
	char *source_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                "test",
		                "--size",
		                "160x120",
		                "--frames",
		                "20",
		                "--fps",
		                "100",
		                "--wait-readers",
		                "1",
		                "--name",
		                input,
		                "--quiet",
		                NULL };
	pid_t source = program_start(source_argv, NULL, NULL);
	assert_int_equal(test_wait(source, 20000), 0);
	/* Not a timing: a filter that missed the end would wait for a new writer for ever. */
	assert_int_equal(test_wait(filter, 20000), 0);
	assert_false(test_segment_exists(input));
	assert_false(test_segment_exists(output));
}

static void fails_with(char *const argv[], int status, const char *message)
{
	char errors[4096];
	int got = program_run(argv, 20000, errors, sizeof(errors));
	if (got != status || !strstr(errors, message))
		fail_msg("%s: status %d, stderr \"%s\"; expected %d and \"%s\"", argv[0], got,
		         errors, status, message);
	print_message("%s", errors);
}

static void bad_arguments_and_streams_get_clear_errors(void **state)
{
	(void)state;
	char missing[64];
	test_unique_name(missing, sizeof(missing), "missing");
	char *no_input[] = { filter_path("invert"), NULL };
	fails_with(no_input, 2, "name the INPUT stream");
	char *bad_name[] = { filter_path("invert"), "bad name", NULL };
	fails_with(bad_name, 2, "only [A-Za-z0-9._-] are allowed");
	char *bad_option[] = { filter_path("invert"), "--frobnicate", missing, NULL };
	fails_with(bad_option, 2, "Try ");
	char *same[] = { filter_path("invert"), missing, missing, NULL };
	fails_with(same, 2, "must differ");
	char *format_refused[] = { filter_path("invert"), "--format", "rgba", missing, NULL };
	fails_with(format_refused, 2, "writes frames in its input's format");
	char *timeout[] = { filter_path("invert"), "--timeout", "1", missing, NULL };
	fails_with(timeout, 1, "did not appear within 1 s");

	/* An input format the filter does not take, and an output it cannot make. */
	char source[64];
	test_unique_name(source, sizeof(source), "rgb");
	pid_t capture = start_test_pattern(source, "rgb24");
	char *edges[] = { filter_path("edges"), "--timeout", "10", source, NULL };
	fails_with(edges, 1, "carries rgb24 frames; this filter takes nv12 i420 gray8");
	char *grayscale[] = {
		filter_path("grayscale"), "--format", "rgba", "--timeout", "10", source, NULL
	};
	fails_with(grayscale, 1, "cannot make rgba frames from rgb24 input");
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_torn_input_is_dropped_not_published),
		cmocka_unit_test(a_filter_ends_with_its_input),
		cmocka_unit_test(bad_arguments_and_streams_get_clear_errors),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
