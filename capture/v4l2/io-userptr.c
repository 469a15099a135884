/*
 * USERPTR: the ring's slots themselves are lent to the driver, so the camera writes
 * straight into shared memory and nothing is copied. Each lent slot is a frame begun on
 * the writer (the writer is created with as many frames in flight as the driver grants
 * buffers), so it stays odd, invisible to readers, while the driver owns it; a dequeued
 * buffer's slot is handed to the caller to publish, and a new slot is begun and queued
 * in its place before the next wait. Used when the driver accepts USERPTR and its layout
 * (bytesperline, plane offsets) is the ring's; otherwise mmap.
 *
 * Which fd: negotiation goes through v4l2_open(), so that libv4l2's emulated formats are
 * there to choose from. But libv4l2 refuses VIDIOC_REQBUFS with any memory but MMAP on
 * the fds it converts for ("add support for userptr's?" in libv4l2.c); only an fd given
 * to v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION) reaches the driver untouched. So for a
 * format the ring carries as it is (not emulated, not MJPEG), USERPTR is asked on the
 * device opened again that way, with the format and rate set again; if the driver
 * refuses, the device is opened through v4l2_open() again and mmap is used. (libv4l2's
 * software processing, such as flipping the picture of cameras it knows to be mounted
 * upside down, is then not applied.)
 */
#include <errno.h>
#include <libv4l2.h>
#include <stdio.h>
#include <string.h>

#include "camera.h"

/*
 * Asks the driver for count USERPTR buffers and takes what it grants (drivers raise the
 * count to what they need), up to most. Returns 0 with buffer_count set, -ERANGE if it
 * grants more than most (nothing left allocated), or -errno (EINVAL: it does not do it).
 */
static int request_buffers(struct capture_source *source, uint32_t count, uint32_t most)
{
	struct v4l2_requestbuffers request = { .count = count,
		                               .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                               .memory = V4L2_MEMORY_USERPTR };
	if (camera_ioctl(source->fd, VIDIOC_REQBUFS, &request) < 0)
		return -errno;
	if (request.count == 0 || request.count > most) {
		uint32_t granted = request.count;
		request.count = 0;
		camera_ioctl(source->fd, VIDIOC_REQBUFS, &request);
		return granted ? -ERANGE : -EINVAL;
	}
	source->buffer_count = request.count;
	return 0;
}

/* Frees USERPTR buffers that were only asked for to see whether the driver grants them. */
static void release_buffers(struct capture_source *source)
{
	struct v4l2_requestbuffers request = { .count = 0,
		                               .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                               .memory = V4L2_MEMORY_USERPTR };
	camera_ioctl(source->fd, VIDIOC_REQBUFS, &request);
	source->buffer_count = 0;
}

/*
 * Opens the device again without libv4l2's converter (see the top of this file), in
 * place of the converting fd, which is closed first: some drivers (uvcvideo) let only
 * one file handle set formats. The negotiated format and rate are set again and must
 * come back the same. Returns 0, or -errno with the device closed (source->fd -1).
 */
static int open_direct(struct capture_source *source)
{
	v4l2_close(source->fd);
	source->fd = -1;
	source->direct = false;
	struct v4l2_capability cap;
	int fd = camera_open_device(source->path, &cap, false, true);
	if (fd < 0)
		return fd;
	struct v4l2_format format = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	format.fmt.pix.pixelformat = source->pixelformat;
	format.fmt.pix.width = source->width;
	format.fmt.pix.height = source->height;
	format.fmt.pix.field = V4L2_FIELD_NONE;
	if (camera_ioctl(fd, VIDIOC_S_FMT, &format) < 0) {
		int error = errno;
		v4l2_close(fd);
		return -error;
	}
	const struct v4l2_pix_format *pix = &format.fmt.pix;
	if (pix->pixelformat != source->pixelformat || pix->width != source->width ||
	    pix->height != source->height || pix->sizeimage != source->sizeimage ||
	    (pix->bytesperline && pix->bytesperline != source->bytesperline)) {
		v4l2_close(fd);
		return -EINVAL; /* not what libv4l2 said: do not lend slots to it */
	}
	struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	if (source->interval.numerator && camera_ioctl(fd, VIDIOC_G_PARM, &parm) == 0 &&
	    (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) &&
	    (parm.parm.capture.timeperframe.numerator != source->interval.numerator ||
	     parm.parm.capture.timeperframe.denominator != source->interval.denominator)) {
		parm.parm.capture.timeperframe = source->interval;
		/* The rate is a wish: a failure is not fatal. */
		camera_ioctl(fd, VIDIOC_S_PARM, &parm);
	}
	source->fd = fd;
	source->direct = true;
	return 0;
}

/*
 * USERPTR buffers, count asked and at most most taken, on the device opened direct.
 * Returns 0 with buffer_count buffers allocated; -EINVAL (the layout is not the ring's or
 * the driver refuses) or -ERANGE (it wants more than most) with the device open through
 * libv4l2 again, for mmap; or another -errno (the device is gone, source->fd -1).
 */
static int request_direct(struct capture_source *source, uint32_t count, uint32_t most,
                          uint64_t slot_size)
{
	if (!camera_layout_is_the_rings(source, slot_size))
		return -EINVAL;
	int result = source->direct ? 0 : open_direct(source);
	if (result == 0 && (result = request_buffers(source, count, most)) == 0)
		return 0;
	if (source->fd >= 0)
		v4l2_close(source->fd);
	source->fd = -1;
	source->direct = false;
	if (camera_error_is_absence(-result))
		return result;
	camera_ask_for_the_same(source);
	int reopened = camera_negotiate(source, false);
	if (reopened < 0)
		return reopened;
	return result == -ERANGE ? -ERANGE : -EINVAL;
}

int camera_userptr_probe(struct capture_source *source)
{
	int result = request_direct(source, CAMERA_BUFFERS_ASKED, CAMERA_LEND_MAX, 0);
	if (result < 0)
		return result;
	/* Only probed: the slots are lent once the stream exists, as many as the driver
	 * granted now (the writer is made with that many in flight). */
	source->lend_count = source->buffer_count;
	release_buffers(source);
	return 0;
}

/* Begins a slot on the writer and lends it to the driver as buffer index. */
static int lend_slot(struct capture_source *source, uint32_t index)
{
	struct camera_buffer *buffer = &source->buffers[index];
	int result = vshm_writer_begin(source->writer, source->ring_format, source->width,
	                               source->height, &buffer->lent);
	if (result < 0) {
		fprintf(stderr, "vshm-capture: cannot lend a slot of the stream to '%s': %s\n",
		        source->path, vshm_error());
		return result;
	}
	buffer->is_lent = true;
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(source->writer, &stats);
	struct v4l2_buffer queued = { .index = index,
		                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                      .memory = V4L2_MEMORY_USERPTR,
		                      .m.userptr = (unsigned long)buffer->lent.plane[0],
		                      .length = (uint32_t)stats.slot_size };
	if (camera_ioctl(source->fd, VIDIOC_QBUF, &queued) < 0)
		return -errno;
	return 0;
}

/* How drivers refuse memory they cannot use: a bad address, or an argument they reject. */
static bool refuses_user_memory(int error)
{
	return error == EFAULT || error == EINVAL;
}

/*
 * The driver refused the lent slots when they were queued or when streaming started, as
 * drivers built on vb2-dma-contig do (they take only physically contiguous memory): the
 * same fd goes on with the driver's own buffers. Said once: mmap stays from then on.
 */
static int fall_back_to_mmap(struct capture_source *source, const char *where, int error)
{
	fprintf(stderr,
	        "vshm-capture: '%s' refused the ring's slots (%s: %s); copying its frames "
	        "instead (mmap)\n",
	        source->path, where, strerror(error));
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	camera_ioctl(source->fd, VIDIOC_STREAMOFF, &type);
	camera_io_userptr.stop(source);
	release_buffers(source);
	source->io = &camera_io_mmap;
	return camera_io_mmap.start(source);
}

static int userptr_start(struct capture_source *source)
{
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(source->writer, &stats);
	/* As many as the writer has frames in flight: what the driver granted first. */
	int result =
	    request_direct(source, source->lend_count, source->lend_count, stats.slot_size);
	if (result == -EINVAL || result == -ERANGE) {
		/* A device that came back changed: nothing to lend to it any more. */
		fprintf(stderr,
		        "vshm-capture: '%s' no longer takes the ring's slots; copying its "
		        "frames instead (mmap)\n",
		        source->path);
		source->io = &camera_io_mmap;
		return camera_io_mmap.start(source);
	}
	if (result < 0)
		return result;
	for (uint32_t i = 0; i < source->buffer_count; i++) {
		result = lend_slot(source, i);
		/* A slot begun but not queued: the driver refused it. */
		if (result < 0 && source->buffers[i].is_lent && refuses_user_memory(-result))
			return fall_back_to_mmap(source, "VIDIOC_QBUF", -result);
		if (result < 0)
			return result;
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (camera_ioctl(source->fd, VIDIOC_STREAMON, &type) < 0) {
		int error = errno;
		if (!refuses_user_memory(error))
			return -error;
		return fall_back_to_mmap(source, "VIDIOC_STREAMON", error);
	}
	source->streaming = true;
	return 0;
}

/* Lends a new slot in place of each one handed over since the last wait. */
static int userptr_refill(struct capture_source *source)
{
	for (uint32_t i = 0; i < source->buffer_count; i++) {
		if (source->buffers[i].is_lent)
			continue;
		int result = lend_slot(source, i);
		if (result < 0)
			return result;
	}
	return 0;
}

static int userptr_deliver(struct capture_source *source, const struct v4l2_buffer *buffer,
                           struct vshm_frame *frame)
{
	/* The driver is done with this slot: hand it over to be published. */
	struct camera_buffer *lent = &source->buffers[buffer->index];
	*frame = lent->lent;
	lent->is_lent = false;
	frame->color_matrix = camera_raw_matrix(source->ring_format);
	frame->color_range = VSHM_COLOR_RANGE_UNSPECIFIED;
	return 1;
}

/* The same slot, still begun, goes back to the driver. */
static int userptr_skip(struct capture_source *source, uint32_t index)
{
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(source->writer, &stats);
	struct v4l2_buffer buffer = { .index = index,
		                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                      .memory = V4L2_MEMORY_USERPTR,
		                      .m.userptr =
		                          (unsigned long)source->buffers[index].lent.plane[0],
		                      .length = (uint32_t)stats.slot_size };
	if (camera_ioctl(source->fd, VIDIOC_QBUF, &buffer) < 0)
		return -errno;
	return 0;
}

/* The slots the driver had are given up: they never held a published frame. */
static void userptr_stop(struct capture_source *source)
{
	bool any_lent = false;
	for (uint32_t i = 0; i < CAMERA_BUFFERS_MAX; i++) {
		any_lent = any_lent || source->buffers[i].is_lent;
		source->buffers[i].is_lent = false;
	}
	if (any_lent && source->writer)
		vshm_writer_cancel(source->writer);
}

const struct camera_io camera_io_userptr = {
	.summary = "USERPTR: no copy",
	.memory = V4L2_MEMORY_USERPTR,
	.start = userptr_start,
	.refill = userptr_refill,
	.deliver = userptr_deliver,
	.skip = userptr_skip,
	.stop = userptr_stop,
};
