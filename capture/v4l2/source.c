/*
 * The camera source: a V4L2 device through libv4l2 (see camera.h for its parts).
 *
 * open() negotiates (negotiate.c) and decides how frames reach the ring: USERPTR when
 * the driver takes the ring's slots (io-userptr.c), else mmap (io-mmap.c). Streaming
 * starts at the first next(), once the stream exists, since USERPTR lends its slots.
 *
 * Faults: EAGAIN and EINTR from poll and DQBUF are retried; buffers flagged
 * V4L2_BUF_FLAG_ERROR (or short) are never published, only counted; gaps in the driver's
 * sequence numbers are counted as dropped frames. When the device vanishes (ENODEV), the
 * stream keeps its last frame for readers, and the device is reopened every second until
 * it is back (or, with --no-reconnect, capture ends with an error).
 */
#include <errno.h>
#include <libv4l2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "camera.h"
#include "shutdown.h"

#define POLL_TIMEOUT_MS  1000
#define REOPEN_PERIOD_NS 1000000000u
#define QUIET_WARNING_S  5 /* say so when the camera sends nothing for this long */

/* Stops streaming, gives up the buffers, closes. The stream's latest frame stays. */
static void close_device(struct capture_source *source)
{
	if (source->fd >= 0 && source->streaming) {
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		camera_ioctl(source->fd, VIDIOC_STREAMOFF, &type);
	}
	/* After STREAMOFF the driver writes into none of the buffers any more. */
	if (source->io)
		source->io->stop(source);
	if (source->fd >= 0) {
		if (source->buffer_count) {
			struct v4l2_requestbuffers request = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				                               .memory = source->io->memory };
			camera_ioctl(source->fd, VIDIOC_REQBUFS, &request);
		}
		v4l2_close(source->fd);
		source->fd = -1;
	}
	source->direct = false;
	source->streaming = false;
	source->buffer_count = 0;
}

static void v4l2_close_source(struct capture_source *source)
{
	if (!source)
		return;
	close_device(source);
	camera_mjpeg_close(source);
	free(source);
}

/* USERPTR if the layout allows it and the driver takes it; mmap otherwise. */
static int choose_io(struct capture_source *source)
{
	source->io = &camera_io_mmap;
	if (source->settings.io == CAPTURE_IO_MMAP)
		return 0;
	const char *why_not = NULL;
	int result = -EINVAL;
	if (!camera_layout_is_the_rings(source, 0))
		why_not = source->compressed ? "its frames are compressed"
		          : source->emulated ? "libv4l2 converts its frames"
		                             : "its row layout is not the ring's";
	else if ((result = camera_userptr_probe(source)) == -ERANGE)
		why_not = "its driver wants more buffers than V4L2 allows";
	else if (result < 0 && source->fd >= 0)
		why_not = "its driver does not take user memory";
	if (result < 0 && source->fd < 0) {
		camera_explain_open_error(source->path, ENODEV);
		return result;
	}
	if (result == 0)
		source->io = &camera_io_userptr;
	if (why_not && source->settings.io == CAPTURE_IO_USERPTR)
		fprintf(stderr,
		        "vshm-capture: '%s': no USERPTR (%s); copying from mmap buffers "
		        "instead\n",
		        source->path, why_not);
	return 0;
}

static struct capture_source *v4l2_open_source(const char *location,
                                               const struct capture_settings *settings,
                                               struct capture_description *description)
{
	struct capture_source *source = calloc(1, sizeof(*source));
	if (!source) {
		fprintf(stderr, "vshm-capture: out of memory\n");
		return NULL;
	}
	source->fd = -1;
	source->settings = *settings;
	snprintf(source->path, sizeof(source->path), "%s", camera_path_of(location));
	if (camera_negotiate(source, true) < 0)
		goto error;
	if (source->compressed && camera_mjpeg_open(source) < 0) {
		fprintf(stderr,
		        "vshm-capture: '%s' sends MJPEG, and libavcodec's decoder is "
		        "missing\n",
		        source->path);
		goto error;
	}
	if (choose_io(source) < 0)
		goto error;

	char text[5];
	camera_fourcc_text(source->pixelformat, text);
	double rate = source->interval.numerator
	                  ? (double)source->interval.denominator / source->interval.numerator
	                  : 0;
	description->format = source->ring_format;
	description->width = source->width;
	description->height = source->height;
	description->frame_interval_ns = rate > 0 ? (uint64_t)(1e9 / rate + 0.5) : 0;
	description->live = true;
	description->frames_in_flight = source->io == &camera_io_userptr ? source->lend_count : 1;
	/* A driver may pad sizeimage beyond the pixels: a lent slot must hold all of it. */
	description->max_frame_bytes = source->compressed ? 0 : source->sizeimage;
	/* Bounded so the line always fits; a long device path is cut short. */
	snprintf(description->summary, sizeof(description->summary),
	         "camera '%.36s' (%.24s, %s at %.3g fps%s, %s)", source->path, source->card, text,
	         rate,
	         source->compressed ? ", decoded"
	         : source->emulated ? ", converted by libv4l2"
	                            : "",
	         source->io->summary);
	return source;

error:
	v4l2_close_source(source);
	return NULL;
}

static void sleep_ns(uint64_t duration)
{
	struct timespec time = { (time_t)(duration / 1000000000u), (long)(duration % 1000000000u) };
	nanosleep(&time, NULL); /* a signal ends it early: the caller looks at shutdown */
}

/* The device vanished: keep the stream, close everything, wait for the device. */
static int reconnect(struct capture_source *source)
{
	close_device(source);
	if (source->settings.no_reconnect) {
		fprintf(stderr,
		        "vshm-capture: '%s' is gone (unplugged?); stopping (--no-reconnect)\n",
		        source->path);
		return -ENODEV;
	}
	fprintf(stderr,
	        "vshm-capture: '%s' is gone (unplugged?); readers keep the last frame; trying "
	        "to reopen it every second (Ctrl-C to stop)\n",
	        source->path);
	camera_ask_for_the_same(source);
	while (!program_shutdown_requested()) {
		sleep_ns(REOPEN_PERIOD_NS);
		if (program_shutdown_requested())
			break;
		int result = camera_negotiate(source, false);
		/* Not there yet; or busy, as a device just plugged in is for a moment while
		 * the desktop's media services look at it. */
		if (camera_error_is_absence(-result) || result == -EBUSY)
			continue;
		if (result < 0) {
			fprintf(stderr,
			        "vshm-capture: '%s' came back, but cannot be used as before (%s); "
			        "stopping\n",
			        source->path, strerror(-result));
			return result;
		}
		/* The old format may be gone and MJPEG the one left: decode it then. */
		if (source->compressed && camera_mjpeg_open(source) < 0) {
			fprintf(stderr,
			        "vshm-capture: '%s' came back sending only MJPEG, and libavcodec's "
			        "MJPEG decoder cannot be opened; stopping\n",
			        source->path);
			close_device(source);
			return -ENOSYS;
		}
		fprintf(stderr, "vshm-capture: '%s' is back; streaming again\n", source->path);
		source->discontinuity = true;
		return 0;
	}
	return 0;
}

/*
 * An error while setting up the stream is an unplug only when the device itself says it
 * is gone: a driver that refuses what it is asked is not waited for.
 */
static bool setup_error_is_unplug(const struct capture_source *source, int error)
{
	if (camera_error_is_absence(error))
		return true;
	struct v4l2_capability cap;
	return source->fd >= 0 && v4l2_ioctl(source->fd, VIDIOC_QUERYCAP, &cap) < 0 &&
	       errno == ENODEV;
}

/* Allocates or lends buffers, queues them and starts streaming. Returns 0 or -errno. */
static int start_stream(struct capture_source *source, struct vshm_writer *writer)
{
	source->writer = writer;
	int result = source->io->start(source);
	if (result < 0)
		return result;
	source->have_sequence = false;
	source->last_frame_ns = vshm_now_ns();
	return 0;
}

/*
 * Waits for the camera to have a frame, saying so once when it has sent none for a
 * while. Returns 1 when DQBUF may have one, 0 to look again, or a negative errno.
 */
static int wait_for_frame(struct capture_source *source)
{
	struct pollfd poll_fd = { .fd = source->fd, .events = POLLIN };
	int ready = poll(&poll_fd, 1, POLL_TIMEOUT_MS);
	if (ready < 0 && errno != EINTR) {
		int error = errno;
		fprintf(stderr, "vshm-capture: '%s': poll: %s\n", source->path, strerror(error));
		return -error;
	}
	if (ready > 0)
		return 1;
	uint64_t quiet_ns = vshm_now_ns() - source->last_frame_ns;
	if (ready == 0 && !source->quiet_warned && quiet_ns > QUIET_WARNING_S * 1000000000ull) {
		fprintf(stderr, "vshm-capture: '%s' has sent no frame for %d s; still waiting\n",
		        source->path, QUIET_WARNING_S);
		source->quiet_warned = true;
	}
	return 0;
}

/* Counts the frames the driver numbered but never gave us, and those it gave broken. */
static void count_sequence(struct capture_source *source, const struct v4l2_buffer *buffer)
{
	if (source->have_sequence && buffer->sequence != source->last_sequence + 1) {
		uint32_t gap = buffer->sequence - source->last_sequence - 1;
		if (gap < UINT32_MAX / 2) {
			vshm_writer_count_dropped(source->writer, gap);
			source->next_frame_number += gap;
			source->discontinuity = true;
		}
	}
	source->have_sequence = true;
	source->last_sequence = buffer->sequence;
}

static void count_skipped(struct capture_source *source)
{
	source->frames_skipped++;
	source->next_frame_number++;
	source->discontinuity = true;
	vshm_writer_count_dropped(source->writer, 1);
}

/*
 * When the camera took the frame: its own timestamp when the driver says it is on
 * CLOCK_MONOTONIC, else now (drivers before Linux 3.10 stamp with the wall clock, and
 * say "unknown"). Never later than now nor earlier than the frame before: readers
 * compute latencies and rates from it, and a driver that stamps frames out of order
 * must not make them negative.
 */
static uint64_t capture_time(struct capture_source *source, const struct v4l2_buffer *buffer)
{
	uint64_t now = vshm_now_ns(), capture_ns = now;
	if ((buffer->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC &&
	    buffer->timestamp.tv_sec >= 0 && buffer->timestamp.tv_usec >= 0) {
		uint64_t stamped = (uint64_t)buffer->timestamp.tv_sec * 1000000000u +
		                   (uint64_t)buffer->timestamp.tv_usec * 1000u;
		if (stamped && stamped <= now)
			capture_ns = stamped;
	}
	if (capture_ns < source->last_capture_ns)
		capture_ns = source->last_capture_ns;
	source->last_capture_ns = capture_ns;
	return capture_ns;
}

/*
 * Gets the stream going, or back after the device vanished. Returns 1 when streaming, 0
 * to look again (the device is being waited for), or a negative errno.
 */
static int keep_streaming(struct capture_source *source, struct vshm_writer *writer)
{
	int result;
	if (source->fd < 0 && (result = reconnect(source)) < 0)
		return result;
	if (source->fd < 0)
		return 0;
	if (!source->streaming) {
		result = start_stream(source, writer);
		if (result < 0 && setup_error_is_unplug(source, -result))
			return (result = reconnect(source)) < 0 ? result : 0;
		if (result < 0) {
			fprintf(stderr, "vshm-capture: '%s': cannot start streaming: %s\n",
			        source->path, strerror(-result));
			close_device(source);
			return result;
		}
	}
	result = source->io->refill(source);
	if (result < 0 && !camera_device_vanished(-result)) {
		close_device(source);
		return result;
	}
	return 1;
}

/*
 * Dequeues a buffer. Returns 1 with *buffer filled, 0 to look again (nothing yet, or the
 * device vanished and is waited for), or a negative errno.
 */
static int dequeue(struct capture_source *source, struct v4l2_buffer *buffer)
{
	*buffer = (struct v4l2_buffer){ .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                        .memory = source->io->memory };
	if (v4l2_ioctl(source->fd, VIDIOC_DQBUF, buffer) < 0) {
		int error = errno;
		if (error == EAGAIN || error == EINTR)
			return 0;
		if (camera_device_vanished(error)) {
			int result = reconnect(source);
			return result < 0 ? result : 0;
		}
		fprintf(stderr, "vshm-capture: '%s': cannot dequeue a frame: %s\n", source->path,
		        strerror(error));
		close_device(source);
		return -error;
	}
	if (buffer->index >= source->buffer_count) {
		fprintf(stderr, "vshm-capture: '%s' returned buffer %u of %u\n", source->path,
		        buffer->index, source->buffer_count);
		close_device(source);
		return -EIO;
	}
	source->last_frame_ns = vshm_now_ns();
	source->quiet_warned = false;
	return 1;
}

static int v4l2_next(struct capture_source *source, struct vshm_writer *writer,
                     struct vshm_frame *frame, uint64_t *media_ns)
{
	int result;
	for (;;) {
		if (program_shutdown_requested())
			return CAPTURE_END;
		if ((result = keep_streaming(source, writer)) <= 0) {
			if (result < 0)
				return result;
			continue;
		}
		if ((result = wait_for_frame(source)) <= 0) {
			if (result < 0) {
				close_device(source);
				return result;
			}
			continue;
		}
		struct v4l2_buffer buffer;
		if ((result = dequeue(source, &buffer)) <= 0) {
			if (result < 0)
				return result;
			continue;
		}
		count_sequence(source, &buffer);

		bool short_frame = !source->compressed && buffer.bytesused < source->sizeimage;
		/* bytesused comes from the driver: never past the buffer it describes. */
		bool overlong = source->buffers[buffer.index].start &&
		                buffer.bytesused > source->buffers[buffer.index].length;
		if ((buffer.flags & V4L2_BUF_FLAG_ERROR) || short_frame || overlong ||
		    buffer.bytesused == 0) {
			/* Never published: counted, and the buffer goes back to the driver. */
			count_skipped(source);
			if ((result = source->io->skip(source, buffer.index)) < 0 &&
			    !camera_device_vanished(-result)) {
				close_device(source);
				return result;
			}
			continue;
		}

		uint64_t capture_ns = capture_time(source, &buffer);
		result = source->io->deliver(source, &buffer, frame);
		if (result < 0) {
			close_device(source);
			return result;
		}
		if (result == 0) {
			count_skipped(source);
			continue;
		}
		frame->capture_ns = capture_ns;
		frame->frame_number = source->next_frame_number++;
		frame->flags = source->discontinuity ? VSHM_FRAME_DISCONTINUITY : 0;
		source->discontinuity = false;
		*media_ns = 0;
		return CAPTURE_FRAME;
	}
}

static void v4l2_get_stats(const struct capture_source *source, struct capture_source_stats *stats)
{
	stats->frames_skipped = source->frames_skipped;
	stats->frames_damaged = 0;
	stats->loops = 0;
}

const struct capture_source_ops capture_source_v4l2 = {
	.name = "v4l2",
	.open = v4l2_open_source,
	.next = v4l2_next,
	.get_stats = v4l2_get_stats,
	.close = v4l2_close_source,
};
