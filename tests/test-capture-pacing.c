/*
 * vshm-capture in real time: a 30 fps file is paced by its timestamps against
 * CLOCK_MONOTONIC (no frame published before it is due, due times 1/30 s apart); SIGINT and SIGTERM
 * during playback end it cleanly (exit 0) with the stream removed and its readers told.
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

/* A file's frames are 1/30 s apart in media time; the capture stamps each with the time
 * it was due (capture_ns), so those stamps are exactly this far apart. */
#define INTERVAL_NS 33333333u
/* Rounding of the file's timestamps into nanoseconds, with room to spare. */
#define STAMP_SLACK_NS 1000000u
/* The capture re-anchors its clock when it falls this far behind (capture/main.c). */
#define RESYNC_NS    1000000000u
#define PACED_FRAMES 90

/*
 * Paced by the file's timestamps against CLOCK_MONOTONIC, judged by order, not by how
 * many frames a sleep of the test happened to span (a busy machine stretches the sleep
 * and delays the capture by different amounts). Each frame is stamped with the moment
 * it was due; a paced capture never publishes a frame before that moment, and the
 * moments follow the file's timestamps: 1/30 s per frame. A capture that does not wait
 * publishes frames before they are due; one that waits on the wrong time base stamps
 * them the wrong distance apart; one that sleeps too long falls a second behind within
 * the 3 s and re-anchors (a jump of a second or more in the stamps). A machine 3 to 5
 * times slower delays publishes by milliseconds, none of which breaks these.
 */
static void thirty_fps_file_is_paced_by_its_timestamps(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "pacing");
	pid_t capture = start_sample(name, "testsrc2-h264.mp4");
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	struct follow follow = { .reader = reader, .wait_ms = 5000 };
	struct vshm_frame frame;
	uint64_t frames = 0, early = 0, misspaced = 0, resyncs = 0, first_number = 0;
	uint64_t last_number = 0, last_capture_ns = 0, first_publish_ns = 0, last_publish_ns = 0;
	int64_t worst_spacing_error_ns = 0;
	while (last_number - first_number < PACED_FRAMES && follow_next(&follow, &frame)) {
		uint64_t number = frame.frame_number, capture_ns = frame.capture_ns;
		uint64_t publish_ns = frame.publish_ns;
		if (!follow_release(&follow))
			continue; /* rewritten while held: its stamps may be the next frame's */
		early += publish_ns < capture_ns;
		if (frames > 0) {
			assert_true(number > last_number);
			int64_t expected = (int64_t)((number - last_number) * INTERVAL_NS);
			int64_t error = (int64_t)(capture_ns - last_capture_ns) - expected;
			if (error >= (int64_t)RESYNC_NS)
				resyncs++;
			else if (error > (int64_t)STAMP_SLACK_NS ||
			         error < -(int64_t)STAMP_SLACK_NS)
				misspaced++;
			if (error < (int64_t)RESYNC_NS &&
			    (error > worst_spacing_error_ns || -error > worst_spacing_error_ns))
				worst_spacing_error_ns = error < 0 ? -error : error;
		} else {
			first_number = number;
			first_publish_ns = publish_ns;
		}
		frames++;
		last_number = number;
		last_capture_ns = capture_ns;
		last_publish_ns = publish_ns;
	}
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	vshm_reader_detach(reader);
	assert_false(test_segment_exists(name));
	print_message("frames %llu to %llu (%llu of them read) published over %.3f s: %llu "
	              "before they were due, %llu stamped off the 1/30 s steps (worst by %.3f "
	              "ms), %llu re-anchored\n",
	              (unsigned long long)first_number, (unsigned long long)last_number,
	              (unsigned long long)frames,
	              (double)(last_publish_ns - first_publish_ns) / 1e9, (unsigned long long)early,
	              (unsigned long long)misspaced, (double)worst_spacing_error_ns / 1e6,
	              (unsigned long long)resyncs);
	assert_true(last_number - first_number >= PACED_FRAMES);
	assert_int_equal(early, 0);
	assert_int_equal(misspaced, 0);
	assert_int_equal(resyncs, 0);
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
		cmocka_unit_test(thirty_fps_file_is_paced_by_its_timestamps),
		cmocka_unit_test(sigint_during_playback_exits_cleanly),
		cmocka_unit_test(sigterm_during_playback_exits_cleanly),
		cmocka_unit_test(timestamp_jump_is_a_discontinuity_not_a_sleep),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
