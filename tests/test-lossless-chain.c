/*
 * A lossless chain: every frame of each sample video, replayed as fast as it can go,
 * through vshm-filter-grayscale and vshm-filter-invert, all lossless, into a checking
 * reader: no frame lost, and every output frame the transform of its input frame, by the
 * filters' own description (grayscale: the luma, expanded from limited to full range; for
 * RGB, BT.601 luma (77 R + 150 G + 29 B + 128) >> 8; invert: 255 - v). Then a lossless
 * filter killed mid-stream: its writer goes on once the lossless timeout has passed.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"

/* The luma of one input pixel as grayscale says it makes it. */
static uint8_t expected_gray(const struct vshm_frame *in, uint32_t x, uint32_t y)
{
	const struct vshm_format_description *format = vshm_format_describe(in->format);
	const struct vshm_format_component *c = format->components;
	if (format->family == VSHM_FORMAT_FAMILY_RGB) {
		const uint8_t *row = in->plane[c[0].plane] + (uint64_t)y * in->stride[c[0].plane];
		int r = row[c[0].offset + x * c[0].step], g = row[c[1].offset + x * c[1].step],
		    b = row[c[2].offset + x * c[2].step];
		return (uint8_t)((77 * r + 150 * g + 29 * b + 128) >> 8);
	}
	uint8_t luma = in->plane[c[0].plane][(uint64_t)y * in->stride[c[0].plane] + c[0].offset +
	                                     x * c[0].step];
	if (format->family == VSHM_FORMAT_FAMILY_GRAY || in->color_range == VSHM_COLOR_RANGE_FULL)
		return luma;
	int full = ((luma - 16) * 255 + 109) / 219; /* limited range, rounded to nearest */
	return (uint8_t)(full < 0 ? 0 : full > 255 ? 255 : full);
}

static uint64_t wrong_pixels(const struct vshm_frame *in, const struct vshm_frame *out)
{
	if (in->width != out->width || in->height != out->height ||
	    out->format != VSHM_FORMAT_GRAY8)
		return (uint64_t)out->width * out->height + 1;
	uint64_t wrong = 0;
	for (uint32_t y = 0; y < in->height; y++) {
		for (uint32_t x = 0; x < in->width; x++) {
			int expected = 255 - expected_gray(in, x, y);
			wrong += out->plane[0][(uint64_t)y * out->stride[0] + x] != expected;
		}
	}
	return wrong;
}

/* The next frame of a lossless reader, following it to a new segment. */
static int next_frame(struct vshm_reader *reader, struct vshm_frame *frame)
{
	for (int attempts = 0; attempts < 400; attempts++) {
		int result = vshm_reader_wait(reader, 100);
		if (result == -ESTALE) {
			/* The writer replaces the segment (a size change): until the new one
			 * exists, reattaching fails at once, so pace the retries. */
			if (vshm_reader_reattach(reader) < 0)
				test_sleep_us(10000);
			continue;
		}
		if (result != 0)
			continue;
		result = vshm_reader_acquire(reader, frame);
		if (result == 0)
			return 0;
	}
	return -ETIMEDOUT;
}

static void chain_sample(const char *sample, uint64_t expected_frames)
{
	char prefix[64], stream[3][80], path[4096];
	test_unique_name(prefix, sizeof(prefix), "chain");
	for (int i = 0; i < 3; i++)
		snprintf(stream[i], sizeof(stream[i]), "%s.%d", prefix, i);
	snprintf(path, sizeof(path), "%s/%s", program_path("VSHM_SAMPLES"), sample);
	char grayscale[4096], invert[4096];
	snprintf(grayscale, sizeof(grayscale), "%s/vshm-filter-grayscale",
	         program_path("VSHM_FILTERS"));
	snprintf(invert, sizeof(invert), "%s/vshm-filter-invert", program_path("VSHM_FILTERS"));
	/* Each writer waits for its readers before its first frame: the capture for the
	 * grayscale filter and for us, each filter for the next. */
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 path,
		                 "--fast",
		                 "--wait-readers",
		                 "2",
		                 "--name",
		                 stream[0],
		                 "--quiet",
		                 NULL };
	char *grayscale_argv[] = { grayscale, "--lossless", "--wait-readers", "1",
		                   "--quiet", stream[0],    stream[1],        NULL };
	char *invert_argv[] = { invert,    "--lossless", "--wait-readers", "1",
		                "--quiet", stream[1],    stream[2],        NULL };
	pid_t pids[] = { program_start(capture_argv, NULL, NULL),
		         program_start(grayscale_argv, NULL, NULL),
		         program_start(invert_argv, NULL, NULL) };
	struct vshm_reader_options lossless = { .lossless = true };
	struct vshm_reader *input =
	    vshm_reader_attach_wait(stream[0], &lossless, 10000, NULL, NULL);
	struct vshm_reader *output =
	    vshm_reader_attach_wait(stream[2], &lossless, 10000, NULL, NULL);
	assert_non_null(input);
	assert_non_null(output);
	uint64_t frames = 0, lost = 0, wrong = 0, wrong_frames = 0, torn = 0, expected_number = 0;
	bool end = false;
	while (!end) {
		struct vshm_frame in, out;
		if (next_frame(input, &in) < 0)
			break;
		if (next_frame(output, &out) < 0) {
			vshm_reader_release(input);
			break;
		}
		/* The same frame on both sides, and no number skipped. */
		if (in.frame_number != out.frame_number || out.frame_number != expected_number) {
			if (!lost)
				printf("%s: first frame out of step: input %llu, output %llu, "
				       "expected %llu\n",
				       sample, (unsigned long long)in.frame_number,
				       (unsigned long long)out.frame_number,
				       (unsigned long long)expected_number);
			lost++;
		}
		expected_number = out.frame_number + 1;
		uint64_t bad = wrong_pixels(&in, &out);
		end = out.flags & VSHM_FRAME_END_OF_STREAM;
		torn += (vshm_reader_release(output) != 1) + (vshm_reader_release(input) != 1);
		wrong += bad;
		wrong_frames += bad != 0;
		frames++;
	}
	struct vshm_reader_stats input_stats, output_stats;
	vshm_reader_get_stats(input, &input_stats);
	vshm_reader_get_stats(output, &output_stats);
	if (lost)
		printf("%s: input reader %s, output reader %s\n", sample,
		       input_stats.demoted ? "demoted" : "lossless",
		       output_stats.demoted ? "demoted" : "lossless");
	vshm_reader_detach(input);
	vshm_reader_detach(output);
	for (int i = 0; i < 3; i++) {
		kill(pids[i], SIGTERM);
		test_wait(pids[i], 10000);
	}
	printf("%-26s %llu of %llu frames through grayscale and invert, %llu lost, %llu wrong "
	       "pixels in %llu frames, %llu torn\n",
	       sample, (unsigned long long)frames, (unsigned long long)expected_frames,
	       (unsigned long long)lost, (unsigned long long)wrong,
	       (unsigned long long)wrong_frames, (unsigned long long)torn);
	fflush(stdout);
	assert_int_equal(frames, expected_frames);
	assert_int_equal(lost, 0);
	assert_int_equal(wrong, 0);
	assert_int_equal(torn, 0);
	for (int i = 0; i < 3; i++)
		assert_false(test_segment_exists(stream[i]));
}

static void every_frame_of_every_sample(void **state)
{
	(void)state;
	chain_sample("testsrc2-h264.mp4", 120);
	chain_sample("smptehdbars-vp9.webm", 50);
	chain_sample("mandelbrot-mjpeg422.avi", 50);
	chain_sample("testsrc-odd-rgb-ffv1.mkv", 30);
	chain_sample("size-change-h264.ts", 60);
}

/* A lossless filter killed mid-stream: its input's writer goes on after the timeout. */
static void killed_lossless_filter_does_not_stall_the_source(void **state)
{
	(void)state;
	char source[64], out[80], path[4096], grayscale[4096];
	test_unique_name(source, sizeof(source), "stalled");
	snprintf(out, sizeof(out), "%s.gray", source);
	snprintf(path, sizeof(path), "%s/testsrc2-h264.mp4", program_path("VSHM_SAMPLES"));
	snprintf(grayscale, sizeof(grayscale), "%s/vshm-filter-grayscale",
	         program_path("VSHM_FILTERS"));
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 path,
		                 "--fast",
		                 "--loop",
		                 "--wait-readers",
		                 "1",
		                 "--name",
		                 source,
		                 "--quiet",
		                 NULL };
	char *filter_argv[] = { grayscale, "--lossless", "--quiet", source, out, NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	pid_t filter = program_start(filter_argv, NULL, NULL);
	struct vshm_reader *watch = vshm_reader_attach_wait(source, NULL, 10000, NULL, NULL);
	assert_non_null(watch);
	struct vshm_reader_stats stats;
	for (int i = 0; i < 200; i++) {
		vshm_reader_get_stats(watch, &stats);
		if (stats.frames_published > 50)
			break;
		test_sleep_us(10000);
	}
	kill(filter, SIGKILL);
	test_wait(filter, 5000);
	vshm_reader_get_stats(watch, &stats);
	uint64_t at_kill = stats.frames_published;
	/* The writer waits for the dead filter's next frame at most its timeout (1 s). */
	test_sleep_us(2500000);
	vshm_reader_get_stats(watch, &stats);
	uint64_t after = stats.frames_published;
	vshm_reader_detach(watch);
	kill(capture, SIGTERM);
	test_wait(capture, 10000);
	test_segment_remove(out);
	printf("lossless filter killed at frame %llu; 2.5 s later the source had published %llu "
	       "more\n",
	       (unsigned long long)at_kill, (unsigned long long)(after - at_kill));
	fflush(stdout);
	assert_true(after > at_kill + 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_frame_of_every_sample),
		cmocka_unit_test(killed_lossless_filter_does_not_stall_the_source),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failed;
}
