/*
 * What vshm-capture takes from a camera, through the real program on the preloaded fake
 * camera: the format that reaches the asked rate (or goes fastest), said when it is not
 * the one otherwise preferred; --input-format; --list-formats marking the default; the
 * stable /dev/v4l names listed and taken as sources; sizes given as ranges; rows padded
 * past the pixels; libv4l2's emulated formats; the JPEG fourcc. Every frame read back
 * is checked against what the fake made.
 */
#include <fcntl.h>
#include <linux/videodev2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "camera-run.h"
#include "fake-camera.h"
#include "program-util.h"
#include "test-util.h"
#include "v4l2/camera.h"

#define DEVICE "/dev/video45"

static int setup(void **state)
{
	(void)state;
	camera_run_plain_fake(DEVICE, "100");
	return 0;
}

/* Runs vshm-capture with arguments; every frame must be what the fake made. */
static void run_whole(struct camera_run *run)
{
	camera_run(run);
	assert_int_equal(run->status, 0);
	assert_int_equal(run->bad, 0);
	assert_true(run->frames > 0);
}

/* What a listing option printed (stdout). */
static char *listing(const char *option, const char *device)
{
	char output[512];
	snprintf(output, sizeof(output), "%s/listing.out", program_temporary_directory());
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"), (char *)option, (char *)device,
		         NULL };
	setenv("LD_PRELOAD", program_path("VSHM_FAKE_CAMERA_PRELOAD"), 1);
	pid_t pid = program_start(argv, output, NULL);
	unsetenv("LD_PRELOAD");
	assert_int_equal(test_wait(pid, 20000), 0);
	size_t size;
	char *text = (char *)program_read_file(output, &size);
	assert_non_null(text);
	text[size] = '\0'; /* the buffer has room for it */
	print_message("%s", text);
	return text;
}

/*
 * Regression: a webcam offering YUYV at 5 fps and MJPEG at 30 fps at the same size got
 * YUYV at 5 fps even with -r 30, and nothing said why.
 */
static void the_rate_decides_between_formats(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_FORMATS", "YUYV,MJPG", 1);
	setenv("FAKE_CAMERA_SIZES", "320x240,160x120", 1);
	setenv("FAKE_CAMERA_FPS", "30", 1);
	setenv("FAKE_CAMERA_FORMAT_FPS", "YUYV:5", 1);

	struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--fps", "30", "--frames",
		                                 "10" } };
	run_whole(&run);
	assert_non_null(strstr(run.errors, "MJPG at 30 fps"));
	assert_non_null(strstr(run.errors, "MJPG gives 30 fps at 320x240, where YUYV gives 5 fps "
	                                   "at 320x240; using MJPG (--input-format YUYV takes"));

	/* Nothing asked: the fastest. */
	run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--frames", "10" } };
	run_whole(&run);
	assert_non_null(strstr(run.errors, "MJPG at 30 fps"));

	/* --input-format takes the format as it is, and says the rate it lacks. */
	run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--input-format", "yuyv", "--fps",
		                                  "30", "--frames", "3" } };
	run_whole(&run);
	assert_non_null(strstr(run.errors, "YUYV at 5 fps"));
	assert_non_null(strstr(run.errors, "has no 30 fps at 320x240 YUYV; using 5 fps"));

	/* A size asked that only one format has: that one, whatever its rate. */
	setenv("FAKE_CAMERA_FORMAT_FPS", "MJPG:5", 1);
	run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--frames", "3" } };
	run_whole(&run);
	assert_non_null(strstr(run.errors, "YUYV at 30 fps"));
	assert_null(strstr(run.errors, "gives")); /* the preferred one: nothing to explain */

	char *text = listing("--list-formats", DEVICE);
	assert_non_null(strstr(text, "YUYV  YUYV 4:2:2 (carried as is), the default"));
	assert_null(strstr(text, "(decoded by vshm-capture), the default"));
	free(text);
	setenv("FAKE_CAMERA_FORMAT_FPS", "YUYV:5", 1);
	text = listing("--list-formats", DEVICE);
	assert_non_null(strstr(text, "MJPG  Motion-JPEG (decoded by vshm-capture), the default"));
	free(text);
}

static void input_format_the_camera_lacks(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_FORMATS", "YUYV,MJPG", 1);
	struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--input-format", "NV12" },
		                  .no_stream = true };
	camera_run(&run);
	assert_int_equal(run.status, 1);
	assert_non_null(strstr(run.errors, "has no NV12 (--input-format; it offers: YUYV MJPG)"));

	/* A raw format is carried as it is: another --format cannot come from it. */
	run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--input-format", "YUYV",
		                                  "--format", "nv12" },
		                   .no_stream = true };
	camera_run(&run);
	assert_int_equal(run.status, 1);
	assert_non_null(strstr(run.errors, "only MJPEG is converted"));

	run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--input-format", "MJPEG" },
		                   .no_stream = true };
	camera_run(&run);
	assert_int_equal(run.status, 2); /* not a fourcc: bad usage */
	assert_non_null(strstr(run.errors, "is not a fourcc"));
}

/* The /dev/v4l/by-id and by-path names of a camera: listed, and taken as its name. */
static void stable_names_are_listed_and_taken(void **state)
{
	(void)state;
	char dev[512], device[600], by_id[700], by_path[700], link[900];
	snprintf(dev, sizeof(dev), "%s/dev", program_temporary_directory());
	snprintf(device, sizeof(device), "%s/video3", dev);
	snprintf(by_id, sizeof(by_id), "%s/v4l/by-id", dev);
	snprintf(by_path, sizeof(by_path), "%s/v4l/by-path", dev);
	assert_int_equal(mkdir(dev, 0700), 0);
	snprintf(link, sizeof(link), "%s/v4l", dev);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(mkdir(by_id, 0700), 0);
	assert_int_equal(mkdir(by_path, 0700), 0);
	int fd = open(device, O_WRONLY | O_CREAT, 0600); /* the node: a file the fake answers for */
	assert_true(fd >= 0);
	close(fd);
	snprintf(link, sizeof(link), "%s/usb-vshm_Fake_Camera-video-index0", by_id);
	assert_int_equal(symlink("../../video3", link), 0);
	snprintf(link, sizeof(link), "%s/platform-fake-camera-video-index0", by_path);
	assert_int_equal(symlink("../../video3", link), 0);
	setenv("FAKE_CAMERA_DEVICE", device, 1);
	fake_camera_reset();

	/* --list-devices is camera_list_devices_in("/dev"): run it on this directory. */
	char output[700];
	snprintf(output, sizeof(output), "%s/devices.out", program_temporary_directory());
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *file = fopen(output, "w+");
	assert_non_null(file);
	dup2(fileno(file), STDOUT_FILENO);
	int result = camera_list_devices_in(dev);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	fclose(file);
	assert_int_equal(result, 0);
	size_t size;
	char *text = (char *)program_read_file(output, &size);
	assert_non_null(text);
	text[size] = '\0';
	print_message("%s", text);
	snprintf(link, sizeof(link), "also %s/usb-vshm_Fake_Camera-video-index0", by_id);
	assert_non_null(strstr(text, link));
	snprintf(link, sizeof(link), "also %s/platform-fake-camera-video-index0", by_path);
	assert_non_null(strstr(text, link));
	free(text);

	char location[900];
	snprintf(location, sizeof(location), "v4l2:%s/usb-vshm_Fake_Camera-video-index0", by_id);
	struct camera_run run = { .arguments = { location, "--frames", "5" } };
	run_whole(&run);
}

/* Sizes as a range: the asked size on the driver's grid, or any size; said when moved. */
static void sizes_given_as_ranges(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_SIZES", "stepwise:160x120-1280x720/16x8", 1);
	struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--size", "1000x700", "--frames",
		                                 "5" } };
	run_whole(&run);
	assert_int_equal(run.width, 992);
	assert_int_equal(run.height, 696);
	assert_non_null(strstr(run.errors, "has no 1000x700 YUYV; using 992x696, the nearest"));
	char *text = listing("--list-formats", DEVICE);
	assert_non_null(strstr(text, "160x120 to 1280x720 in steps of 16x8"));
	free(text);

	setenv("FAKE_CAMERA_SIZES", "continuous:160x120-1280x720", 1);
	run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--size", "1000x700", "--frames",
		                                  "5" } };
	run_whole(&run);
	assert_int_equal(run.width, 1000);
	assert_int_equal(run.height, 700);
	assert_null(strstr(run.errors, "the nearest"));
	run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--frames", "5" } };
	run_whole(&run); /* nothing asked: the largest */
	assert_int_equal(run.width, 1280);
	assert_int_equal(run.height, 720);
	text = listing("--list-formats", DEVICE);
	assert_non_null(strstr(text, "any size from 160x120 to 1280x720"));
	free(text);
}

/* Rows padded past the pixels (bytesperline > width x bytes per pixel). */
static void rows_padded_past_the_pixels(void **state)
{
	(void)state;
	/* 640-byte rows padded to 768: not the ring's layout, so copied row by row. */
	setenv("FAKE_CAMERA_BYTESPERLINE_ALIGN", "256", 1);
	const char *formats[] = { "YUYV", "YU12", "NV12", "RGB3" };
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		setenv("FAKE_CAMERA_FORMATS", formats[i], 1);
		struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--frames", "5" } };
		run_whole(&run);
		assert_non_null(strstr(run.errors, "mmap + one copy"));
	}
	/* 300 pixels of YUYV, 600 bytes, padded to 640: the ring's own rows, so lent. */
	setenv("FAKE_CAMERA_FORMATS", "YUYV", 1);
	setenv("FAKE_CAMERA_SIZES", "300x200", 1);
	setenv("FAKE_CAMERA_BYTESPERLINE_ALIGN", "64", 1);
	struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--frames", "5" } };
	run_whole(&run);
	assert_non_null(strstr(run.errors, "USERPTR: no copy"));
}

/* libv4l2's emulated formats: taken through its conversion, with mmap. */
static void formats_libv4l2_emulates(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_EMULATE", "1", 1);
	const char *asked[] = { "rgb24", "bgr24", "i420" };
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
		struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--format", asked[i],
			                                 "--io", "userptr", "--frames", "5" } };
		run_whole(&run);
		assert_int_equal(run.format, vshm_format_from_name(asked[i]));
		assert_non_null(strstr(run.errors, "converted by libv4l2, mmap + one copy"));
		assert_non_null(strstr(run.errors, "no USERPTR (libv4l2 converts its frames)"));
	}
	/* Nothing asked: the camera's own format, not an emulated one. */
	struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--frames", "5" } };
	run_whole(&run);
	assert_non_null(strstr(run.errors, "YUYV at 100 fps, USERPTR"));
	char *text = listing("--list-formats", DEVICE);
	assert_non_null(strstr(text, "RGB3  24-bit RGB 8-8-8 (converted by libv4l2)"));
	assert_non_null(strstr(text, "YV12  Planar YVU 4:2:0 (converted by libv4l2)"));
	free(text);
}

/* The JPEG fourcc some cameras use for their JPEG frames: decoded as MJPEG is. */
static void the_jpeg_fourcc(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_FORMATS", "JPEG", 1);
	struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--frames", "10" } };
	run_whole(&run);
	assert_int_equal(run.format, VSHM_FORMAT_YUYV);
	assert_non_null(strstr(run.errors, "JPEG at 100 fps, decoded"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(the_rate_decides_between_formats, setup),
		cmocka_unit_test_setup(input_format_the_camera_lacks, setup),
		cmocka_unit_test_setup(stable_names_are_listed_and_taken, setup),
		cmocka_unit_test_setup(sizes_given_as_ranges, setup),
		cmocka_unit_test_setup(rows_padded_past_the_pixels, setup),
		cmocka_unit_test_setup(formats_libv4l2_emulates, setup),
		cmocka_unit_test_setup(the_jpeg_fourcc, setup),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
