/*
 * What the sample filters compute, run as real processes: a chain test pattern ->
 * grayscale -> invert gives exactly what the two transforms make of each frame, also
 * after a filter in the middle is killed and started again (both neighbours follow
 * it); mirror and edges, and the filters on pixels of several bytes (packed RGB, NV12,
 * packed 4:2:2), each checked against a description written down here. What happens
 * to a filter whose input goes wrong is test-filter-life.c.
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
#include <unistd.h>

#include <cmocka.h>

#include "filter-run.h"
#include "follow.h"
#include "pattern.h"
#include "program-util.h"
#include "test-util.h"

#define WIDTH  160
#define HEIGHT 120

/* What grayscale then invert make of pattern pixel (x, y) of frame n (I420 input). */
static uint8_t expected(uint64_t n, uint32_t x, uint32_t y)
{
	uint8_t luma = pattern_luma(pattern_color_at(n, x, y, WIDTH, HEIGHT));
	int full = ((luma - 16) * 255 + 109) / 219;
	full = full < 0 ? 0 : full > 255 ? 255 : full;
	return (uint8_t)(255 - full);
}

/* Reads frames from name until count intact ones were checked; returns wrong pixels. */
static uint64_t check_frames(struct vshm_reader *reader, unsigned count, uint64_t *last_number)
{
	uint64_t wrong = 0;
	unsigned checked = 0;
	struct follow follow = { .reader = reader, .wait_ms = 3000, .follow_moves = true };
	struct vshm_frame frame;
	while (checked < count && follow_next(&follow, &frame)) {
		assert_int_equal(frame.format, VSHM_FORMAT_GRAY8);
		assert_int_equal(frame.width, WIDTH);
		uint64_t differences = 0;
		for (uint32_t y = 0; y < HEIGHT; y++) {
			const uint8_t *row = frame.plane[0] + (uint64_t)y * frame.stride[0];
			for (uint32_t x = 0; x < WIDTH; x++)
				differences += row[x] != expected(frame.frame_number, x, y);
		}
		if (follow_release(&follow)) {
			checked++;
			wrong += differences;
			*last_number = frame.frame_number;
		}
	}
	/* The chain never ends by itself: every frame asked for came. */
	assert_int_equal(checked, count);
	return wrong;
}

static void chain_gives_exactly_the_two_transforms(void **state)
{
	(void)state;
	char source[64], gray[VSHM_NAME_MAX + 16], inverted[VSHM_NAME_MAX + 16];
	test_unique_name(source, sizeof(source), "chain");
	snprintf(gray, sizeof(gray), "%s.gray", source);
	snprintf(inverted, sizeof(inverted), "%s.inverted", source);
	pid_t capture = start_test_pattern(source, "i420");
	pid_t grayscale = start_filter("grayscale", source, gray);
	pid_t invert = start_filter("invert", gray, inverted);
	struct vshm_reader *reader = vshm_reader_attach_wait(inverted, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	uint64_t last = 0;
	uint64_t wrong = check_frames(reader, 30, &last);
	struct vshm_frame frame;
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	/* Capture time and frame number travel through the chain unchanged. */
	assert_true(frame.capture_ns > 0 && frame.capture_ns <= frame.publish_ns);
	vshm_reader_release(reader);
	vshm_reader_detach(reader);
	/* Each cleans up, then ends by the signal that stopped it. */
	kill(invert, SIGTERM);
	kill(grayscale, SIGINT);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(invert, 10000), 128 + SIGTERM);
	assert_int_equal(test_wait(grayscale, 10000), 128 + SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	assert_false(test_segment_exists(gray));
	assert_false(test_segment_exists(inverted));
	print_message("test pattern -> grayscale -> invert: 30 frames (up to %llu), %llu wrong "
	              "pixels\n",
	              (unsigned long long)last, (unsigned long long)wrong);
	assert_int_equal(wrong, 0);
}

static void killed_filter_restarts_and_the_chain_resumes(void **state)
{
	(void)state;
	char source[64], gray[VSHM_NAME_MAX + 16], inverted[VSHM_NAME_MAX + 16];
	test_unique_name(source, sizeof(source), "restart");
	snprintf(gray, sizeof(gray), "%s.gray", source);
	snprintf(inverted, sizeof(inverted), "%s.inverted", source);
	pid_t capture = start_test_pattern(source, "i420");
	pid_t grayscale = start_filter("grayscale", source, gray);
	pid_t invert = start_filter("invert", gray, inverted);
	struct vshm_reader *reader = vshm_reader_attach_wait(inverted, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	uint64_t before = 0, after = 0;
	assert_int_equal(check_frames(reader, 10, &before), 0);

	kill(grayscale, SIGKILL); /* its segment stays behind, stale */
	assert_int_equal(test_wait(grayscale, 5000), 128 + SIGKILL);
	assert_true(test_segment_exists(gray));
	/* Downstream keeps running with no new frames; nothing blocks. */
	assert_int_equal(vshm_reader_wait(reader, 300), -ETIMEDOUT);

	grayscale = start_filter("grayscale", source, gray); /* takes the stale name over */
	assert_int_equal(check_frames(reader, 10, &after), 0);
	assert_true(after > before);
	vshm_reader_detach(reader);
	kill(invert, SIGTERM);
	kill(grayscale, SIGTERM);
	kill(capture, SIGTERM);
	assert_int_equal(test_wait(invert, 10000), 128 + SIGTERM);
	assert_int_equal(test_wait(grayscale, 10000), 128 + SIGTERM);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGTERM);
	assert_false(test_segment_exists(gray));
	print_message("grayscale killed after frame %llu and restarted; invert and the reader "
	              "resumed, up to frame %llu\n",
	              (unsigned long long)before, (unsigned long long)after);
}

/* Takes intact frames of name until one is checked by check; returns its frame number. */
static uint64_t check_one(const char *name, uint64_t (*check)(const struct vshm_frame *frame))
{
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	struct follow follow = { .reader = reader, .wait_ms = 3000 };
	struct vshm_frame frame;
	for (;;) {
		assert_true(follow_next(&follow, &frame));
		uint64_t wrong = check(&frame);
		if (!follow_release(&follow))
			continue;
		vshm_reader_detach(reader);
		if (wrong)
			fail_msg("%s: frame %llu has %llu wrong samples", name,
			         (unsigned long long)frame.frame_number, (unsigned long long)wrong);
		return frame.frame_number;
	}
}

/* mirror of an I420 test pattern: every luma and chroma sample comes from the other side. */
static uint64_t mirrored_i420(const struct vshm_frame *frame)
{
	uint64_t wrong = 0;
	assert_int_equal(frame->format, VSHM_FORMAT_I420);
	for (uint32_t y = 0; y < HEIGHT; y++) {
		const uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < WIDTH; x++) {
			struct pattern_rgb c =
			    pattern_color_at(frame->frame_number, WIDTH - 1 - x, y, WIDTH, HEIGHT);
			wrong += row[x] != pattern_luma(c);
		}
	}
	for (uint32_t y = 0; y < HEIGHT / 2; y++) {
		const uint8_t *u = frame->plane[1] + (uint64_t)y * frame->stride[1];
		for (uint32_t x = 0; x < WIDTH / 2; x++) {
			/* Chroma sample k came from pixel 2k; mirrored, from sample W/2 - 1 - k. */
			struct pattern_rgb c = pattern_color_at(
			    frame->frame_number, 2 * (WIDTH / 2 - 1 - x), 2 * y, WIDTH, HEIGHT);
			wrong += u[x] != pattern_chroma_u(c);
		}
	}
	return wrong;
}

/* edges of a GRAY8 test pattern: the Sobel magnitude of pattern_gray, borders black. */
static uint64_t sobel_of_gray(const struct vshm_frame *frame)
{
	uint64_t wrong = 0;
	uint64_t n = frame->frame_number;
#define G(x, y) pattern_gray(pattern_color_at(n, (x), (y), WIDTH, HEIGHT))
	for (uint32_t y = 0; y < HEIGHT; y++) {
		const uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < WIDTH; x++) {
			int want = 0;
			if (x > 0 && y > 0 && x + 1 < WIDTH && y + 1 < HEIGHT) {
				int gx = G(x + 1, y - 1) + 2 * G(x + 1, y) + G(x + 1, y + 1) -
				         G(x - 1, y - 1) - 2 * G(x - 1, y) - G(x - 1, y + 1);
				int gy = G(x - 1, y + 1) + 2 * G(x, y + 1) + G(x + 1, y + 1) -
				         G(x - 1, y - 1) - 2 * G(x, y - 1) - G(x + 1, y - 1);
				want = abs(gx) + abs(gy);
				want = want > 255 ? 255 : want;
			}
			wrong += row[x] != want;
		}
	}
#undef G
	return wrong;
}

static void mirror_and_edges_compute_what_they_say(void **state)
{
	(void)state;
	char source[64], mirrored[VSHM_NAME_MAX + 16], gray[64], edged[VSHM_NAME_MAX + 16];
	test_unique_name(source, sizeof(source), "mirror");
	snprintf(mirrored, sizeof(mirrored), "%s.mirrored", source);
	test_unique_name(gray, sizeof(gray), "edges");
	snprintf(edged, sizeof(edged), "%s.edged", gray);
	pid_t capture = start_test_pattern(source, "i420");
	pid_t mirror = start_filter("mirror", source, mirrored);
	pid_t gray_capture = start_test_pattern(gray, "gray8");
	pid_t edges = start_filter("edges", gray, edged);
	uint64_t mirrored_frame = check_one(mirrored, mirrored_i420);
	uint64_t edged_frame = check_one(edged, sobel_of_gray);
	pid_t pids[] = { mirror, capture, edges, gray_capture };
	for (int i = 0; i < 4; i++) {
		kill(pids[i], SIGTERM);
		assert_int_equal(test_wait(pids[i], 10000), 128 + SIGTERM);
	}
	print_message("mirror (frame %llu) and edges (frame %llu) exact in every sample\n",
	              (unsigned long long)mirrored_frame, (unsigned long long)edged_frame);
}

/*
 * Packed RGB and semi-planar frames, where the filters work on pixels of several bytes:
 * where R, G, B and alpha or padding lie, written down here rather than taken from
 * the format table the filters use.
 */
struct packed_layout {
	const char *format;
	uint32_t step;      /* bytes per pixel */
	uint32_t r, g, b;   /* byte offsets in a pixel */
	uint32_t kept;      /* alpha or padding byte (the pattern writes 255), or step */
	const char *filter; /* what runs on it */
	uint64_t (*check)(const struct vshm_frame *frame);
};

static const struct packed_layout *checked_layout;

/* The pattern's colour at pixel (x, y) of frame, mirrored left to right if asked. */
static struct pattern_rgb pattern_pixel(const struct vshm_frame *frame, uint32_t x, uint32_t y,
                                        bool mirrored)
{
	return pattern_color_at(frame->frame_number, mirrored ? frame->width - 1 - x : x, y,
	                        frame->width, frame->height);
}

/* invert (mirrored false) or mirror (true) of a packed RGB frame: every byte. */
static uint64_t check_packed(const struct vshm_frame *frame, bool mirrored)
{
	const struct packed_layout *layout = checked_layout;
	assert_int_equal(frame->format, vshm_format_from_name(layout->format));
	uint64_t wrong = 0;
	uint8_t flip = mirrored ? 0 : 0xff;
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < frame->width; x++) {
			const uint8_t *pixel = row + (uint64_t)x * layout->step;
			struct pattern_rgb c = pattern_pixel(frame, x, y, mirrored);
			wrong += pixel[layout->r] != (c.r ^ flip);
			wrong += pixel[layout->g] != (c.g ^ flip);
			wrong += pixel[layout->b] != (c.b ^ flip);
			if (layout->kept < layout->step)
				wrong += pixel[layout->kept] != 255;
		}
	}
	return wrong;
}

static uint64_t inverted_packed(const struct vshm_frame *frame)
{
	return check_packed(frame, false);
}

static uint64_t mirrored_packed(const struct vshm_frame *frame)
{
	return check_packed(frame, true);
}

/* grayscale of packed RGB: BT.601 luma, (77 R + 150 G + 29 B + 128) >> 8. */
static uint64_t gray_of_packed(const struct vshm_frame *frame)
{
	assert_int_equal(frame->format, VSHM_FORMAT_GRAY8);
	uint64_t wrong = 0;
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < frame->width; x++) {
			struct pattern_rgb c = pattern_pixel(frame, x, y, false);
			wrong += row[x] != (77 * c.r + 150 * c.g + 29 * c.b + 128) >> 8;
		}
	}
	return wrong;
}

/* mirror of NV12: luma sample by sample, chroma pair by pair (U and V stay together). */
static uint64_t mirrored_nv12(const struct vshm_frame *frame)
{
	assert_int_equal(frame->format, VSHM_FORMAT_NV12);
	uint64_t wrong = 0;
	uint32_t pairs = (frame->width + 1) / 2;
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < frame->width; x++)
			wrong += row[x] != pattern_luma(pattern_pixel(frame, x, y, true));
	}
	for (uint32_t y = 0; y < (frame->height + 1) / 2; y++) {
		const uint8_t *row = frame->plane[1] + (uint64_t)y * frame->stride[1];
		for (uint32_t k = 0; k < pairs; k++) {
			/* Pair k came from pixel 2k; mirrored, from pair pairs - 1 - k. */
			struct pattern_rgb c =
			    pattern_color_at(frame->frame_number, 2 * (pairs - 1 - k), 2 * y,
			                     frame->width, frame->height);
			wrong += row[2 * k] != pattern_chroma_u(c);
			wrong += row[2 * k + 1] != pattern_chroma_v(c);
		}
	}
	return wrong;
}

/*
 * Every multi-byte pixel path of invert, grayscale and mirror, at a width whose rows
 * are no multiple of any vector length, so that the remainder of each row loop runs too.
 */
static void multi_byte_pixels_compute_what_they_say(void **state)
{
	(void)state;
	static const struct packed_layout layouts[] = {
		{ "bgra", 4, 2, 1, 0, 3, "invert", inverted_packed },
		{ "xrgb8888", 4, 2, 1, 0, 3, "invert", inverted_packed },
		{ "rgb24", 3, 0, 1, 2, 3, "invert", inverted_packed },
		{ "rgb24", 3, 0, 1, 2, 3, "grayscale", gray_of_packed },
		{ "bgra", 4, 2, 1, 0, 3, "grayscale", gray_of_packed },
		{ "rgba", 4, 0, 1, 2, 3, "mirror", mirrored_packed },
		{ "bgr24", 3, 2, 1, 0, 3, "mirror", mirrored_packed },
		{ "nv12", 0, 0, 0, 0, 0, "mirror", mirrored_nv12 },
	};
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		char source[64], output[VSHM_NAME_MAX + 16];
		test_unique_name(source, sizeof(source), layouts[i].format);
		snprintf(output, sizeof(output), "%s.%s", source, layouts[i].filter);
		/* NV12 has whole chroma pairs only at even widths. */
		pid_t capture = start_test_pattern_sized(source, layouts[i].format,
		                                         layouts[i].step ? "157x31" : "158x30");
		pid_t filter = start_filter(layouts[i].filter, source, output);
		checked_layout = &layouts[i];
		uint64_t frame = check_one(output, layouts[i].check);
		kill(filter, SIGTERM);
		kill(capture, SIGTERM);
		assert_int_equal(test_wait(filter, 10000), 128 + SIGTERM);
		assert_int_equal(test_wait(capture, 10000), 128 + SIGTERM);
		print_message("%s of %s (frame %llu) exact in every byte\n", layouts[i].filter,
		              layouts[i].format, (unsigned long long)frame);
	}
}

/*
 * mirror of packed 4:2:2, YUYV and UYVY, where two pixels share one U and one V: output
 * pixel x has the luma of input pixel width - 1 - x, and output pair p the chroma of
 * the input pair that pixel width - 1 - 2p is in. The byte order of each format is
 * written down here, not taken from the format table.
 */
static void mirror_of_packed_422_takes_each_pixel_from_across(void **state)
{
	(void)state;
	static const struct {
		const char *format;
		uint32_t luma[2], u, v; /* byte offsets in a 4-byte pair */
	} layouts[] = { { "yuyv", { 0, 2 }, 1, 3 }, { "uyvy", { 1, 3 }, 0, 2 } };
	enum { W = 64, H = 4 };
	for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
		char input[64], output[80];
		test_unique_name(input, sizeof(input), layouts[l].format);
		snprintf(output, sizeof(output), "%s.out", input);
		uint32_t format = vshm_format_from_name(layouts[l].format);
		struct vshm_writer_options options = { .max_format = format,
			                               .max_width = W,
			                               .max_height = H };
		struct vshm_writer *writer = vshm_writer_create(input, &options);
		assert_non_null(writer);
		pid_t filter = start_filter("mirror", input, output);
		struct vshm_reader *reader = NULL;
		struct vshm_frame frame, out;
		/* A frame every 10 ms until the filter has made one of them. */
		for (int tries = 0; tries < 1000; tries++) {
			assert_int_equal(vshm_writer_begin(writer, format, W, H, &frame), 0);
			for (uint32_t y = 0; y < H; y++) {
				uint8_t *row = frame.plane[0] + (uint64_t)y * frame.stride[0];
				for (uint32_t x = 0; x < W; x++)
					row[(x / 2) * 4 + layouts[l].luma[x % 2]] =
					    (uint8_t)(16 + x + y);
				for (uint32_t p = 0; p < W / 2; p++) {
					row[p * 4 + layouts[l].u] = (uint8_t)(100 + p);
					row[p * 4 + layouts[l].v] = (uint8_t)(200 - p - y);
				}
			}
			assert_true(vshm_writer_publish(writer, &frame) >= 0);
			if (!reader)
				reader = vshm_reader_attach(output, NULL);
			if (reader && vshm_reader_acquire(reader, &out) == 0)
				break;
			usleep(10000);
		}
		assert_non_null(reader);
		uint64_t wrong = 0;
		for (uint32_t y = 0; y < H; y++) {
			const uint8_t *row = out.plane[0] + (uint64_t)y * out.stride[0];
			for (uint32_t x = 0; x < W; x++)
				wrong += row[(x / 2) * 4 + layouts[l].luma[x % 2]] !=
				         (uint8_t)(16 + (W - 1 - x) + y);
			for (uint32_t p = 0; p < W / 2; p++) {
				uint32_t from = (W - 1 - 2 * p) / 2;
				wrong += row[p * 4 + layouts[l].u] != (uint8_t)(100 + from);
				wrong += row[p * 4 + layouts[l].v] != (uint8_t)(200 - from - y);
			}
		}
		assert_int_equal(vshm_reader_release(reader), 1);
		vshm_reader_detach(reader);
		kill(filter, SIGTERM);
		assert_int_equal(test_wait(filter, 10000), 128 + SIGTERM);
		vshm_writer_destroy(writer);
		print_message("mirror of %s: %llu wrong samples\n", layouts[l].format,
		              (unsigned long long)wrong);
		assert_int_equal(wrong, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chain_gives_exactly_the_two_transforms),
		cmocka_unit_test(killed_filter_restarts_and_the_chain_resumes),
		cmocka_unit_test(mirror_and_edges_compute_what_they_say),
		cmocka_unit_test(multi_byte_pixels_compute_what_they_say),
		cmocka_unit_test(mirror_of_packed_422_takes_each_pixel_from_across),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
