/*
 * Which of the camera's formats to use, and at what size and rate.
 *
 * The candidates, in the order they are preferred when all else is equal: the formats
 * the ring carries as they are (native_formats, in its order; or only the --format
 * asked), then MJPEG (decoded here), then formats libv4l2 emulates. Each candidate is
 * taken at its size nearest the asked one (or its largest), and its rate nearest the
 * asked one at that size (or its fastest). Among them, the first that comes nearest the
 * asked size, then reaches the asked rate (or, with none asked, goes fastest), then (no
 * size asked) is largest. So a webcam that offers YUYV at 5 fps and MJPEG at 30 fps at
 * 1080p gives MJPEG at 30 fps, and says why; --input-format takes a format as it is.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "camera.h"

/* Formats the ring carries as they are, in the order we prefer them (V4L2 codes). */
static const uint32_t native_formats[] = {
	V4L2_PIX_FMT_YUYV,  V4L2_PIX_FMT_UYVY,  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420,
	V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_BGR24, V4L2_PIX_FMT_GREY,
};

bool camera_is_native(uint32_t pixelformat)
{
	for (size_t i = 0; i < sizeof(native_formats) / sizeof(native_formats[0]); i++)
		if (native_formats[i] == pixelformat)
			return camera_ring_format_of(pixelformat) != VSHM_FORMAT_INVALID;
	return false;
}

bool camera_choose_size(int fd, uint32_t pixelformat, uint32_t width, uint32_t height,
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

bool camera_choose_interval(int fd, uint32_t pixelformat, uint32_t width, uint32_t height,
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

static bool same_fourcc(uint32_t a, uint32_t b)
{
	for (int i = 0; i < 4; i++)
		if (toupper((int)((a >> (8 * i)) & 0xff)) != toupper((int)((b >> (8 * i)) & 0xff)))
			return false;
	return true;
}

/* The V4L2 pixel format of a ring format, or 0 if V4L2 has none. */
static uint32_t v4l2_format_of(uint32_t format)
{
	const struct vshm_format_description *description = vshm_format_describe(format);
	return description ? description->v4l2_fourcc : 0;
}

/* A candidate: a format, at its size and rate for what was asked. */
struct candidate {
	uint32_t index; /* in formats */
	uint32_t width, height;
	uint64_t size_distance; /* from the asked size, or UINT64_MAX - area */
	double rate;            /* 0 when the driver lists none */
};

static void add(int fd, const struct camera_format *formats, uint32_t index,
                const struct capture_settings *settings, struct candidate *list, uint32_t *count)
{
	if (index == UINT32_MAX)
		return;
	struct candidate *c = &list[(*count)++];
	*c = (struct candidate){ .index = index, .size_distance = UINT64_MAX };
	uint32_t pixelformat = formats[index].pixelformat;
	if (!camera_choose_size(fd, pixelformat, settings->width, settings->height, &c->width,
	                        &c->height, &c->size_distance))
		return;
	struct v4l2_fract interval;
	if (camera_choose_interval(fd, pixelformat, c->width, c->height, settings->fps, &interval))
		c->rate = (double)interval.denominator / interval.numerator;
}

/* Whether candidate a is better than b (which comes before it in the order of preference). */
static bool better(const struct candidate *a, const struct candidate *b,
                   const struct capture_settings *settings)
{
	if (settings->width && a->size_distance != b->size_distance)
		return a->size_distance < b->size_distance;
	if (settings->fps > 0) {
		bool a_reaches = a->rate >= settings->fps * 0.99;
		bool b_reaches = b->rate >= settings->fps * 0.99;
		if (a_reaches != b_reaches)
			return a_reaches;
		if (!a_reaches && a->rate != b->rate)
			return a->rate > b->rate;
	} else if (a->rate != b->rate) {
		return a->rate > b->rate;
	}
	if (!settings->width && a->size_distance != b->size_distance)
		return a->size_distance < b->size_distance; /* the larger */
	return false;
}

/* Lists the candidates in the order of preference; returns how many. */
static uint32_t candidates_of(int fd, const struct camera_format *formats, uint32_t count,
                              const struct capture_settings *settings, struct candidate *list)
{
	uint32_t n = 0;
	size_t natives = sizeof(native_formats) / sizeof(native_formats[0]);
	for (int emulated = 0; emulated <= 1; emulated++) {
		if (settings->format) {
			add(fd, formats,
			    find_format(formats, count, v4l2_format_of(settings->format), emulated),
			    settings, list, &n);
		} else {
			for (size_t i = 0; i < natives; i++)
				add(fd, formats,
				    find_format(formats, count, native_formats[i], emulated),
				    settings, list, &n);
		}
#ifdef VSHM_HAVE_FFMPEG
		if (!emulated) {
			add(fd, formats, find_format(formats, count, V4L2_PIX_FMT_MJPEG, false),
			    settings, list, &n);
			add(fd, formats, find_format(formats, count, V4L2_PIX_FMT_JPEG, false),
			    settings, list, &n);
		}
#endif
	}
	return n;
}

uint32_t camera_choose_format(int fd, const struct camera_format *formats, uint32_t count,
                              const struct capture_settings *settings, uint32_t wanted,
                              const char *path)
{
	uint32_t index;
	if (wanted && (index = find_format(formats, count, wanted, false)) != UINT32_MAX)
		return index; /* reconnecting: the format we had, if it is still there */
	if (settings->input_format) {
		/* As the user typed it: "mjpg" is MJPG. */
		for (int emulated = 0; emulated <= 1; emulated++)
			for (uint32_t i = 0; i < count; i++)
				if (same_fourcc(formats[i].pixelformat, settings->input_format) &&
				    !!(formats[i].flags & V4L2_FMT_FLAG_EMULATED) == emulated)
					return i;
		return UINT32_MAX;
	}
	struct candidate list[CAMERA_FORMATS_MAX * 2];
	uint32_t n = candidates_of(fd, formats, count, settings, list);
	if (n == 0)
		return UINT32_MAX;
	uint32_t best = 0;
	for (uint32_t i = 1; i < n; i++)
		if (better(&list[i], &list[best], settings))
			best = i;
	if (path && best != 0 && list[best].rate != list[0].rate) {
		char chosen[5], first[5];
		camera_fourcc_text(formats[list[best].index].pixelformat, chosen);
		camera_fourcc_text(formats[list[0].index].pixelformat, first);
		fprintf(
		    stderr,
		    "vshm-capture: '%s': %s gives %.3g fps at %ux%u, where %s gives %.3g fps at "
		    "%ux%u; using %s (--input-format %s takes %s)\n",
		    path, chosen, list[best].rate, list[best].width, list[best].height, first,
		    list[0].rate, list[0].width, list[0].height, chosen, first, first);
	}
	return list[best].index;
}
