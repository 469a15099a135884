/*
 * The fake camera's driver: formats, sizes and rates, the buffer queue, and its ioctls.
 *
 * Frames are produced lazily: frame k of a stream completes at streamon + (k + 1) *
 * interval, and whenever DQBUF or QBUF runs, every frame completed since the last look is
 * put into the oldest queued buffer (or lost when none is queued). Queued buffers are
 * "being written": the fake fills each one with garbage, whole, when it is queued and
 * again at every frame period, so a program that reads or publishes any buffer it has
 * queued sees garbage, as it would with a real DMA engine.
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

bool fake_any_mapped(void)
{
	for (uint32_t i = 0; i < fake.queue.count; i++)
		if (fake.queue.buffers[i].mappings)
			return true;
	return false;
}

void fake_free_buffers(void)
{
	struct queue *q = &fake.queue;
	if (q->pool)
		munmap(q->pool, q->pool_size);
	if (q->memfd >= 0)
		close(q->memfd);
	q->pool = NULL;
	q->pool_size = 0;
	q->memfd = -1;
	q->count = 0;
	q->queued = 0;
	q->done = 0;
	q->streaming = false;
	memset(q->buffers, 0, sizeof(q->buffers));
}

void fake_stop_streaming(struct handle *handle)
{
	struct queue *q = &fake.queue;
	q->streaming = false;
	for (uint32_t i = 0; i < q->count; i++)
		q->buffers[i].state = BUFFER_DEQUEUED;
	q->queued = 0;
	q->done = 0;
	struct itimerspec off = { 0 };
	timerfd_settime(handle->fd, 0, &off, NULL);
}

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
		return "Y/UV 4:2:0";
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

static bool capture_type(uint32_t type)
{
	return type == V4L2_BUF_TYPE_VIDEO_CAPTURE && (fake.config.caps & V4L2_CAP_VIDEO_CAPTURE);
}

/* Another handle owns the queue (or another process, with FAKE_CAMERA_BUSY). */
bool fake_owned_by_other(const struct handle *handle)
{
	return fake.queue.owner >= 0 && fake.queue.owner != fake_handle_index(handle);
}

/* sizeimage of the current format as the driver says it: raw frames maybe padded. */
static uint32_t driver_sizeimage(void)
{
	uint32_t size = fake_camera_sizeimage(fake.pixelformat, fake.width, fake.height);
	return fake_is_jpeg(fake.pixelformat) ? size : size + fake.config.sizeimage_extra;
}

static uint64_t interval_ns(void)
{
	return 1000000000u / fake.rate;
}

/* When frame k of the stream is complete: one interval after the one before, but for a stall. */
static uint64_t frame_due_ns(uint64_t k)
{
	uint64_t due = fake.queue.start_ns + (k + 1) * interval_ns();
	if (fake.config.stall_ns && k >= fake.config.stall_after)
		due += fake.config.stall_ns;
	return due;
}

/* How many frames are complete at now (frame_due_ns() no later than now). */
static uint64_t frames_complete(uint64_t now)
{
	uint64_t elapsed = now - fake.queue.start_ns;
	uint64_t complete = elapsed / interval_ns();
	const struct config *c = &fake.config;
	if (!c->stall_ns || complete <= c->stall_after)
		return complete;
	/* Frames from stall_after on come stall_ns later. */
	uint64_t late = elapsed >= c->stall_ns ? (elapsed - c->stall_ns) / interval_ns() : 0;
	return late > c->stall_after ? late : c->stall_after;
}

static void produce(struct buffer *buffer, uint64_t k)
{
	struct config *c = &fake.config;
	buffer->sequence = (uint32_t)k;
	/* The end-of-frame time, rounded to microseconds as a timeval carries it. */
	uint64_t timestamp_ns = frame_due_ns(k);
	if (c->timestamps == TIMESTAMPS_REALTIME) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		timestamp_ns +=
		    (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec - fake_now_ns();
	} else if (c->timestamps == TIMESTAMPS_BACKWARDS && k % 4 == 3) {
		timestamp_ns -= 50000000u;
	}
	buffer->timestamp_ns = timestamp_ns / 1000u * 1000u;
	buffer->flags = 0;
	uint32_t size = driver_sizeimage();
	if (c->error_every && (k + 1) % c->error_every == 0) {
		/* A transfer error: half a frame, then garbage. */
		memset(buffer->memory, 0xEE, buffer->length);
		buffer->flags = V4L2_BUF_FLAG_ERROR;
		buffer->bytesused = size / 2;
		return;
	}
	if (fake_is_jpeg(fake.pixelformat)) {
		size_t written =
		    fake_camera_jpeg(fake.width, fake.height, k, buffer->memory, buffer->length);
		if (!written)
			buffer->flags = V4L2_BUF_FLAG_ERROR;
		/* A frame cut short, as USB cameras short of bandwidth send them: the rest
		 * of the buffer is what it held before, and nothing says so. */
		if (c->mjpeg_cut_every && (k + 1) % c->mjpeg_cut_every == 0)
			written /= 2;
		buffer->bytesused = (uint32_t)written;
		if (written && c->mjpeg_whole_buffer) {
			memset(buffer->memory + written, 0, buffer->length - written);
			buffer->bytesused = buffer->length;
		}
		return;
	}
	if (c->fill)
		fake_camera_fill(fake.pixelformat, fake.width, fake.height, k, buffer->memory);
	else
		for (int i = 0; i < 8; i++)
			buffer->memory[i] = (uint8_t)(k >> (8 * i));
	buffer->bytesused = size;
}

/*
 * Garbage over a whole buffer the driver owns: a program that reads or publishes a
 * queued buffer (one it gave to the driver and did not dequeue) sees wrong pixels.
 */
static void poison(struct buffer *buffer)
{
	if (fake.config.fill && buffer->memory)
		memset(buffer->memory, 0x5A, buffer->length);
}

/* Puts every frame completed by now into queued buffers, oldest first. */
static void run_camera(void)
{
	struct queue *q = &fake.queue;
	if (!q->streaming)
		return;
	uint64_t completed = frames_complete(fake_now_ns());
	uint64_t ticks_seen = q->ticks_seen;
	while (q->next_frame < completed) {
		if (q->queued == 0) {
			/* No buffer to put them in: these frames are lost. */
			q->next_frame = completed;
			break;
		}
		uint64_t k = q->next_frame++;
		if (fake.config.drop_every && (k + 1) % fake.config.drop_every == 0)
			continue;
		uint32_t index = q->order[0];
		memmove(q->order, q->order + 1, --q->queued * sizeof(q->order[0]));
		struct buffer *buffer = &q->buffers[index];
		produce(buffer, k);
		buffer->state = BUFFER_DONE;
		q->done_order[q->done++] = index;
	}
	if (q->next_frame != ticks_seen) {
		/* A frame period went by: the DMA engine is writing queued buffers. */
		q->ticks_seen = q->next_frame;
		for (uint32_t i = 0; i < q->queued; i++)
			poison(&q->buffers[q->order[i]]);
	}
}

/* Makes the handle's fd readable when DQBUF has something to say. */
static void schedule_wakeup(struct handle *handle)
{
	struct queue *q = &fake.queue;
	struct itimerspec when = { 0 };
	int flags = 0;
	if (fake_gone(handle) || q->done > 0) {
		when.it_value.tv_nsec = 1;
	} else if (q->streaming) {
		uint64_t due = frame_due_ns(q->next_frame);
		when.it_value.tv_sec = (time_t)(due / 1000000000u);
		when.it_value.tv_nsec = (long)(due % 1000000000u);
		flags = TFD_TIMER_ABSTIME;
	}
	timerfd_settime(handle->fd, flags, &when, NULL);
}

static void describe_buffer(uint32_t index, struct v4l2_buffer *out)
{
	struct queue *q = &fake.queue;
	struct buffer *buffer = &q->buffers[index];
	uint32_t type = out->type;
	memset(out, 0, sizeof(*out));
	out->index = index;
	out->type = type;
	out->memory = q->memory;
	out->field = V4L2_FIELD_NONE;
	out->length = buffer->length;
	out->flags = fake.config.timestamps == TIMESTAMPS_REALTIME
	                 ? V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN
	                 : V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_EOF;
	if (buffer->mappings)
		out->flags |= V4L2_BUF_FLAG_MAPPED;
	if (buffer->state == BUFFER_QUEUED)
		out->flags |= V4L2_BUF_FLAG_QUEUED;
	if (buffer->state == BUFFER_DONE)
		out->flags |= V4L2_BUF_FLAG_DONE;
	if (q->memory == V4L2_MEMORY_MMAP)
		out->m.offset = buffer->offset;
	else
		out->m.userptr = (unsigned long)buffer->memory;
}

static int request_buffers(struct handle *handle, struct v4l2_requestbuffers *request)
{
	struct queue *q = &fake.queue;
	if (!capture_type(request->type))
		return fake_fail(EINVAL);
	/* libv4l2.c, VIDIOC_REQBUFS with a converter: "IMPROVEME (maybe?) add support
	 * for userptr's?" - anything but MMAP is EINVAL before the driver sees it. */
	if (handle->converting && request->memory != V4L2_MEMORY_MMAP)
		return fake_fail(EINVAL);
	if (request->memory != V4L2_MEMORY_MMAP &&
	    !(request->memory == V4L2_MEMORY_USERPTR && fake.config.userptr))
		return fake_fail(EINVAL);
	if (fake_owned_by_other(handle) || q->streaming)
		return fake_fail(EBUSY);
	/* Older kernels refuse to free buffers the program still has mapped. */
	if (q->count && fake_any_mapped())
		return fake_fail(EBUSY);
	fake_free_buffers();
	memset(request->reserved, 0, sizeof(request->reserved));
	request->capabilities =
	    V4L2_BUF_CAP_SUPPORTS_MMAP | (fake.config.userptr ? V4L2_BUF_CAP_SUPPORTS_USERPTR : 0);
	if (request->count == 0) {
		q->owner = -1;
		return 0;
	}
	uint32_t count = request->count;
	if (count < fake.config.min_buffers)
		count = fake.config.min_buffers; /* drivers raise the count to what they need */
	if (count > fake.config.max_buffers)
		count = fake.config.max_buffers; /* or lower it to what they can give */
	uint32_t size = driver_sizeimage();
	uint32_t length = (size + PAGE - 1) / PAGE * PAGE;
	if (request->memory == V4L2_MEMORY_MMAP) {
		q->pool_size = (size_t)length * count;
		q->memfd = memfd_create("fake-camera", MFD_CLOEXEC);
		if (q->memfd < 0 || ftruncate(q->memfd, (off_t)q->pool_size) < 0)
			goto error;
		q->pool = mmap(NULL, q->pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, q->memfd, 0);
		if (q->pool == MAP_FAILED) {
			q->pool = NULL;
			goto error;
		}
		for (uint32_t i = 0; i < count; i++) {
			q->buffers[i].memory = q->pool + (size_t)i * length;
			q->buffers[i].length = length;
			q->buffers[i].offset = i * length;
		}
	}
	q->memory = request->memory;
	q->count = count;
	q->allocation = ++fake.allocations;
	q->owner = fake_handle_index(handle);
	request->count = count;
	return 0;
error:
	fake_free_buffers();
	return fake_fail(ENOMEM);
}

static int check_buffer(struct handle *handle, const struct v4l2_buffer *buffer)
{
	struct queue *q = &fake.queue;
	if (!capture_type(buffer->type))
		return fake_fail(EINVAL);
	if (fake_owned_by_other(handle))
		return fake_fail(EBUSY);
	if (q->count == 0 || buffer->index >= q->count || buffer->memory != q->memory)
		return fake_fail(EINVAL);
	return 0;
}

static int queue_buffer(struct handle *handle, struct v4l2_buffer *request)
{
	struct queue *q = &fake.queue;
	if (check_buffer(handle, request) < 0)
		return -1;
	struct buffer *buffer = &q->buffers[request->index];
	if (buffer->state != BUFFER_DEQUEUED)
		return fake_fail(EINVAL);
	if (q->memory == V4L2_MEMORY_USERPTR) {
		uint32_t size = driver_sizeimage();
		if (request->m.userptr == 0 || request->length < size)
			return fake_fail(EINVAL);
		/* The kernel pins the pages: they must be mapped. */
		uintptr_t start = request->m.userptr & ~(uintptr_t)(PAGE - 1);
		size_t span = request->m.userptr + request->length - start;
		unsigned char *vector = malloc((span + PAGE - 1) / PAGE);
		if (!vector)
			return fake_fail(ENOMEM);
		int mapped = mincore((void *)start, span, vector); /* ENOMEM for any hole */
		free(vector);
		if (mapped < 0)
			return fake_fail(EFAULT);
		/* vb2-dma-contig drivers take only memory that is contiguous in physical
		 * memory, which no process's pages are: they refuse it here. */
		if (fake.config.userptr_refused_at == (int)VIDIOC_QBUF)
			return fake_fail(EFAULT);
		buffer->memory = (uint8_t *)request->m.userptr;
		buffer->length = request->length;
	}
	run_camera(); /* frames that completed before this buffer was queued are not its */
	poison(buffer);
	buffer->state = BUFFER_QUEUED;
	q->order[q->queued++] = request->index;
	describe_buffer(request->index, request);
	if (q->streaming)
		schedule_wakeup(handle);
	return 0;
}

static int dequeue_buffer(struct handle *handle, struct v4l2_buffer *request)
{
	struct queue *q = &fake.queue;
	if (!capture_type(request->type))
		return fake_fail(EINVAL);
	if (fake_owned_by_other(handle))
		return fake_fail(EBUSY);
	if (q->count == 0 || request->memory != q->memory || !q->streaming)
		return fake_fail(EINVAL);
	fake.dqbuf_calls++;
	struct config *c = &fake.config;
	if (c->eintr_every && fake.dqbuf_calls % c->eintr_every == 0)
		return fake_fail(EINTR);
	run_camera();
	if (c->eagain_every && fake.dqbuf_calls % c->eagain_every == 0) {
		schedule_wakeup(handle);
		return fake_fail(EAGAIN);
	}
	while (q->done == 0) {
		if (handle->nonblocking) {
			schedule_wakeup(handle);
			return fake_fail(EAGAIN);
		}
		uint64_t due = frame_due_ns(q->next_frame);
		struct timespec until = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
		int result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		if (result == EINTR)
			return fake_fail(EINTR);
		run_camera();
	}
	uint32_t index = q->done_order[0];
	memmove(q->done_order, q->done_order + 1, --q->done * sizeof(q->done_order[0]));
	struct buffer *buffer = &q->buffers[index];
	buffer->state = BUFFER_DEQUEUED;
	describe_buffer(index, request);
	request->flags |= buffer->flags;
	request->bytesused = buffer->bytesused;
	request->sequence = buffer->sequence;
	request->timestamp.tv_sec = (time_t)(buffer->timestamp_ns / 1000000000u);
	request->timestamp.tv_usec = (suseconds_t)(buffer->timestamp_ns % 1000000000u / 1000u);
	fake.frames_dequeued++;
	fake_update_plug_state();
	schedule_wakeup(handle);
	return 0;
}

static int stream_on(struct handle *handle, const int *type)
{
	struct queue *q = &fake.queue;
	if (!capture_type((uint32_t)*type))
		return fake_fail(EINVAL);
	if (fake_owned_by_other(handle))
		return fake_fail(EBUSY);
	if (q->count == 0)
		return fake_fail(EINVAL);
	if (q->streaming)
		return 0;
	if (fake.config.streamon_error)
		return fake_fail(fake.config.streamon_error);
	if (q->memory == V4L2_MEMORY_USERPTR &&
	    fake.config.userptr_refused_at == (int)VIDIOC_STREAMON)
		return fake_fail(
		    EINVAL); /* as drivers that check the memory only when they start */
	q->streaming = true;
	q->start_ns = fake_now_ns();
	q->next_frame = 0;
	schedule_wakeup(handle);
	return 0;
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
	if (!capture_type(parm->type))
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

int fake_device_ioctl(struct handle *handle, unsigned long request, void *argument)
{
	if (fake_gone(handle))
		return fake_fail(ENODEV);
	if (!argument)
		return fake_fail(EFAULT);
	switch (request) {
	case VIDIOC_QUERYCAP: {
		struct v4l2_capability *cap = argument;
		memset(cap, 0, sizeof(*cap));
		snprintf((char *)cap->driver, sizeof(cap->driver), "fake-camera");
		snprintf((char *)cap->card, sizeof(cap->card), "vshm Fake Camera");
		snprintf((char *)cap->bus_info, sizeof(cap->bus_info), "platform:fake-camera");
		cap->version = 0x060100;
		cap->device_caps = fake.config.caps | V4L2_CAP_STREAMING;
		cap->capabilities = cap->device_caps | V4L2_CAP_DEVICE_CAPS;
		return 0;
	}
	case VIDIOC_ENUM_FMT: {
		struct v4l2_fmtdesc *desc = argument;
		uint32_t flags = 0;
		uint32_t pixelformat = format_at(handle, desc->index, &flags);
		if (!capture_type(desc->type) || !pixelformat)
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
		if (!capture_type(format->type))
			return fake_fail(EINVAL);
		current_format(handle, format);
		return 0;
	}
	case VIDIOC_TRY_FMT:
	case VIDIOC_S_FMT: {
		struct v4l2_format *format = argument;
		if (!capture_type(format->type))
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
		if (!capture_type(parm->type))
			return fake_fail(EINVAL);
		describe_parm(parm);
		return 0;
	}
	case VIDIOC_S_PARM:
		return set_parm(handle, argument);
	case VIDIOC_REQBUFS:
		return request_buffers(handle, argument);
	case VIDIOC_QUERYBUF: {
		struct v4l2_buffer *buffer = argument;
		if (!capture_type(buffer->type) || buffer->index >= fake.queue.count)
			return fake_fail(EINVAL);
		describe_buffer(buffer->index, buffer);
		return 0;
	}
	case VIDIOC_QBUF:
		return queue_buffer(handle, argument);
	case VIDIOC_DQBUF:
		return dequeue_buffer(handle, argument);
	case VIDIOC_STREAMON:
		return stream_on(handle, argument);
	case VIDIOC_STREAMOFF: {
		const int *type = argument;
		if (!capture_type((uint32_t)*type))
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
