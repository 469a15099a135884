/*
 * Video as phones and cameras shoot it, through vshm-capture: each published frame is
 * FFmpeg's own output for the same file, by checksum (`ffmpeg -f framecrc`):
 *  - turned upright as the display matrix says, as `ffmpeg` does by default
 *    (-autorotate): portrait video stored sideways, turned either way, and a mirror
 *    image; and as stored with --no-autorotate (`ffmpeg -noautorotate`);
 *  - anamorphic video as decoded, with its sample aspect ratio in every frame, and
 *    scaled to square pixels with --square-pixels (`-vf scale=iw*sar:ih`);
 *  - 10-bit HDR video in P010 with its primaries and transfer (`-pix_fmt p010le`), and
 *    H.264 4:4:4 in I444, keeping depth and chroma.
 * Also: the line that announces a stream says what a smaller format loses, and vshm-ls
 * --json shows depth, colour and aspect.
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

#define OPTIONS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct hifi_sample {
	const char *file;
	const char *const *capture_options;       /* vshm-capture's, besides the file */
	const char *const *ffmpeg_input_options;  /* ffmpeg's before -i */
	const char *const *ffmpeg_output_options; /* ffmpeg's before -f framecrc */
	uint32_t format, width, height;
	uint8_t color_matrix, color_primaries, color_transfer;
	struct vshm_ratio aspect;
};

static const struct hifi_sample samples[] = {
	/* Stored 320x180, shown 180x320 upright. */
	{ "portrait-rot90-h264.mp4",
	  NULL,
	  NULL,
	  NULL,
	  VSHM_FORMAT_I420,
	  180,
	  320,
	  0,
	  0,
	  0,
	  { 1, 1 } },
	{ "portrait-rot270-h264.mp4",
	  NULL,
	  NULL,
	  NULL,
	  VSHM_FORMAT_I420,
	  180,
	  320,
	  0,
	  0,
	  0,
	  { 1, 1 } },
	{ "mirrored-h264.mp4", NULL, NULL, NULL, VSHM_FORMAT_I420, 320, 180, 0, 0, 0, { 1, 1 } },
	{ "portrait-rot90-h264.mp4",
	  OPTIONS("--no-autorotate"),
	  OPTIONS("-noautorotate"),
	  NULL,
	  VSHM_FORMAT_I420,
	  320,
	  180,
	  0,
	  0,
	  0,
	  { 1, 1 } },
	/* Anamorphic: as decoded, the aspect in the metadata. */
	{ "anamorphic-16-9-h264.mp4",
	  NULL,
	  NULL,
	  NULL,
	  VSHM_FORMAT_I420,
	  180,
	  180,
	  0,
	  0,
	  0,
	  { 16, 9 } },
	{ "anamorphic-4-3-h264.mkv",
	  NULL,
	  NULL,
	  NULL,
	  VSHM_FORMAT_I420,
	  240,
	  180,
	  0,
	  0,
	  0,
	  { 4, 3 } },
	{ "anamorphic-4-3-h264.mkv",
	  OPTIONS("--square-pixels"),
	  NULL,
	  OPTIONS("-vf", "scale=iw*sar:ih:flags=bicubic,setsar=1"),
	  VSHM_FORMAT_I420,
	  320,
	  180,
	  0,
	  0,
	  0,
	  { 1, 1 } },
	/* 10-bit HDR as P010, and 4:4:4 as I444. */
	{ "hdr10-pq-hevc.mp4",
	  NULL,
	  NULL,
	  OPTIONS("-pix_fmt", "p010le"),
	  VSHM_FORMAT_P010,
	  320,
	  180,
	  VSHM_COLOR_MATRIX_BT2020,
	  VSHM_COLOR_PRIMARIES_BT2020,
	  VSHM_COLOR_TRANSFER_PQ,
	  { 1, 1 } },
	{ "hlg-vp9-10bit.webm",
	  NULL,
	  NULL,
	  OPTIONS("-pix_fmt", "p010le"),
	  VSHM_FORMAT_P010,
	  320,
	  180,
	  VSHM_COLOR_MATRIX_BT2020,
	  VSHM_COLOR_PRIMARIES_BT2020,
	  VSHM_COLOR_TRANSFER_HLG,
	  { 1, 1 } },
	{ "testsrc2-h264-444.mp4",
	  NULL,
	  NULL,
	  NULL,
	  VSHM_FORMAT_I444,
	  320,
	  180,
	  0,
	  0,
	  0,
	  { 1, 1 } },
};

/* Starts vshm-capture on a sample with extra options; its stderr goes to errors_path. */
static pid_t start_capture(const char *file, const char *name, const char *const options[],
                           const char *errors_path)
{
	char path[512];
	framecrc_sample_path(file, path, sizeof(path));
	const char *argv[24] = { program_path("VSHM_CAPTURE"), path, "--name", name };
	int count = 4;
	for (int i = 0; options && options[i] && count < 20; i++)
		argv[count++] = options[i];
	argv[count] = NULL;
	return program_start((char *const *)argv, NULL, errors_path);
}

static void plays_like_ffmpeg(const struct hifi_sample *sample)
{
	struct framecrc *reference = calloc(1, sizeof(*reference));
	assert_non_null(reference);
	framecrc_of(sample->file, sample->ffmpeg_input_options, sample->ffmpeg_output_options,
	            reference);
	assert_true(reference->count > 0);

	char name[64];
	test_unique_name(name, sizeof(name), "hifi");
	/* Every frame, as fast as it comes: a lossless reader, attached before the first. */
	const char *options[16] = { "--fast", "--wait-readers", "1", "--quiet" };
	int count = 4;
	for (int i = 0; sample->capture_options && sample->capture_options[i]; i++)
		options[count++] = sample->capture_options[i];
	options[count] = NULL;
	pid_t capture = start_capture(sample->file, name, options, NULL);
	struct vshm_reader_options reader_options = { .lossless = true };
	struct vshm_reader *reader =
	    vshm_reader_attach_wait(name, &reader_options, 10000, NULL, NULL);
	assert_non_null(reader);

	uint32_t checked = 0, wrong = 0;
	struct follow follow = { .reader = reader, .wait_ms = 3000 };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		assert_int_equal(frame.format, sample->format);
		assert_int_equal(frame.width, sample->width);
		assert_int_equal(frame.height, sample->height);
		assert_true(frame.frame_number < reference->count);
		assert_int_equal(frame.color_matrix, sample->color_matrix);
		assert_int_equal(frame.color_primaries, sample->color_primaries);
		assert_int_equal(frame.color_transfer, sample->color_transfer);
		assert_int_equal(frame.sample_aspect.numerator, sample->aspect.numerator);
		assert_int_equal(frame.sample_aspect.denominator, sample->aspect.denominator);
		uint32_t size;
		uint32_t adler = framecrc_hash_frame(&frame, false, &size);
		bool matches = size == reference->size[frame.frame_number] &&
		               adler == reference->adler[frame.frame_number];
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
	print_message("%-26s %-16s %ux%u %s: %u/%u frames identical to ffmpeg's, %u differ\n",
	              sample->file,
	              sample->capture_options ? sample->capture_options[0] : "(default)",
	              sample->width, sample->height, vshm_format_name(sample->format),
	              checked - wrong, reference->count, wrong);
	assert_true(follow.end_of_stream);
	assert_false(stats.demoted);
	assert_int_equal(stats.frames_published, reference->count);
	assert_int_equal(wrong, 0);
	assert_int_equal(checked, reference->count);
	free(reference);
}

static void every_sample_plays_like_ffmpeg(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		plays_like_ffmpeg(&samples[i]);
}

/* The announcement of a stream in a format smaller than the file's says what is lost. */
static void says_what_is_lost(const char *file, const char *format, const char *expected)
{
	char name[64], errors_path[512];
	test_unique_name(name, sizeof(name), "lost");
	snprintf(errors_path, sizeof(errors_path), "%s/%s.err", program_temporary_directory(),
	         name);
	pid_t capture =
	    start_capture(file, name, OPTIONS("--format", format, "--fast"), errors_path);
	assert_int_equal(test_wait(capture, 20000), 0);
	size_t size;
	char *errors = (char *)program_read_file(errors_path, &size);
	assert_non_null(errors);
	const char *line = strstr(errors, "streaming ");
	if (!line) {
		/* A return after it: cmocka's failures are not marked noreturn. */
		fail_msg("capture did not announce the stream: %s", errors);
		return;
	}
	const char *end = strchr(line, '\n');
	print_message("--format %s: %.*s\n", format, (int)(end ? end - line : 200), line);
	if (!strstr(line, expected) || (end && strstr(line, expected) > end))
		fail_msg("the announcement does not say '%s'", expected);
	free(errors);
}

static void the_announcement_says_what_is_lost(void **state)
{
	(void)state;
	says_what_is_lost("hdr10-pq-hevc.mp4", "i420", "lost in i420: depth 10 -> 8 bits)");
	says_what_is_lost("testsrc2-h264-444.mp4", "nv12", "lost in nv12: chroma 4:4:4 -> 4:2:0)");
	says_what_is_lost("hlg-vp9-10bit.webm", "rgb24", "lost in rgb24: depth 10 -> 8 bits)");
	/* Nothing lost, nothing said. */
	char name[64], errors_path[512];
	test_unique_name(name, sizeof(name), "lost");
	snprintf(errors_path, sizeof(errors_path), "%s/%s.err", program_temporary_directory(),
	         name);
	pid_t capture = start_capture("hdr10-pq-hevc.mp4", name, OPTIONS("--fast", "--frames", "2"),
	                              errors_path);
	assert_int_equal(test_wait(capture, 20000), 0);
	size_t size;
	char *errors = (char *)program_read_file(errors_path, &size);
	assert_non_null(errors);
	assert_null(strstr(errors, "lost in"));
	assert_non_null(strstr(errors, "(320x180 p010)"));
	free(errors);
}

/* vshm-ls --json on a live stream: the object of that stream. */
static char *listing_of(const char *name)
{
	char output[512];
	snprintf(output, sizeof(output), "%s/ls-%s.json", program_temporary_directory(), name);
	char ls[512];
	snprintf(ls, sizeof(ls), "%s/vshm-ls", program_path("VSHM_TOOLS"));
	char *argv[] = { ls, "--json", NULL };
	pid_t pid = program_start(argv, output, NULL);
	assert_int_equal(test_wait(pid, 10000), 0);
	size_t size;
	char *json = (char *)program_read_file(output, &size);
	assert_non_null(json);
	char key[96];
	snprintf(key, sizeof(key), "{\"name\": \"%s\"", name);
	char *object = strstr(json, key);
	assert_non_null(object);
	char *end = strchr(object, '}');
	assert_non_null(end);
	end[1] = '\0';
	memmove(json, object, strlen(object) + 1);
	return json;
}

static void listed(const char *file, const char *const expected[])
{
	char name[64];
	test_unique_name(name, sizeof(name), "listed");
	pid_t capture = start_capture(file, name, OPTIONS("--loop", "--quiet"), NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	assert_int_equal(vshm_reader_wait(reader, 5000), 0);
	vshm_reader_detach(reader);
	char *json = listing_of(name);
	print_message("%s: %s\n", file, json);
	for (int i = 0; expected[i]; i++)
		if (!strstr(json, expected[i]))
			fail_msg("vshm-ls --json does not say %s", expected[i]);
	free(json);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
}

static void ls_shows_depth_colour_and_aspect(void **state)
{
	(void)state;
	listed("hdr10-pq-hevc.mp4",
	       OPTIONS("\"layout\": \"2.2\"", "\"format\": \"p010\"", "\"depth\": 10",
	               "\"chroma\": \"4:2:0\"", "\"color_matrix\": \"bt2020\"",
	               "\"color_range\": \"limited\"", "\"color_primaries\": \"bt2020\"",
	               "\"color_transfer\": \"pq\"", "\"sample_aspect\": [1, 1]"));
	listed("anamorphic-16-9-h264.mp4",
	       OPTIONS("\"width\": 180", "\"height\": 180", "\"depth\": 8",
	               "\"sample_aspect\": [16, 9], \"display_width\": 320",
	               "\"color_transfer\": \"unspecified\""));
	listed("testsrc2-h264-444.mp4", OPTIONS("\"format\": \"i444\"", "\"chroma\": \"4:4:4\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_sample_plays_like_ffmpeg),
		cmocka_unit_test(the_announcement_says_what_is_lost),
		cmocka_unit_test(ls_shows_depth_colour_and_aspect),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
