/*
 * vshm-capture plays every sample into the ring with the frame count and the pixels of
 * FFmpeg's own decode: each frame read back is hashed (Adler-32 over its packed planes,
 * in the decoder's layout) and compared with `ffmpeg -f framecrc` of the same file.
 * Also: end-of-stream on the last frame, colour metadata, a resolution change that
 * moves the stream to bigger slots, and looping.
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
#include "framecrc.h"
#include "program-util.h"
#include "test-util.h"

struct sample {
	const char *file;
	uint32_t ring_format; /* what vshm-capture carries it as */
	uint32_t frames;
	uint8_t color_matrix;
	uint8_t color_range;
	bool planar_422; /* the decoder gives planar 4:2:2; the ring carries it as YUYV */
};

static const struct sample samples[] = {
	{ "testsrc2-h264.mp4", VSHM_FORMAT_I420, 120, VSHM_COLOR_MATRIX_UNSPECIFIED,
	  VSHM_COLOR_RANGE_UNSPECIFIED, false },
	{ "smptehdbars-vp9.webm", VSHM_FORMAT_I420, 50, VSHM_COLOR_MATRIX_BT709,
	  VSHM_COLOR_RANGE_LIMITED, false },
	/* JPEG is BT.601 full range, and the MJPEG decoder says so. */
	{ "mandelbrot-mjpeg422.avi", VSHM_FORMAT_YUYV, 50, VSHM_COLOR_MATRIX_BT601,
	  VSHM_COLOR_RANGE_FULL, true },
	{ "testsrc-odd-rgb-ffv1.mkv", VSHM_FORMAT_XRGB8888, 30, VSHM_COLOR_MATRIX_UNSPECIFIED,
	  VSHM_COLOR_RANGE_FULL, false },
	{ "size-change-h264.ts", VSHM_FORMAT_I420, 60, VSHM_COLOR_MATRIX_UNSPECIFIED,
	  VSHM_COLOR_RANGE_UNSPECIFIED, false },
};

static void plays_like_ffmpeg(const struct sample *sample)
{
	struct framecrc *reference = calloc(1, sizeof(*reference));
	assert_non_null(reference);
	framecrc_of(sample->file, NULL, NULL, reference);
	assert_int_equal(reference->count, sample->frames);

	char name[64], path[512];
	test_unique_name(name, sizeof(name), "file");
	framecrc_sample_path(sample->file, path, sizeof(path));
	/* A forced rate plays every frame quickly, at a pace a reader keeps up with. */
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         path,
		         "--fps",
		         "100",
		         "--name",
		         name,
		         "--quiet",
		         NULL };
	pid_t capture = program_start(argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);

	uint32_t checked = 0, wrong = 0, sizes_seen = 0, last_width = 0;
	uint64_t last_number = 0;
	/* A bigger frame moves the stream to bigger slots: the reader follows. */
	struct follow follow = { .reader = reader, .wait_ms = 3000, .follow_moves = true };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		assert_int_equal(frame.format, sample->ring_format);
		assert_true(frame.frame_number < reference->count);
		assert_true(checked == 0 || frame.frame_number > last_number);
		last_number = frame.frame_number;
		uint32_t size;
		uint32_t adler = framecrc_hash_frame(&frame, sample->planar_422, &size);
		bool matches = size == reference->size[frame.frame_number] &&
		               adler == reference->adler[frame.frame_number];
		assert_int_equal(frame.color_matrix, sample->color_matrix);
		assert_int_equal(frame.color_range, sample->color_range);
		if (frame.width != last_width) {
			sizes_seen++;
			last_width = frame.width;
		}
		if (follow.end_of_stream)
			assert_int_equal(frame.frame_number, reference->count - 1);
		if (follow_release(&follow)) {
			checked++;
			if (!matches && wrong++ == 0)
				print_error("%s frame %llu: %u bytes adler 0x%08x, ffmpeg %u bytes "
				            "0x%08x\n",
				            sample->file, (unsigned long long)frame.frame_number,
				            size, adler, reference->size[frame.frame_number],
				            reference->adler[frame.frame_number]);
		}
	}
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	vshm_reader_detach(reader);
	assert_int_equal(test_wait(capture, 20000), 0);
	assert_false(test_segment_exists(name));
	print_message("%-26s %u/%u frames identical to ffmpeg's decode, %u differ, %u sizes, "
	              "end-of-stream %s\n",
	              sample->file, checked - wrong, reference->count, wrong, sizes_seen,
	              follow.end_of_stream ? "seen" : "MISSING");
	assert_true(follow.end_of_stream);
	assert_int_equal(stats.frames_published, reference->count);
	assert_int_equal(wrong, 0);
	/* Latest-frame semantics may skip a frame under load; nearly all must arrive. */
	assert_true(checked * 10 >= reference->count * 8);
	if (strstr(sample->file, "size-change"))
		assert_int_equal(sizes_seen, 2);
	free(reference);
}

static void every_sample_plays_like_ffmpeg(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		plays_like_ffmpeg(&samples[i]);
}

/* --loop starts over seamlessly: frame numbers keep rising past the file's end and no
 * frame says end-of-stream; SIGINT then ends it cleanly. */
static void loop_goes_on_past_the_end(void **state)
{
	(void)state;
	char name[64], path[512];
	test_unique_name(name, sizeof(name), "loop");
	framecrc_sample_path("testsrc-odd-rgb-ffv1.mkv", path, sizeof(path));
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         path,
		         "--loop",
		         "--fps",
		         "200",
		         "--name",
		         name,
		         "--quiet",
		         NULL };
	pid_t capture = program_start(argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	uint64_t highest = 0;
	uint32_t frames = 0;
	while (highest < 75) { /* 30 frames a pass: two and a half passes */
		assert_int_equal(vshm_reader_wait(reader, 3000), 0);
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0)
			continue;
		assert_int_equal(frame.flags & VSHM_FRAME_END_OF_STREAM, 0);
		assert_true(frame.frame_number >= highest);
		highest = frame.frame_number;
		vshm_reader_release(reader);
		frames++;
	}
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	assert_int_equal(vshm_reader_wait(reader, 2000), -EPIPE);
	vshm_reader_detach(reader);
	assert_false(test_segment_exists(name));
	print_message("looped: frame numbers reached %llu over %u frames read\n",
	              (unsigned long long)highest, frames);
}

/*
 * Regression: --format gray8 from a limited-range source said full range (GRAY8 is full
 * range by definition) but kept the limited values, Y in 16..235, drawn washed out.
 * Now the range is converted, and the frames are FFmpeg's own conversion to gray.
 */
static void gray8_is_ffmpegs_gray(void **state)
{
	(void)state;
	struct framecrc *reference = calloc(1, sizeof(*reference));
	assert_non_null(reference);
	framecrc_of("testsrc2-h264.mp4", NULL, (const char *const[]){ "-pix_fmt", "gray", NULL },
	            reference);
	char name[64], path[512];
	test_unique_name(name, sizeof(name), "gray");
	framecrc_sample_path("testsrc2-h264.mp4", path, sizeof(path));
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         path,
		         "--format",
		         "gray8",
		         "--fps",
		         "100",
		         "--name",
		         name,
		         "--quiet",
		         NULL };
	pid_t capture = program_start(argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	uint32_t checked = 0, wrong = 0, darkest = 255;
	struct follow follow = { .reader = reader, .wait_ms = 3000 };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		assert_int_equal(frame.format, VSHM_FORMAT_GRAY8);
		assert_int_equal(frame.color_range, VSHM_COLOR_RANGE_FULL);
		assert_true(frame.frame_number < reference->count);
		uint32_t size;
		uint32_t adler = framecrc_hash_frame(&frame, false, &size);
		bool matches = size == reference->size[frame.frame_number] &&
		               adler == reference->adler[frame.frame_number];
		for (uint32_t y = 0; y < frame.height; y++)
			for (uint32_t x = 0; x < frame.width; x++)
				if (frame.plane[0][(size_t)y * frame.stride[0] + x] < darkest)
					darkest = frame.plane[0][(size_t)y * frame.stride[0] + x];
		if (follow_release(&follow)) {
			checked++;
			wrong += !matches;
		}
	}
	vshm_reader_detach(reader);
	assert_int_equal(test_wait(capture, 20000), 0);
	print_message("gray8: %u frames read, %u differ from ffmpeg -pix_fmt gray, darkest %u\n",
	              checked, wrong, darkest);
	assert_true(checked > 0);
	assert_int_equal(wrong, 0);
	assert_true(darkest < 16); /* black is 0, not the limited range's 16 */
	free(reference);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_sample_plays_like_ffmpeg),
		cmocka_unit_test(gray8_is_ffmpegs_gray),
		cmocka_unit_test(loop_goes_on_past_the_end),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
