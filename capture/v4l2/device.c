/*
 * Opening a camera's device node, and one clear line when it cannot be used: not there,
 * not allowed, busy, not a V4L2 device, not a streaming capture device.
 */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <stdio.h>
#include <string.h>

#include "camera.h"
#include "shutdown.h"

int camera_ioctl(int fd, unsigned long request, void *argument)
{
	int result;
	do
		result = v4l2_ioctl(fd, request, argument);
	while (result < 0 && errno == EINTR && !program_shutdown_requested());
	return result;
}

void camera_fourcc_text(uint32_t fourcc, char text[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((fourcc >> (8 * i)) & 0xff);
		text[i] = c >= ' ' && c <= '~' ? c : '?';
	}
	text[4] = '\0';
}

bool capture_v4l2_is_location(const char *location)
{
	return strncmp(location, "v4l2:", 5) == 0 || strncmp(location, "/dev/video", 10) == 0 ||
	       strncmp(location, "/dev/v4l/", 9) == 0;
}

const char *camera_path_of(const char *location)
{
	return strncmp(location, "v4l2:", 5) == 0 ? location + 5 : location;
}

bool camera_error_is_absence(int error)
{
	return error == ENODEV || error == ENOENT || error == ENXIO;
}

bool camera_device_vanished(int error)
{
	return error == ENODEV || error == EIO || error == ENXIO;
}

void camera_explain_open_error(const char *path, int error)
{
	switch (error) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		fprintf(stderr,
		        "vshm-capture: '%s': no such video device (is the camera plugged in? "
		        "vshm-capture --list-devices shows what there is)\n",
		        path);
		break;
	case EACCES:
	case EPERM:
		fprintf(stderr,
		        "vshm-capture: '%s': permission denied (add yourself to the 'video' group: "
		        "sudo usermod -aG video $USER, then log in again)\n",
		        path);
		break;
	case EBUSY:
		fprintf(stderr,
		        "vshm-capture: '%s' is busy: another program is using the camera; close "
		        "it and try again\n",
		        path);
		break;
	default:
		fprintf(stderr, "vshm-capture: cannot open '%s': %s\n", path, strerror(error));
		break;
	}
}

int camera_open_device(const char *path, struct v4l2_capability *cap, bool verbose, bool direct)
{
	int fd;
	if (direct) {
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION) < 0) {
			int error = errno;
			v4l2_close(fd); /* libv4l2 closes fds it does not know, too */
			errno = error ? error : ENOTTY;
			fd = -1;
		}
	} else {
		fd = v4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd < 0) {
		int error = errno;
		if (verbose)
			camera_explain_open_error(path, error);
		return -error;
	}
	memset(cap, 0, sizeof(*cap));
	if (camera_ioctl(fd, VIDIOC_QUERYCAP, cap) < 0) {
		int error = errno;
		if (verbose && error == ENODEV)
			camera_explain_open_error(path, error);
		else if (verbose)
			fprintf(stderr,
			        "vshm-capture: '%s' is not a V4L2 video device (%s); see "
			        "vshm-capture --list-devices\n",
			        path, strerror(error));
		v4l2_close(fd);
		return error == ENODEV ? -ENODEV : -ENOTTY;
	}
	uint32_t caps =
	    (cap->capabilities & V4L2_CAP_DEVICE_CAPS) ? cap->device_caps : cap->capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
		if (verbose)
			fprintf(stderr,
			        "vshm-capture: '%s' (%s) is not a video capture device%s; see "
			        "vshm-capture --list-devices\n",
			        path, (const char *)cap->card,
			        (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE)
			            ? " (multi-planar capture is not supported)"
			            : " (a metadata or output node?)");
		v4l2_close(fd);
		return -ENOTTY;
	}
	if (!(caps & V4L2_CAP_STREAMING)) {
		if (verbose)
			fprintf(stderr,
			        "vshm-capture: '%s' (%s) does not support streaming I/O, which "
			        "vshm-capture needs\n",
			        path, (const char *)cap->card);
		v4l2_close(fd);
		return -ENOTSUP;
	}
	return fd;
}
