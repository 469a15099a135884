/*
 * vshm-record into files, checked through FFmpeg's own decoders (the ffmpeg and ffprobe
 * programs) against the frames that were published:
 *   - ffv1 from vshm-capture's test pattern: every frame, bit for bit, in order;
 *   - h264 from frames published at an irregular rate: 120 frames whose timestamps
 *     follow their capture times, each at least 40 dB PSNR against its source;
 *   - SIGINT in the middle of an MP4: a playable file with the frames the final status
 *     line counted;
 *   - --duration and --frames stop at exactly the frame they name;
 *   - a size change mid-stream: a new file with --split (each bit for bit), otherwise
 *     frames scaled to the first size.
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

#include "program-util.h"
#include "record-util.h"
#include "test-util.h"

#define FRAMES_MAX 512
#define MS         1000000ull

static void output_path(const char *file, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", program_temporary_directory(), file);
}

/* Adler-32 of packed I420 pattern frame n, as `ffmpeg -f framecrc` computes it. */
static uint32_t pattern_adler(uint64_t n, uint32_t width, uint32_t height)
{
	size_t size = record_i420_size(width, height);
	uint8_t *picture = malloc(size);
	assert_non_null(picture);
	record_pattern_i420(n, width, height, picture);
	uint32_t adler = program_adler32(0, picture, size);
	free(picture);
	return adler;
}

/* Starts vshm-record on stream name with the extra arguments (NULL-terminated), its
 * standard error into error_path. */
static pid_t start_record(const char *name, const char *output, const char *error_path, ...)
{
	char *argv[32] = { (char *)program_path("VSHM_RECORD"), (char *)name, (char *)output };
	int count = 3;
	va_list arguments;
	va_start(arguments, error_path);
	for (const char *argument = va_arg(arguments, const char *); argument && count < 31;
	     argument = va_arg(arguments, const char *))
		argv[count++] = (char *)argument;
	va_end(arguments);
	argv[count] = NULL;
	return program_start(argv, NULL, error_path);
}

/* ffv1 --lossless --frames 120 from vshm-capture: the file holds 120 consecutive frames
 * of the pattern, bit for bit. */
static void ffv1_holds_every_frame(void **state)
{
	(void)state;
	char name[64], path[512], errors[512];
	test_unique_name(name, sizeof(name), "rec-ffv1");
	output_path("ffv1.mkv", path, sizeof(path));
	output_path("ffv1.err", errors, sizeof(errors));
	const uint32_t width = 320, height = 240;
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 "test",
		                 "--size",
		                 "320x240",
		                 "--fps",
		                 "100",
		                 "--name",
		                 name,
		                 "--quiet",
		                 NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	pid_t record = start_record(name, path, errors, "--codec", "ffv1", "--lossless", "--frames",
	                            "120", NULL);
	int status = test_wait(record, 60000);
	kill(capture, SIGTERM);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGTERM);
	char *text = record_read_text(errors);
	if (status != 0)
		fail_msg("vshm-record ended with %d: %s", status, text);
	assert_int_equal(record_status_frames(text), 120);
	free(text);

	static uint32_t adlers[FRAMES_MAX];
	size_t count = record_framecrc(path, adlers, FRAMES_MAX);
	assert_int_equal(count, 120);
	/* The first frame taken is whichever was latest when vshm-record attached; its
	 * number is drawn in it. From there on, every frame. */
	size_t frames;
	uint8_t *pixels =
	    record_decode(path, "yuv420p", width, height, record_i420_size(width, height), &frames);
	assert_int_equal(frames, 120);
	uint64_t first;
	assert_true(pattern_digits_read(pixels, width, width, height, &first));
	free(pixels);
	uint32_t wrong = 0;
	for (size_t i = 0; i < count; i++) {
		uint32_t expected = pattern_adler(first + i, width, height);
		if (adlers[i] != expected && wrong++ == 0)
			print_error("file frame %zu: adler 0x%08x, pattern frame %llu 0x%08x\n", i,
			            adlers[i], (unsigned long long)(first + i), expected);
	}
	assert_int_equal(wrong, 0);
	print_message("ffv1: pattern frames %llu..%llu, every one bit for bit\n",
	              (unsigned long long)first, (unsigned long long)(first + count - 1));
}

/* The interval before frame n: irregular, not a whole number of ms, with a pause in
 * the middle. */
static uint64_t irregular_interval_ns(uint64_t n)
{
	return n == 60 ? 300 * MS : (20 + (n % 7) * 5) * MS + (n % 3) * 123456;
}

/* h264 at the defaults from frames published at an irregular rate: every frame, with
 * its capture time as timestamp, at 40 dB or more. */
static void h264_keeps_capture_times_and_quality(void **state)
{
	(void)state;
	char name[64], path[512], errors[512];
	test_unique_name(name, sizeof(name), "rec-h264");
	output_path("h264.mp4", path, sizeof(path));
	output_path("h264.err", errors, sizeof(errors));
	const uint32_t width = 640, height = 360, count = 120;
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_I420, width, height, 3);
	pid_t record = start_record(name, path, errors, "--lossless", NULL);
	assert_true(record_wait_for_lossless_reader(writer, 10000));
	uint64_t capture_ns[120];
	uint64_t now = vshm_now_ns();
	for (uint32_t n = 0; n < count; n++) {
		now += n ? irregular_interval_ns(n) : 0;
		capture_ns[n] = now;
		record_publish_pattern(writer, n, width, height, now,
		                       n == count - 1 ? VSHM_FRAME_END_OF_STREAM : 0);
	}
	int status = test_wait(record, 60000);
	vshm_writer_destroy(writer);
	char *text = record_read_text(errors);
	if (status != 0)
		fail_msg("vshm-record ended with %d: %s", status, text);
	free(text);

	static double times[FRAMES_MAX];
	assert_int_equal(record_probe_times(path, times, FRAMES_MAX), count);
	double worst = 0;
	for (uint32_t n = 1; n < count; n++) {
		double recorded = times[n] - times[0];
		double captured = (double)(capture_ns[n] - capture_ns[0]) / 1e9;
		double error = recorded > captured ? recorded - captured : captured - recorded;
		if (error > worst)
			worst = error;
	}
	/* The 90 kHz clock of the file rounds to 11 us. */
	assert_true(worst < 0.0001);

	size_t frame_size = record_i420_size(width, height), frames;
	uint8_t *pixels = record_decode(path, "yuv420p", width, height, frame_size, &frames);
	assert_int_equal(frames, count);
	uint8_t *expected = malloc(frame_size);
	assert_non_null(expected);
	double lowest = 99;
	for (uint32_t n = 0; n < count; n++) {
		record_pattern_i420(n, width, height, expected);
		double psnr = record_psnr(expected, pixels + n * frame_size, frame_size);
		if (psnr < lowest)
			lowest = psnr;
	}
	free(expected);
	free(pixels);
	print_message("h264: %u frames, timestamps within %.1f us of the capture times, lowest "
	              "PSNR %.1f dB\n",
	              count, worst * 1e6, lowest);
	assert_true(lowest >= 40);
}

/* SIGINT in the middle of an MP4: vshm-record finishes it and ends by the signal; the
 * file plays, with as many frames as the final status line said. */
static void sigint_leaves_a_playable_mp4(void **state)
{
	(void)state;
	char name[64], path[512], errors[512];
	test_unique_name(name, sizeof(name), "rec-sigint");
	output_path("sigint.mp4", path, sizeof(path));
	output_path("sigint.err", errors, sizeof(errors));
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 "test",
		                 "--size",
		                 "640x360",
		                 "--name",
		                 name,
		                 "--quiet",
		                 NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	pid_t record = start_record(name, path, errors, NULL);
	/* Recording for a while: two status lines have been printed. */
	assert_true(record_wait_for_text(errors, "frames |", 20000));
	test_sleep_us(1500000);
	kill(record, SIGINT);
	assert_int_equal(test_wait(record, 20000), 128 + SIGINT);
	kill(capture, SIGTERM);
	test_wait(capture, 10000);
	char *text = record_read_text(errors);
	assert_non_null(strstr(text, "stopped by Interrupt"));
	long frames = record_status_frames(text);
	free(text);
	assert_true(frames > 0);
	static double times[FRAMES_MAX];
	size_t probed = record_probe_times(path, times, FRAMES_MAX);
	print_message("SIGINT: status line said %ld frames; ffprobe reads %zu\n", frames, probed);
	assert_int_equal(probed, (size_t)frames);
}

/* --duration 1 over frames 10 ms apart: exactly the 100 frames within the first second. */
static void duration_stops_at_the_time_given(void **state)
{
	(void)state;
	char name[64], path[512], errors[512];
	test_unique_name(name, sizeof(name), "rec-duration");
	output_path("duration.mkv", path, sizeof(path));
	output_path("duration.err", errors, sizeof(errors));
	const uint32_t width = 160, height = 120;
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_I420, width, height, 3);
	pid_t record = start_record(name, path, errors, "--lossless", "--duration", "1", "--codec",
	                            "ffv1", NULL);
	assert_true(record_wait_for_lossless_reader(writer, 10000));
	uint64_t start = vshm_now_ns();
	/* Frame 100 is the first at 1 s: it ends the recording; publishing stops when the
	 * lossless reader is gone (begin no longer waits, and the writer has no reader). */
	for (uint32_t n = 0; n < 150; n++)
		record_publish_pattern(writer, n, width, height, start + n * 10 * MS, 0);
	int status = test_wait(record, 60000);
	vshm_writer_destroy(writer);
	char *text = record_read_text(errors);
	if (status != 0)
		fail_msg("vshm-record ended with %d: %s", status, text);
	free(text);
	static uint32_t adlers[FRAMES_MAX];
	assert_int_equal(record_framecrc(path, adlers, FRAMES_MAX), 100);
	assert_int_equal(adlers[99], pattern_adler(99, width, height));
}

/* A size change mid-stream: with --split, a second file at the new size, each frame bit
 * for bit; without, one file at the first size holding every frame. */
static void size_change(bool split)
{
	char name[64], path[512], errors[512];
	test_unique_name(name, sizeof(name), split ? "rec-split" : "rec-scale");
	output_path(split ? "part-%d.mkv" : "scaled.mkv", path, sizeof(path));
	output_path("size.err", errors, sizeof(errors));
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_I420, 320, 240, 3);
	pid_t record =
	    split
	        ? start_record(name, path, errors, "--lossless", "--codec", "ffv1", "--split", NULL)
	        : start_record(name, path, errors, "--lossless", "--codec", "ffv1", NULL);
	assert_true(record_wait_for_lossless_reader(writer, 10000));
	uint64_t start = vshm_now_ns();
	for (uint32_t n = 0; n < 40; n++) {
		bool large = n >= 20;
		record_publish_pattern(writer, n, large ? 480 : 320, large ? 270 : 240,
		                       start + n * 20 * MS, n == 39 ? VSHM_FRAME_END_OF_STREAM : 0);
		/* The larger frame moved the stream to a new segment: wait for vshm-record to
		 * follow, as it takes every frame only from where it attached. */
		if (n == 20)
			assert_true(record_wait_for_lossless_reader(writer, 10000));
	}
	int status = test_wait(record, 60000);
	vshm_writer_destroy(writer);
	char *text = record_read_text(errors);
	if (status != 0)
		fail_msg("vshm-record ended with %d: %s", status, text);
	free(text);
	static uint32_t adlers[FRAMES_MAX];
	if (!split) {
		assert_int_equal(record_framecrc(path, adlers, FRAMES_MAX), 40);
		for (uint32_t n = 0; n < 20; n++)
			assert_int_equal(adlers[n], pattern_adler(n, 320, 240));
		/* The rest scaled to 320x240: decoded at that size, the colour bars of the
		 * last frame lie where they lie in a 320x240 pattern. */
		size_t frame_size = record_i420_size(320, 240), frames;
		uint8_t *pixels = record_decode(path, "yuv420p", 320, 240, frame_size, &frames);
		assert_int_equal(frames, 40);
		uint8_t *expected = malloc(frame_size);
		assert_non_null(expected);
		record_pattern_i420(39, 320, 240, expected);
		const uint8_t *last = pixels + 39 * frame_size;
		for (uint32_t bar = 0; bar < 7; bar++) {
			size_t at = 80 * 320 + (2 * bar + 1) * 320 / 14;
			int difference = abs((int)last[at] - (int)expected[at]);
			if (difference > 3)
				fail_msg("bar %u of the scaled frame: luma %u, expected %u", bar,
				         last[at], expected[at]);
		}
		free(expected);
		free(pixels);
		return;
	}
	for (int part = 0; part < 2; part++) {
		char file[512];
		snprintf(file, sizeof(file), "%s/part-%d.mkv", program_temporary_directory(), part);
		assert_int_equal(record_framecrc(file, adlers, FRAMES_MAX), 20);
		for (uint32_t i = 0; i < 20; i++)
			assert_int_equal(adlers[i], pattern_adler(part * 20 + i, part ? 480 : 320,
			                                          part ? 270 : 240));
	}
}

static void split_starts_a_new_file(void **state)
{
	(void)state;
	size_change(true);
}

static void size_change_is_scaled(void **state)
{
	(void)state;
	size_change(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ffv1_holds_every_frame),
		cmocka_unit_test(h264_keeps_capture_times_and_quality),
		cmocka_unit_test(sigint_leaves_a_playable_mp4),
		cmocka_unit_test(duration_stops_at_the_time_given),
		cmocka_unit_test(split_starts_a_new_file),
		cmocka_unit_test(size_change_is_scaled),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
