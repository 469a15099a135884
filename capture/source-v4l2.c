/*
 * The camera source: a V4L2 device through libv4l2 (v4l2_open, v4l2_ioctl, v4l2_mmap,
 * v4l2_munmap, v4l2_close), so that libv4l2's format conversion is there for cameras
 * that offer nothing the ring carries.
 *
 * Negotiation: the asked format, or the first of the ring's own formats the camera
 * offers (then MJPEG, decoded here with libavcodec, then formats libv4l2 emulates); the
 * asked size or the nearest (said on stderr), or the largest; the asked rate or the
 * nearest, or the fastest. VIDIOC_S_FMT and VIDIOC_S_PARM, and what the driver answers
 * is what is used.
 *
 * Two ways into the ring:
 *  - mmap: the driver's buffers are mapped; each dequeued buffer is copied (or MJPEG
 *    decoded) into a slot begun on the writer: the one copy that brings pixels in.
 *  - USERPTR: the ring's slots themselves are lent to the driver, so the camera writes
 *    straight into shared memory and nothing is copied. Each lent slot is a frame begun
 *    on the writer (the writer is created with as many frames in flight as the driver
 *    grants buffers), so it stays odd, invisible to readers, while the driver owns it; a
 *    dequeued buffer's slot is handed to the caller to publish, and a new slot is begun
 *    and queued in its place before the next dequeue. Used when the driver accepts
 *    USERPTR and its layout (bytesperline, plane offsets) is the ring's; otherwise mmap,
 *    automatically.
 *
 * Which fd: negotiation goes through v4l2_open(), so that libv4l2's emulated formats are
 * there to choose from. But libv4l2 refuses VIDIOC_REQBUFS with any memory but MMAP on
 * the fds it converts for ("add support for userptr's?" in libv4l2.c); only an fd given
 * to v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION) reaches the driver untouched. So for a
 * format the ring carries as it is (not emulated, not MJPEG), USERPTR is tried on the
 * device opened again that way, with the format and rate set again; if the driver
 * refuses, the device is opened through v4l2_open() again and mmap is used.
 *
 * Faults: EAGAIN and EINTR from poll and DQBUF are retried; buffers flagged
 * V4L2_BUF_FLAG_ERROR (or short) are never published, only counted; gaps in the driver's
 * sequence numbers are counted as dropped frames. When the device vanishes (ENODEV), the
 * stream keeps its last frame for readers, and the device is reopened every second until
 * it is back (or, with --no-reconnect, capture ends with an error).
 */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef VSHM_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#endif

#include "shutdown.h"
#include "source.h"

#define BUFFER_COUNT     4  /* driver buffers asked for: mmap, or slots lent with USERPTR */
#define MAX_BUFFERS      16 /* the most taken; a driver may raise BUFFER_COUNT up to it */
#define MAX_FORMATS      64
#define POLL_TIMEOUT_MS  1000
#define REOPEN_PERIOD_NS 1000000000u
#define QUIET_WARNING_S  5 /* say so when the camera sends nothing for this long */

struct camera_format {
	uint32_t pixelformat;
	uint32_t flags; /* V4L2_FMT_FLAG_* */
	char description[32];
};

struct mapped_buffer {
	void *start;
	size_t length;
};

struct capture_source {
	const char *location;
	char path[4096];
	struct capture_settings settings;
	int fd;
	bool direct; /* fd given to v4l2_fd_open(V4L2_DISABLE_CONVERSION): no libv4l2 in between */

	/* What was negotiated; reconnecting asks for the same again. */
	uint32_t wanted_pixelformat; /* set when reconnecting: the camera format we had */
	uint32_t pixelformat, width, height, bytesperline, sizeimage;
	struct v4l2_fract interval;
	uint32_t ring_format; /* the slot format; for MJPEG the largest one it may use */
	bool compressed;      /* MJPEG: decoded here */
	bool emulated;        /* converted by libv4l2 */
	char card[32];

	enum capture_io io; /* MMAP or USERPTR once decided */
	/* USERPTR: the buffers the driver granted, which is the writer's frames in flight. */
	uint32_t lend_count;
	uint32_t buffer_count;
	bool streaming;
	struct mapped_buffer maps[MAX_BUFFERS];
	/* USERPTR: the begun frame (slot) lent to each driver buffer, and whether it is. */
	struct vshm_frame lent[MAX_BUFFERS];
	bool is_lent[MAX_BUFFERS];
	struct vshm_writer *writer; /* the writer slots are lent from (USERPTR) */

	bool have_sequence;
	uint32_t last_sequence;
	uint64_t next_frame_number;
	bool discontinuity;
	uint64_t frames_skipped;
	uint64_t last_frame_ns;
	bool quiet_warned;

#ifdef VSHM_HAVE_FFMPEG
	AVCodecContext *decoder;
	AVPacket *packet;
	AVFrame *picture;
	struct SwsContext *scaler;
	uint8_t *padded; /* MJPEG data copied when the driver's buffer has no room for padding */
	unsigned int padded_size;
#endif
};

/* Formats the ring carries as they are, in the order we prefer them (V4L2 codes). */
static const uint32_t native_formats[] = {
	V4L2_PIX_FMT_YUYV,  V4L2_PIX_FMT_UYVY,  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420,
	V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_BGR24, V4L2_PIX_FMT_GREY,
};

/* The ring format with the same layout as a V4L2 pixel format (the format table's
 * v4l2_fourcc), or VSHM_FORMAT_INVALID. */
static uint32_t ring_format_of(uint32_t pixelformat)
{
	for (unsigned i = 0; vshm_format_at(i); i++) {
		if (pixelformat &&
		    vshm_format_describe(vshm_format_at(i))->v4l2_fourcc == pixelformat)
			return vshm_format_at(i);
	}
	return VSHM_FORMAT_INVALID;
}

/* The V4L2 pixel format of a ring format, or 0 if V4L2 has none. */
static uint32_t v4l2_format_of(uint32_t format)
{
	const struct vshm_format_description *description = vshm_format_describe(format);
	return description ? description->v4l2_fourcc : 0;
}

static bool is_native(uint32_t pixelformat)
{
	for (size_t i = 0; i < sizeof(native_formats) / sizeof(native_formats[0]); i++)
		if (native_formats[i] == pixelformat)
			return ring_format_of(pixelformat) != VSHM_FORMAT_INVALID;
	return false;
}

/* The colour matrix of raw camera frames: V4L2 YUV is BT.601 unless told otherwise. */
static uint8_t raw_matrix_of(uint32_t ring_format)
{
	return vshm_format_describe(ring_format)->family == VSHM_FORMAT_FAMILY_YUV
	           ? VSHM_COLOR_MATRIX_BT601
	           : VSHM_COLOR_MATRIX_UNSPECIFIED;
}

static void fourcc_text(uint32_t fourcc, char text[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((fourcc >> (8 * i)) & 0xff);
		text[i] = c >= ' ' && c <= '~' ? c : '?';
	}
	text[4] = '\0';
}

/* ioctl, retried when a signal interrupts it (libv4l2 passes EINTR through). */
static int xioctl(int fd, unsigned long request, void *argument)
{
	int result;
	do
		result = v4l2_ioctl(fd, request, argument);
	while (result < 0 && errno == EINTR && !program_shutdown_requested());
	return result;
}

bool capture_v4l2_is_location(const char *location)
{
	return strncmp(location, "v4l2:", 5) == 0 || strncmp(location, "/dev/video", 10) == 0 ||
	       strncmp(location, "/dev/v4l/", 9) == 0;
}

static const char *path_of(const char *location)
{
	return strncmp(location, "v4l2:", 5) == 0 ? location + 5 : location;
}

/* One line on stderr for a device that cannot be opened; errno from v4l2_open(). */
static void explain_open_error(const char *path, int error)
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

/*
 * Opens and checks that it is a streaming capture device. direct: open() and
 * v4l2_fd_open(V4L2_DISABLE_CONVERSION), so that libv4l2 passes every ioctl to the
 * driver; otherwise v4l2_open(), with libv4l2's conversion. Returns fd or -errno.
 */
static int open_device(const char *path, struct v4l2_capability *cap, bool verbose, bool direct)
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
			explain_open_error(path, error);
		return -error;
	}
	memset(cap, 0, sizeof(*cap));
	if (xioctl(fd, VIDIOC_QUERYCAP, cap) < 0) {
		int error = errno;
		if (verbose && error == ENODEV)
			explain_open_error(path, error);
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
		return -ENODEV;
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

static uint32_t list_formats(int fd, struct camera_format *formats)
{
	uint32_t count = 0;
	for (uint32_t i = 0; count < MAX_FORMATS; i++) {
		struct v4l2_fmtdesc desc = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		if (xioctl(fd, VIDIOC_ENUM_FMT, &desc) < 0)
			break;
		formats[count].pixelformat = desc.pixelformat;
		formats[count].flags = desc.flags;
		snprintf(formats[count].description, sizeof(formats[count].description), "%s",
		         (const char *)desc.description);
		count++;
	}
	return count;
}

/*
 * The size the camera offers for pixelformat nearest to width x height (or the largest
 * when none is asked), in *best. Returns false if the driver lists no sizes.
 */
static bool choose_size(int fd, uint32_t pixelformat, uint32_t width, uint32_t height,
                        uint32_t *best_width, uint32_t *best_height, uint64_t *best_distance)
{
	bool found = false;
	*best_distance = UINT64_MAX;
	for (uint32_t i = 0;; i++) {
		struct v4l2_frmsizeenum size = { .index = i, .pixel_format = pixelformat };
		if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size) < 0)
			break;
		uint32_t w, h;
		if (size.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
			w = size.discrete.width;
			h = size.discrete.height;
		} else {
			/* Stepwise or continuous: the asked size clamped to the grid. */
			struct v4l2_frmsize_stepwise *s = &size.stepwise;
			uint32_t step_w = s->step_width ? s->step_width : 1;
			uint32_t step_h = s->step_height ? s->step_height : 1;
			w = width ? width : s->max_width;
			h = height ? height : s->max_height;
			w = w < s->min_width ? s->min_width : w > s->max_width ? s->max_width : w;
			h = h < s->min_height   ? s->min_height
			    : h > s->max_height ? s->max_height
			                        : h;
			w = s->min_width + (w - s->min_width) / step_w * step_w;
			h = s->min_height + (h - s->min_height) / step_h * step_h;
		}
		uint64_t distance;
		if (width && height) {
			int64_t dw = (int64_t)w - width, dh = (int64_t)h - height;
			distance = (uint64_t)(dw < 0 ? -dw : dw) + (uint64_t)(dh < 0 ? -dh : dh);
		} else {
			distance = UINT64_MAX - (uint64_t)w * h; /* the largest */
		}
		if (distance < *best_distance) {
			*best_distance = distance;
			*best_width = w;
			*best_height = h;
			found = true;
		}
		if (size.type != V4L2_FRMSIZE_TYPE_DISCRETE)
			break;
	}
	return found;
}

/* The offered interval nearest to fps (or the shortest when fps is 0). */
static bool choose_interval(int fd, uint32_t pixelformat, uint32_t width, uint32_t height,
                            double fps, struct v4l2_fract *best)
{
	bool found = false;
	double best_score = 0;
	for (uint32_t i = 0;; i++) {
		struct v4l2_frmivalenum ival = {
			.index = i, .pixel_format = pixelformat, .width = width, .height = height
		};
		if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival) < 0)
			break;
		struct v4l2_fract f;
		if (ival.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
			f = ival.discrete;
		} else {
			/* Continuous or stepwise: ask for the rate itself, the driver rounds. */
			f = fps > 0 ? (struct v4l2_fract){ 1000, (uint32_t)(fps * 1000 + 0.5) }
			            : ival.stepwise.min;
		}
		if (!f.numerator || !f.denominator)
			continue;
		double rate = (double)f.denominator / f.numerator;
		double score = fps > 0 ? -(rate > fps ? rate - fps : fps - rate) : rate;
		if (!found || score > best_score) {
			best_score = score;
			*best = f;
			found = true;
		}
		if (ival.type != V4L2_FRMIVAL_TYPE_DISCRETE)
			break;
	}
	return found;
}

static uint32_t find_format(const struct camera_format *formats, uint32_t count,
                            uint32_t pixelformat, bool emulated)
{
	for (uint32_t i = 0; i < count; i++)
		if (formats[i].pixelformat == pixelformat &&
		    !!(formats[i].flags & V4L2_FMT_FLAG_EMULATED) == emulated)
			return i;
	return UINT32_MAX;
}

/*
 * Picks the camera format: the asked one, or (when the camera lacks it) MJPEG to decode
 * into it, or libv4l2's emulation of it; without one asked, the first native format,
 * then MJPEG, then an emulated one, preferring among them the one whose sizes come
 * nearest the asked size. Returns the index in formats, or UINT32_MAX.
 */
static uint32_t choose_format(int fd, const struct camera_format *formats, uint32_t count,
                              const struct capture_settings *settings, uint32_t wanted)
{
	uint32_t candidates[MAX_FORMATS * 2];
	uint32_t candidate_count = 0;
	uint32_t index;
	if (wanted && (index = find_format(formats, count, wanted, false)) != UINT32_MAX)
		return index;
	if (settings->format) {
		if ((index = find_format(formats, count, v4l2_format_of(settings->format),
		                         false)) != UINT32_MAX)
			return index;
	} else {
		for (size_t i = 0; i < sizeof(native_formats) / sizeof(native_formats[0]); i++)
			if ((index = find_format(formats, count, native_formats[i], false)) !=
			    UINT32_MAX)
				candidates[candidate_count++] = index;
	}
#ifdef VSHM_HAVE_FFMPEG
	if ((index = find_format(formats, count, V4L2_PIX_FMT_MJPEG, false)) != UINT32_MAX)
		candidates[candidate_count++] = index;
#endif
	if (settings->format) {
		if ((index = find_format(formats, count, v4l2_format_of(settings->format), true)) !=
		    UINT32_MAX)
			candidates[candidate_count++] = index;
	} else {
		for (size_t i = 0; i < sizeof(native_formats) / sizeof(native_formats[0]); i++)
			if ((index = find_format(formats, count, native_formats[i], true)) !=
			    UINT32_MAX)
				candidates[candidate_count++] = index;
	}
	if (candidate_count == 0)
		return UINT32_MAX;
	if (!settings->width)
		return candidates[0];
	/* A size was asked: the candidate that comes nearest, in order of preference. */
	uint32_t best = candidates[0];
	uint64_t best_distance = UINT64_MAX;
	for (uint32_t i = 0; i < candidate_count; i++) {
		uint32_t w, h;
		uint64_t distance;
		if (!choose_size(fd, formats[candidates[i]].pixelformat, settings->width,
		                 settings->height, &w, &h, &distance))
			distance = UINT64_MAX - 1;
		if (distance < best_distance) {
			best_distance = distance;
			best = candidates[i];
		}
	}
	return best;
}

/*
 * Where each plane of a V4L2 single-buffer frame lies: planes one after another, each
 * with bytesperline scaled as the plane's bytes per pixel are to the first plane's (so
 * NV12's chroma rows are as long as its luma rows and I420's half as long), as V4L2
 * lays out its single-planar formats. Returns the plane count.
 */
static uint32_t v4l2_planes(uint32_t ring_format, uint32_t height, uint32_t bytesperline,
                            uint64_t offsets[VSHM_FORMAT_PLANES_MAX],
                            uint32_t strides[VSHM_FORMAT_PLANES_MAX])
{
	const struct vshm_format_description *format = vshm_format_describe(ring_format);
	const struct vshm_format_plane *first = &format->planes[0];
	uint64_t offset = 0;
	for (uint32_t p = 0; p < format->plane_count; p++) {
		const struct vshm_format_plane *plane = &format->planes[p];
		strides[p] = (uint32_t)((uint64_t)bytesperline * plane->bytes_per_sample *
		                        first->horizontal_subsampling /
		                        (plane->horizontal_subsampling * first->bytes_per_sample));
		offsets[p] = offset;
		offset += (uint64_t)strides[p] * ((height + plane->vertical_subsampling - 1) /
		                                  plane->vertical_subsampling);
	}
	return format->plane_count;
}

/* True when the driver's layout of a frame is exactly the ring's: a slot can be lent. */
static bool layout_matches_ring(const struct capture_source *source, uint64_t slot_size)
{
	struct vshm_format_layout layout;
	if (source->compressed || source->emulated || !is_native(source->pixelformat) ||
	    vshm_format_layout(source->ring_format, source->width, source->height, &layout) < 0)
		return false;
	uint64_t offsets[VSHM_FORMAT_PLANES_MAX];
	uint32_t strides[VSHM_FORMAT_PLANES_MAX];
	uint32_t planes = v4l2_planes(source->ring_format, source->height, source->bytesperline,
	                              offsets, strides);
	if (planes != layout.plane_count)
		return false;
	for (uint32_t i = 0; i < planes; i++)
		if (offsets[i] != layout.offset[i] || strides[i] != layout.stride[i])
			return false;
	return source->sizeimage <= slot_size || slot_size == 0;
}

static void close_decoder(struct capture_source *source)
{
#ifdef VSHM_HAVE_FFMPEG
	sws_freeContext(source->scaler);
	source->scaler = NULL;
	av_frame_free(&source->picture);
	av_packet_free(&source->packet);
	avcodec_free_context(&source->decoder);
	av_freep(&source->padded);
	source->padded_size = 0;
#else
	(void)source;
#endif
}

static int open_decoder(struct capture_source *source)
{
#ifdef VSHM_HAVE_FFMPEG
	if (source->decoder)
		return 0;
	av_log_set_level(getenv("VSHM_DEBUG") ? AV_LOG_INFO : AV_LOG_FATAL);
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	if (!codec)
		return -ENOSYS;
	source->decoder = avcodec_alloc_context3(codec);
	source->packet = av_packet_alloc();
	source->picture = av_frame_alloc();
	if (!source->decoder || !source->packet || !source->picture)
		return -ENOMEM;
	/* One thread: frame threading would hold frames back and add latency. */
	source->decoder->thread_count = 1;
	if (avcodec_open2(source->decoder, codec, NULL) < 0)
		return -EINVAL;
	return 0;
#else
	(void)source;
	return -ENOSYS;
#endif
}

/*
 * Opens the device and negotiates format, size and rate. verbose: say what was adjusted
 * and why things fail (the first open); reconnecting is quiet. Returns 0 or -errno.
 */
static int negotiate(struct capture_source *source, bool verbose)
{
	struct v4l2_capability cap;
	int fd = open_device(source->path, &cap, verbose, false);
	if (fd < 0)
		return fd;
	snprintf(source->card, sizeof(source->card), "%s", (const char *)cap.card);
	struct camera_format formats[MAX_FORMATS];
	uint32_t count = list_formats(fd, formats);
	const struct capture_settings *settings = &source->settings;
	uint32_t chosen = choose_format(fd, formats, count, settings, source->wanted_pixelformat);
	if (chosen == UINT32_MAX) {
		if (verbose) {
			char offered[MAX_FORMATS * 5 + 1] = "";
			for (uint32_t i = 0; i < count; i++) {
				char text[5];
				fourcc_text(formats[i].pixelformat, text);
				strcat(offered, " ");
				strcat(offered, text);
			}
			if (settings->format)
				fprintf(stderr,
				        "vshm-capture: '%s' cannot give %s frames (it offers:%s)\n",
				        source->path, vshm_format_name(settings->format),
				        count ? offered : " nothing");
			else
				fprintf(stderr,
				        "vshm-capture: '%s' offers no format vshm can carry (it "
				        "offers:%s)\n",
				        source->path, count ? offered : " nothing");
		}
		v4l2_close(fd);
		return -EINVAL;
	}
	uint32_t pixelformat = formats[chosen].pixelformat;
	uint32_t width = 0, height = 0;
	uint64_t distance;
	if (!choose_size(fd, pixelformat, settings->width, settings->height, &width, &height,
	                 &distance)) {
		/* The driver lists no sizes: ask for what was asked and take the answer. */
		width = settings->width;
		height = settings->height;
	}

	struct v4l2_format format = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	if (xioctl(fd, VIDIOC_G_FMT, &format) < 0) {
		int error = errno;
		if (verbose)
			fprintf(stderr, "vshm-capture: '%s': cannot read its format: %s\n",
			        source->path, strerror(error));
		v4l2_close(fd);
		return -error;
	}
	format.fmt.pix.pixelformat = pixelformat;
	if (width && height) {
		format.fmt.pix.width = width;
		format.fmt.pix.height = height;
	}
	format.fmt.pix.field = V4L2_FIELD_NONE;
	format.fmt.pix.bytesperline = 0; /* the driver's own */
	if (xioctl(fd, VIDIOC_S_FMT, &format) < 0) {
		int error = errno;
		if (verbose && error == EBUSY)
			explain_open_error(source->path, EBUSY);
		else if (verbose)
			fprintf(stderr, "vshm-capture: '%s': cannot set its format: %s\n",
			        source->path, strerror(error));
		v4l2_close(fd);
		return -error;
	}
	struct v4l2_pix_format *pix = &format.fmt.pix;
	char text[5];
	fourcc_text(pix->pixelformat, text);
	if (pix->pixelformat != pixelformat || pix->width == 0 || pix->height == 0 ||
	    pix->width > VSHM_FORMAT_DIMENSION_MAX || pix->height > VSHM_FORMAT_DIMENSION_MAX ||
	    (pix->field != V4L2_FIELD_NONE && pix->field != V4L2_FIELD_ANY)) {
		if (verbose)
			fprintf(
			    stderr,
			    "vshm-capture: '%s' answered %s %ux%u (field %u), which vshm cannot "
			    "carry\n",
			    source->path, text, pix->width, pix->height, pix->field);
		v4l2_close(fd);
		return -EINVAL;
	}
	if (verbose && settings->width &&
	    (pix->width != settings->width || pix->height != settings->height))
		fprintf(stderr, "vshm-capture: '%s' has no %ux%u %s; using %ux%u, the nearest\n",
		        source->path, settings->width, settings->height, text, pix->width,
		        pix->height);

	struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	struct v4l2_fract interval;
	if (xioctl(fd, VIDIOC_G_PARM, &parm) == 0 &&
	    (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) &&
	    choose_interval(fd, pix->pixelformat, pix->width, pix->height, settings->fps,
	                    &interval)) {
		parm.parm.capture.timeperframe = interval;
		if (xioctl(fd, VIDIOC_S_PARM, &parm) < 0 && verbose)
			fprintf(stderr, "vshm-capture: '%s': cannot set its frame rate: %s\n",
			        source->path, strerror(errno));
		xioctl(fd, VIDIOC_G_PARM, &parm);
	}
	source->interval = parm.parm.capture.timeperframe;
	double rate = source->interval.numerator
	                  ? (double)source->interval.denominator / source->interval.numerator
	                  : 0;
	if (verbose && settings->fps > 0 && rate > 0 &&
	    (rate > settings->fps * 1.01 || rate < settings->fps * 0.99))
		fprintf(stderr,
		        "vshm-capture: '%s' has no %.3g fps at %ux%u %s; using %.3g fps, the "
		        "nearest\n",
		        source->path, settings->fps, pix->width, pix->height, text, rate);

	source->fd = fd;
	source->direct = false;
	source->pixelformat = pix->pixelformat;
	source->width = pix->width;
	source->height = pix->height;
	source->bytesperline = pix->bytesperline;
	source->sizeimage = pix->sizeimage;
	source->compressed = pix->pixelformat == V4L2_PIX_FMT_MJPEG;
	source->emulated = (formats[chosen].flags & V4L2_FMT_FLAG_EMULATED) != 0;
	if (source->compressed)
		source->ring_format = settings->format ? settings->format : VSHM_FORMAT_YUYV;
	else
		source->ring_format = ring_format_of(pix->pixelformat);
	if (!source->ring_format) {
		char code[5];
		fourcc_text(pix->pixelformat, code);
		fprintf(stderr, "vshm-capture: '%s' delivers %s, which the ring cannot carry\n",
		        source->path, code);
		v4l2_close(fd);
		source->fd = -1;
		return -EINVAL;
	}
	if (!source->compressed) {
		uint64_t minimum, last_row_bytes;
		uint32_t rows, last_rows;
		vshm_format_plane_extent(source->ring_format, 0, source->width, source->height,
		                         &minimum, &rows);
		/* A driver that leaves bytesperline at 0 packs its rows. */
		if (source->bytesperline == 0)
			source->bytesperline = (uint32_t)minimum;
		uint64_t offsets[VSHM_FORMAT_PLANES_MAX];
		uint32_t strides[VSHM_FORMAT_PLANES_MAX];
		uint32_t planes = v4l2_planes(source->ring_format, source->height,
		                              source->bytesperline, offsets, strides);
		vshm_format_plane_extent(source->ring_format, planes - 1, source->width,
		                         source->height, &last_row_bytes, &last_rows);
		uint64_t needed = offsets[planes - 1] + (uint64_t)strides[planes - 1] * last_rows;
		if (source->bytesperline < minimum || source->sizeimage < needed) {
			if (verbose)
				fprintf(stderr,
				        "vshm-capture: '%s' gave an inconsistent layout (%u bytes "
				        "a row, %u a frame)\n",
				        source->path, source->bytesperline, source->sizeimage);
			v4l2_close(fd);
			source->fd = -1;
			return -EINVAL;
		}
	}
	return 0;
}

static bool device_gone(int error)
{
	return error == ENODEV || error == EIO || error == ENXIO;
}

/* Unmaps driver buffers, gives lent slots back, closes. The stream's latest frame stays. */
static void close_device(struct capture_source *source)
{
	if (source->fd >= 0) {
		if (source->streaming) {
			int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
			xioctl(source->fd, VIDIOC_STREAMOFF, &type);
		}
		for (uint32_t i = 0; i < MAX_BUFFERS; i++) {
			if (source->maps[i].start)
				v4l2_munmap(source->maps[i].start, source->maps[i].length);
			source->maps[i].start = NULL;
		}
		if (source->buffer_count) {
			struct v4l2_requestbuffers request = {
				.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				.memory = source->io == CAPTURE_IO_USERPTR ? V4L2_MEMORY_USERPTR
				                                           : V4L2_MEMORY_MMAP,
			};
			xioctl(source->fd, VIDIOC_REQBUFS, &request);
		}
		/* After close the driver holds none of our memory any more. */
		v4l2_close(source->fd);
		source->fd = -1;
	}
	source->direct = false;
	source->streaming = false;
	source->buffer_count = 0;
	bool any_lent = false;
	for (uint32_t i = 0; i < MAX_BUFFERS; i++) {
		any_lent = any_lent || source->is_lent[i];
		source->is_lent[i] = false;
	}
	/* The slots the driver had are given up: they never held a published frame. */
	if (any_lent && source->writer)
		vshm_writer_cancel(source->writer);
}

/*
 * Asks the driver for count USERPTR buffers and takes what it grants (drivers raise the
 * count to what they need), up to most. Returns 0 with buffer_count set, -ERANGE if it
 * grants more than most (nothing left allocated), or -errno (EINVAL: it does not do it).
 */
static int request_userptr(struct capture_source *source, uint32_t count, uint32_t most)
{
	struct v4l2_requestbuffers request = { .count = count,
		                               .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                               .memory = V4L2_MEMORY_USERPTR };
	if (xioctl(source->fd, VIDIOC_REQBUFS, &request) < 0)
		return -errno;
	if (request.count == 0 || request.count > most) {
		uint32_t granted = request.count;
		request.count = 0;
		xioctl(source->fd, VIDIOC_REQBUFS, &request);
		return granted ? -ERANGE : -EINVAL;
	}
	source->buffer_count = request.count;
	return 0;
}

/* Frees USERPTR buffers that were only asked for to see whether the driver grants them. */
static void release_userptr(struct capture_source *source)
{
	struct v4l2_requestbuffers request = { .count = 0,
		                               .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                               .memory = V4L2_MEMORY_USERPTR };
	xioctl(source->fd, VIDIOC_REQBUFS, &request);
	source->buffer_count = 0;
}

/* Reconnecting, or reopening, asks for what was negotiated, so the stream goes on as it was. */
static void ask_for_the_same(struct capture_source *source)
{
	source->wanted_pixelformat = source->pixelformat;
	source->settings.width = source->width;
	source->settings.height = source->height;
	if (source->interval.numerator)
		source->settings.fps =
		    (double)source->interval.denominator / source->interval.numerator;
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
	int fd = open_device(source->path, &cap, false, true);
	if (fd < 0)
		return fd;
	struct v4l2_format format = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	format.fmt.pix.pixelformat = source->pixelformat;
	format.fmt.pix.width = source->width;
	format.fmt.pix.height = source->height;
	format.fmt.pix.field = V4L2_FIELD_NONE;
	if (xioctl(fd, VIDIOC_S_FMT, &format) < 0) {
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
	if (source->interval.numerator && xioctl(fd, VIDIOC_G_PARM, &parm) == 0 &&
	    (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) &&
	    (parm.parm.capture.timeperframe.numerator != source->interval.numerator ||
	     parm.parm.capture.timeperframe.denominator != source->interval.denominator)) {
		parm.parm.capture.timeperframe = source->interval;
		xioctl(fd, VIDIOC_S_PARM, &parm); /* the rate is a wish: a failure is not fatal */
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
static int start_userptr(struct capture_source *source, uint32_t count, uint32_t most,
                         uint64_t slot_size)
{
	if (!layout_matches_ring(source, slot_size))
		return -EINVAL;
	int result = source->direct ? 0 : open_direct(source);
	if (result == 0 && (result = request_userptr(source, count, most)) == 0)
		return 0;
	if (source->fd >= 0)
		v4l2_close(source->fd);
	source->fd = -1;
	source->direct = false;
	if (device_gone(-result))
		return result;
	ask_for_the_same(source);
	int reopened = negotiate(source, false);
	if (reopened < 0)
		return device_gone(-reopened) ? reopened : -ENODEV;
	return result == -ERANGE ? -ERANGE : -EINVAL;
}

/* Begins a slot on the writer and lends it to the driver as buffer index. */
static int lend_slot(struct capture_source *source, uint32_t index)
{
	struct vshm_frame *frame = &source->lent[index];
	int result = vshm_writer_begin(source->writer, source->ring_format, source->width,
	                               source->height, frame);
	if (result < 0) {
		fprintf(stderr, "vshm-capture: cannot lend a slot of the stream to '%s': %s\n",
		        source->path, vshm_error());
		return result;
	}
	source->is_lent[index] = true;
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(source->writer, &stats);
	struct v4l2_buffer buffer = { .index = index,
		                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                      .memory = V4L2_MEMORY_USERPTR,
		                      .m.userptr = (unsigned long)frame->plane[0],
		                      .length = (uint32_t)stats.slot_size };
	if (xioctl(source->fd, VIDIOC_QBUF, &buffer) < 0)
		return -errno;
	return 0;
}

static int queue_mmap_buffer(struct capture_source *source, uint32_t index)
{
	struct v4l2_buffer buffer = { .index = index,
		                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                      .memory = V4L2_MEMORY_MMAP };
	if (xioctl(source->fd, VIDIOC_QBUF, &buffer) < 0)
		return -errno;
	return 0;
}

static int start_mmap(struct capture_source *source)
{
	struct v4l2_requestbuffers request = { .count = BUFFER_COUNT,
		                               .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                               .memory = V4L2_MEMORY_MMAP };
	if (xioctl(source->fd, VIDIOC_REQBUFS, &request) < 0)
		return -errno;
	if (request.count < 1 || request.count > MAX_BUFFERS) {
		fprintf(stderr, "vshm-capture: '%s' gave %u buffers\n", source->path,
		        request.count);
		return -EIO;
	}
	source->buffer_count = request.count;
	for (uint32_t i = 0; i < request.count; i++) {
		struct v4l2_buffer buffer = { .index = i,
			                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
			                      .memory = V4L2_MEMORY_MMAP };
		if (xioctl(source->fd, VIDIOC_QUERYBUF, &buffer) < 0)
			return -errno;
		void *start = v4l2_mmap(NULL, buffer.length, PROT_READ | PROT_WRITE, MAP_SHARED,
		                        source->fd, buffer.m.offset);
		if (start == MAP_FAILED)
			return -errno;
		source->maps[i].start = start;
		source->maps[i].length = buffer.length;
		int result = queue_mmap_buffer(source, i);
		if (result < 0)
			return result;
	}
	return 0;
}

/* Allocates or lends buffers, queues them and starts streaming. Returns 0 or -errno. */
static int start_stream(struct capture_source *source, struct vshm_writer *writer)
{
	int result;
	source->writer = writer;
	if (source->io == CAPTURE_IO_USERPTR) {
		struct vshm_writer_stats stats;
		vshm_writer_get_stats(writer, &stats);
		/* As many as the writer has frames in flight: what the driver granted first. */
		result =
		    start_userptr(source, source->lend_count, source->lend_count, stats.slot_size);
		if (result == -EINVAL || result == -ERANGE) {
			/* A device that came back changed: nothing to lend to it any more. */
			fprintf(stderr,
			        "vshm-capture: '%s' no longer takes the ring's slots; copying its "
			        "frames instead (mmap)\n",
			        source->path);
			source->io = CAPTURE_IO_MMAP;
		} else if (result < 0) {
			return result;
		}
	}
	if (source->io == CAPTURE_IO_USERPTR) {
		for (uint32_t i = 0; i < source->buffer_count; i++)
			if ((result = lend_slot(source, i)) < 0)
				return result;
	} else if ((result = start_mmap(source)) < 0) {
		return result;
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (xioctl(source->fd, VIDIOC_STREAMON, &type) < 0)
		return -errno;
	source->streaming = true;
	source->have_sequence = false;
	source->last_frame_ns = vshm_now_ns();
	return 0;
}

static void v4l2_close_source(struct capture_source *source)
{
	if (!source)
		return;
	close_device(source);
	close_decoder(source);
	free(source);
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
	source->location = location;
	source->fd = -1;
	source->settings = *settings;
	snprintf(source->path, sizeof(source->path), "%s", path_of(location));
	if (negotiate(source, true) < 0)
		goto error;
	if (source->compressed && open_decoder(source) < 0) {
		fprintf(stderr,
		        "vshm-capture: '%s' sends MJPEG, and libavcodec's decoder is "
		        "missing\n",
		        source->path);
		goto error;
	}

	/* USERPTR if the layout allows it and the driver takes it; mmap otherwise. */
	source->io = CAPTURE_IO_MMAP;
	const char *why_not = NULL;
	if (settings->io != CAPTURE_IO_MMAP) {
		int result = -EINVAL;
		if (!layout_matches_ring(source, 0))
			why_not = source->compressed ? "its frames are compressed"
			          : source->emulated ? "libv4l2 converts its frames"
			                             : "its row layout is not the ring's";
		else if ((result = start_userptr(source, BUFFER_COUNT, MAX_BUFFERS, 0)) == -ERANGE)
			why_not = "its driver wants more buffers than vshm-capture lends (16)";
		else if (result < 0 && source->fd >= 0)
			why_not = "its driver does not take user memory";
		if (result < 0 && source->fd < 0) {
			explain_open_error(source->path, ENODEV);
			goto error;
		}
		if (result == 0) {
			/* Only probed: the slots are lent once the stream exists, as many as the
			 * driver granted now (the writer is made with that many in flight). */
			source->io = CAPTURE_IO_USERPTR;
			source->lend_count = source->buffer_count;
			release_userptr(source);
		}
		if (why_not && settings->io == CAPTURE_IO_USERPTR)
			fprintf(stderr,
			        "vshm-capture: '%s': no USERPTR (%s); copying from mmap buffers "
			        "instead\n",
			        source->path, why_not);
	}

	char text[5];
	fourcc_text(source->pixelformat, text);
	double rate = source->interval.numerator
	                  ? (double)source->interval.denominator / source->interval.numerator
	                  : 0;
	description->format = source->ring_format;
	description->width = source->width;
	description->height = source->height;
	description->frame_interval_ns = rate > 0 ? (uint64_t)(1e9 / rate + 0.5) : 0;
	description->live = true;
	description->frames_in_flight = source->io == CAPTURE_IO_USERPTR ? source->lend_count : 1;
	/* A driver may pad sizeimage beyond the pixels: a lent slot must hold all of it. */
	description->max_frame_bytes = source->compressed ? 0 : source->sizeimage;
	/* Bounded so the line always fits; a long device path is cut short. */
	snprintf(description->summary, sizeof(description->summary),
	         "camera '%.36s' (%.24s, %s at %.3g fps%s, %s)", source->path, source->card, text,
	         rate,
	         source->compressed ? ", decoded"
	         : source->emulated ? ", converted by libv4l2"
	                            : "",
	         source->io == CAPTURE_IO_USERPTR ? "USERPTR: no copy" : "mmap + one copy");
	return source;

error:
	v4l2_close_source(source);
	return NULL;
}

/* The one copy: a raw driver buffer into the slot, plane by plane. */
static void copy_raw(const struct capture_source *source, const uint8_t *data,
                     struct vshm_frame *frame)
{
	uint64_t offsets[VSHM_FORMAT_PLANES_MAX];
	uint32_t strides[VSHM_FORMAT_PLANES_MAX];
	uint32_t planes = v4l2_planes(source->ring_format, source->height, source->bytesperline,
	                              offsets, strides);
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
}

#ifdef VSHM_HAVE_FFMPEG
/* The ring format a decoded picture goes into when none was asked. */
static uint32_t ring_format_for_picture(enum AVPixelFormat format)
{
	switch (format) {
	case AV_PIX_FMT_YUVJ422P:
	case AV_PIX_FMT_YUV422P:
		return VSHM_FORMAT_YUYV;
	case AV_PIX_FMT_GRAY8:
		return VSHM_FORMAT_GRAY8;
	default:
		return VSHM_FORMAT_I420;
	}
}

/* Decoded 4:2:2 planes packed as YUYV, straight into the slot. */
static void pack_yuyv(const AVFrame *picture, struct vshm_frame *frame)
{
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *luma = picture->data[0] + (size_t)y * (size_t)picture->linesize[0];
		const uint8_t *u = picture->data[1] + (size_t)y * (size_t)picture->linesize[1];
		const uint8_t *v = picture->data[2] + (size_t)y * (size_t)picture->linesize[2];
		uint8_t *out = frame->plane[0] + (size_t)y * frame->stride[0];
		for (uint32_t x = 0; x < frame->width / 2; x++) {
			out[4 * x] = luma[2 * x];
			out[4 * x + 1] = u[x];
			out[4 * x + 2] = luma[2 * x + 1];
			out[4 * x + 3] = v[x];
		}
		if (frame->width % 2) {
			uint32_t x = frame->width / 2;
			out[4 * x] = luma[2 * x];
			out[4 * x + 1] = u[x];
			out[4 * x + 2] = luma[2 * x];
			out[4 * x + 3] = v[x];
		}
	}
}

/*
 * Decodes one MJPEG buffer and begins a frame with it. Returns 1 with a frame begun,
 * 0 for a buffer that does not decode (skipped), or a negative errno.
 */
static int decode_into_slot(struct capture_source *source, uint8_t *data, uint32_t size,
                            size_t capacity, struct vshm_writer *writer, struct vshm_frame *frame)
{
	/* libavcodec may read AV_INPUT_BUFFER_PADDING_SIZE bytes past the data, and wants
	 * them zero. The driver's buffer is ours until it is queued again: zero them there
	 * if they fit; if not, copy the compressed data into a padded buffer kept from frame
	 * to frame (a copy of the JPEG, not of the pixels, and only for such drivers). */
	if ((uint64_t)size + AV_INPUT_BUFFER_PADDING_SIZE <= capacity) {
		memset(data + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	} else {
		av_fast_padded_malloc(&source->padded, &source->padded_size, size);
		if (!source->padded) {
			fprintf(stderr, "vshm-capture: out of memory\n");
			return -ENOMEM;
		}
		memcpy(source->padded, data, size);
		data = source->padded;
	}
	AVPacket *packet = source->packet;
	packet->data = data;
	packet->size = (int)size;
	int result = avcodec_send_packet(source->decoder, packet);
	av_packet_unref(packet);
	if (result < 0)
		return 0;
	if (avcodec_receive_frame(source->decoder, source->picture) < 0)
		return 0;
	AVFrame *picture = source->picture;
	enum AVPixelFormat input = (enum AVPixelFormat)picture->format;
	uint32_t format =
	    source->settings.format ? source->settings.format : ring_format_for_picture(input);
	if (picture->width <= 0 || picture->height <= 0 ||
	    picture->width > VSHM_FORMAT_DIMENSION_MAX ||
	    picture->height > VSHM_FORMAT_DIMENSION_MAX) {
		av_frame_unref(picture);
		return 0;
	}
	result = vshm_writer_begin(writer, format, (uint32_t)picture->width,
	                           (uint32_t)picture->height, frame);
	if (result < 0) {
		fprintf(stderr,
		        "vshm-capture: cannot put a decoded %dx%d frame in the stream: %s\n",
		        picture->width, picture->height, vshm_error());
		av_frame_unref(picture);
		return result;
	}
	bool full_range = input == AV_PIX_FMT_YUVJ420P || input == AV_PIX_FMT_YUVJ422P ||
	                  input == AV_PIX_FMT_YUVJ444P || picture->color_range == AVCOL_RANGE_JPEG;
	if (format == VSHM_FORMAT_YUYV &&
	    (input == AV_PIX_FMT_YUVJ422P || input == AV_PIX_FMT_YUV422P)) {
		pack_yuyv(picture, frame);
	} else if ((format == VSHM_FORMAT_I420 &&
	            (input == AV_PIX_FMT_YUVJ420P || input == AV_PIX_FMT_YUV420P)) ||
	           (format == VSHM_FORMAT_GRAY8 && input == AV_PIX_FMT_GRAY8)) {
		for (uint32_t p = 0; p < frame->plane_count; p++) {
			int rows = p == 0 ? picture->height : (picture->height + 1) / 2;
			int bytes = p == 0 ? picture->width : (picture->width + 1) / 2;
			av_image_copy_plane(frame->plane[p], (int)frame->stride[p],
			                    picture->data[p], picture->linesize[p], bytes, rows);
		}
	} else {
		/* Anything else is converted by swscale, straight into the slot. */
		enum AVPixelFormat output =
		    av_get_pix_fmt(vshm_format_describe(format)->ffmpeg_name);
		enum AVPixelFormat plain = input == AV_PIX_FMT_YUVJ420P   ? AV_PIX_FMT_YUV420P
		                           : input == AV_PIX_FMT_YUVJ422P ? AV_PIX_FMT_YUV422P
		                           : input == AV_PIX_FMT_YUVJ444P ? AV_PIX_FMT_YUV444P
		                                                          : input;
		source->scaler = sws_getCachedContext(
		    source->scaler, picture->width, picture->height, plain, picture->width,
		    picture->height, output, SWS_POINT, NULL, NULL, NULL);
		if (!source->scaler) {
			vshm_writer_cancel(writer);
			av_frame_unref(picture);
			return 0;
		}
		const int *coefficients = sws_getCoefficients(SWS_CS_ITU601);
		bool rgb = av_pix_fmt_desc_get(output)->flags & AV_PIX_FMT_FLAG_RGB;
		sws_setColorspaceDetails(source->scaler, coefficients, full_range, coefficients,
		                         full_range || rgb, 0, 1 << 16, 1 << 16);
		int strides[VSHM_FORMAT_PLANES_MAX];
		for (int i = 0; i < VSHM_FORMAT_PLANES_MAX; i++)
			strides[i] = (int)frame->stride[i];
		sws_scale(source->scaler, (const uint8_t *const *)picture->data, picture->linesize,
		          0, picture->height, frame->plane, strides);
		full_range = full_range || rgb;
	}
	frame->color_matrix = raw_matrix_of(format);
	frame->color_range = full_range ? VSHM_COLOR_RANGE_FULL : VSHM_COLOR_RANGE_LIMITED;
	av_frame_unref(picture);
	return 1;
}
#endif

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
	ask_for_the_same(source);
	while (!program_shutdown_requested()) {
		sleep_ns(REOPEN_PERIOD_NS);
		if (program_shutdown_requested())
			break;
		if (negotiate(source, false) == 0) {
			/* The old format may be gone and MJPEG the one left: decode it then. */
			if (source->compressed && open_decoder(source) < 0) {
				fprintf(stderr,
				        "vshm-capture: '%s' came back sending only MJPEG, and "
				        "libavcodec's MJPEG decoder cannot be opened; stopping\n",
				        source->path);
				close_device(source);
				return -ENOSYS;
			}
			fprintf(stderr, "vshm-capture: '%s' is back; streaming again\n",
			        source->path);
			source->discontinuity = true;
			return 0;
		}
	}
	return 0;
}

/* Puts a buffer back in the driver's queue after it was used or skipped. */
static int give_back(struct capture_source *source, uint32_t index)
{
	if (source->io == CAPTURE_IO_MMAP)
		return queue_mmap_buffer(source, index);
	/* USERPTR: the same slot, still begun, goes back to the driver. */
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(source->writer, &stats);
	struct v4l2_buffer buffer = { .index = index,
		                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		                      .memory = V4L2_MEMORY_USERPTR,
		                      .m.userptr = (unsigned long)source->lent[index].plane[0],
		                      .length = (uint32_t)stats.slot_size };
	if (xioctl(source->fd, VIDIOC_QBUF, &buffer) < 0)
		return -errno;
	return 0;
}

static int v4l2_next(struct capture_source *source, struct vshm_writer *writer,
                     struct vshm_frame *frame, uint64_t *media_ns)
{
	int result;
	for (;;) {
		if (program_shutdown_requested())
			return CAPTURE_END;
		if (source->fd < 0 && (result = reconnect(source)) < 0)
			return result;
		if (source->fd < 0)
			continue;
		if (!source->streaming) {
			result = start_stream(source, writer);
			if (result < 0) {
				if (device_gone(-result)) {
					if ((result = reconnect(source)) < 0)
						return result;
					continue;
				}
				fprintf(stderr, "vshm-capture: '%s': cannot start streaming: %s\n",
				        source->path, strerror(-result));
				close_device(source);
				return result;
			}
		}
		/* USERPTR: lend a new slot in place of the one published last time. */
		for (uint32_t i = 0; source->io == CAPTURE_IO_USERPTR && i < source->buffer_count;
		     i++) {
			if (source->is_lent[i])
				continue;
			result = lend_slot(source, i);
			if (result < 0 && device_gone(-result))
				break;
			if (result < 0) {
				close_device(source);
				return result;
			}
		}

		struct pollfd poll_fd = { .fd = source->fd, .events = POLLIN };
		int ready = poll(&poll_fd, 1, POLL_TIMEOUT_MS);
		if (ready < 0 && errno != EINTR) {
			fprintf(stderr, "vshm-capture: '%s': poll: %s\n", source->path,
			        strerror(errno));
			close_device(source);
			return -errno;
		}
		if (ready <= 0) {
			uint64_t quiet_ns = vshm_now_ns() - source->last_frame_ns;
			if (ready == 0 && !source->quiet_warned &&
			    quiet_ns > QUIET_WARNING_S * 1000000000ull) {
				fprintf(stderr,
				        "vshm-capture: '%s' has sent no frame for %d s; still "
				        "waiting\n",
				        source->path, QUIET_WARNING_S);
				source->quiet_warned = true;
			}
			continue;
		}

		struct v4l2_buffer buffer = {
			.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
			.memory = source->io == CAPTURE_IO_USERPTR ? V4L2_MEMORY_USERPTR
			                                           : V4L2_MEMORY_MMAP,
		};
		if (v4l2_ioctl(source->fd, VIDIOC_DQBUF, &buffer) < 0) {
			int error = errno;
			if (error == EAGAIN || error == EINTR)
				continue;
			if (device_gone(error)) {
				if ((result = reconnect(source)) < 0)
					return result;
				continue;
			}
			fprintf(stderr, "vshm-capture: '%s': cannot dequeue a frame: %s\n",
			        source->path, strerror(error));
			close_device(source);
			return -error;
		}
		if (buffer.index >= source->buffer_count) {
			fprintf(stderr, "vshm-capture: '%s' returned buffer %u of %u\n",
			        source->path, buffer.index, source->buffer_count);
			close_device(source);
			return -EIO;
		}
		source->last_frame_ns = vshm_now_ns();
		source->quiet_warned = false;

		/* Frames the driver numbered but never gave us were dropped. */
		if (source->have_sequence && buffer.sequence != source->last_sequence + 1) {
			uint32_t gap = buffer.sequence - source->last_sequence - 1;
			if (gap < UINT32_MAX / 2) {
				vshm_writer_count_dropped(writer, gap);
				source->next_frame_number += gap;
				source->discontinuity = true;
			}
		}
		source->have_sequence = true;
		source->last_sequence = buffer.sequence;

		bool short_frame = !source->compressed && buffer.bytesused < source->sizeimage;
		/* bytesused comes from the driver: never past the buffer it describes. */
		bool overlong = source->io == CAPTURE_IO_MMAP &&
		                buffer.bytesused > source->maps[buffer.index].length;
		if ((buffer.flags & V4L2_BUF_FLAG_ERROR) || short_frame || overlong ||
		    buffer.bytesused == 0) {
			/* Never published: counted, and the buffer goes back to the driver. */
			source->frames_skipped++;
			source->next_frame_number++;
			source->discontinuity = true;
			vshm_writer_count_dropped(writer, 1);
			if ((result = give_back(source, buffer.index)) < 0 &&
			    !device_gone(-result)) {
				close_device(source);
				return result;
			}
			continue;
		}

		uint64_t capture_ns = 0;
		if ((buffer.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) ==
		    V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
			capture_ns = (uint64_t)buffer.timestamp.tv_sec * 1000000000u +
			             (uint64_t)buffer.timestamp.tv_usec * 1000u;
		if (capture_ns == 0)
			capture_ns = vshm_now_ns();

		if (source->io == CAPTURE_IO_USERPTR) {
			/* The driver is done with this slot: hand it over to be published. */
			*frame = source->lent[buffer.index];
			source->is_lent[buffer.index] = false;
			frame->color_matrix = raw_matrix_of(source->ring_format);
			frame->color_range = VSHM_COLOR_RANGE_UNSPECIFIED;
		} else {
			uint8_t *data = source->maps[buffer.index].start;
			int begun = 1;
			if (source->compressed) {
#ifdef VSHM_HAVE_FFMPEG
				begun = decode_into_slot(source, data, buffer.bytesused,
				                         source->maps[buffer.index].length, writer,
				                         frame);
#else
				begun = 0;
#endif
			} else {
				begun = vshm_writer_begin(writer, source->ring_format,
				                          source->width, source->height, frame);
				if (begun < 0)
					fprintf(stderr, "vshm-capture: cannot begin a frame: %s\n",
					        vshm_error());
				else
					begun = 1;
				if (begun == 1) {
					copy_raw(source, data, frame);
					frame->color_matrix = raw_matrix_of(source->ring_format);
				}
			}
			int queued = give_back(source, buffer.index);
			if (begun < 0) {
				close_device(source);
				return begun;
			}
			if (begun == 0) {
				source->frames_skipped++;
				source->next_frame_number++;
				source->discontinuity = true;
				vshm_writer_count_dropped(writer, 1);
				if (queued < 0 && !device_gone(-queued)) {
					close_device(source);
					return queued;
				}
				continue;
			}
			if (queued < 0 && !device_gone(-queued)) {
				vshm_writer_cancel(writer);
				close_device(source);
				return queued;
			}
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
	stats->loops = 0;
}

const struct capture_source_ops capture_source_v4l2 = {
	.name = "v4l2",
	.open = v4l2_open_source,
	.next = v4l2_next,
	.get_stats = v4l2_get_stats,
	.close = v4l2_close_source,
};

/* ---- listing ---- */

static void print_rates(int fd, uint32_t pixelformat, uint32_t width, uint32_t height)
{
	bool any = false;
	for (uint32_t i = 0;; i++) {
		struct v4l2_frmivalenum ival = {
			.index = i, .pixel_format = pixelformat, .width = width, .height = height
		};
		if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival) < 0)
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
	const char *path = path_of(location);
	struct v4l2_capability cap;
	int fd = open_device(path, &cap, true, false);
	if (fd < 0)
		return 1;
	printf("%s: %s (driver %s, %s)\n", path, (const char *)cap.card, (const char *)cap.driver,
	       (const char *)cap.bus_info);
	struct camera_format formats[MAX_FORMATS];
	uint32_t count = list_formats(fd, formats);
	if (count == 0)
		printf("  no formats listed\n");
	for (uint32_t f = 0; f < count; f++) {
		char text[5];
		fourcc_text(formats[f].pixelformat, text);
		const char *how = is_native(formats[f].pixelformat) ? "carried as is"
		                  : formats[f].pixelformat == V4L2_PIX_FMT_MJPEG
		                      ? "decoded by vshm-capture"
		                      : "not carried";
		if (formats[f].flags & V4L2_FMT_FLAG_EMULATED)
			how = "converted by libv4l2";
		printf("  %s  %s (%s)\n", text, formats[f].description, how);
		for (uint32_t i = 0;; i++) {
			struct v4l2_frmsizeenum size = { .index = i,
				                         .pixel_format = formats[f].pixelformat };
			if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size) < 0)
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
		if (xioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
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
		struct camera_format formats[MAX_FORMATS];
		uint32_t count = list_formats(fd, formats);
		printf(":");
		for (uint32_t i = 0; i < count; i++) {
			if (formats[i].flags & V4L2_FMT_FLAG_EMULATED)
				continue;
			char text[5];
			fourcc_text(formats[i].pixelformat, text);
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
