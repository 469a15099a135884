/*
 * --list-devices and --list-formats: what cameras there are, and what each offers, as
 * vshm-capture would open and use them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* What vshm-capture takes when nothing is asked. */
	const struct capture_settings nothing_asked = { 0 };
	uint32_t taken = camera_choose_format(fd, formats, count, &nothing_asked, 0, NULL);
	for (uint32_t f = 0; f < count; f++) {
		char text[5];
		camera_fourcc_text(formats[f].pixelformat, text);
		const char *how = camera_is_native(formats[f].pixelformat) ? "carried as is"
		                  : camera_is_jpeg(formats[f].pixelformat)
		                      ? "decoded by vshm-capture"
		                      : "not carried";
		if (formats[f].flags & V4L2_FMT_FLAG_EMULATED)
			how = "converted by libv4l2";
		printf("  %s  %s (%s)%s\n", text, formats[f].description, how,
		       f == taken ? ", the default" : "");
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
			const struct v4l2_frmsize_stepwise *steps = &size.stepwise;
			if (size.type == V4L2_FRMSIZE_TYPE_CONTINUOUS)
				printf("    any size from %ux%u to %ux%u\n", steps->min_width,
				       steps->min_height, steps->max_width, steps->max_height);
			else
				printf("    %ux%u to %ux%u in steps of %ux%u\n", steps->min_width,
				       steps->min_height, steps->max_width, steps->max_height,
				       steps->step_width, steps->step_height);
			printf("    at %ux%u:", steps->max_width, steps->max_height);
			print_rates(fd, formats[f].pixelformat, steps->max_width,
			            steps->max_height);
			break;
		}
	}
	v4l2_close(fd);
	return 0;
}

/*
 * The stable names udev makes for a device under dev/v4l/by-id and dev/v4l/by-path
 * (the same camera keeps them across replugs and reboots, where /dev/videoN may
 * change), one a line.
 */
static void print_stable_names(const char *dev, const char *device)
{
	char real_device[PATH_MAX];
	if (!realpath(device, real_device))
		return;
	const char *kinds[] = { "by-id", "by-path" };
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char directory[PATH_MAX];
		snprintf(directory, sizeof(directory), "%s/v4l/%s", dev, kinds[k]);
		DIR *listing = opendir(directory);
		if (!listing)
			continue;
		struct dirent *entry;
		while ((entry = readdir(listing))) {
			if (entry->d_name[0] == '.')
				continue;
			char name[PATH_MAX + 256], real_name[PATH_MAX];
			snprintf(name, sizeof(name), "%s/%s", directory, entry->d_name);
			if (realpath(name, real_name) && strcmp(real_name, real_device) == 0)
				printf("              also %s\n", name);
		}
		closedir(listing);
	}
}

int camera_list_devices_in(const char *dev)
{
	int found = 0;
	/* video0 ... video255: opened one by one, as a capture would. */
	for (int n = 0; n < 256; n++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/video%d", dev, n);
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
			print_stable_names(dev, path);
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
		print_stable_names(dev, path);
	}
	if (!found) {
		fprintf(stderr, "vshm-capture: no video devices (%s/video*) found\n", dev);
		return 1;
	}
	printf("Capture from any of these names; the /dev/v4l ones stay the same when the camera\n"
	       "is plugged in again. See a device's sizes and rates with: vshm-capture\n"
	       "--list-formats DEVICE\n");
	return 0;
}

int capture_v4l2_list_devices(void)
{
	return camera_list_devices_in("/dev");
}
