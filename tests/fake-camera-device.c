/*
 * The fake camera's driver: formats, sizes and rates, inputs, priorities, and the
 * dispatch of every ioctl (the buffer queue is fake-camera-queue.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libv4l2.h>
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

/* The formats libv4l2 adds on the fds it converts for, when the driver lacks them. */
static const uint32_t emulated_formats[] = {
	V4L2_PIX_FMT_RGB24,
	V4L2_PIX_FMT_BGR24,
	V4L2_PIX_FMT_YUV420,
	V4L2_PIX_FMT_YVU420,
};

static bool native(uint32_t pixelformat)
{
	for (uint32_t i = 0; i < fake.config.format_count; i++)
		if (fake.config.formats[i] == pixelformat)
			return true;
	return false;
}

/*
 * The index-th format a handle sees: the driver's, then, through libv4l2's converter
 * (with FAKE_CAMERA_EMULATE), those libv4l2 emulates, flagged V4L2_FMT_FLAG_EMULATED.
 * Returns 0 past the end.
 */
static uint32_t format_at(const struct handle *handle, uint32_t index, uint32_t *flags)
{
	*flags = 0;
	if (index < fake.config.format_count) {
		uint32_t pixelformat = fake.config.formats[index];
		*flags = fake_is_jpeg(pixelformat) ? V4L2_FMT_FLAG_COMPRESSED : 0;
		return pixelformat;
	}
	index -= fake.config.format_count;
	if (!handle || !handle->converting || !fake.config.emulate)
		return 0;
	for (size_t i = 0; i < sizeof(emulated_formats) / sizeof(emulated_formats[0]); i++) {
		if (native(emulated_formats[i]))
			continue;
		if (index-- == 0) {
			*flags = V4L2_FMT_FLAG_EMULATED;
			return emulated_formats[i];
		}
	}
	return 0;
}

static bool offers(const struct handle *handle, uint32_t pixelformat)
{
	uint32_t flags, offered;
	for (uint32_t i = 0; (offered = format_at(handle, i, &flags)) != 0; i++)
		if (offered == pixelformat)
			return true;
	return false;
}

uint32_t fake_rates_of(uint32_t pixelformat, uint32_t rates[MAX_RATES])
{
	for (uint32_t i = 0; i < fake.config.format_count; i++) {
		if (fake.config.formats[i] == pixelformat && fake.config.format_rates[i]) {
			rates[0] = fake.config.format_rates[i];
			return 1;
		}
	}
	memcpy(rates, fake.config.rates, sizeof(fake.config.rates));
	return fake.config.rate_count;
}

static bool offers_size(uint32_t width, uint32_t height)
{
	const struct v4l2_frmsize_stepwise *steps = &fake.config.steps;
	if (fake.config.size_type)
		return width >= steps->min_width && width <= steps->max_width &&
		       height >= steps->min_height && height <= steps->max_height &&
		       (width - steps->min_width) % steps->step_width == 0 &&
		       (height - steps->min_height) % steps->step_height == 0 && width % 2 == 0 &&
		       height % 2 == 0;
	for (uint32_t i = 0; i < fake.config.size_count; i++)
		if (fake.config.widths[i] == width && fake.config.heights[i] == height)
			return true;
	return false;
}

/* The offered size nearest to *width x *height. */
static void nearest_size(uint32_t *width, uint32_t *height)
{
	const struct v4l2_frmsize_stepwise *steps = &fake.config.steps;
	if (fake.config.size_type) {
		/* Into the range, down onto the grid, even. */
		uint32_t w = *width < steps->min_width   ? steps->min_width
		             : *width > steps->max_width ? steps->max_width
		                                         : *width;
		uint32_t h = *height < steps->min_height   ? steps->min_height
		             : *height > steps->max_height ? steps->max_height
		                                           : *height;
		w = steps->min_width +
		    (w - steps->min_width) / steps->step_width * steps->step_width;
		h = steps->min_height +
		    (h - steps->min_height) / steps->step_height * steps->step_height;
		*width = w & ~1u;
		*height = h & ~1u;
		return;
	}
	uint32_t best = 0;
	uint64_t best_distance = UINT64_MAX;
	for (uint32_t i = 0; i < fake.config.size_count; i++) {
		int64_t dw = (int64_t)fake.config.widths[i] - *width;
		int64_t dh = (int64_t)fake.config.heights[i] - *height;
		uint64_t distance = (uint64_t)(dw < 0 ? -dw : dw) + (uint64_t)(dh < 0 ? -dh : dh);
		if (distance < best_distance) {
			best_distance = distance;
			best = i;
		}
	}
	*width = fake.config.widths[best];
	*height = fake.config.heights[best];
}

static const char *description_of(uint32_t pixelformat)
{
	switch (pixelformat) {
	case V4L2_PIX_FMT_YUYV:
		return "YUYV 4:2:2";
	case V4L2_PIX_FMT_UYVY:
		return "UYVY 4:2:2";
	case V4L2_PIX_FMT_NV12:
		return "Y/CbCr 4:2:0";
	case V4L2_PIX_FMT_YUV420:
		return "Planar YUV 4:2:0";
	case V4L2_PIX_FMT_YVU420:
		return "Planar YVU 4:2:0";
	case V4L2_PIX_FMT_RGB24:
		return "24-bit RGB 8-8-8";
	case V4L2_PIX_FMT_BGR24:
		return "24-bit BGR 8-8-8";
	case V4L2_PIX_FMT_GREY:
		return "8-bit Greyscale";
	case V4L2_PIX_FMT_MJPEG:
		return "Motion-JPEG";
	case V4L2_PIX_FMT_JPEG:
		return "JFIF JPEG";
	default:
		return "Unknown";
	}
}

/* As drivers do: an unknown format becomes the first offered, a size the nearest. */
static void adjust_format(const struct handle *handle, struct v4l2_pix_format *pix)
{
	if (!offers(handle, pix->pixelformat))
		pix->pixelformat = fake.config.formats[0];
	nearest_size(&pix->width, &pix->height);
	pix->field = V4L2_FIELD_NONE;
	pix->bytesperline = fake_camera_bytesperline(pix->pixelformat, pix->width);
	pix->sizeimage = fake_camera_sizeimage(pix->pixelformat, pix->width, pix->height);
	if (!fake_is_jpeg(pix->pixelformat))
		pix->sizeimage += fake.config.sizeimage_extra;
	pix->colorspace =
	    fake_is_jpeg(pix->pixelformat) ? V4L2_COLORSPACE_JPEG : V4L2_COLORSPACE_SRGB;
	pix->priv = 0;
	pix->flags = 0;
	pix->ycbcr_enc = V4L2_YCBCR_ENC_DEFAULT;
	pix->quantization = V4L2_QUANTIZATION_DEFAULT;
	pix->xfer_func = V4L2_XFER_FUNC_DEFAULT;
}

static void current_format(const struct handle *handle, struct v4l2_format *format)
{
	memset(&format->fmt, 0, sizeof(format->fmt));
	format->fmt.pix.pixelformat = fake.pixelformat;
	format->fmt.pix.width = fake.width;
	format->fmt.pix.height = fake.height;
	adjust_format(handle, &format->fmt.pix);
}

bool fake_capture_type(uint32_t type)
{
	return type == V4L2_BUF_TYPE_VIDEO_CAPTURE && (fake.config.caps & V4L2_CAP_VIDEO_CAPTURE);
}

/* Another handle owns the queue (or another process, with FAKE_CAMERA_BUSY). */
bool fake_owned_by_other(const struct handle *handle)
{
	return fake.queue.owner >= 0 && fake.queue.owner != fake_handle_index(handle);
}

static int enum_frame_sizes(const struct handle *handle, struct v4l2_frmsizeenum *sizes)
{
	if (!offers(handle, sizes->pixel_format) || sizes->index >= fake.config.size_count)
		return fake_fail(EINVAL);
	memset(sizes->reserved, 0, sizeof(sizes->reserved));
	if (fake.config.size_type) {
		sizes->type = fake.config.size_type;
		sizes->stepwise = fake.config.steps;
		return 0;
	}
	sizes->type = V4L2_FRMSIZE_TYPE_DISCRETE;
	sizes->discrete.width = fake.config.widths[sizes->index];
	sizes->discrete.height = fake.config.heights[sizes->index];
	return 0;
}

static int enum_frame_intervals(const struct handle *handle, struct v4l2_frmivalenum *intervals)
{
	uint32_t rates[MAX_RATES];
	uint32_t count = fake_rates_of(intervals->pixel_format, rates);
	if (!offers(handle, intervals->pixel_format) ||
	    !offers_size(intervals->width, intervals->height) || intervals->index >= count)
		return fake_fail(EINVAL);
	intervals->type = V4L2_FRMIVAL_TYPE_DISCRETE;
	intervals->discrete.numerator = 1;
	intervals->discrete.denominator = rates[intervals->index];
	memset(intervals->reserved, 0, sizeof(intervals->reserved));
	return 0;
}

/* The rate of the current format nearest to want (frames a second). */
static uint32_t nearest_rate(double want)
{
	uint32_t rates[MAX_RATES];
	uint32_t count = fake_rates_of(fake.pixelformat, rates);
	uint32_t best = rates[0];
	for (uint32_t i = 0; i < count; i++) {
		double d = rates[i] - want, b = best - want;
		if ((d < 0 ? -d : d) < (b < 0 ? -b : b))
			best = rates[i];
	}
	return best;
}

static void describe_parm(struct v4l2_streamparm *parm)
{
	uint32_t type = parm->type;
	memset(parm, 0, sizeof(*parm));
	parm->type = type;
	parm->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
	parm->parm.capture.timeperframe.numerator = 1;
	parm->parm.capture.timeperframe.denominator = fake.rate;
	parm->parm.capture.readbuffers = 0;
}

static int set_parm(struct handle *handle, struct v4l2_streamparm *parm)
{
	if (!fake_capture_type(parm->type))
		return fake_fail(EINVAL);
	if (fake_owned_by_other(handle) || fake.queue.streaming)
		return fake_fail(EBUSY);
	struct v4l2_fract asked = parm->parm.capture.timeperframe;
	if (asked.numerator && asked.denominator) {
		/* The offered rate nearest to the asked one. */
		fake.rate = nearest_rate((double)asked.denominator / asked.numerator);
	}
	describe_parm(parm);
	return 0;
}

/* The highest priority of the device's open handles (v4l2_prio_max() in the kernel). */
static uint32_t highest_priority(void)
{
	uint32_t highest = V4L2_PRIORITY_UNSET;
	for (int i = 0; i < MAX_HANDLES; i++) {
		const struct handle *other = &fake.handles[i];
		if (other->used && other->generation == fake.generation &&
		    other->priority > highest)
			highest = other->priority;
	}
	return highest;
}

/*
 * The ioctls that change the device's state are refused (EBUSY) to a handle whose
 * priority is below another's, as the kernel's ioctls marked INFO_FL_PRIO are.
 */
static bool outranked(unsigned long request, const struct handle *handle)
{
	switch (request) {
	case VIDIOC_S_FMT:
	case VIDIOC_S_PARM:
	case VIDIOC_S_INPUT:
	case VIDIOC_S_PRIORITY:
	case VIDIOC_REQBUFS:
	case VIDIOC_STREAMON:
	case VIDIOC_STREAMOFF:
		return handle->priority < highest_priority();
	default:
		return false;
	}
}

static int set_priority(struct handle *handle, const uint32_t *priority)
{
	if (*priority > V4L2_PRIORITY_RECORD)
		return fake_fail(EINVAL);
	handle->priority = *priority == V4L2_PRIORITY_UNSET ? V4L2_PRIORITY_DEFAULT : *priority;
	return 0;
}

/* One input: the camera. */
static int enum_input(struct v4l2_input *input)
{
	if (input->index != 0)
		return fake_fail(EINVAL);
	memset(input, 0, sizeof(*input));
	snprintf((char *)input->name, sizeof(input->name), "Camera 1");
	input->type = V4L2_INPUT_TYPE_CAMERA;
	return 0;
}

/* The ioctls this driver has; any other is ENOTTY, as the kernel answers. */
static bool known(unsigned long request)
{
	switch (request) {
	case VIDIOC_QUERYCAP:
	case VIDIOC_ENUM_FMT:
	case VIDIOC_ENUM_FRAMESIZES:
	case VIDIOC_ENUM_FRAMEINTERVALS:
	case VIDIOC_G_FMT:
	case VIDIOC_TRY_FMT:
	case VIDIOC_S_FMT:
	case VIDIOC_G_PARM:
	case VIDIOC_S_PARM:
	case VIDIOC_G_PRIORITY:
	case VIDIOC_S_PRIORITY:
	case VIDIOC_ENUMINPUT:
	case VIDIOC_G_INPUT:
	case VIDIOC_S_INPUT:
	case VIDIOC_LOG_STATUS:
	case VIDIOC_REQBUFS:
	case VIDIOC_QUERYBUF:
	case VIDIOC_QBUF:
	case VIDIOC_DQBUF:
	case VIDIOC_STREAMON:
	case VIDIOC_STREAMOFF:
		return true;
	default:
		return false;
	}
}

int fake_device_ioctl(struct handle *handle, unsigned long request, void *argument)
{
	if (fake_gone(handle))
		return fake_fail(ENODEV);
	if (!known(request))
		return fake_fail(ENOTTY);
	if (!argument && request != VIDIOC_LOG_STATUS)
		return fake_fail(EFAULT);
	if (outranked(request, handle))
		return fake_fail(EBUSY);
	switch (request) {
	case VIDIOC_LOG_STATUS:
		return 0; /* nothing to say in the kernel's log */
	case VIDIOC_G_PRIORITY:
		*(uint32_t *)argument = highest_priority();
		return 0;
	case VIDIOC_S_PRIORITY:
		return set_priority(handle, argument);
	case VIDIOC_ENUMINPUT:
		return enum_input(argument);
	case VIDIOC_G_INPUT:
		*(int *)argument = 0;
		return 0;
	case VIDIOC_S_INPUT:
		return *(const int *)argument == 0 ? 0 : fake_fail(EINVAL);
	case VIDIOC_QUERYCAP: {
		struct v4l2_capability *cap = argument;
		memset(cap, 0, sizeof(*cap));
		snprintf((char *)cap->driver, sizeof(cap->driver), "fake-camera");
		snprintf((char *)cap->card, sizeof(cap->card), "vshm Fake Camera");
		snprintf((char *)cap->bus_info, sizeof(cap->bus_info), "platform:fake-camera");
		cap->version = 0x060100;
		/* The kernel's core adds V4L2_CAP_EXT_PIX_FORMAT to every driver's. */
		cap->device_caps = fake.config.caps | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT;
		cap->capabilities = cap->device_caps | V4L2_CAP_DEVICE_CAPS;
		return 0;
	}
	case VIDIOC_ENUM_FMT: {
		struct v4l2_fmtdesc *desc = argument;
		uint32_t flags = 0;
		uint32_t pixelformat = format_at(handle, desc->index, &flags);
		if (!fake_capture_type(desc->type) || !pixelformat)
			return fake_fail(EINVAL);
		uint32_t index = desc->index, type = desc->type;
		memset(desc, 0, sizeof(*desc));
		desc->index = index;
		desc->type = type;
		desc->pixelformat = pixelformat;
		desc->flags = flags;
		snprintf((char *)desc->description, sizeof(desc->description), "%s",
		         description_of(desc->pixelformat));
		return 0;
	}
	case VIDIOC_ENUM_FRAMESIZES:
		return enum_frame_sizes(handle, argument);
	case VIDIOC_ENUM_FRAMEINTERVALS:
		return enum_frame_intervals(handle, argument);
	case VIDIOC_G_FMT: {
		struct v4l2_format *format = argument;
		if (!fake_capture_type(format->type))
			return fake_fail(EINVAL);
		current_format(handle, format);
		return 0;
	}
	case VIDIOC_TRY_FMT:
	case VIDIOC_S_FMT: {
		struct v4l2_format *format = argument;
		if (!fake_capture_type(format->type))
			return fake_fail(EINVAL);
		if (request == VIDIOC_S_FMT &&
		    (fake_owned_by_other(handle) || fake.queue.count || fake.queue.streaming))
			return fake_fail(EBUSY);
		adjust_format(handle, &format->fmt.pix);
		if (request == VIDIOC_S_FMT) {
			fake.pixelformat = format->fmt.pix.pixelformat;
			fake.width = format->fmt.pix.width;
			fake.height = format->fmt.pix.height;
			fake.rate = nearest_rate(fake.rate); /* the format may not have the rate */
		}
		return 0;
	}
	case VIDIOC_G_PARM: {
		struct v4l2_streamparm *parm = argument;
		if (!fake_capture_type(parm->type))
			return fake_fail(EINVAL);
		describe_parm(parm);
		return 0;
	}
	case VIDIOC_S_PARM:
		return set_parm(handle, argument);
	case VIDIOC_REQBUFS:
		return fake_request_buffers(handle, argument);
	case VIDIOC_QUERYBUF: {
		struct v4l2_buffer *buffer = argument;
		if (!fake_capture_type(buffer->type) || buffer->index >= fake.queue.count)
			return fake_fail(EINVAL);
		fake_describe_buffer(buffer->index, buffer);
		return 0;
	}
	case VIDIOC_QBUF:
		return fake_queue_buffer(handle, argument);
	case VIDIOC_DQBUF:
		return fake_dequeue_buffer(handle, argument);
	case VIDIOC_STREAMON:
		return fake_stream_on(handle, argument);
	case VIDIOC_STREAMOFF: {
		const int *type = argument;
		if (!fake_capture_type((uint32_t)*type))
			return fake_fail(EINVAL);
		if (fake_owned_by_other(handle))
			return fake_fail(EBUSY);
		fake_stop_streaming(handle);
		return 0;
	}
	default:
		return fake_fail(ENOTTY);
	}
}
