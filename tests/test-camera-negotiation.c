/*
 * The camera source (capture/v4l2/) against the fake camera linked in: what it
 * negotiates for every format, for a size and a rate the camera lacks (the nearest,
 * said on stderr), and that the first frames it puts in slots are what the fake made,
 * byte for byte (MJPEG: what libavcodec decodes from the fake's JPEG), with mmap and
 * with USERPTR where the layout allows it.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <linux/videodev2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-camera.h"
#include "program-util.h"
#include "source.h"
#include "test-util.h"

#define DEVICE "/dev/video-fake-negotiation"

static char stderr_text[8192];

static void configure(const char *formats, const char *sizes, const char *rates)
{
	setenv("FAKE_CAMERA_DEVICE", DEVICE, 1);
	setenv("FAKE_CAMERA_FORMATS", formats, 1);
	setenv("FAKE_CAMERA_SIZES", sizes, 1);
	setenv("FAKE_CAMERA_FPS", rates, 1);
	fake_camera_reset();
}

static FILE *stderr_file;
static int saved_stderr = -1;

/* From here to stderr_end(), what goes to stderr is kept for stderr_text. */
static void stderr_begin(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/stderr", program_temporary_directory());
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	stderr_file = fopen(path, "w+");
	assert_non_null(stderr_file);
	dup2(fileno(stderr_file), STDERR_FILENO);
}

static void stderr_end(void)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(stderr_file);
	size_t n = fread(stderr_text, 1, sizeof(stderr_text) - 1, stderr_file);
	stderr_text[n] = '\0';
	fclose(stderr_file);
	if (stderr_text[0])
		print_message("camera source said: %s", stderr_text);
}

/* Opens the camera source with stderr captured into stderr_text. */
static struct capture_source *open_camera(const struct capture_settings *settings,
                                          struct capture_description *description)
{
	stderr_begin();
	struct capture_source *source =
	    capture_source_v4l2.open("v4l2:" DEVICE, settings, description);
	stderr_end();
	return source;
}

/* Compares a slot's frame with the fake's picture for sequence, plane by plane. */
static void check_raw_frame(const struct vshm_frame *frame, uint32_t pixelformat, uint64_t sequence)
{
	uint32_t width = frame->width, height = frame->height;
	uint32_t bpl = fake_camera_bytesperline(pixelformat, width);
	uint8_t *expected = malloc(fake_camera_sizeimage(pixelformat, width, height));
	assert_non_null(expected);
	fake_camera_fill(pixelformat, width, height, sequence, expected);
	uint64_t offset[3] = { 0, (uint64_t)bpl * height,
		               (uint64_t)bpl * height + (uint64_t)(bpl / 2) * (height / 2) };
	uint32_t stride[3] = { bpl, pixelformat == V4L2_PIX_FMT_NV12 ? bpl : bpl / 2, bpl / 2 };
	for (uint32_t p = 0; p < frame->plane_count; p++) {
		struct vshm_format_plane plane;
		assert_int_equal(vshm_format_plane(frame->format, p, &plane), 0);
		uint32_t rows = height / plane.vertical_subsampling;
		uint32_t bytes = width / plane.horizontal_subsampling * plane.bytes_per_sample;
		for (uint32_t row = 0; row < rows; row++)
			assert_memory_equal(frame->plane[p] + (size_t)row * frame->stride[p],
			                    expected + offset[p] + (size_t)row * stride[p], bytes);
	}
	free(expected);
}

/*
 * Compares an NV12 slot decoded from the fake's MJPEG frame with libswscale's own
 * conversion of the same JPEG, decoded here: equal give or take the chroma resampling.
 */
static void check_nv12_from_jpeg(const struct vshm_frame *frame)
{
	uint32_t width = frame->width, height = frame->height;
	size_t capacity = (size_t)width * height * 2 + 4096;
	uint8_t *jpeg = malloc(capacity);
	assert_non_null(jpeg);
	size_t size = fake_camera_jpeg(width, height, frame->frame_number, jpeg, capacity);
	assert_true(size > 0);
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *decoder = avcodec_alloc_context3(codec);
	assert_int_equal(avcodec_open2(decoder, codec, NULL), 0);
	AVPacket *packet = av_packet_alloc();
	AVFrame *picture = av_frame_alloc();
	packet->data = jpeg;
	packet->size = (int)size;
	assert_int_equal(avcodec_send_packet(decoder, packet), 0);
	assert_int_equal(avcodec_receive_frame(decoder, picture), 0);
	assert_int_equal(picture->format, AV_PIX_FMT_YUVJ422P);
	/* Full-range 4:2:2 to full-range 4:2:0: no level change, only chroma rows merge. */
	struct SwsContext *scaler =
	    sws_getContext((int)width, (int)height, AV_PIX_FMT_YUV422P, (int)width, (int)height,
	                   AV_PIX_FMT_NV12, SWS_BILINEAR, NULL, NULL, NULL);
	assert_non_null(scaler);
	uint8_t *nv12 = malloc((size_t)width * height * 3 / 2);
	assert_non_null(nv12);
	uint8_t *planes[4] = { nv12, nv12 + (size_t)width * height, NULL, NULL };
	int strides[4] = { (int)width, (int)width, 0, 0 };
	sws_scale(scaler, (const uint8_t *const *)picture->data, picture->linesize, 0, (int)height,
	          planes, strides);
	uint64_t total = 0, count = 0;
	int worst = 0;
	for (uint32_t p = 0; p < 2; p++) {
		uint32_t rows = p == 0 ? height : height / 2;
		for (uint32_t y = 0; y < rows; y++)
			for (uint32_t x = 0; x < width; x++) {
				int a = frame->plane[p][(size_t)y * frame->stride[p] + x];
				int b = planes[p][(size_t)y * (size_t)strides[p] + x];
				int d = a > b ? a - b : b - a;
				worst = d > worst ? d : worst;
				total += (uint64_t)d;
				count++;
			}
	}
	print_message("nv12 from MJPEG frame %llu: worst difference %d, mean %.3f\n",
	              (unsigned long long)frame->frame_number, worst, (double)total / count);
	assert_true(worst <= 8);
	assert_true(total <= count); /* a mean difference of at most one level */
	sws_freeContext(scaler);
	free(nv12);
	av_frame_free(&picture);
	av_packet_free(&packet);
	avcodec_free_context(&decoder);
	free(jpeg);
}

/* Runs the source for a few frames into a writer; checks each with check(). */
static void capture_frames(struct capture_source *source,
                           const struct capture_description *description, int count,
                           uint32_t pixelformat)
{
	char name[64];
	test_unique_name(name, sizeof(name), "negotiation");
	uint32_t in_flight = description->frames_in_flight ? description->frames_in_flight : 1;
	struct vshm_writer_options options = {
		.slot_count = in_flight > 1 ? in_flight + 3 : 3,
		.frames_in_flight = in_flight,
		.max_format = description->format,
		.max_width = description->width,
		.max_height = description->height,
		.max_frame_bytes = description->max_frame_bytes,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	for (int i = 0; i < count; i++) {
		struct vshm_frame frame;
		uint64_t media_ns;
		assert_int_equal(capture_source_v4l2.next(source, writer, &frame, &media_ns),
		                 CAPTURE_FRAME);
		assert_int_equal(frame.width, description->width);
		assert_int_equal(frame.height, description->height);
		assert_true(frame.capture_ns > 0 && frame.capture_ns <= vshm_now_ns());
		if (pixelformat != V4L2_PIX_FMT_MJPEG) {
			assert_int_equal(frame.format, pixelformat);
			check_raw_frame(&frame, pixelformat, frame.frame_number);
		} else if (frame.format == VSHM_FORMAT_NV12) {
			check_nv12_from_jpeg(&frame);
		}
		assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	}
	capture_source_v4l2.close(source);
	vshm_writer_destroy(writer);
}

static const uint32_t native[] = {
	V4L2_PIX_FMT_YUYV,  V4L2_PIX_FMT_UYVY,  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420,
	V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_BGR24, V4L2_PIX_FMT_GREY,
};

static void every_native_format_with_mmap_and_userptr(void **state)
{
	(void)state;
	configure("YUYV,UYVY,NV12,YU12,RGB3,BGR3,GREY,MJPG", "640x480,320x240", "100");
	for (size_t f = 0; f < sizeof(native) / sizeof(native[0]); f++) {
		for (int io = CAPTURE_IO_AUTO; io <= CAPTURE_IO_MMAP; io++) {
			struct capture_settings settings = { .format = native[f],
				                             .width = 640,
				                             .height = 480,
				                             .io = (enum capture_io)io };
			struct capture_description description = { 0 };
			struct capture_source *source = open_camera(&settings, &description);
			assert_non_null(source);
			assert_int_equal(description.format, native[f]);
			assert_int_equal(description.width, 640);
			assert_int_equal(description.height, 480);
			assert_true(description.live);
			assert_int_equal(description.frame_interval_ns, 10000000);
			/* At 640 wide every row layout is the ring's: auto means USERPTR. */
			assert_int_equal(description.frames_in_flight,
			                 io == CAPTURE_IO_AUTO ? 4 : 1);
			assert_non_null(strstr(description.summary,
			                       io == CAPTURE_IO_AUTO ? "USERPTR" : "mmap"));
			capture_frames(source, &description, 5, native[f]);
		}
	}
}

static void userptr_only_where_the_layout_is_the_rings(void **state)
{
	(void)state;
	configure("YU12", "320x240", "100");
	/* 320-wide I420 has 160-byte chroma rows; the ring's are 192: mmap, and said. */
	struct capture_settings settings = { .io = CAPTURE_IO_USERPTR };
	struct capture_description description = { 0 };
	struct capture_source *source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.frames_in_flight, 1);
	assert_non_null(strstr(stderr_text, "no USERPTR"));
	capture_frames(source, &description, 3, V4L2_PIX_FMT_YUV420);

	setenv("FAKE_CAMERA_USERPTR", "0", 1);
	configure("YUYV", "320x240", "100");
	source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.frames_in_flight, 1);
	assert_non_null(strstr(stderr_text, "does not take user memory"));
	capture_frames(source, &description, 3, V4L2_PIX_FMT_YUYV);
	unsetenv("FAKE_CAMERA_USERPTR");
}

/* Drivers raise the buffer count: the slots lent are as many as the driver grants. */
static void userptr_takes_the_buffers_the_driver_grants(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_MIN_BUFFERS", "6", 1);
	configure("YUYV", "640x480", "100");
	struct capture_settings settings = { .io = CAPTURE_IO_AUTO };
	struct capture_description description = { 0 };
	struct capture_source *source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.frames_in_flight, 6);
	assert_non_null(strstr(description.summary, "USERPTR: no copy"));
	capture_frames(source, &description, 8, V4L2_PIX_FMT_YUYV);

	/* The most the ring can lend: it keeps three slots besides the lent ones. */
	setenv("FAKE_CAMERA_MIN_BUFFERS", "61", 1);
	configure("YUYV", "640x480", "100");
	source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.frames_in_flight, 61);
	capture_frames(source, &description, 65, V4L2_PIX_FMT_YUYV);

	/* More than that: no USERPTR, and said. */
	setenv("FAKE_CAMERA_MIN_BUFFERS", "62", 1);
	configure("YUYV", "640x480", "100");
	settings.io = CAPTURE_IO_USERPTR;
	source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.frames_in_flight, 1);
	assert_non_null(strstr(stderr_text, "wants more buffers"));
	capture_frames(source, &description, 3, V4L2_PIX_FMT_YUYV);
	unsetenv("FAKE_CAMERA_MIN_BUFFERS");
}

/* A driver whose sizeimage is padded beyond the pixels: the slots are made to hold it. */
static void userptr_with_a_padded_sizeimage(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_SIZEIMAGE_EXTRA", "8192", 1);
	configure("YUYV", "640x480", "100");
	struct capture_settings settings = { .io = CAPTURE_IO_USERPTR };
	struct capture_description description = { 0 };
	struct capture_source *source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.frames_in_flight, 4);
	assert_int_equal(description.max_frame_bytes, 640 * 480 * 2 + 8192);
	stderr_begin();
	capture_frames(source, &description, 5, V4L2_PIX_FMT_YUYV);
	stderr_end();
	assert_null(strstr(stderr_text, "no longer takes")); /* the first start lent slots */
	unsetenv("FAKE_CAMERA_SIZEIMAGE_EXTRA");
}

static void nearest_size_and_rate_and_said_so(void **state)
{
	(void)state;
	configure("YUYV", "640x480,1280x720,320x240", "30,15");
	struct capture_settings settings = { .width = 1000, .height = 700, .fps = 20 };
	struct capture_description description = { 0 };
	struct capture_source *source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.width, 1280);
	assert_int_equal(description.height, 720);
	assert_int_equal(description.frame_interval_ns, 66666667);
	assert_non_null(strstr(stderr_text, "has no 1000x700 YUYV; using 1280x720, the nearest"));
	assert_non_null(strstr(stderr_text, "has no 20 fps"));
	capture_source_v4l2.close(source);

	/* Nothing asked: the largest size, the fastest rate, no remark. */
	settings = (struct capture_settings){ 0 };
	source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.width, 1280);
	assert_int_equal(description.height, 720);
	assert_int_equal(description.frame_interval_ns, 33333333);
	assert_string_equal(stderr_text, "");
	capture_source_v4l2.close(source);
}

static void formats_the_camera_lacks(void **state)
{
	(void)state;
	configure("YUYV", "640x480", "30");
	struct capture_settings settings = { .format = VSHM_FORMAT_NV12 };
	struct capture_description description = { 0 };
	assert_null(open_camera(&settings, &description));
	assert_non_null(strstr(stderr_text, "cannot give nv12 frames (it offers: YUYV)"));

	/* With MJPEG on offer, the decoder gives the asked format. */
	configure("MJPG", "320x240", "100");
	struct capture_source *source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.format, VSHM_FORMAT_NV12);
	capture_frames(source, &description, 3, V4L2_PIX_FMT_MJPEG);
}

static void mjpeg_decoded_into_the_slot(void **state)
{
	(void)state;
	configure("MJPG", "320x240", "100");
	struct capture_settings settings = { .io = CAPTURE_IO_USERPTR };
	struct capture_description description = { 0 };
	struct capture_source *source = open_camera(&settings, &description);
	assert_non_null(source);
	assert_int_equal(description.format, VSHM_FORMAT_YUYV);
	assert_int_equal(description.frames_in_flight, 1); /* compressed: never USERPTR */

	char name[64];
	test_unique_name(name, sizeof(name), "mjpeg");
	struct vshm_writer_options options = { .max_format = VSHM_FORMAT_YUYV,
		                               .max_width = 320,
		                               .max_height = 240 };
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *decoder = avcodec_alloc_context3(codec);
	assert_int_equal(avcodec_open2(decoder, codec, NULL), 0);
	AVPacket *packet = av_packet_alloc();
	AVFrame *picture = av_frame_alloc();
	size_t capacity = 320 * 240 * 2 + 4096;
	uint8_t *jpeg = malloc(capacity);
	for (int i = 0; i < 4; i++) {
		struct vshm_frame frame;
		uint64_t media_ns;
		assert_int_equal(capture_source_v4l2.next(source, writer, &frame, &media_ns),
		                 CAPTURE_FRAME);
		assert_int_equal(frame.format, VSHM_FORMAT_YUYV);
		assert_int_equal(frame.color_range, VSHM_COLOR_RANGE_FULL);
		/* What the fake sent for this frame, decoded here independently. */
		size_t size = fake_camera_jpeg(320, 240, frame.frame_number, jpeg, capacity);
		assert_true(size > 0);
		packet->data = jpeg;
		packet->size = (int)size;
		assert_int_equal(avcodec_send_packet(decoder, packet), 0);
		assert_int_equal(avcodec_receive_frame(decoder, picture), 0);
		assert_int_equal(picture->format, AV_PIX_FMT_YUVJ422P);
		for (uint32_t y = 0; y < 240; y++) {
			const uint8_t *row = frame.plane[0] + (size_t)y * frame.stride[0];
			for (uint32_t x = 0; x < 320; x += 2) {
				const uint8_t *l = picture->data[0] + y * picture->linesize[0];
				assert_int_equal(row[2 * x], l[x]);
				assert_int_equal(row[2 * x + 2], l[x + 1]);
				assert_int_equal(
				    row[2 * x + 1],
				    picture->data[1][y * picture->linesize[1] + x / 2]);
				assert_int_equal(
				    row[2 * x + 3],
				    picture->data[2][y * picture->linesize[2] + x / 2]);
			}
		}
		av_frame_unref(picture);
		assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	}
	free(jpeg);
	av_frame_free(&picture);
	av_packet_free(&packet);
	avcodec_free_context(&decoder);
	capture_source_v4l2.close(source);
	vshm_writer_destroy(writer);
}

static void not_a_capture_device(void **state)
{
	(void)state;
	configure("YUYV", "640x480", "30");
	setenv("FAKE_CAMERA_CAPS", "metadata", 1);
	fake_camera_reset();
	struct capture_settings settings = { 0 };
	struct capture_description description = { 0 };
	assert_null(open_camera(&settings, &description));
	assert_non_null(strstr(stderr_text, "is not a video capture device"));
	assert_null(strchr(strchr(stderr_text, '\n') + 1, '\n')); /* one line */
	unsetenv("FAKE_CAMERA_CAPS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_native_format_with_mmap_and_userptr),
		cmocka_unit_test(userptr_only_where_the_layout_is_the_rings),
		cmocka_unit_test(userptr_takes_the_buffers_the_driver_grants),
		cmocka_unit_test(userptr_with_a_padded_sizeimage),
		cmocka_unit_test(nearest_size_and_rate_and_said_so),
		cmocka_unit_test(formats_the_camera_lacks),
		cmocka_unit_test(mjpeg_decoded_into_the_slot),
		cmocka_unit_test(not_a_capture_device),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
