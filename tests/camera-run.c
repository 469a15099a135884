/* The real vshm-capture on the preloaded fake camera, checked frame by frame (camera-run.h). */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <linux/videodev2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "camera-run.h"
#include "fake-camera.h"
#include "program-util.h"
#include "test-util.h"

/* True if plane p of the frame equals the fake's V4L2 frame at expected, row by row. */
static bool plane_matches(const struct vshm_frame *frame, uint32_t p, const uint8_t *expected,
                          uint64_t offset, uint32_t stride)
{
	uint64_t row_bytes;
	uint32_t rows;
	if (vshm_format_plane_extent(frame->format, p, frame->width, frame->height, &row_bytes,
	                             &rows) < 0)
		return false;
	for (uint32_t row = 0; row < rows; row++)
		if (memcmp(frame->plane[p] + (size_t)row * frame->stride[p],
		           expected + offset + (size_t)row * stride, row_bytes) != 0)
			return false;
	return true;
}

/* The raw frame whose stamp the slot carries, in V4L2's single-buffer layout. */
static bool is_raw_frame(const struct vshm_frame *frame)
{
	const struct vshm_format_description *format = vshm_format_describe(frame->format);
	if (!format || !format->v4l2_fourcc || frame->stride[0] < 8)
		return false;
	uint64_t sequence = 0;
	for (int i = 0; i < 8; i++)
		sequence |= (uint64_t)frame->plane[0][i] << (8 * i);
	if (sequence > 100000000u)
		return false;
	uint32_t fourcc = format->v4l2_fourcc;
	uint8_t *expected = malloc(fake_camera_sizeimage(fourcc, frame->width, frame->height));
	assert_non_null(expected);
	fake_camera_fill(fourcc, frame->width, frame->height, sequence, expected);
	uint32_t bytesperline = fake_camera_bytesperline(fourcc, frame->width);
	bool same = true;
	uint64_t offset = 0;
	for (uint32_t p = 0; same && p < frame->plane_count; p++) {
		const struct vshm_format_plane *plane = &format->planes[p];
		/* V4L2 scales a plane's row as its bytes per pixel are to the first plane's. */
		uint32_t stride = (uint32_t)((uint64_t)bytesperline * plane->bytes_per_sample *
		                             format->planes[0].horizontal_subsampling /
		                             (plane->horizontal_subsampling *
		                              format->planes[0].bytes_per_sample));
		same = plane_matches(frame, p, expected, offset, stride);
		offset += (uint64_t)stride * ((frame->height + plane->vertical_subsampling - 1) /
		                              plane->vertical_subsampling);
	}
	free(expected);
	return same;
}

/* The fake's JPEG of frame frame_number, decoded by libavcodec, packed as the slot is. */
static bool is_decoded_jpeg(const struct vshm_frame *frame)
{
	if (frame->format != VSHM_FORMAT_YUYV)
		return false;
	size_t capacity = (size_t)frame->width * frame->height * 2 + 4096;
	uint8_t *jpeg = malloc(capacity);
	assert_non_null(jpeg);
	size_t size =
	    fake_camera_jpeg(frame->width, frame->height, frame->frame_number, jpeg, capacity);
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
	bool same =
	    (uint32_t)picture->width == frame->width && (uint32_t)picture->height == frame->height;
	for (uint32_t y = 0; same && y < frame->height; y++) {
		const uint8_t *row = frame->plane[0] + (size_t)y * frame->stride[0];
		const uint8_t *l = picture->data[0] + y * picture->linesize[0];
		const uint8_t *u = picture->data[1] + y * picture->linesize[1];
		const uint8_t *v = picture->data[2] + y * picture->linesize[2];
		for (uint32_t x = 0; same && x < frame->width / 2; x++)
			same = row[4 * x] == l[2 * x] && row[4 * x + 1] == u[x] &&
			       row[4 * x + 2] == l[2 * x + 1] && row[4 * x + 3] == v[x];
	}
	av_frame_free(&picture);
	av_packet_free(&packet);
	avcodec_free_context(&decoder);
	free(jpeg);
	return same;
}

bool camera_frame_is_whole(const struct vshm_frame *frame)
{
	return is_raw_frame(frame) || is_decoded_jpeg(frame);
}

/* The number before " skipped" on the last status line of what it said. */
static uint64_t skipped_of(const char *errors)
{
	const char *done = strstr(errors, "done: ");
	const char *skipped = done ? strstr(done, " skipped") : NULL;
	if (!skipped)
		return 0;
	while (skipped > done && skipped[-1] >= '0' && skipped[-1] <= '9')
		skipped--;
	return strtoull(skipped, NULL, 10);
}

/*
 * Reads the stream until its end, or until the deadline: a capture that never ends (or
 * never publishes) must not hold the test, so this loop waits in short steps rather than
 * through follow.h, which waits for a frame as long as the writer lives.
 */
static void read_stream(struct camera_run *run, const char *name, uint64_t deadline_ns)
{
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	if (!reader)
		return; /* no stream: the test looks at the status and what was said */
	uint64_t last_capture_ns = 0, last_sequence = 0;
	while (vshm_now_ns() < deadline_ns) {
		int result = vshm_reader_wait(reader, 200);
		if (result == -EPIPE)
			break; /* the capture is gone */
		if (result != 0 && result != -ETIMEDOUT)
			fail_msg("waiting on stream '%s': %s", name, strerror(-result));
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0)
			continue; /* nothing published yet */
		if (frame.sequence == last_sequence) {
			vshm_reader_release(reader);
			continue; /* nothing new */
		}
		last_sequence = frame.sequence;
		bool whole = camera_frame_is_whole(&frame);
		uint64_t capture_ns = frame.capture_ns, publish_ns = frame.publish_ns;
		uint32_t flags = frame.flags;
		run->format = frame.format;
		run->width = frame.width;
		run->height = frame.height;
		if (vshm_reader_release(reader) != 1)
			continue; /* torn: never used */
		run->frames++;
		run->bad += !whole;
		run->discontinuities += (flags & VSHM_FRAME_DISCONTINUITY) != 0;
		run->capture_backwards += capture_ns < last_capture_ns;
		run->captured_after_publish += capture_ns > publish_ns;
		last_capture_ns = capture_ns;
		if (flags & VSHM_FRAME_END_OF_STREAM)
			break;
	}
	vshm_reader_detach(reader);
}

void camera_run_plain_fake(const char *device, const char *fps)
{
	extern char **environ;
	for (bool again = true; again;) {
		again = false; /* unsetenv() moves the others: start over after each */
		for (char **variable = environ; *variable && !again; variable++) {
			if (strncmp(*variable, "FAKE_CAMERA_", 12) != 0)
				continue;
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(*variable, "="),
			         *variable);
			unsetenv(name);
			again = true;
		}
	}
	setenv("FAKE_CAMERA_DEVICE", device, 1);
	setenv("FAKE_CAMERA_FORMATS", "YUYV", 1);
	setenv("FAKE_CAMERA_SIZES", "320x240", 1);
	setenv("FAKE_CAMERA_FPS", fps, 1);
}

void camera_run(struct camera_run *run)
{
	fake_camera_reset(); /* the checks here use the same environment as the capture */
	char name[64], error_path[512];
	test_unique_name(name, sizeof(name), "camera-run");
	snprintf(error_path, sizeof(error_path), "%s/%s.err", program_temporary_directory(), name);
	char *argv[CAMERA_RUN_ARGUMENTS_MAX + 4] = { (char *)program_path("VSHM_CAPTURE") };
	int argc = 1;
	for (int i = 0; i < CAMERA_RUN_ARGUMENTS_MAX && run->arguments[i]; i++)
		argv[argc++] = (char *)run->arguments[i];
	argv[argc++] = "--name";
	argv[argc++] = name;
	argv[argc] = NULL;
	setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
	pid_t pid = program_start(argv, NULL, error_path);
	unsetenv("LD_PRELOAD");
	int timeout_ms = run->timeout_ms ? run->timeout_ms : 20000;
	uint64_t deadline_ns = vshm_now_ns() + (uint64_t)timeout_ms * 1000000u;
	if (!run->no_stream && !run->no_reading)
		read_stream(run, name, deadline_ns);
	uint64_t now_ns = vshm_now_ns();
	run->status =
	    test_wait(pid, now_ns < deadline_ns ? (int)((deadline_ns - now_ns) / 1000000u) : 0);
	if (run->status == -1)
		test_segment_remove(name); /* killed: its stream stays behind */
	size_t size = 0;
	char *errors = (char *)program_read_file(error_path, &size);
	assert_non_null(errors);
	size = size < sizeof(run->errors) - 1 ? size : sizeof(run->errors) - 1;
	memcpy(run->errors, errors, size);
	run->errors[size] = '\0';
	free(errors);
	run->skipped = skipped_of(run->errors);
	print_message("vshm-capture exited %d; %llu frames, %llu bad, %llu skipped; it said:\n%s",
	              run->status, (unsigned long long)run->frames, (unsigned long long)run->bad,
	              (unsigned long long)run->skipped, run->errors);
	assert_false(test_segment_exists(name)); /* nothing left behind */
}
