/*
 * What vshm-view shows, under a private Xvfb, checked by the pixels of its --snapshot
 * PNG: the test pattern in every format (by the renderer's upload and by the viewer's
 * own conversion), a sample video against FFmpeg's own decode, and torn frames never
 * presented. How it lives through restarts, bad input and idleness is
 * test-viewer-life.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "pattern.h"
#include "program-util.h"
#include "test-util.h"
#include "viewer-run.h"

#define WIDTH  320
#define HEIGHT 240

/* What a YUV round trip (BT.601, limited range, as the ring's pattern uses) gives. */
static struct pattern_rgb through_yuv(struct pattern_rgb c)
{
	double y = (pattern_luma(c) - 16) * 255.0 / 219.0;
	double u = (pattern_chroma_u(c) - 128) * 255.0 / 224.0;
	double v = (pattern_chroma_v(c) - 128) * 255.0 / 224.0;
	double r = y + 1.402 * v, g = y - 0.344136 * u - 0.714136 * v, b = y + 1.772 * u;
	struct pattern_rgb out = {
		(uint8_t)fmax(0, fmin(255, round(r))),
		(uint8_t)fmax(0, fmin(255, round(g))),
		(uint8_t)fmax(0, fmin(255, round(b))),
	};
	return out;
}

static struct pattern_rgb expected_shown(uint32_t format, uint64_t n, uint32_t x, uint32_t y)
{
	struct pattern_rgb c = pattern_color_at(n, x, y, WIDTH, HEIGHT);
	switch (format) {
	case VSHM_FORMAT_GRAY8: {
		uint8_t gray = pattern_gray(c);
		return (struct pattern_rgb){ gray, gray, gray };
	}
	default:
		/* Every YUV format: the pattern's 10-bit samples are its 8-bit ones times 4,
		 * so they too show the 8-bit round trip. */
		return vshm_format_describe(format)->family == VSHM_FORMAT_FAMILY_YUV
		           ? through_yuv(c)
		           : c;
	}
}

/* True if every pixel within 2 of (x, y) has the same colour in the pattern, so chroma
 * subsampling and filtering cannot blur it. */
static bool in_flat_area(uint64_t n, uint32_t x, uint32_t y)
{
	if (x < 2 || y < 2 || x + 2 >= WIDTH || y + 2 >= HEIGHT)
		return false;
	struct pattern_rgb c = pattern_color_at(n, x, y, WIDTH, HEIGHT);
	for (uint32_t dy = y - 2; dy <= y + 2; dy++) {
		for (uint32_t dx = x - 2; dx <= x + 2; dx++) {
			struct pattern_rgb d = pattern_color_at(n, dx, dy, WIDTH, HEIGHT);
			if (d.r != c.r || d.g != c.g || d.b != c.b)
				return false;
		}
	}
	return true;
}

/* Formats (by index) shown through the viewer's one-pass conversion to RGB so far. */
static bool converted[32];

/*
 * The test pattern in format, as vshm-view shows it. With convert, through the
 * viewer's own one-pass conversion (VSHM_VIEW_CONVERT=1) rather than the renderer's
 * upload, whatever the renderer could take.
 */
static void pattern_is_shown(unsigned index, bool convert)
{
	uint32_t format = vshm_format_at(index);
	char name[64], snapshot[512], size[32];
	test_unique_name(name, sizeof(name), "view");
	snprintf(snapshot, sizeof(snapshot), "%s/%s.png", program_temporary_directory(),
	         vshm_format_name(format));
	snprintf(size, sizeof(size), "%dx%d", WIDTH, HEIGHT);
	char *capture_arguments[] = { "test",   "--format", (char *)vshm_format_name(format),
		                      "--size", size,       "--fps",
		                      "60",     NULL };
	pid_t capture = start_capture(name, capture_arguments);
	char *viewer_arguments[] = {
		"--snapshot", snapshot, "--after", "5", "--timeout", "20", NULL
	};
	char errors[4096];
	if (convert)
		setenv("VSHM_VIEW_CONVERT", "1", 1);
	int status = run_viewer(name, viewer_arguments, errors, sizeof(errors));
	unsetenv("VSHM_VIEW_CONVERT");
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	if (status != 0)
		fail_msg("vshm-view failed (%d): %s", status, errors);
	uint64_t n = snapshot_frame_number(errors);
	bool one_pass = strstr(errors, "one pass to RGB") != NULL;
	if (convert && !one_pass)
		fail_msg("VSHM_VIEW_CONVERT=1 did not take the one-pass conversion: %s", errors);
	if (index < sizeof(converted) / sizeof(converted[0]))
		converted[index] |= one_pass;

	struct program_picture picture;
	program_read_picture(snapshot, &picture);
	assert_int_equal(picture.width, WIDTH);
	assert_int_equal(picture.height, HEIGHT);
	int tolerance = format == VSHM_FORMAT_GRAY8 || vshm_format_plane_count(format) == 1 ? 2 : 6;
	if (format == VSHM_FORMAT_YUYV || format == VSHM_FORMAT_UYVY)
		tolerance = 6;
	uint64_t checked = 0, wrong = 0;
	for (uint32_t y = 0; y < HEIGHT; y++) {
		for (uint32_t x = 0; x < WIDTH; x++) {
			if (!in_flat_area(n, x, y))
				continue;
			struct pattern_rgb want = expected_shown(format, n, x, y);
			const uint8_t *got = picture.rgb + ((size_t)y * WIDTH + x) * 3;
			checked++;
			if (abs(got[0] - want.r) > tolerance || abs(got[1] - want.g) > tolerance ||
			    abs(got[2] - want.b) > tolerance) {
				if (wrong++ == 0)
					print_error(
					    "%s frame %llu (%u,%u): shown %u,%u,%u expected "
					    "%u,%u,%u\n",
					    vshm_format_name(format), (unsigned long long)n, x, y,
					    got[0], got[1], got[2], want.r, want.g, want.b);
			}
		}
	}
	free(picture.rgb);
	print_message("%-9s frame %4llu%s: %llu pixels compared, %llu off by more than %d\n",
	              vshm_format_name(format), (unsigned long long)n,
	              convert ? " (converted by the viewer)" : "", (unsigned long long)checked,
	              (unsigned long long)wrong, tolerance);
	assert_int_equal(wrong, 0);
	assert_true(checked > WIDTH * HEIGHT / 2);
}

static void pattern_in_every_format(void **state)
{
	(void)state;
	for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++)
		pattern_is_shown(i, false);
}

/*
 * The fallback conversion (convert.c), forced, shows the same picture in every format:
 * the renderer at hand takes most formats itself, another may take none. Formats the
 * renderer already left to the conversion above are not shown twice.
 */
static void pattern_in_every_format_through_the_fallback(void **state)
{
	(void)state;
	unsigned shown = 0;
	for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++) {
		if (i < sizeof(converted) / sizeof(converted[0]) && converted[i])
			continue;
		pattern_is_shown(i, true);
		shown++;
	}
	print_message("%u formats forced through the conversion; the others took it anyway\n",
	              shown);
}

/* The sample's frame N as vshm-view shows it, next to ffmpeg's decode of frame N. */
static void sample_video_matches_ffmpeg(void **state)
{
	(void)state;
	char name[64], snapshot[512], sample[512], reference[512];
	test_unique_name(name, sizeof(name), "video");
	snprintf(snapshot, sizeof(snapshot), "%s/video.png", program_temporary_directory());
	snprintf(sample, sizeof(sample), "%s/testsrc2-h264.mp4", program_path("VSHM_SAMPLES"));
	char *capture_arguments[] = { sample, NULL };
	pid_t capture = start_capture(name, capture_arguments);
	char *viewer_arguments[] = { "--snapshot", snapshot, "--after", "10",
		                     "--timeout",  "20",     NULL };
	char errors[4096];
	int status = run_viewer(name, viewer_arguments, errors, sizeof(errors));
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	if (status != 0)
		fail_msg("vshm-view failed (%d): %s", status, errors);
	uint64_t n = snapshot_frame_number(errors);

	snprintf(reference, sizeof(reference), "%s/reference.png", program_temporary_directory());
	char select[64];
	snprintf(select, sizeof(select), "select=eq(n\\,%llu)", (unsigned long long)n);
	char *argv[] = { (char *)program_path("VSHM_FFMPEG"),
		         "-nostdin",
		         "-loglevel",
		         "error",
		         "-i",
		         sample,
		         "-vf",
		         select,
		         "-frames:v",
		         "1",
		         "-y",
		         reference,
		         NULL };
	assert_int_equal(program_run(argv, 30000, errors, sizeof(errors)), 0);

	struct program_picture shown, decoded;
	program_read_picture(snapshot, &shown);
	program_read_picture(reference, &decoded);
	assert_int_equal(shown.width, decoded.width);
	assert_int_equal(shown.height, decoded.height);
	size_t count = (size_t)shown.width * shown.height * 3, close = 0;
	double total = 0;
	for (size_t i = 0; i < count; i++) {
		int difference = abs(shown.rgb[i] - decoded.rgb[i]);
		total += difference;
		close += difference <= 24;
	}
	double mean = total / (double)count;
	print_message("frame %llu: mean difference %.2f, %.2f%% of samples within 24 of ffmpeg's\n",
	              (unsigned long long)n, mean, 100.0 * (double)close / (double)count);
	/* Chroma upsampling differs between renderers and swscale at edges only. */
	assert_true(mean < 4.0);
	assert_true((double)close / (double)count > 0.97);
	free(shown.rgb);
	free(decoded.rgb);
}

/* Fills every pixel of an RGBA frame with one 32-bit word (R in its low byte). */
static void fill_rgba(uint8_t *pixels, uint32_t stride, uint32_t width, uint32_t height,
                      uint32_t color)
{
	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)(pixels + (uint64_t)y * stride);
		for (uint32_t x = 0; x < width; x++)
			row[x] = color;
	}
}

/* Waits until the viewer gives slot back, exits, or 20 s have passed. */
static void wait_for_release(struct vshm_shm_reader *entry, uint32_t slot, pid_t viewer)
{
	uint64_t deadline = vshm_now_ns() + 20000000000u;
	for (uint64_t spins = 0; atomic_load(&entry->held_slot) == slot + 1; spins++) {
		if (spins % 4096 == 0 && (!still_running(viewer) || vshm_now_ns() > deadline))
			return;
		sched_yield();
	}
}

/*
 * The torn-frame handling, seen on screen. Intact frames are each one colour of a
 * palette, whole; a torn frame is white where the test rewrote it, and white is in no
 * intact frame. The viewer runs with a stop point right after it takes a frame
 * (stop-points.c): it holds the frame and has read none of its pixels. The writer goes
 * in lock-step with it, so the viewer takes every frame. Some frames are rewritten
 * there, the slot made odd and painted white; the viewer goes on, uploads white and
 * finds the frame torn at release. The slot gets its palette colour back before it is
 * even again, so only a torn frame can ever hold white.
 * With --after N, the N-th frame published is rewritten: a viewer that presented torn
 * frames would present it as its N-th and save it, white, as its snapshot.
 */
static void torn_frames_are_never_presented(void **state)
{
	(void)state;
	char name[64], snapshot[512], path[256], after_text[16];
	test_unique_name(name, sizeof(name), "torn");
	snprintf(snapshot, sizeof(snapshot), "%s/torn.png", program_temporary_directory());
	const uint32_t width = 1280, height = 720, after = 12;
	snprintf(after_text, sizeof(after_text), "%u", after);
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_RGBA, width, height, 3);
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct stat status;
	assert_int_equal(fstat(fd, &status), 0);
	uint8_t *base =
	    mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(base != MAP_FAILED);
	close(fd);
	struct vshm_shm_header *header = (struct vshm_shm_header *)base;
	struct vshm_shm_reader *readers =
	    (struct vshm_shm_reader *)(base + header->reader_table_offset);
	struct vshm_shm_slot *slots = (struct vshm_shm_slot *)(base + header->slot_table_offset);

	char *argv[] = { (char *)program_path("VSHM_VIEW"),
		         "--snapshot",
		         snapshot,
		         "--after",
		         after_text,
		         "--timeout",
		         "60",
		         name,
		         NULL };
	char errors_path[512];
	snprintf(errors_path, sizeof(errors_path), "%s/torn.err", program_temporary_directory());
	pid_t viewer =
	    program_start_with_stop_points(argv, NULL, errors_path, "VSHM_STOP_AFTER_ACQUIRE=1");

	/* Red, green, blue, yellow as RGBA words; white is the torn frames' colour only. */
	static const uint32_t palette[] = { 0xff0000ffu, 0xff00ff00u, 0xffff0000u, 0xff00ffffu };
	const uint32_t white = 0xffffffffu;
	uint64_t rewritten = 0, published = 0;
	bool lost = false;
	for (uint64_t n = 0; n < 200; n++) {
		struct vshm_frame frame;
		assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_RGBA, width, height, &frame),
		                 0);
		uint32_t color = palette[n % 4];
		fill_rgba(frame.plane[0], frame.stride[0], width, height, color);
		frame.frame_number = n;
		assert_int_equal(vshm_writer_publish(writer, &frame), 0);
		published++;
		/* The viewer takes it and stops; once it has shown its frames, it exits. */
		if (!program_wait_stopped(viewer, 20000))
			break;
		if (atomic_load(&readers[0].held_slot) != frame.slot + 1) {
			lost = true; /* it took some other slot: the test is wrong */
			kill(viewer, SIGCONT);
			break;
		}
		bool rewrite = n == after - 1 || (n < after - 1 && n % 3 == 1);
		_Atomic uint64_t *sequence = &slots[frame.slot].sequence;
		uint64_t stable = atomic_load(sequence);
		if (rewrite) {
			atomic_store(sequence, stable + 1);
			fill_rgba(frame.plane[0], frame.stride[0], width, height, white);
		}
		kill(viewer, SIGCONT);
		wait_for_release(&readers[0], frame.slot, viewer);
		if (rewrite) {
			fill_rgba(frame.plane[0], frame.stride[0], width, height, color);
			atomic_store(sequence, stable + 2);
			rewritten++;
		}
	}
	int exit_status = test_wait(viewer, 60000);
	munmap(base, (size_t)status.st_size);
	vshm_writer_destroy(writer);
	size_t size;
	char *errors = (char *)program_read_file(errors_path, &size);
	assert_non_null(errors);
	errors[size] = '\0';
	if (exit_status != 0)
		fail_msg("vshm-view failed (%d): %s", exit_status, errors);
	uint64_t torn = torn_dropped(errors);
	uint64_t shown_number = snapshot_frame_number(errors);
	free(errors);

	struct program_picture picture;
	program_read_picture(snapshot, &picture);
	size_t pixels = (size_t)picture.width * picture.height, white_pixels = 0, differing = 0;
	const uint8_t *first = picture.rgb;
	for (size_t i = 0; i < pixels; i++) {
		const uint8_t *p = picture.rgb + i * 3;
		white_pixels += p[0] == 255 && p[1] == 255 && p[2] == 255;
		differing += memcmp(p, first, 3) != 0;
	}
	bool from_palette = false;
	for (int i = 0; i < 4; i++) {
		uint32_t c = palette[i];
		from_palette |= first[0] == (c & 0xff) && first[1] == ((c >> 8) & 0xff) &&
		                first[2] == ((c >> 16) & 0xff);
	}
	free(picture.rgb);
	assert_false(lost);
	print_message("%llu frames published in lock-step, %llu rewritten in white while held; "
	              "the viewer dropped %llu torn frames; snapshot of frame %llu: %zu white "
	              "pixels, uniform: %s\n",
	              (unsigned long long)published, (unsigned long long)rewritten,
	              (unsigned long long)torn, (unsigned long long)shown_number, white_pixels,
	              differing == 0 && from_palette ? "yes" : "NO");
	assert_int_equal(white_pixels, 0);
	assert_true(from_palette);
	assert_int_equal(differing, 0);
	assert_true(rewritten >= 5);
	assert_int_equal(torn, rewritten);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pattern_in_every_format),
		cmocka_unit_test(pattern_in_every_format_through_the_fallback),
		cmocka_unit_test(sample_video_matches_ffmpeg),
		cmocka_unit_test(torn_frames_are_never_presented),
	};
	return cmocka_run_group_tests(tests, viewer_setup, viewer_teardown);
}
