/*
 * mmap: the driver's own buffers are mapped, and each dequeued buffer is copied (or its
 * MJPEG decoded) into a slot begun on the writer: the one copy that brings pixels in,
 * needed because the driver fills these buffers again as soon as they are queued. Used
 * when the driver does not take the ring's slots (USERPTR), or their layouts differ, or
 * the frames are converted by libv4l2 or compressed.
 */
#include <errno.h>
#include <libv4l2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "camera.h"

static int queue_buffer(struct capture_source *source, uint32_t index)
{
	struct v4l2_buffer buffer = { .index = index,
		                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                      .memory = V4L2_MEMORY_MMAP };
	if (camera_ioctl(source->fd, VIDIOC_QBUF, &buffer) < 0)
		return -errno;
	return 0;
}

static int mmap_start(struct capture_source *source)
{
	struct v4l2_requestbuffers request = { .count = CAMERA_BUFFERS_ASKED,
		                               .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                               .memory = V4L2_MEMORY_MMAP };
	if (camera_ioctl(source->fd, VIDIOC_REQBUFS, &request) < 0)
		return -errno;
	if (request.count < 1) {
		fprintf(stderr, "vshm-capture: '%s' granted no buffers\n", source->path);
		return -ENOBUFS;
	}
	/* What the driver grants is taken; past what this source keeps, the rest stay
	 * with the driver, never queued. */
	source->buffer_count =
	    request.count < CAMERA_BUFFERS_MAX ? request.count : CAMERA_BUFFERS_MAX;
	for (uint32_t i = 0; i < source->buffer_count; i++) {
		struct v4l2_buffer buffer = { .index = i,
			                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
			                      .memory = V4L2_MEMORY_MMAP };
		if (camera_ioctl(source->fd, VIDIOC_QUERYBUF, &buffer) < 0)
			return -errno;
		void *start = v4l2_mmap(NULL, buffer.length, PROT_READ | PROT_WRITE, MAP_SHARED,
		                        source->fd, buffer.m.offset);
		if (start == MAP_FAILED)
			return -errno;
		source->buffers[i].start = start;
		source->buffers[i].length = buffer.length;
		int result = queue_buffer(source, i);
		if (result < 0)
			return result;
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (camera_ioctl(source->fd, VIDIOC_STREAMON, &type) < 0)
		return -errno;
	source->streaming = true;
	return 0;
}

static int mmap_refill(struct capture_source *source)
{
	(void)source; /* every buffer went back to the driver as soon as it was used */
	return 0;
}

/* The one copy: a raw driver buffer into the slot, plane by plane. */
static int copy_raw(struct capture_source *source, const uint8_t *data, struct vshm_frame *frame)
{
	int result = vshm_writer_begin(source->writer, source->ring_format, source->width,
	                               source->height, frame);
	if (result < 0) {
		fprintf(stderr, "vshm-capture: cannot begin a frame: %s\n", vshm_error());
		return result;
	}
	uint64_t offsets[VSHM_FORMAT_PLANES_MAX];
	uint32_t strides[VSHM_FORMAT_PLANES_MAX];
	uint32_t planes = camera_planes(source, offsets, strides);
	for (uint32_t p = 0; p < planes && p < frame->plane_count; p++) {
		uint64_t row_bytes;
		uint32_t rows;
		vshm_format_plane_extent(frame->format, p, frame->width, frame->height, &row_bytes,
		                         &rows);
		if (strides[p] == frame->stride[p]) {
			memcpy(frame->plane[p], data + offsets[p], (size_t)strides[p] * rows);
			continue;
		}
		for (uint32_t row = 0; row < rows; row++)
			memcpy(frame->plane[p] + (size_t)row * frame->stride[p],
			       data + offsets[p] + (size_t)row * strides[p], row_bytes);
	}
	frame->color_matrix = camera_raw_matrix(source->ring_format);
	return 1;
}

static int mmap_deliver(struct capture_source *source, const struct v4l2_buffer *buffer,
                        struct vshm_frame *frame)
{
	struct camera_buffer *mapped = &source->buffers[buffer->index];
	int begun = source->compressed
	                ? camera_mjpeg_decode(source, mapped->start, buffer->bytesused,
	                                      mapped->length, frame)
	                : copy_raw(source, mapped->start, frame);
	/* The buffer goes back to the driver at once: the slot holds what it had. A queue
	 * that fails because the device vanished is found by the next dequeue. */
	int queued = queue_buffer(source, buffer->index);
	if (queued < 0 && !camera_device_vanished(-queued)) {
		if (begun > 0)
			vshm_writer_cancel(source->writer);
		return queued;
	}
	return begun;
}

static int mmap_skip(struct capture_source *source, uint32_t index)
{
	return queue_buffer(source, index);
}

static void mmap_stop(struct capture_source *source)
{
	for (uint32_t i = 0; i < CAMERA_BUFFERS_MAX; i++) {
		if (source->buffers[i].start)
			v4l2_munmap(source->buffers[i].start, source->buffers[i].length);
		source->buffers[i].start = NULL;
	}
}

const struct camera_io camera_io_mmap = {
	.summary = "mmap + one copy",
	.memory = V4L2_MEMORY_MMAP,
	.start = mmap_start,
	.refill = mmap_refill,
	.deliver = mmap_deliver,
	.skip = mmap_skip,
	.stop = mmap_stop,
};
