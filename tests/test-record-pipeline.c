/*
 * vshm-record at the end of pipelines, and across the life of its stream's writer:
 *   - a vshm-run stage, 'test ! invert ! record OUT': the pipeline ends with the
 *     stream, and the file ends with the source's last frame, inverted, bit for bit;
 *   - vshm-run --lossless, 'test --fast ! invert ! record OUT': the source as fast as it
 *     can go, and still every one of its frames in the file, inverted, in order;
 *   - a lossless chain, every frame of a sample through grayscale into vshm-record
 *     --lossless with ffv1: the file holds exactly the frames grayscale published, all
 *     of them, as a second lossless reader saw them;
 *   - the writer killed and started again: vshm-record waits and records on into the
 *     same file; with --stop-when-gone it ends instead, the file finished.
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

#include "follow.h"
#include "program-util.h"
#include "record-util.h"
#include "test-util.h"

#define FRAMES_MAX 1024

static void temporary_path(const char *file, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", program_temporary_directory(), file);
}

static pid_t start_capture(const char *name, const char *source, const char *extra)
{
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         (char *)source,
		         "--name",
		         (char *)name,
		         "--quiet",
		         "--size",
		         "320x240",
		         (char *)extra,
		         NULL };
	return program_start(argv, NULL, NULL);
}

/* Runs vshm-run [OPTION] --name PREFIX PIPELINE to its end, which must be a success. */
static void run_pipeline(const char *option, const char *prefix, const char *pipeline)
{
	char tools[512], errors[512];
	snprintf(tools, sizeof(tools), "%s/vshm-run", program_path("VSHM_TOOLS"));
	temporary_path("run.err", errors, sizeof(errors));
	char *with_option[] = { tools,          (char *)option,   "--name",
		                (char *)prefix, (char *)pipeline, NULL };
	char *without[] = { tools, "--name", (char *)prefix, (char *)pipeline, NULL };
	pid_t run = program_start(option ? with_option : without, NULL, errors);
	int status = test_wait(run, 60000);
	char *text = record_read_text(errors);
	if (status != 0)
		fail_msg("vshm-run ended with %d: %s", status, text);
	free(text);
}

/* vshm-run 'test --frames 60 ! invert ! record OUT --codec ffv1 --lossless': done when
 * the stream is, nothing left, the file's last frame the inverted frame 59. */
static void vshm_run_stage(void **state)
{
	(void)state;
	char prefix[64], path[512], pipeline[1024];
	test_unique_name(prefix, sizeof(prefix), "rec-run");
	temporary_path("run.mkv", path, sizeof(path));
	snprintf(pipeline, sizeof(pipeline),
	         "test --frames 60 --size 320x240 --fps 60 ! invert ! record %s --codec ffv1 "
	         "--lossless",
	         path);
	run_pipeline(NULL, prefix, pipeline);
	for (int stage = 0; stage < 3; stage++) {
		char stream[80];
		snprintf(stream, sizeof(stream), "%s.%d", prefix, stage);
		assert_false(test_segment_exists(stream));
	}
	static uint32_t adlers[FRAMES_MAX];
	size_t count = record_framecrc(path, adlers, FRAMES_MAX);
	assert_true(count >= 1 && count <= 60);
	size_t size = record_i420_size(320, 240);
	uint8_t *last = malloc(size);
	assert_non_null(last);
	record_pattern_i420(59, 320, 240, last);
	for (size_t i = 0; i < size; i++)
		last[i] = (uint8_t)(255 - last[i]);
	assert_int_equal(adlers[count - 1], program_adler32(0, last, size));
	free(last);
	print_message("vshm-run: %zu frames recorded, the last one the inverted frame 59\n", count);
}

/*
 * vshm-run --lossless 'test --frames 60 --fast ! invert ! record OUT --codec ffv1': the
 * source runs as fast as it can, so every frame reaches the file only if vshm-run made
 * every stage after it lossless (and each wait for the next): all 60, in order, each
 * the inverted pattern frame.
 */
static void vshm_run_lossless_keeps_every_frame(void **state)
{
	(void)state;
	char prefix[64], path[512], pipeline[1024];
	test_unique_name(prefix, sizeof(prefix), "rec-lossless");
	temporary_path("lossless.mkv", path, sizeof(path));
	snprintf(pipeline, sizeof(pipeline),
	         "test --frames 60 --fast --size 320x240 ! invert ! record %s --codec ffv1", path);
	run_pipeline("--lossless", prefix, pipeline);
	static uint32_t adlers[FRAMES_MAX];
	size_t count = record_framecrc(path, adlers, FRAMES_MAX);
	size_t size = record_i420_size(320, 240);
	uint8_t *frame = malloc(size);
	assert_non_null(frame);
	size_t matching = 0;
	for (size_t n = 0; n < count && n < 60; n++) {
		record_pattern_i420(n, 320, 240, frame);
		for (size_t i = 0; i < size; i++)
			frame[i] = (uint8_t)(255 - frame[i]);
		if (adlers[n] != program_adler32(0, frame, size))
			break;
		matching++;
	}
	free(frame);
	print_message(
	    "vshm-run --lossless: %zu frames recorded, the first %zu the inverted pattern "
	    "frames 0, 1, 2 ... in order\n",
	    count, matching);
	assert_int_equal(count, 60);
	assert_int_equal(matching, 60);
}

/* Adler-32 of a gray frame's rows, as `ffmpeg -f framecrc` hashes the decoded frame. */
static uint32_t gray_adler(const struct vshm_frame *frame)
{
	uint32_t adler = 0;
	for (uint32_t y = 0; y < frame->height; y++)
		adler = program_adler32(adler, frame->plane[0] + (size_t)y * frame->stride[0],
		                        frame->width);
	return adler;
}

/*
 * Every frame of a sample through grayscale into vshm-record --lossless with ffv1: the
 * source waits for grayscale (--wait-readers 1), grayscale for vshm-record and this
 * test's own lossless reader (--wait-readers 2), so every stage takes every frame. The
 * file holds exactly the 120 frames grayscale published, as the second reader saw them.
 */
static void lossless_chain_through_grayscale(void **state)
{
	(void)state;
	char source[64], gray[80], path[512], errors[512], filter[512], sample[512];
	test_unique_name(source, sizeof(source), "rec-chain");
	snprintf(gray, sizeof(gray), "%s.gray", source);
	temporary_path("chain.mkv", path, sizeof(path));
	temporary_path("chain.err", errors, sizeof(errors));
	snprintf(filter, sizeof(filter), "%s/vshm-filter-grayscale", program_path("VSHM_FILTERS"));
	snprintf(sample, sizeof(sample), "%s/testsrc2-h264.mp4", program_path("VSHM_SAMPLES"));

	char *record_argv[] = { (char *)program_path("VSHM_RECORD"),
		                gray,
		                path,
		                "--codec",
		                "ffv1",
		                "--lossless",
		                "--quiet",
		                NULL };
	pid_t record = program_start(record_argv, NULL, errors);
	char *filter_argv[] = { filter,           source, gray,      "--lossless",
		                "--wait-readers", "2",    "--quiet", NULL };
	pid_t grayscale = program_start(filter_argv, NULL, NULL);
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 sample,
		                 "--fast",
		                 "--wait-readers",
		                 "1",
		                 "--name",
		                 source,
		                 "--quiet",
		                 NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	static const struct vshm_reader_options every_frame = { .lossless = true };
	struct vshm_reader *reader = vshm_reader_attach_wait(gray, &every_frame, 20000, NULL, NULL);
	assert_non_null(reader);
	static uint32_t seen[FRAMES_MAX];
	size_t seen_count = 0;
	struct follow follow = { .reader = reader, .wait_ms = 10000 };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		uint32_t adler = gray_adler(&frame);
		assert_true(follow_release(&follow));
		assert_true(seen_count < FRAMES_MAX);
		seen[seen_count++] = adler;
	}
	assert_true(follow.end_of_stream);
	vshm_reader_detach(reader);
	int status = test_wait(record, 30000);
	test_wait(capture, 10000);
	test_wait(grayscale, 10000);
	char *text = record_read_text(errors);
	if (status != 0)
		fail_msg("vshm-record ended with %d: %s", status, text);
	free(text);

	static uint32_t recorded[FRAMES_MAX];
	size_t count = record_framecrc(path, recorded, FRAMES_MAX);
	print_message("grayscale published %zu frames, every one of the sample's; the file holds "
	              "%zu\n",
	              seen_count, count);
	assert_int_equal(seen_count, 120);
	assert_int_equal(count, 120);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(recorded[i], seen[i]);
}

/* The frame numbers the pattern draws into each frame of the file. */
static size_t numbers_in(const char *path, uint64_t *numbers, size_t max)
{
	size_t size = record_i420_size(320, 240), frames;
	uint8_t *pixels = record_decode(path, "yuv420p", 320, 240, size, &frames);
	size_t count = 0;
	for (size_t i = 0; i < frames && count < max; i++) {
		if (pattern_digits_read(pixels + i * size, 320, 320, 240, &numbers[count]))
			count++;
	}
	free(pixels);
	return count;
}

static void writer_restart_is_followed(void **state)
{
	(void)state;
	char name[64], path[512], errors[512];
	test_unique_name(name, sizeof(name), "rec-restart");
	temporary_path("restart.mkv", path, sizeof(path));
	temporary_path("restart.err", errors, sizeof(errors));
	pid_t capture = start_capture(name, "test", NULL);
	char *record_argv[] = {
		(char *)program_path("VSHM_RECORD"), name, path, "--codec", "ffv1", NULL
	};
	pid_t record = program_start(record_argv, NULL, errors);
	assert_true(record_wait_for_text(errors, "frames |", 20000));
	kill(capture, SIGKILL);
	test_wait(capture, 10000);
	assert_true(record_wait_for_text(errors, "lost its writer; waiting", 10000));
	capture = start_capture(name, "test", NULL);
	assert_true(record_wait_for_text(errors, "has a writer again", 20000));
	test_sleep_us(1000000);
	kill(record, SIGTERM);
	assert_int_equal(test_wait(record, 20000), 128 + SIGTERM);
	kill(capture, SIGTERM);
	test_wait(capture, 10000);

	static uint64_t numbers[FRAMES_MAX];
	size_t count = numbers_in(path, numbers, FRAMES_MAX);
	size_t restart = 0;
	for (size_t i = 1; i < count; i++) {
		if (numbers[i] < numbers[i - 1])
			restart = i;
	}
	print_message("restart: %zu frames, the second writer's from frame %zu of the file (its "
	              "number %llu)\n",
	              count, restart, (unsigned long long)numbers[restart]);
	assert_true(restart > 0);
	assert_true(count - restart >= 10); /* a second of the new writer's frames */
}

static void stop_when_gone_finishes(void **state)
{
	(void)state;
	char name[64], path[512], errors[512];
	test_unique_name(name, sizeof(name), "rec-gone");
	temporary_path("gone.mkv", path, sizeof(path));
	temporary_path("gone.err", errors, sizeof(errors));
	pid_t capture = start_capture(name, "test", NULL);
	char *record_argv[] = { (char *)program_path("VSHM_RECORD"),
		                name,
		                path,
		                "--codec",
		                "ffv1",
		                "--stop-when-gone",
		                NULL };
	pid_t record = program_start(record_argv, NULL, errors);
	assert_true(record_wait_for_text(errors, "frames |", 20000));
	kill(capture, SIGKILL);
	test_wait(capture, 10000);
	assert_int_equal(test_wait(record, 10000), 0);
	test_segment_remove(name);
	static uint64_t numbers[FRAMES_MAX];
	char *text = record_read_text(errors);
	long frames = record_status_frames(text);
	free(text);
	assert_int_equal(numbers_in(path, numbers, FRAMES_MAX), (size_t)frames);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vshm_run_stage),
		cmocka_unit_test(vshm_run_lossless_keeps_every_frame),
		cmocka_unit_test(lossless_chain_through_grayscale),
		cmocka_unit_test(writer_restart_is_followed),
		cmocka_unit_test(stop_when_gone_finishes),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
