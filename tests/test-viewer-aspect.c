/*
 * vshm-view with video as phones and cameras shoot it, under a private Xvfb, checked by
 * its --snapshot PNG against FFmpeg's own picture of the same frame:
 *  - anamorphic video is drawn at its display aspect (320x180 from 180x180 at 16:9 and
 *    from 240x180 at 4:3), as `ffmpeg -vf scale=iw*sar:ih` draws it;
 *  - portrait and mirrored video comes out upright (the clock of the test pattern at
 *    the top left, its red bar at the left), as FFmpeg turns it;
 *  - 10-bit HDR in P010 and 4:4:4 in I444 are shown, converted for display, with the
 *    colours FFmpeg converts them to;
 *  - BT.709 video (SMPTE HD colour bars, tagged so) through the viewer's own conversion,
 *    forced (VSHM_VIEW_CONVERT=1), has the colours FFmpeg gives it by its tag.
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
#include "test-util.h"

static pid_t xvfb;

struct shown_sample {
	const char *file;
	int width, height;        /* the snapshot's size: the display size */
	const char *ffmpeg_scale; /* appended to ffmpeg's frame selection, or NULL */
	bool upright_pattern;     /* testsrc2 as shot: clock top left, red bar at the left */
	double mean_limit;        /* how far the renderer's scaling may stray from swscale's;
	                           * the viewer's own conversion does not scale, and a wrong
	                           * matrix moves the bars' mean by 3.8 */
	bool convert;             /* forced through the viewer's own conversion */
};

static const struct shown_sample samples[] = {
	{ "anamorphic-16-9-h264.mp4", 320, 180, "scale=iw*sar:ih", true, 6.0, false },
	{ "anamorphic-4-3-h264.mkv", 320, 180, "scale=iw*sar:ih", true, 6.0, false },
	{ "portrait-rot90-h264.mp4", 180, 320, NULL, true, 4.0, false },
	{ "portrait-rot270-h264.mp4", 180, 320, NULL, true, 4.0, false },
	{ "mirrored-h264.mp4", 320, 180, NULL, true, 4.0, false },
	{ "hdr10-pq-hevc.mp4", 320, 180, NULL, true, 4.0, false },
	{ "testsrc2-h264-444.mp4", 320, 180, NULL, true, 4.0, false },
	{ "smptehdbars-vp9.webm", 640, 360, NULL, false, 1.5, true },
};

/* The mean of one channel over a w x h block at (x, y). */
static double block_mean(const struct program_picture *picture, int x, int y, int w, int h,
                         int channel)
{
	double total = 0;
	for (int row = y; row < y + h; row++)
		for (int column = x; column < x + w; column++)
			total +=
			    picture->rgb[((size_t)row * picture->width + column) * 3 + channel];
	return total / (w * h);
}

/*
 * testsrc2 upright: a dark box holds the clock at the top left, and the leftmost of its
 * colour bars is red, down to the bottom. Sideways or mirrored, neither holds.
 */
static void assert_upright(const struct program_picture *picture, const char *file)
{
	double box = (block_mean(picture, 4, 4, 12, 6, 0) + block_mean(picture, 4, 4, 12, 6, 1) +
	              block_mean(picture, 4, 4, 12, 6, 2)) /
	             3;
	int bottom = picture->height - 12;
	double red = block_mean(picture, 3, bottom, 8, 8, 0);
	double green = block_mean(picture, 3, bottom, 8, 8, 1);
	double blue = block_mean(picture, 3, bottom, 8, 8, 2);
	print_message("%s: top left %.0f (dark), bottom left %.0f,%.0f,%.0f (red)\n", file, box,
	              red, green, blue);
	if (box > 90 || red < 150 || green > 90 || blue > 90)
		fail_msg("%s is not shown upright", file);
}

static void shown_like_ffmpeg(const struct shown_sample *sample)
{
	char name[64], snapshot[512], path[512], reference[512], errors[4096];
	test_unique_name(name, sizeof(name), "aspect");
	snprintf(snapshot, sizeof(snapshot), "%s/%s.png", program_temporary_directory(), name);
	snprintf(path, sizeof(path), "%s/%s", program_path("VSHM_SAMPLES"), sample->file);
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 path,
		                 "--wait-readers",
		                 "1",
		                 "--name",
		                 name,
		                 "--quiet",
		                 NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	char *viewer_argv[] = { (char *)program_path("VSHM_VIEW"),
		                "--snapshot",
		                snapshot,
		                "--after",
		                "5",
		                "--timeout",
		                "20",
		                name,
		                NULL };
	if (sample->convert)
		setenv("VSHM_VIEW_CONVERT", "1", 1);
	int status = program_run(viewer_argv, 60000, errors, sizeof(errors));
	unsetenv("VSHM_VIEW_CONVERT");
	/* The file plays to its end (a second) and the capture stops by itself. */
	assert_int_equal(test_wait(capture, 10000), 0);
	if (status != 0)
		fail_msg("vshm-view failed (%d): %s", status, errors);
	if (sample->convert && !strstr(errors, "one pass to RGB"))
		fail_msg("VSHM_VIEW_CONVERT=1 did not take the viewer's conversion: %s", errors);
	const char *found = strstr(errors, "snapshot of frame ");
	assert_non_null(found);
	unsigned long long n = strtoull(found + strlen("snapshot of frame "), NULL, 10);

	/* FFmpeg's picture of frame n, turned as its program turns it by default. */
	snprintf(reference, sizeof(reference), "%s/%s-ffmpeg.png", program_temporary_directory(),
	         name);
	char filter[96];
	snprintf(filter, sizeof(filter), "select=eq(n\\,%llu)%s%s", n,
	         sample->ffmpeg_scale ? "," : "", sample->ffmpeg_scale ? sample->ffmpeg_scale : "");
	char *ffmpeg_argv[] = { (char *)program_path("VSHM_FFMPEG"),
		                "-nostdin",
		                "-loglevel",
		                "error",
		                "-i",
		                path,
		                "-vf",
		                filter,
		                "-frames:v",
		                "1",
		                "-y",
		                reference,
		                NULL };
	assert_int_equal(program_run(ffmpeg_argv, 30000, errors, sizeof(errors)), 0);

	struct program_picture shown, decoded;
	program_read_picture(snapshot, &shown);
	program_read_picture(reference, &decoded);
	print_message("%-26s frame %llu shown %dx%d, ffmpeg %dx%d\n", sample->file, n, shown.width,
	              shown.height, decoded.width, decoded.height);
	assert_int_equal(shown.width, sample->width);
	assert_int_equal(shown.height, sample->height);
	assert_int_equal(decoded.width, sample->width);
	assert_int_equal(decoded.height, sample->height);
	size_t count = (size_t)shown.width * shown.height * 3;
	double total = 0;
	for (size_t i = 0; i < count; i++)
		total += abs(shown.rgb[i] - decoded.rgb[i]);
	double mean = total / (double)count;
	print_message("%-26s mean difference from ffmpeg's %.2f (limit %.1f)\n", sample->file, mean,
	              sample->mean_limit);
	assert_true(mean < sample->mean_limit);
	if (sample->upright_pattern)
		assert_upright(&shown, sample->file);
	free(shown.rgb);
	free(decoded.rgb);
}

static void samples_are_shown_as_ffmpeg_shows_them(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		shown_like_ffmpeg(&samples[i]);
}

static int setup(void **state)
{
	(void)state;
	xvfb = program_start_xvfb();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	program_stop_xvfb(xvfb);
	program_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(samples_are_shown_as_ffmpeg_shows_them),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
