/*
 * The fake camera's buffer queue: REQBUFS, QUERYBUF, QBUF, DQBUF, STREAMON and STREAMOFF,
 * and the frames that fill its buffers.
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
		fake_real_munmap(q->pool, q->pool_size);
	if (q->memfd >= 0)
		fake_real_close(q->memfd);
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

/* sizeimage of the current format as the driver says it: raw frames maybe padded. */
uint32_t fake_driver_sizeimage(void)
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
	uint32_t size = fake_driver_sizeimage();
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

void fake_describe_buffer(uint32_t index, struct v4l2_buffer *out)
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

int fake_request_buffers(struct handle *handle, struct v4l2_requestbuffers *request)
{
	struct queue *q = &fake.queue;
	if (!fake_capture_type(request->type))
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
	request->flags = 0; /* no V4L2_MEMORY_FLAG_NON_COHERENT: the kernel clears it */
	if (request->count == 0) {
		q->owner = -1;
		return 0;
	}
	uint32_t count = request->count;
	if (count < fake.config.min_buffers)
		count = fake.config.min_buffers; /* drivers raise the count to what they need */
	if (count > fake.config.max_buffers)
		count = fake.config.max_buffers; /* or lower it to what they can give */
	uint32_t size = fake_driver_sizeimage();
	uint32_t length = (size + PAGE - 1) / PAGE * PAGE;
	if (request->memory == V4L2_MEMORY_MMAP) {
		q->pool_size = (size_t)length * count;
		q->memfd = memfd_create("fake-camera", MFD_CLOEXEC);
		if (q->memfd < 0 || ftruncate(q->memfd, (off_t)q->pool_size) < 0)
			goto error;
		q->pool = fake_real_mmap(NULL, q->pool_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		                         q->memfd, 0);
		if (q->pool == MAP_FAILED) {
			q->pool = NULL;
			goto error;
		}
		for (uint32_t i = 0; i < count; i++) {
			q->buffers[i].memory = q->pool + (size_t)i * length;
			q->buffers[i].length = length;
			q->buffers[i].offset = i * length;
		}
	} else {
		/* QUERYBUF says how much user memory a buffer needs, until one is queued. */
		for (uint32_t i = 0; i < count; i++)
			q->buffers[i].length = size;
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
	if (!fake_capture_type(buffer->type))
		return fake_fail(EINVAL);
	if (fake_owned_by_other(handle))
		return fake_fail(EBUSY);
	if (q->count == 0 || buffer->index >= q->count || buffer->memory != q->memory)
		return fake_fail(EINVAL);
	return 0;
}

int fake_queue_buffer(struct handle *handle, struct v4l2_buffer *request)
{
	struct queue *q = &fake.queue;
	if (check_buffer(handle, request) < 0)
		return -1;
	struct buffer *buffer = &q->buffers[request->index];
	if (buffer->state != BUFFER_DEQUEUED)
		return fake_fail(EINVAL);
	if (q->memory == V4L2_MEMORY_USERPTR) {
		uint32_t size = fake_driver_sizeimage();
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
	fake_describe_buffer(request->index, request);
	if (q->streaming)
		schedule_wakeup(handle);
	return 0;
}

int fake_dequeue_buffer(struct handle *handle, struct v4l2_buffer *request)
{
	struct queue *q = &fake.queue;
	if (!fake_capture_type(request->type))
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
	fake_describe_buffer(index, request);
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

int fake_stream_on(struct handle *handle, const int *type)
{
	struct queue *q = &fake.queue;
	if (!fake_capture_type((uint32_t)*type))
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
