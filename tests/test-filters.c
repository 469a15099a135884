/*
 * Filters on vshm_filter_main(), run as real processes: a chain test pattern ->
 * grayscale -> invert gives exactly what the two transforms make of each frame; a
 * filter killed in the middle of a chain and started again is followed by both its
 * neighbours; a filter whose input is overwritten while it reads it (the writer out of
 * free slots) publishes nothing made of the torn frame; a filter whose input ends ends
 * too, by itself, leaving nothing behind; bad arguments, a missing input
 * and an unsupported format get a clear message and a non-zero status.
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
#include "pattern.h"
#include "program-util.h"
#include "test-util.h"

#define WIDTH  160
#define HEIGHT 120

static char *filter_path(const char *name)
{
	static char paths[4][512];
	static int next;
	char *path = paths[next++ % 4];
	snprintf(path, 512, "%s/vshm-filter-%s", program_path("VSHM_FILTERS"), name);
	return path;
}

static pid_t start_test_pattern_sized(const char *name, const char *format, const char *size)
{
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         "test",
		         "--size",
		         (char *)size,
		         "--format",
		         (char *)format,
		         "--fps",
		         "60",
		         "--name",
		         (char *)name,
		         "--quiet",
		         NULL };
	return program_start(argv, NULL, NULL);
}

static pid_t start_test_pattern(const char *name, const char *format)
{
	return start_test_pattern_sized(name, format, "160x120");
}

static pid_t start_filter(const char *filter, const char *input, const char *output)
{
	char *argv[] = { filter_path(filter), (char *)input, (char *)output, "--quiet", NULL };
	return program_start(argv, NULL, NULL);
}

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

/* The number before "torn inputs dropped" in the last status line of a filter. */
static unsigned long long torn_inputs_dropped(const char *errors_path)
{
	size_t size;
	char *text = (char *)program_read_file(errors_path, &size);
	assert_non_null(text);
	unsigned long long torn = 0;
	const char *done = strstr(text, "done: ");
	const char *frames = done ? strstr(done, " frames, ") : NULL;
	if (!frames || sscanf(frames, " frames, %llu torn inputs dropped", &torn) != 1)
		fail_msg("no final status line in the filter's output: %s", text);
	free(text);
	return torn;
}

/*
 * Frames of one value each, published as fast as the test can, into 3 slots of which a
 * reader of ours holds one for good: whenever the filter still reads its input when
 * the writer needs a slot, both candidates are held, and the writer overwrites the
 * older, the filter's. The filter must drop every such input (its release says it was
 * rewritten): every output frame is one value, 255 less its input's.
 */
static void a_torn_input_is_dropped_not_published(void **state)
{
	(void)state;
	enum { FRAME_WIDTH = 1920, FRAME_HEIGHT = 1080 };
	char input[64], output[80], errors[512];
	test_unique_name(input, sizeof(input), "torn-in");
	snprintf(output, sizeof(output), "%s.out", input);
	snprintf(errors, sizeof(errors), "%s/torn-filter.err", program_temporary_directory());
	struct vshm_writer_options options = { .slot_count = 3,
		                               .max_format = VSHM_FORMAT_GRAY8,
		                               .max_width = FRAME_WIDTH,
		                               .max_height = FRAME_HEIGHT };
	struct vshm_writer *writer = vshm_writer_create(input, &options);
	assert_non_null(writer);
	struct vshm_frame frame;
	assert_int_equal(
	    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, FRAME_WIDTH, FRAME_HEIGHT, &frame), 0);
	memset(frame.plane[0], 1, (size_t)frame.stride[0] * FRAME_HEIGHT);
	assert_true(vshm_writer_publish(writer, &frame) >= 0);
	struct vshm_reader *holder = vshm_reader_attach(input, NULL);
	assert_non_null(holder);
	struct vshm_frame held;
	assert_int_equal(vshm_reader_acquire(holder, &held), 0);
	char *argv[] = { filter_path("invert"), input, output, NULL };
	pid_t filter = program_start(argv, NULL, errors);
	struct vshm_reader *checker = NULL;
	uint64_t checked = 0, mixed = 0, last_checked = 0, start = vshm_now_ns();
	for (uint64_t n = 2; vshm_now_ns() - start < 3000000000u; n++) {
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, FRAME_WIDTH, FRAME_HEIGHT, &frame),
		    0);
		memset(frame.plane[0], (int)(16 + n % 200), (size_t)frame.stride[0] * FRAME_HEIGHT);
		frame.frame_number = n;
		assert_true(vshm_writer_publish(writer, &frame) >= 0);
		if (!checker)
			checker = vshm_reader_attach(output, NULL);
		struct vshm_frame out;
		if (!checker || vshm_reader_acquire(checker, &out) < 0)
			continue;
		if (out.sequence == last_checked) {
			vshm_reader_release(checker);
			continue;
		}
		/* The filter reads its input, and the writer fills it, top to bottom: a frame
		 * made of two differs between the starts of two rows, or at the very end. */
		const uint8_t *first = out.plane[0];
		bool one_value =
		    first[(uint64_t)(out.height - 1) * out.stride[0] + out.width - 1] == first[0];
		for (uint32_t y = 1; y < out.height; y++)
			one_value = one_value && first[(uint64_t)y * out.stride[0]] == first[0];
		if (vshm_reader_release(checker) == 1) {
			last_checked = out.sequence;
			checked++;
			mixed += !one_value;
		}
	}
	kill(filter, SIGTERM);
	assert_int_equal(test_wait(filter, 10000), 128 + SIGTERM);
	unsigned long long torn = torn_inputs_dropped(errors);
	print_message("%llu output frames checked, %llu made of two inputs; the filter dropped "
	              "%llu torn inputs\n",
	              (unsigned long long)checked, (unsigned long long)mixed, torn);
	vshm_reader_detach(checker);
	vshm_reader_detach(holder);
	vshm_writer_destroy(writer);
	assert_int_equal(mixed, 0);
	assert_true(checked > 0);
	assert_true(torn > 0); /* the case happened: the writer overwrote the filter's input */
}

/* A finite source: the filter passes its end on, then exits by itself, its output gone. */
static void a_filter_ends_with_its_input(void **state)
{
	(void)state;
	char input[64], output[80];
	test_unique_name(input, sizeof(input), "ends");
	snprintf(output, sizeof(output), "%s.out", input);
	pid_t filter = start_filter("invert", input, output);
	char *source_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                "test",
		                "--size",
		                "160x120",
		                "--frames",
		                "20",
		                "--fps",
		                "100",
		                "--wait-readers",
		                "1",
		                "--name",
		                input,
		                "--quiet",
		                NULL };
	pid_t source = program_start(source_argv, NULL, NULL);
	assert_int_equal(test_wait(source, 20000), 0);
	/* Not a timing: a filter that missed the end would wait for a new writer for ever. */
	assert_int_equal(test_wait(filter, 20000), 0);
	assert_false(test_segment_exists(input));
	assert_false(test_segment_exists(output));
}

static void fails_with(char *const argv[], int status, const char *message)
{
	char errors[4096];
	int got = program_run(argv, 20000, errors, sizeof(errors));
	if (got != status || !strstr(errors, message))
		fail_msg("%s: status %d, stderr \"%s\"; expected %d and \"%s\"", argv[0], got,
		         errors, status, message);
	print_message("%s", errors);
}

static void bad_arguments_and_streams_get_clear_errors(void **state)
{
	(void)state;
	char missing[64];
	test_unique_name(missing, sizeof(missing), "missing");
	char *no_input[] = { filter_path("invert"), NULL };
	fails_with(no_input, 2, "name the INPUT stream");
	char *bad_name[] = { filter_path("invert"), "bad name", NULL };
	fails_with(bad_name, 2, "only [A-Za-z0-9._-] are allowed");
	char *bad_option[] = { filter_path("invert"), "--frobnicate", missing, NULL };
	fails_with(bad_option, 2, "Try ");
	char *same[] = { filter_path("invert"), missing, missing, NULL };
	fails_with(same, 2, "must differ");
	char *format_refused[] = { filter_path("invert"), "--format", "rgba", missing, NULL };
	fails_with(format_refused, 2, "writes frames in its input's format");
	char *timeout[] = { filter_path("invert"), "--timeout", "1", missing, NULL };
	fails_with(timeout, 1, "did not appear within 1 s");

	/* An input format the filter does not take, and an output it cannot make. */
	char source[64];
	test_unique_name(source, sizeof(source), "rgb");
	pid_t capture = start_test_pattern(source, "rgb24");
	char *edges[] = { filter_path("edges"), "--timeout", "10", source, NULL };
	fails_with(edges, 1, "carries rgb24 frames; this filter takes nv12 i420 gray8");
	char *grayscale[] = {
		filter_path("grayscale"), "--format", "rgba", "--timeout", "10", source, NULL
	};
	fails_with(grayscale, 1, "cannot make rgba frames from rgb24 input");
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chain_gives_exactly_the_two_transforms),
		cmocka_unit_test(killed_filter_restarts_and_the_chain_resumes),
		cmocka_unit_test(mirror_and_edges_compute_what_they_say),
		cmocka_unit_test(multi_byte_pixels_compute_what_they_say),
		cmocka_unit_test(a_torn_input_is_dropped_not_published),
		cmocka_unit_test(a_filter_ends_with_its_input),
		cmocka_unit_test(bad_arguments_and_streams_get_clear_errors),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
