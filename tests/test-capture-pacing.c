/*
 * vshm-capture in real time: a 30 fps file publishes 90 +/- 3 frames in 3 s, paced by
 * its timestamps against CLOCK_MONOTONIC; SIGINT and SIGTERM during playback end it
 * cleanly (exit 0) with the stream removed and its readers told.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "follow.h"
#include "program-util.h"
#include "test-util.h"

static pid_t start_sample(const char *name, const char *file)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", program_path("VSHM_SAMPLES"), file);
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         path,
		         "--loop",
		         "--name",
		         (char *)name,
		         "--quiet",
		         NULL };
	return program_start(argv, NULL, NULL);
}

static uint64_t published(struct vshm_reader *reader)
{
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	return stats.frames_published;
}

static void thirty_fps_file_publishes_ninety_frames_in_three_seconds(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "pacing");
	pid_t capture = start_sample(name, "testsrc2-h264.mp4");
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	/* Start counting at a publish, so the window is not cut mid-interval. */
	assert_int_equal(vshm_reader_wait(reader, 2000), 0);
	struct vshm_frame frame;
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	vshm_reader_release(reader);
	uint64_t start_count = published(reader);
	uint64_t start = vshm_now_ns();
	test_sleep_us(3000000);
	uint64_t elapsed = vshm_now_ns() - start;
	uint64_t count = published(reader) - start_count;
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	vshm_reader_detach(reader);
	assert_false(test_segment_exists(name));
	print_message("published %llu frames in %.3f s (30 fps file, real time)\n",
	              (unsigned long long)count, (double)elapsed / 1e9);
	assert_true(count >= 87 && count <= 93);
}

static void signal_during_playback_exits_cleanly(int signal_number)
{
	char name[64];
	test_unique_name(name, sizeof(name), "signal");
	pid_t capture = start_sample(name, "smptehdbars-vp9.webm");
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	assert_int_equal(vshm_reader_wait(reader, 2000), 0);
	test_sleep_us(300000);
	assert_true(test_segment_exists(name));
	kill(capture, signal_number);
	assert_int_equal(test_wait(capture, 5000), 128 + signal_number);
	assert_false(test_segment_exists(name));
	/* The reader hears at once that the writer is gone, and keeps its last frame. */
	uint64_t before = vshm_now_ns();
	int result;
	for (;;) {
		result = vshm_reader_wait(reader, 1000);
		if (result != 0)
			break;
		struct vshm_frame newer;
		if (vshm_reader_acquire(reader, &newer) == 0)
			vshm_reader_release(reader);
	}
	assert_int_equal(result, -EPIPE);
	assert_true(vshm_now_ns() - before < 1000000000u);
	struct vshm_frame frame;
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	assert_int_equal(frame.width, 640);
	vshm_reader_release(reader);
	vshm_reader_detach(reader);
}

static void sigint_during_playback_exits_cleanly(void **state)
{
	(void)state;
	signal_during_playback_exits_cleanly(SIGINT);
}

static void sigterm_during_playback_exits_cleanly(void **state)
{
	(void)state;
	signal_during_playback_exits_cleanly(SIGTERM);
}

/* Regression: a jump forward in a file's timestamps made the capture sleep through the
 * whole jump (10 hours here). Now it is a discontinuity: flagged, and played on. */
static void timestamp_jump_is_a_discontinuity_not_a_sleep(void **state)
{
	(void)state;
	char path[512], name[64];
	snprintf(path, sizeof(path), "%s/jump.mkv", program_temporary_directory());
	char *make[] = { (char *)program_path("VSHM_FFMPEG"),
		         "-nostdin",
		         "-loglevel",
		         "error",
		         "-f",
		         "lavfi",
		         "-i",
		         "testsrc=size=160x120:rate=10:duration=2",
		         "-vf",
		         "setpts='if(gte(N,10),PTS+36000/TB,PTS)'",
		         "-c:v",
		         "mjpeg",
		         "-y",
		         path,
		         NULL };
	char errors[1024];
	assert_int_equal(program_run(make, 30000, errors, sizeof(errors)), 0);
	test_unique_name(name, sizeof(name), "jump");
	char *argv[] = {
		(char *)program_path("VSHM_CAPTURE"), path, "--name", name, "--quiet", NULL
	};
	uint64_t start = vshm_now_ns();
	pid_t capture = program_start(argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	bool flagged = false;
	struct follow follow = { .reader = reader, .wait_ms = 3000 };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		if (frame.flags & VSHM_FRAME_DISCONTINUITY) {
			assert_int_equal(frame.frame_number, 10);
			flagged = true;
		}
	}
	vshm_reader_detach(reader);
	assert_int_equal(test_wait(capture, 20000), 0);
	double seconds = (double)(vshm_now_ns() - start) / 1e9;
	print_message("a 10-hour jump after frame 9: flagged %s, played in %.1f s\n",
	              flagged ? "yes" : "NO", seconds);
	assert_true(flagged);
	assert_true(follow.end_of_stream);
	assert_true(seconds < 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thirty_fps_file_publishes_ninety_frames_in_three_seconds),
		cmocka_unit_test(sigint_during_playback_exits_cleanly),
		cmocka_unit_test(sigterm_during_playback_exits_cleanly),
		cmocka_unit_test(timestamp_jump_is_a_discontinuity_not_a_sleep),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
