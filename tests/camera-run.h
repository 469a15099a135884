/*
 * The real vshm-capture on the preloaded fake camera (fake-camera.h), followed to its end
 * by a reader in the test's process that checks every frame it takes against what the
 * fake made: raw frames by the 8-byte stamp the fake writes into each (then every byte
 * of every plane), MJPEG frames against libavcodec's decoding of the fake's JPEG of that
 * frame number. For the camera tests that run the program; the FAKE_CAMERA_* environment
 * is the caller's to set before.
 *
 *	struct camera_run run = { .arguments = { "v4l2:/dev/video9", "--frames", "30" } };
 *	camera_run(&run);
 *	assert_int_equal(run.status, 0);
 *	assert_int_equal(run.bad, 0);
 */
#ifndef VSHM_TEST_CAMERA_RUN_H
#define VSHM_TEST_CAMERA_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/vshm.h>

#define CAMERA_RUN_ARGUMENTS_MAX 16

struct camera_run {
	/* vshm-capture's arguments (a --name is added), up to the first NULL. */
	const char *arguments[CAMERA_RUN_ARGUMENTS_MAX];
	int timeout_ms;  /* for the whole run; 0: 20 s, then the capture is killed */
	bool no_stream;  /* the capture is expected to fail before it creates a stream */
	bool no_reading; /* run it without a reader (for what it says and its status) */

	/* What happened. */
	int status; /* vshm-capture's exit status, 128 + signal, or -1 when it was killed */
	uint64_t frames, bad, discontinuities;
	uint64_t skipped;                /* "N skipped" on its last status line */
	uint64_t capture_backwards;      /* frames stamped earlier than the frame before */
	uint64_t captured_after_publish; /* frames stamped after they were published */
	uint32_t format, width, height;  /* of the last frame */
	char errors[8192];               /* what it said on stderr */
};

/*
 * The environment of a plain fake camera for the next runs: every FAKE_CAMERA_* variable
 * unset, then the device path, YUYV only, 320x240 only, at fps frames a second.
 */
void camera_run_plain_fake(const char *device, const char *fps);

/* Runs it, reads the stream to its end, waits for it to exit. */
void camera_run(struct camera_run *run);

/*
 * True if the frame holds exactly what the fake made: the raw frame whose stamp it
 * carries, or the decoded JPEG of frame frame->frame_number.
 */
bool camera_frame_is_whole(const struct vshm_frame *frame);

#endif
