/*
 * --list-devices and --list-formats: what cameras there are, and what each offers, as
 * vshm-capture would open and use them.
 */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <stdio.h>
#include <string.h>

#include "camera.h"

static void print_rates(int fd, uint32_t pixelformat, uint32_t width, uint32_t height)
{
	bool any = false;
	for (uint32_t i = 0;; i++) {
		struct v4l2_frmivalenum ival = {
			.index = i, .pixel_format = pixelformat, .width = width, .height = height
		};
		if (camera_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival) < 0)
			break;
		if (ival.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
			if (ival.discrete.numerator)
				printf("%s%.4g", any ? ", " : "  ",
				       (double)ival.discrete.denominator / ival.discrete.numerator);
			any = true;
			continue;
		}
		struct v4l2_fract slow = ival.stepwise.max, fast = ival.stepwise.min;
		if (slow.numerator && fast.numerator)
			printf("  %.4g to %.4g", (double)slow.denominator / slow.numerator,
			       (double)fast.denominator / fast.numerator);
		any = true;
		break;
	}
	printf(any ? " fps\n" : "  (rates not listed)\n");
}

int capture_v4l2_list_formats(const char *location)
{
	const char *path = camera_path_of(location);
	struct v4l2_capability cap;
	int fd = camera_open_device(path, &cap, true, false);
	if (fd < 0)
		return 1;
	printf("%s: %s (driver %s, %s)\n", path, (const char *)cap.card, (const char *)cap.driver,
	       (const char *)cap.bus_info);
	struct camera_format formats[CAMERA_FORMATS_MAX];
	uint32_t count = camera_list_formats(fd, formats);
	if (count == 0)
		printf("  no formats listed\n");
	for (uint32_t f = 0; f < count; f++) {
		char text[5];
		camera_fourcc_text(formats[f].pixelformat, text);
		const char *how = camera_is_native(formats[f].pixelformat) ? "carried as is"
		                  : camera_is_jpeg(formats[f].pixelformat)
		                      ? "decoded by vshm-capture"
		                      : "not carried";
		if (formats[f].flags & V4L2_FMT_FLAG_EMULATED)
			how = "converted by libv4l2";
		printf("  %s  %s (%s)\n", text, formats[f].description, how);
		for (uint32_t i = 0;; i++) {
			struct v4l2_frmsizeenum size = { .index = i,
				                         .pixel_format = formats[f].pixelformat };
			if (camera_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size) < 0)
				break;
			if (size.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
				char dimensions[32];
				snprintf(dimensions, sizeof(dimensions), "%ux%u",
				         size.discrete.width, size.discrete.height);
				printf("    %-11s", dimensions);
				print_rates(fd, formats[f].pixelformat, size.discrete.width,
				            size.discrete.height);
				continue;
			}
			printf("    %ux%u to %ux%u in steps of %ux%u\n", size.stepwise.min_width,
			       size.stepwise.min_height, size.stepwise.max_width,
			       size.stepwise.max_height, size.stepwise.step_width,
			       size.stepwise.step_height);
			break;
		}
	}
	v4l2_close(fd);
	return 0;
}

int capture_v4l2_list_devices(void)
{
	int found = 0;
	/* /dev/video0 ... /dev/video255: opened one by one, as a capture would. */
	for (int n = 0; n < 256; n++) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/video%d", n);
		int fd = v4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT && errno != ENXIO && errno != ENODEV) {
				printf("%-13s cannot open: %s\n", path, strerror(errno));
				found++;
			}
			continue;
		}
		found++;
		struct v4l2_capability cap = { 0 };
		if (camera_ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
			printf("%-13s not a V4L2 device\n", path);
			v4l2_close(fd);
			continue;
		}
		uint32_t caps =
		    (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
		printf("%-13s %s (%s)", path, (const char *)cap.card, (const char *)cap.bus_info);
		if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
			printf(": not a video capture node (metadata or output)\n");
			v4l2_close(fd);
			continue;
		}
		struct camera_format formats[CAMERA_FORMATS_MAX];
		uint32_t count = camera_list_formats(fd, formats);
		printf(":");
		for (uint32_t i = 0; i < count; i++) {
			if (formats[i].flags & V4L2_FMT_FLAG_EMULATED)
				continue;
			char text[5];
			camera_fourcc_text(formats[i].pixelformat, text);
			printf(" %s", text);
		}
		printf("\n");
		v4l2_close(fd);
	}
	if (!found) {
		fprintf(stderr, "vshm-capture: no video devices (/dev/video*) found\n");
		return 1;
	}
	printf("See a device's sizes and rates with: vshm-capture --list-formats DEVICE\n");
	return 0;
}
