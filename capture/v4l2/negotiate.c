/*
 * Negotiation: which of the camera's formats, sizes and rates to ask for, and what the
 * driver answers (VIDIOC_S_FMT, VIDIOC_S_PARM), which is then what is used.
 *
 * The format: the asked one, or the first of the ring's own formats the camera offers
 * (then MJPEG, decoded here with libavcodec, then formats libv4l2 emulates); the size:
 * the asked one or the nearest (said on stderr), or the largest; the rate: the asked one
 * or the nearest, or the fastest.
 */
#include <errno.h>
#include <libv4l2.h>
#include <stdio.h>
#include <string.h>

#include "camera.h"

/* Formats the ring carries as they are, in the order we prefer them (V4L2 codes). */
static const uint32_t native_formats[] = {
	V4L2_PIX_FMT_YUYV,  V4L2_PIX_FMT_UYVY,  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420,
	V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_BGR24, V4L2_PIX_FMT_GREY,
};

/* The ring format with the same layout as a V4L2 pixel format (the format table's
 * v4l2_fourcc), or VSHM_FORMAT_INVALID. */
uint32_t camera_ring_format_of(uint32_t pixelformat)
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

bool camera_is_native(uint32_t pixelformat)
{
	for (size_t i = 0; i < sizeof(native_formats) / sizeof(native_formats[0]); i++)
		if (native_formats[i] == pixelformat)
			return camera_ring_format_of(pixelformat) != VSHM_FORMAT_INVALID;
	return false;
}

bool camera_is_jpeg(uint32_t pixelformat)
{
	return pixelformat == V4L2_PIX_FMT_MJPEG;
}

uint8_t camera_raw_matrix(uint32_t ring_format)
{
	return vshm_format_describe(ring_format)->family == VSHM_FORMAT_FAMILY_YUV
	           ? VSHM_COLOR_MATRIX_BT601
	           : VSHM_COLOR_MATRIX_UNSPECIFIED;
}

uint32_t camera_list_formats(int fd, struct camera_format *formats)
{
	uint32_t count = 0;
	for (uint32_t i = 0; count < CAMERA_FORMATS_MAX; i++) {
		struct v4l2_fmtdesc desc = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		if (camera_ioctl(fd, VIDIOC_ENUM_FMT, &desc) < 0)
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
		if (camera_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size) < 0)
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
		if (camera_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival) < 0)
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
	uint32_t candidates[CAMERA_FORMATS_MAX * 2];
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

uint32_t camera_planes(const struct capture_source *source,
                       uint64_t offsets[VSHM_FORMAT_PLANES_MAX],
                       uint32_t strides[VSHM_FORMAT_PLANES_MAX])
{
	return v4l2_planes(source->ring_format, source->height, source->bytesperline, offsets,
	                   strides);
}

bool camera_layout_is_the_rings(const struct capture_source *source, uint64_t slot_size)
{
	struct vshm_format_layout layout;
	if (source->compressed || source->emulated || !camera_is_native(source->pixelformat) ||
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

int camera_negotiate(struct capture_source *source, bool verbose)
{
	struct v4l2_capability cap;
	int fd = camera_open_device(source->path, &cap, verbose, false);
	if (fd < 0)
		return fd;
	snprintf(source->card, sizeof(source->card), "%s", (const char *)cap.card);
	struct camera_format formats[CAMERA_FORMATS_MAX];
	uint32_t count = camera_list_formats(fd, formats);
	const struct capture_settings *settings = &source->settings;
	uint32_t chosen = choose_format(fd, formats, count, settings, source->wanted_pixelformat);
	if (chosen == UINT32_MAX) {
		if (verbose) {
			char offered[CAMERA_FORMATS_MAX * 5 + 1] = "";
			for (uint32_t i = 0; i < count; i++) {
				char text[5];
				camera_fourcc_text(formats[i].pixelformat, text);
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
	if (camera_ioctl(fd, VIDIOC_G_FMT, &format) < 0) {
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
	if (camera_ioctl(fd, VIDIOC_S_FMT, &format) < 0) {
		int error = errno;
		if (verbose && error == EBUSY)
			camera_explain_open_error(source->path, EBUSY);
		else if (verbose)
			fprintf(stderr, "vshm-capture: '%s': cannot set its format: %s\n",
			        source->path, strerror(error));
		v4l2_close(fd);
		return -error;
	}
	struct v4l2_pix_format *pix = &format.fmt.pix;
	char text[5];
	camera_fourcc_text(pix->pixelformat, text);
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
	if (camera_ioctl(fd, VIDIOC_G_PARM, &parm) == 0 &&
	    (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) &&
	    choose_interval(fd, pix->pixelformat, pix->width, pix->height, settings->fps,
	                    &interval)) {
		parm.parm.capture.timeperframe = interval;
		if (camera_ioctl(fd, VIDIOC_S_PARM, &parm) < 0 && verbose)
			fprintf(stderr, "vshm-capture: '%s': cannot set its frame rate: %s\n",
			        source->path, strerror(errno));
		camera_ioctl(fd, VIDIOC_G_PARM, &parm);
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
	source->compressed = camera_is_jpeg(pix->pixelformat);
	source->emulated = (formats[chosen].flags & V4L2_FMT_FLAG_EMULATED) != 0;
	if (source->compressed)
		source->ring_format = settings->format ? settings->format : VSHM_FORMAT_YUYV;
	else
		source->ring_format = camera_ring_format_of(pix->pixelformat);
	if (!source->ring_format) {
		char code[5];
		camera_fourcc_text(pix->pixelformat, code);
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

void camera_ask_for_the_same(struct capture_source *source)
{
	source->wanted_pixelformat = source->pixelformat;
	source->settings.width = source->width;
	source->settings.height = source->height;
	if (source->interval.numerator)
		source->settings.fps =
		    (double)source->interval.denominator / source->interval.numerator;
}
