/* The fake camera's configuration, from the FAKE_CAMERA_* environment (fake-camera.h). */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libv4l2.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fake-camera-private.h"

struct fake_state fake = { .configured = false };

uint64_t fake_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

int fake_fail(int error)
{
	errno = error;
	return -1;
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
	const char *text = getenv(name);
	return text && *text ? strtoull(text, NULL, 10) : fallback;
}

static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{ "EACCES", EACCES }, { "EPERM", EPERM },   { "EBUSY", EBUSY },
	{ "ENOENT", ENOENT }, { "ENXIO", ENXIO },   { "ENODEV", ENODEV },
	{ "EIO", EIO },       { "ENOMEM", ENOMEM }, { "EINVAL", EINVAL },
};

/* An errno by its name ("EBUSY"), 0 for none or an unknown name. */
static int errno_value(const char *name)
{
	for (size_t i = 0; name && i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (strcmp(name, errno_names[i].name) == 0)
			return errno_names[i].value;
	return 0;
}

/*
 * "stepwise:160x120-1280x720/16x8" or "continuous:160x120-1280x720": sizes as a range,
 * for every format (each a multiple of 2, as the pictures want).
 */
static void parse_size_range(const char *text, struct config *c)
{
	unsigned w0, h0, w1, h1, sw = 2, sh = 2;
	bool stepwise =
	    sscanf(text, "stepwise:%ux%u-%ux%u/%ux%u", &w0, &h0, &w1, &h1, &sw, &sh) == 6;
	bool continuous =
	    !stepwise && sscanf(text, "continuous:%ux%u-%ux%u", &w0, &h0, &w1, &h1) == 4;
	if ((!stepwise && !continuous) || w0 < 2 || h0 < 2 || w1 < w0 || h1 < h0 || sw % 2 ||
	    sh % 2 || !sw || !sh)
		return;
	c->size_type = stepwise ? V4L2_FRMSIZE_TYPE_STEPWISE : V4L2_FRMSIZE_TYPE_CONTINUOUS;
	/* Continuous sizes still come in even numbers: the 4:2:x formats need them. */
	c->steps = (struct v4l2_frmsize_stepwise){ w0 & ~1u, w1 & ~1u, stepwise ? sw : 1,
		                                   h0 & ~1u, h1 & ~1u, stepwise ? sh : 1 };
	c->widths[0] = c->steps.max_width;
	c->heights[0] = c->steps.max_height;
	c->size_count = 1;
}

/* "YUYV:5,MJPG:30": the one rate each of these formats has (the others have them all). */
static void parse_format_rates(const char *text, struct config *c)
{
	for (const char *p = text; p && *p;) {
		unsigned rate;
		if (strlen(p) > 5 && p[4] == ':' && sscanf(p + 5, "%u", &rate) == 1 && rate >= 1 &&
		    rate <= 1000) {
			uint32_t fourcc = v4l2_fourcc(p[0], p[1], p[2], p[3]);
			for (uint32_t i = 0; i < c->format_count; i++)
				if (c->formats[i] == fourcc)
					c->format_rates[i] = rate;
		}
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
}

/* "YUYV,MJPG" into fourccs. */
static void parse_formats(const char *text, uint32_t *formats, uint32_t *count)
{
	*count = 0;
	for (const char *p = text; *p && *count < MAX_FORMATS;) {
		if (strlen(p) >= 4)
			formats[(*count)++] = v4l2_fourcc(p[0], p[1], p[2], p[3]);
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
}

void fake_configure(void)
{
	struct config *c = &fake.config;
	memset(c, 0, sizeof(*c));
	const char *device = getenv("FAKE_CAMERA_DEVICE");
	snprintf(c->device, sizeof(c->device), "%s", device && *device ? device : "/dev/video0");
	if (!realpath(c->device, c->real_device))
		c->real_device[0] = '\0';

	const char *formats = getenv("FAKE_CAMERA_FORMATS");
	if (!formats || !*formats)
		formats = "YUYV,UYVY,NV12,YU12,RGB3,BGR3,GREY,MJPG";
	parse_formats(formats, c->formats, &c->format_count);
	const char *replug_formats = getenv("FAKE_CAMERA_REPLUG_FORMATS");
	if (replug_formats && *replug_formats)
		parse_formats(replug_formats, c->replug_formats, &c->replug_format_count);
	c->min_buffers = (uint32_t)env_number("FAKE_CAMERA_MIN_BUFFERS", MIN_BUFFERS);
	if (c->min_buffers < 1)
		c->min_buffers = 1;
	if (c->min_buffers > MAX_BUFFERS)
		c->min_buffers = MAX_BUFFERS;
	c->max_buffers = (uint32_t)env_number("FAKE_CAMERA_MAX_BUFFERS", MAX_BUFFERS);
	if (c->max_buffers < c->min_buffers || c->max_buffers > MAX_BUFFERS)
		c->max_buffers = MAX_BUFFERS;
	const char *refused_at = getenv("FAKE_CAMERA_USERPTR_REFUSED_AT");
	if (refused_at && strcmp(refused_at, "qbuf") == 0)
		c->userptr_refused_at = (int)VIDIOC_QBUF;
	else if (refused_at && strcmp(refused_at, "streamon") == 0)
		c->userptr_refused_at = (int)VIDIOC_STREAMON;
	c->streamon_error = errno_value(getenv("FAKE_CAMERA_STREAMON_ERROR"));
	c->sizeimage_extra = (uint32_t)env_number("FAKE_CAMERA_SIZEIMAGE_EXTRA", 0);
	c->mjpeg_whole_buffer = env_number("FAKE_CAMERA_MJPEG_WHOLE_BUFFER", 0) != 0;
	const char *sizes = getenv("FAKE_CAMERA_SIZES");
	if (!sizes || !*sizes)
		sizes = "640x480,320x240,1280x720,1920x1080";
	parse_size_range(sizes, c);
	for (const char *p = sizes; !c->size_type && *p && c->size_count < MAX_SIZES;) {
		unsigned w, h;
		if (sscanf(p, "%ux%u", &w, &h) == 2 && w >= 2 && h >= 2) {
			c->widths[c->size_count] = w & ~1u;
			c->heights[c->size_count++] = h & ~1u;
		}
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	const char *rates = getenv("FAKE_CAMERA_FPS");
	if (!rates || !*rates)
		rates = "30,15";
	for (const char *p = rates; *p && c->rate_count < MAX_RATES;) {
		unsigned rate = (unsigned)strtoul(p, NULL, 10);
		if (rate >= 1 && rate <= 1000)
			c->rates[c->rate_count++] = rate;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	parse_format_rates(getenv("FAKE_CAMERA_FORMAT_FPS"), c);
	c->mjpeg_cut_every = env_number("FAKE_CAMERA_MJPEG_CUT_EVERY", 0);
	c->bytesperline_align = (uint32_t)env_number("FAKE_CAMERA_BYTESPERLINE_ALIGN", 0);
	c->emulate = env_number("FAKE_CAMERA_EMULATE", 0) != 0;
	const char *timestamps = getenv("FAKE_CAMERA_TIMESTAMPS");
	c->timestamps = TIMESTAMPS_MONOTONIC;
	if (timestamps && strcmp(timestamps, "realtime") == 0)
		c->timestamps = TIMESTAMPS_REALTIME;
	else if (timestamps && strcmp(timestamps, "backwards") == 0)
		c->timestamps = TIMESTAMPS_BACKWARDS;
	c->stall_after = env_number("FAKE_CAMERA_STALL_AFTER", 0);
	c->stall_ns = env_number("FAKE_CAMERA_STALL_MS", 0) * 1000000u;
	c->userptr = env_number("FAKE_CAMERA_USERPTR", 1) != 0;
	const char *caps = getenv("FAKE_CAMERA_CAPS");
	c->caps = V4L2_CAP_VIDEO_CAPTURE;
	if (caps && strcmp(caps, "output") == 0)
		c->caps = V4L2_CAP_VIDEO_OUTPUT;
	else if (caps && strcmp(caps, "metadata") == 0)
		c->caps = V4L2_CAP_META_CAPTURE;
	c->open_error = errno_value(getenv("FAKE_CAMERA_OPEN_ERROR"));
	c->busy = env_number("FAKE_CAMERA_BUSY", 0) != 0;
	c->eagain_every = env_number("FAKE_CAMERA_EAGAIN_EVERY", 0);
	c->eintr_every = env_number("FAKE_CAMERA_EINTR_EVERY", 0);
	c->error_every = env_number("FAKE_CAMERA_ERROR_EVERY", 0);
	c->drop_every = env_number("FAKE_CAMERA_DROP_EVERY", 0);
	c->unplug_after = env_number("FAKE_CAMERA_UNPLUG_AFTER", 0);
	const char *replug = getenv("FAKE_CAMERA_REPLUG_MS");
	c->replug_ms = replug && *replug ? (int64_t)strtoll(replug, NULL, 10) : -1;
	const char *fill = getenv("FAKE_CAMERA_FILL");
	c->fill = !(fill && strcmp(fill, "none") == 0);
	fake.configured = true;
}

/* The state a freshly plugged device starts in. */
void fake_reset_device(void)
{
	fake.pixelformat = fake.config.format_count ? fake.config.formats[0] : V4L2_PIX_FMT_YUYV;
	fake.width = fake.config.size_count ? fake.config.widths[0] : 640;
	fake.height = fake.config.size_count ? fake.config.heights[0] : 480;
	uint32_t rates[MAX_RATES];
	fake.rate = fake_rates_of(fake.pixelformat, rates) ? rates[0] : 30;
	memset(&fake.queue, 0, sizeof(fake.queue));
	fake.queue.owner = fake.config.busy ? MAX_HANDLES : -1;
	fake.queue.memfd = -1;
}

void fake_camera_reset(void)
{
	fake_free_encoder();
	memset(&fake, 0, sizeof(fake));
	fake_configure();
	fake_reset_device();
}

uint64_t fake_camera_frames_dequeued(void)
{
	return fake.frames_dequeued;
}
