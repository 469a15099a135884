/*
 * End to end: the fake camera preloaded under the real vshm-capture, and a reader in this
 * process checking every frame it takes against what the fake produced: YUYV and MJPEG,
 * with mmap buffers and with the ring's slots lent to the driver (USERPTR). Also the
 * listing options, and the camera's own timestamps as capture_ns.
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

#define DEVICE   "/dev/video42"
#define WIDTH    640
#define HEIGHT   480
#define FPS      100
#define FRAMES   40
#define INTERVAL (1000000000u / FPS)

/* Starts vshm-capture on the fake camera (the FAKE_CAMERA_* environment is set). */
static pid_t start_capture(const char *name, const char *io, const char *error_path)
{
	char size[32];
	snprintf(size, sizeof(size), "%dx%d", WIDTH, HEIGHT);
	char frames[16];
	snprintf(frames, sizeof(frames), "%d", FRAMES);
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         "v4l2:" DEVICE,
		         "--size",
		         size,
		         "--io",
		         (char *)io,
		         "--frames",
		         frames,
		         "--name",
		         (char *)name,
		         NULL };
	setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
	pid_t pid = program_start(argv, NULL, error_path);
	unsetenv("LD_PRELOAD");
	return pid;
}

/* Bytes that differ between a YUYV slot and the fake's frame it says it is. */
static uint64_t yuyv_differences(const struct vshm_frame *frame, uint64_t *sequence)
{
	const uint8_t *pixels = frame->plane[0];
	*sequence = 0;
	for (int i = 0; i < 8; i++)
		*sequence |= (uint64_t)pixels[i] << (8 * i);
	static uint8_t expected[WIDTH * 2 * HEIGHT];
	fake_camera_fill(V4L2_PIX_FMT_YUYV, WIDTH, HEIGHT, *sequence, expected);
	uint64_t wrong = 0;
	for (uint32_t y = 0; y < HEIGHT; y++)
		wrong += memcmp(pixels + (size_t)y * frame->stride[0], expected + y * WIDTH * 2,
		                WIDTH * 2) != 0;
	return wrong;
}

struct decoder {
	AVCodecContext *context;
	AVPacket *packet;
	AVFrame *picture;
	uint8_t *jpeg;
	size_t capacity;
};

/* Bytes that differ between a YUYV slot and the decoded fake JPEG of that frame. */
static uint64_t mjpeg_differences(struct decoder *decoder, const struct vshm_frame *frame)
{
	size_t size =
	    fake_camera_jpeg(WIDTH, HEIGHT, frame->frame_number, decoder->jpeg, decoder->capacity);
	assert_true(size > 0);
	decoder->packet->data = decoder->jpeg;
	decoder->packet->size = (int)size;
	assert_int_equal(avcodec_send_packet(decoder->context, decoder->packet), 0);
	assert_int_equal(avcodec_receive_frame(decoder->context, decoder->picture), 0);
	const AVFrame *picture = decoder->picture;
	uint64_t wrong = 0;
	for (uint32_t y = 0; y < HEIGHT; y++) {
		const uint8_t *row = frame->plane[0] + (size_t)y * frame->stride[0];
		const uint8_t *l = picture->data[0] + y * picture->linesize[0];
		const uint8_t *u = picture->data[1] + y * picture->linesize[1];
		const uint8_t *v = picture->data[2] + y * picture->linesize[2];
		for (uint32_t x = 0; x < WIDTH / 2; x++)
			wrong += row[4 * x] != l[2 * x] || row[4 * x + 1] != u[x] ||
			         row[4 * x + 2] != l[2 * x + 1] || row[4 * x + 3] != v[x];
	}
	av_frame_unref(decoder->picture);
	return wrong;
}

static void camera_to_reader(const char *fourcc, const char *io, bool expect_userptr)
{
	setenv("FAKE_CAMERA_DEVICE", DEVICE, 1);
	setenv("FAKE_CAMERA_FORMATS", fourcc, 1);
	setenv("FAKE_CAMERA_SIZES", "640x480,320x240", 1);
	setenv("FAKE_CAMERA_FPS", "100", 1);
	bool mjpeg = strcmp(fourcc, "MJPG") == 0;
	struct decoder decoder = { 0 };
	if (mjpeg) {
		const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
		decoder.context = avcodec_alloc_context3(codec);
		assert_int_equal(avcodec_open2(decoder.context, codec, NULL), 0);
		decoder.packet = av_packet_alloc();
		decoder.picture = av_frame_alloc();
		decoder.capacity = WIDTH * HEIGHT * 2 + 4096;
		decoder.jpeg = malloc(decoder.capacity);
	}

	char name[64], error_path[512];
	test_unique_name(name, sizeof(name), "camera");
	snprintf(error_path, sizeof(error_path), "%s/%s.err", program_temporary_directory(), name);
	pid_t capture = start_capture(name, io, error_path);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);

	uint64_t checked = 0, wrong = 0, last_capture_ns = 0, last_sequence = 0;
	struct follow follow = { .reader = reader, .wait_ms = 2000 };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		assert_int_equal(frame.format, VSHM_FORMAT_YUYV);
		assert_int_equal(frame.width, WIDTH);
		assert_int_equal(frame.height, HEIGHT);
		/* YUYV: the fake's 8-byte stamp in the pixels says which frame it is, and must
		 * be the frame's number. MJPEG carries no stamp (the JPEG is the picture
		 * only); there the check is that the slot equals, byte for byte, the decoded
		 * JPEG of frame frame_number: the fake's pictures differ for 220 consecutive
		 * numbers, so a frame under another number cannot pass. */
		uint64_t differences, stamp = 0;
		if (mjpeg)
			differences = mjpeg_differences(&decoder, &frame);
		else
			differences = yuyv_differences(&frame, &stamp);
		/* The camera's own timestamps: end of frame k at streamon + (k + 1) / fps. */
		uint64_t capture_ns = frame.capture_ns, publish_ns = frame.publish_ns;
		uint64_t sequence = frame.sequence;
		uint64_t number = frame.frame_number;
		if (!follow_release(&follow))
			continue;
		checked++;
		wrong += differences != 0 || (!mjpeg && stamp != number);
		assert_true(capture_ns < publish_ns);
		assert_true(publish_ns - capture_ns < 1000000000u);
		if (last_capture_ns && sequence > last_sequence) {
			uint64_t step = capture_ns - last_capture_ns;
			uint64_t off = step % INTERVAL;
			assert_true(off <= 2000 || INTERVAL - off <= 2000);
		}
		last_capture_ns = capture_ns;
		last_sequence = sequence;
	}
	vshm_reader_detach(reader);
	assert_int_equal(test_wait(capture, 20000), 0);
	size_t size = 0;
	char *errors = (char *)program_read_file(error_path, &size);
	assert_non_null(errors);
	errors[size] = '\0'; /* the buffer has room for it */
	print_message("%s --io %s: %llu frames checked, %llu wrong; capture said: %.200s\n", fourcc,
	              io, (unsigned long long)checked, (unsigned long long)wrong, errors);
	assert_non_null(strstr(errors, expect_userptr ? "USERPTR: no copy" : "mmap + one copy"));
	assert_null(strstr(errors, "no longer takes")); /* the first start kept to it */
	free(errors);
	assert_int_equal(wrong, 0);
	assert_true(checked >= 10);
	assert_true(follow.end_of_stream);
	assert_false(test_segment_exists(name));
	if (mjpeg) {
		free(decoder.jpeg);
		av_frame_free(&decoder.picture);
		av_packet_free(&decoder.packet);
		avcodec_free_context(&decoder.context);
	}
}

static void yuyv_mmap(void **state)
{
	(void)state;
	camera_to_reader("YUYV", "mmap", false);
}

static void yuyv_userptr(void **state)
{
	(void)state;
	camera_to_reader("YUYV", "auto", true);
}

static void yuyv_userptr_refused_falls_back(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_USERPTR", "0", 1);
	camera_to_reader("YUYV", "userptr", false);
	unsetenv("FAKE_CAMERA_USERPTR");
}

/* Drivers that raise the buffer count or pad sizeimage still get the slots (USERPTR). */
static void yuyv_userptr_six_buffers_padded(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_MIN_BUFFERS", "6", 1);
	setenv("FAKE_CAMERA_SIZEIMAGE_EXTRA", "4096", 1);
	camera_to_reader("YUYV", "userptr", true);
	unsetenv("FAKE_CAMERA_MIN_BUFFERS");
	unsetenv("FAKE_CAMERA_SIZEIMAGE_EXTRA");
}

static void mjpeg_mmap(void **state)
{
	(void)state;
	camera_to_reader("MJPG", "auto", false);
}

/*
 * A driver that fills the whole buffer leaves no room for libavcodec's input padding:
 * the capture must copy the JPEG into a padded buffer rather than let the decoder read
 * past the buffer (the fake puts an inaccessible page right after each mapping).
 */
static void mjpeg_whole_buffer(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_MJPEG_WHOLE_BUFFER", "1", 1);
	camera_to_reader("MJPG", "auto", false);
	unsetenv("FAKE_CAMERA_MJPEG_WHOLE_BUFFER");
}

static void listing(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_DEVICE", "/dev/video7", 1);
	setenv("FAKE_CAMERA_FORMATS", "YUYV,MJPG", 1);
	setenv("FAKE_CAMERA_SIZES", "640x480,1280x720", 1);
	setenv("FAKE_CAMERA_FPS", "30,15", 1);
	char output[512];
	char *list_formats[] = { (char *)program_path("VSHM_CAPTURE"), "--list-formats",
		                 "/dev/video7", NULL };
	char *list_devices[] = { (char *)program_path("VSHM_CAPTURE"), "--list-devices", NULL };
	char *const *commands[] = { list_formats, list_devices };
	const char *expected[][3] = {
		{ "YUYV 4:2:2 (carried as is)", "1280x720     30, 15 fps",
		  "decoded by vshm-capture" },
		{ "/dev/video7", "vshm Fake Camera", ": YUYV MJPG" },
	};
	for (int c = 0; c < 2; c++) {
		snprintf(output, sizeof(output), "%s/list-%d.out", program_temporary_directory(),
		         c);
		setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
		pid_t pid = program_start(commands[c], output, NULL);
		unsetenv("LD_PRELOAD");
		assert_int_equal(test_wait(pid, 20000), 0);
		size_t size;
		char *text = (char *)program_read_file(output, &size);
		assert_non_null(text);
		text[size] = '\0'; /* the buffer has room for it */
		print_message("%s", text);
		for (int e = 0; e < 3; e++)
			assert_non_null(strstr(text, expected[c][e]));
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(yuyv_mmap),
		cmocka_unit_test(yuyv_userptr),
		cmocka_unit_test(yuyv_userptr_refused_falls_back),
		cmocka_unit_test(yuyv_userptr_six_buffers_padded),
		cmocka_unit_test(mjpeg_mmap),
		cmocka_unit_test(mjpeg_whole_buffer),
		cmocka_unit_test(listing),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
