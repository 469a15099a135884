/*
 * Every camera fault, through the real vshm-capture on the preloaded fake camera:
 * EAGAIN, EINTR, buffers flagged V4L2_BUF_FLAG_ERROR and sequence gaps (never a bad frame
 * published, gaps and errors counted as drops); unplug and replug mid-stream with a
 * reader attached that never blocks, keeps the last frame, never sees a torn or error
 * frame and gets frames again after the replug; --no-reconnect; and a device that is
 * missing, busy, not a capture device or not allowed: one clear line, exit status 1.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <linux/videodev2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake-camera.h"
#include "follow.h"
#include "program-util.h"
#include "test-util.h"

#define DEVICE "/dev/video43"
#define WIDTH  320
#define HEIGHT 240

static const char *fault_variables[] = {
	"FAKE_CAMERA_EAGAIN_EVERY",   "FAKE_CAMERA_EINTR_EVERY",  "FAKE_CAMERA_ERROR_EVERY",
	"FAKE_CAMERA_DROP_EVERY",     "FAKE_CAMERA_UNPLUG_AFTER", "FAKE_CAMERA_REPLUG_MS",
	"FAKE_CAMERA_BUSY",           "FAKE_CAMERA_OPEN_ERROR",   "FAKE_CAMERA_CAPS",
	"FAKE_CAMERA_REPLUG_FORMATS",
};

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fault_variables) / sizeof(fault_variables[0]); i++)
		unsetenv(fault_variables[i]);
	setenv("FAKE_CAMERA_DEVICE", DEVICE, 1);
	setenv("FAKE_CAMERA_FORMATS", "YUYV", 1);
	setenv("FAKE_CAMERA_SIZES", "320x240", 1);
	setenv("FAKE_CAMERA_FPS", "100", 1);
	return 0;
}

static pid_t start_capture(const char *name, const char *frames, const char *extra,
                           const char *error_path)
{
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         DEVICE,
		         "--frames",
		         (char *)frames,
		         "--name",
		         (char *)name,
		         (char *)extra,
		         NULL };
	setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
	pid_t pid = program_start(argv, NULL, error_path);
	unsetenv("LD_PRELOAD");
	return pid;
}

/* True if a YUYV slot holds exactly what libavcodec decodes from the fake's JPEG of s. */
static bool is_decoded_jpeg(const struct vshm_frame *frame, uint64_t s)
{
	static uint8_t jpeg[WIDTH * HEIGHT * 2 + 4096];
	size_t size = fake_camera_jpeg(WIDTH, HEIGHT, s, jpeg, sizeof(jpeg));
	assert_true(size > 0);
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *decoder = avcodec_alloc_context3(codec);
	AVPacket *packet = av_packet_alloc();
	AVFrame *picture = av_frame_alloc();
	assert_int_equal(avcodec_open2(decoder, codec, NULL), 0);
	packet->data = jpeg;
	packet->size = (int)size;
	assert_int_equal(avcodec_send_packet(decoder, packet), 0);
	assert_int_equal(avcodec_receive_frame(decoder, picture), 0);
	bool same = picture->width == WIDTH && picture->height == HEIGHT;
	for (uint32_t y = 0; same && y < HEIGHT; y++) {
		const uint8_t *row = frame->plane[0] + (size_t)y * frame->stride[0];
		const uint8_t *l = picture->data[0] + y * picture->linesize[0];
		const uint8_t *u = picture->data[1] + y * picture->linesize[1];
		const uint8_t *v = picture->data[2] + y * picture->linesize[2];
		for (uint32_t x = 0; same && x < WIDTH / 2; x++)
			same = row[4 * x] == l[2 * x] && row[4 * x + 1] == u[x] &&
			       row[4 * x + 2] == l[2 * x + 1] && row[4 * x + 3] == v[x];
	}
	av_frame_free(&picture);
	av_packet_free(&packet);
	avcodec_free_context(&decoder);
	return same;
}

/*
 * True if a YUYV slot holds a decoded fake JPEG. A JPEG carries no stamp, and after a
 * replug the driver's numbers start again, so the frame's number says nothing: the fake's
 * luma at (0, 0) is 16 + 3s mod 220, which, give or take the compression's error, names
 * s (3 has an inverse mod 220: 147); each candidate is decoded and compared exactly.
 * The error reaches 8 where the luma wraps from 235 to 16 (s = 73, measured over every
 * s): the candidates span twice that, nearest first.
 */
static bool is_some_decoded_jpeg(const struct vshm_frame *frame)
{
	if (frame->format != VSHM_FORMAT_YUYV || frame->width != WIDTH || frame->height != HEIGHT)
		return false;
	int luma = frame->plane[0][0] - 16;
	for (int step = 0; step <= 32; step++) {
		int error = step % 2 ? (step + 1) / 2 : -step / 2; /* 0, 1, -1, 2, -2 ... */
		int k = ((luma + error) % 220 + 220) % 220;
		if (is_decoded_jpeg(frame, (uint64_t)k * 147 % 220))
			return true;
	}
	return false;
}

/* True if a slot holds exactly the fake's frame whose number it carries (or a decoded
 * JPEG of the fake, for a camera that came back offering only MJPEG). */
static bool frame_is_whole(const struct vshm_frame *frame)
{
	static uint8_t expected[WIDTH * 2 * HEIGHT];
	uint64_t sequence = 0;
	for (int i = 0; i < 8; i++)
		sequence |= (uint64_t)frame->plane[0][i] << (8 * i);
	if (sequence > 1000000)
		return is_some_decoded_jpeg(frame); /* or garbage: an error buffer, ... */
	fake_camera_fill(V4L2_PIX_FMT_YUYV, WIDTH, HEIGHT, sequence, expected);
	for (uint32_t y = 0; y < HEIGHT; y++)
		if (memcmp(frame->plane[0] + (size_t)y * frame->stride[0], expected + y * WIDTH * 2,
		           WIDTH * 2) != 0)
			return is_some_decoded_jpeg(frame);
	return true;
}

struct reading {
	uint64_t frames, bad, longest_wait_ns, discontinuities, same_frame_seen;
	uint64_t frames_after_gap, last_sequence;
	uint64_t dropped;
	bool saw_gap;
};

/*
 * Reads like a viewer, with a 100 ms wait: takes the latest frame after every wake-up or
 * timeout, checks it, until end of stream.
 */
static void read_stream(const char *name, struct reading *r)
{
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	struct follow follow = { .reader = reader, .wait_ms = 100, .retake_on_timeout = true };
	uint64_t last_frame_ns = vshm_now_ns();
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		bool whole = frame_is_whole(&frame);
		uint64_t sequence = frame.sequence;
		uint32_t flags = frame.flags;
		if (!follow_release(&follow))
			continue; /* torn: never used */
		if (sequence == r->last_sequence) {
			r->same_frame_seen++; /* nothing new: the last frame is still there */
			if (vshm_now_ns() - last_frame_ns > 500000000u)
				r->saw_gap = true;
			continue;
		}
		last_frame_ns = vshm_now_ns();
		r->last_sequence = sequence;
		r->frames++;
		r->bad += !whole;
		if (r->saw_gap)
			r->frames_after_gap++;
		r->discontinuities += (flags & VSHM_FRAME_DISCONTINUITY) != 0;
	}
	r->longest_wait_ns = follow.longest_wait_ns;
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	r->dropped = stats.frames_dropped;
	vshm_reader_detach(reader);
}

static char *read_errors(const char *path)
{
	size_t size;
	char *text = (char *)program_read_file(path, &size);
	assert_non_null(text);
	text[size] = '\0'; /* the buffer has room for it */
	return text;
}

static void error_path_for(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s.err", program_temporary_directory(), name);
}

static void eagain_eintr_error_buffers_and_gaps(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_EAGAIN_EVERY", "3", 1);
	setenv("FAKE_CAMERA_EINTR_EVERY", "4", 1);
	setenv("FAKE_CAMERA_ERROR_EVERY", "5", 1); /* error_every below */
	setenv("FAKE_CAMERA_DROP_EVERY", "7", 1);  /* drop_every below */
	char name[64], errors_path[512];
	test_unique_name(name, sizeof(name), "faults");
	error_path_for(name, errors_path, sizeof(errors_path));
	pid_t capture = start_capture(name, "60", "--io=auto", errors_path);
	struct reading r = { 0 };
	read_stream(name, &r);
	assert_int_equal(test_wait(capture, 20000), 0);
	char *errors = read_errors(errors_path);
	print_message("%llu frames, %llu bad, %llu dropped, %llu discontinuities; capture: %s",
	              (unsigned long long)r.frames, (unsigned long long)r.bad,
	              (unsigned long long)r.dropped, (unsigned long long)r.discontinuities, errors);
	assert_int_equal(r.bad, 0);
	assert_true(r.frames >= 20);
	/* Of the first n frames the camera makes, every error_every-th is an error buffer
	 * and every drop_every-th is lost (the two may coincide); the capture publishes the
	 * rest until it has 60, so n >= 60 + errors + drops, and each error and drop is
	 * counted. n frames hold at least n / error_every - 1 errors and as many drops
	 * (errors and drops that fall on the same frame counted once, as drops). */
	const uint64_t published = 60, error_every = 5, drop_every = 7;
	uint64_t least_made = published * error_every * drop_every /
	                      (error_every * drop_every - drop_every - error_every + 1);
	uint64_t least_dropped = least_made / error_every + least_made / drop_every -
	                         least_made / (error_every * drop_every) - 2;
	print_message("at least %llu frames made, %llu dropped\n", (unsigned long long)least_made,
	              (unsigned long long)least_dropped);
	assert_true(r.dropped >= least_dropped);
	assert_true(r.discontinuities > 0);
	assert_null(strstr(errors, "cannot"));
	free(errors);
}

static void unplug_and_replug_with_a_reader(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_UNPLUG_AFTER", "30", 1);
	setenv("FAKE_CAMERA_REPLUG_MS", "1500", 1);
	for (int io = 0; io < 2; io++) {
		char name[64], errors_path[512];
		test_unique_name(name, sizeof(name), "replug");
		error_path_for(name, errors_path, sizeof(errors_path));
		pid_t capture =
		    start_capture(name, "80", io ? "--io=mmap" : "--io=auto", errors_path);
		struct reading r = { 0 };
		read_stream(name, &r);
		assert_int_equal(test_wait(capture, 20000), 0);
		char *errors = read_errors(errors_path);
		print_message(
		    "%s: %llu frames, %llu after the gap, %llu bad, longest wait %.0f ms, "
		    "%llu looks at the last frame; capture: %s",
		    io ? "mmap" : "userptr", (unsigned long long)r.frames,
		    (unsigned long long)r.frames_after_gap, (unsigned long long)r.bad,
		    r.longest_wait_ns / 1e6, (unsigned long long)r.same_frame_seen, errors);
		assert_int_equal(r.bad, 0);
		assert_true(r.saw_gap);                /* the last frame stayed while unplugged */
		assert_true(r.frames_after_gap >= 10); /* and frames came back */
		assert_true(r.longest_wait_ns < 400000000u); /* the reader never blocked */
		assert_true(r.discontinuities >= 1);
		assert_non_null(
		    strstr(errors, "is gone (unplugged?); readers keep the last frame"));
		assert_non_null(strstr(errors, "is back; streaming again"));
		free(errors);
	}
}

/*
 * Regression: a YUYV camera that comes back offering only MJPEG made reconnect()
 * negotiate MJPEG with no decoder opened, and decode_into_slot() crashed on a NULL
 * packet. Now the frames after the replug are decoded, for mmap and USERPTR at the start.
 */
static void replug_with_only_mjpeg_left(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_UNPLUG_AFTER", "20", 1);
	setenv("FAKE_CAMERA_REPLUG_MS", "1200", 1);
	setenv("FAKE_CAMERA_REPLUG_FORMATS", "MJPG", 1);
	for (int io = 0; io < 2; io++) {
		char name[64], errors_path[512];
		test_unique_name(name, sizeof(name), "replug-mjpeg");
		error_path_for(name, errors_path, sizeof(errors_path));
		/* 80 frames after the replug: the reader checks each MJPEG frame it takes
		 * by decoding candidates, slowly, and takes only the latest. */
		pid_t capture =
		    start_capture(name, "100", io ? "--io=mmap" : "--io=auto", errors_path);
		struct reading r = { 0 };
		read_stream(name, &r);
		int status = test_wait(capture, 20000);
		char *errors = read_errors(errors_path);
		print_message("%s: %llu frames, %llu after the gap, %llu bad; capture: %s",
		              io ? "mmap" : "auto", (unsigned long long)r.frames,
		              (unsigned long long)r.frames_after_gap, (unsigned long long)r.bad,
		              errors);
		assert_int_equal(status, 0); /* no crash */
		assert_int_equal(r.bad, 0);
		assert_true(r.saw_gap);
		assert_true(r.frames_after_gap >= 10);
		assert_non_null(strstr(errors, "is back; streaming again"));
		if (!io)
			assert_non_null(strstr(errors, "no longer takes the ring's slots"));
		free(errors);
	}
}

static void no_reconnect_exits(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_UNPLUG_AFTER", "10", 1);
	char name[64];
	test_unique_name(name, sizeof(name), "noreconnect");
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         DEVICE,
		         "--no-reconnect",
		         "--quiet",
		         "--name",
		         name,
		         NULL };
	char errors[4096];
	setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
	int status = program_run(argv, 20000, errors, sizeof(errors));
	unsetenv("LD_PRELOAD");
	print_message("%s", errors);
	assert_int_equal(status, 1);
	assert_non_null(strstr(errors, "is gone (unplugged?); stopping (--no-reconnect)"));
	assert_false(test_segment_exists(name));
}

/* Runs vshm-capture on a device that cannot be used: exit 1 and one line naming it. */
static void refused(const char *device, const char *variable, const char *value,
                    const char *expected)
{
	if (variable)
		setenv(variable, value, 1);
	char name[64];
	test_unique_name(name, sizeof(name), "refused");
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"), (char *)device, "--name", name,
		         NULL };
	char errors[4096];
	setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
	int status = program_run(argv, 20000, errors, sizeof(errors));
	unsetenv("LD_PRELOAD");
	print_message("%s", errors);
	assert_int_equal(status, 1);
	assert_non_null(strstr(errors, expected));
	assert_non_null(strstr(errors, device + (strncmp(device, "v4l2:", 5) ? 0 : 5)));
	char *newline = strchr(errors, '\n');
	assert_non_null(newline);
	assert_int_equal(newline[1], '\0'); /* one line */
	assert_false(test_segment_exists(name));
	if (variable)
		unsetenv(variable);
}

static void unusable_devices(void **state)
{
	(void)state;
	refused("/dev/video-missing", NULL, NULL, "no such video device");
	refused(DEVICE, "FAKE_CAMERA_OPEN_ERROR", "EACCES", "permission denied");
	refused(DEVICE, "FAKE_CAMERA_OPEN_ERROR", "EBUSY", "is busy");
	refused(DEVICE, "FAKE_CAMERA_BUSY", "1", "is busy");
	refused(DEVICE, "FAKE_CAMERA_CAPS", "output", "is not a video capture device");
	refused("v4l2:/dev/null", NULL, NULL, "is not a V4L2 video device");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(eagain_eintr_error_buffers_and_gaps, setup),
		cmocka_unit_test_setup(unplug_and_replug_with_a_reader, setup),
		cmocka_unit_test_setup(replug_with_only_mjpeg_left, setup),
		cmocka_unit_test_setup(no_reconnect_exits, setup),
		cmocka_unit_test_setup(unusable_devices, setup),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
