/*
 * Negotiation: what choose.c picks is asked for (VIDIOC_S_FMT, VIDIOC_S_PARM), and what
 * the driver answers is what is used; a size or rate other than the one asked is said
 * on stderr. Also where the planes of the driver's frames lie.
 */
#include <errno.h>
#include <libv4l2.h>
#include <stdio.h>
#include <string.h>

#include "camera.h"

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

bool camera_is_jpeg(uint32_t pixelformat)
{
	return pixelformat == V4L2_PIX_FMT_MJPEG || pixelformat == V4L2_PIX_FMT_JPEG;
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
	uint32_t chosen =
	    camera_choose_format(fd, formats, count, settings, source->wanted_pixelformat,
	                         verbose ? source->path : NULL);
	if (chosen == UINT32_MAX) {
		if (verbose) {
			char offered[CAMERA_FORMATS_MAX * 5 + 1] = "";
			for (uint32_t i = 0; i < count; i++) {
				char text[5];
				camera_fourcc_text(formats[i].pixelformat, text);
				strcat(offered, " ");
				strcat(offered, text);
			}
			char asked[5];
			camera_fourcc_text(settings->input_format, asked);
			if (settings->input_format)
				fprintf(
				    stderr,
				    "vshm-capture: '%s' has no %s (--input-format; it offers:%s)\n",
				    source->path, asked, count ? offered : " nothing");
			else if (settings->format)
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
	if (!camera_choose_size(fd, pixelformat, settings->width, settings->height, &width, &height,
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
	    camera_choose_interval(fd, pix->pixelformat, pix->width, pix->height, settings->fps,
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
		fprintf(stderr, "vshm-capture: '%s' delivers %s, which the ring cannot carry\n",
		        source->path, text);
		v4l2_close(fd);
		source->fd = -1;
		return -EINVAL;
	}
	if (!source->compressed && settings->format && source->ring_format != settings->format) {
		/* --input-format of a raw format, with another --format. */
		if (verbose)
			fprintf(
			    stderr,
			    "vshm-capture: '%s': %s frames are carried as %s, and only MJPEG is "
			    "converted; leave out --format, or take --input-format MJPG\n",
			    source->path, text, vshm_format_name(source->ring_format));
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
