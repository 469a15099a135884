/*
 * What vshmsink and vshmsrc share: the raw video formats both sides speak and how they
 * map onto the ring's, colorimetry, the layout of a frame in GStreamer's terms, and
 * the conversion between GStreamer's clock times and the ring's CLOCK_MONOTONIC
 * timestamps. Everything here is pure or reads the element's clock; thread-safe.
 */
#ifndef VSHM_GST_H
#define VSHM_GST_H

#include <stdbool.h>
#include <stdint.h>

#include <gst/gst.h>
#include <gst/video/video.h>

#include <vshm/vshm.h>

/* The caps both pads accept or produce: every format the ring carries, any size. */
#define VSHM_GST_CAPS                                                                              \
	"video/x-raw, format = (string) { NV12, I420, YUY2, UYVY, RGB, BGR, RGBA, BGRA, BGRx, "    \
	"GRAY8, P010_10LE, Y444 }, width = (int) [ 1, 16384 ], height = (int) [ 1, 16384 ], "      \
	"framerate = "                                                                             \
	"(fraction) "                                                                              \
	"[ 0/1, 2147483647/1 ]"

/* The name both elements use when stream-name is not set. */
#define VSHM_GST_DEFAULT_STREAM_NAME "gst"

GST_DEBUG_CATEGORY_EXTERN(vshm_gst_debug);

GType gst_vshm_sink_get_type(void);
GType gst_vshm_src_get_type(void);

/* The ring's format for a GStreamer format, or VSHM_FORMAT_INVALID if it has none. */
uint32_t vshm_gst_format_from_video(GstVideoFormat format);

/* GStreamer's format for a ring format, or GST_VIDEO_FORMAT_UNKNOWN. */
GstVideoFormat vshm_gst_video_format(uint32_t format);

/* What a frame says of its pixels besides format and size: what caps say of them. */
struct vshm_gst_picture {
	uint8_t color_matrix, color_range;       /* enum vshm_color_matrix, _range */
	uint8_t color_primaries, color_transfer; /* enum vshm_color_primaries, _transfer */
	struct vshm_ratio sample_aspect;         /* pixel-aspect-ratio; 0/0 unknown */
};

/*
 * The frame's colour and aspect fields for a negotiated GstVideoInfo: BT.601, BT.709
 * and BT.2020 matrices, limited or full range, the primaries and transfer functions the
 * ring names (BT.709, BT.601, BT.2020, P3; SDR, sRGB, PQ, HLG, linear) and the
 * pixel-aspect-ratio carry over; anything else (and every RGB format's matrix) is left
 * unspecified, for readers to assume the usual.
 */
void vshm_gst_picture_from_info(const GstVideoInfo *info, struct vshm_gst_picture *picture);

/* Puts picture's fields into frame. */
void vshm_gst_picture_to_frame(const struct vshm_gst_picture *picture, struct vshm_frame *frame);

/*
 * Fills info for a frame the ring carries (format, size, colour, pixel aspect) and a
 * nominal frame interval (0: unknown, a variable rate 0/1). Unspecified colour becomes
 * what readers assume: BT.601 below 720 lines, BT.709 from 720, limited range for YUV;
 * RGB is sRGB, full range; primaries and transfer the frame names replace the matrix's
 * usual ones (so HDR stays HDR); an unknown aspect is square.
 * Returns false for a format GStreamer does not have.
 */
bool vshm_gst_info_from_frame(const struct vshm_frame *frame, uint64_t frame_interval_ns,
                              GstVideoInfo *info);

/*
 * True if GStreamer's default layout for info (what an element that does not read
 * GstVideoMeta assumes) is the ring's layout for the same frame: same strides and same
 * plane offsets. Then buffers need no GstVideoMeta to be understood.
 */
bool vshm_gst_layout_is_default(const GstVideoInfo *info, const struct vshm_format_layout *layout);

/* Adds a GstVideoMeta describing a frame laid out as layout to buffer. */
void vshm_gst_add_video_meta(GstBuffer *buffer, const GstVideoInfo *info,
                             const struct vshm_format_layout *layout);

/*
 * Copies the visible pixels of every plane, row by row (one memcpy per plane when the
 * strides are equal), from source (ring slot or buffer) to destination. Strides and
 * plane pointers are given per plane; width, height and format say how many rows and
 * bytes each plane has.
 */
void vshm_gst_copy_planes(uint32_t format, uint32_t width, uint32_t height,
                          uint8_t *const destination[], const uint32_t destination_stride[],
                          const uint8_t *const source[], const uint32_t source_stride[]);

/*
 * CLOCK_MONOTONIC nanoseconds for a running time of element: the clock time
 * running_time + base time, taken as is when the element's clock is GStreamer's system
 * clock on CLOCK_MONOTONIC (its default), otherwise moved onto CLOCK_MONOTONIC by its
 * distance from the clock's present. Never later than now (a non-live pipeline that
 * runs ahead of the clock stamps frames with the time they came). Returns 0 when there
 * is no clock or no valid time; the writer then stamps the frame itself.
 */
uint64_t vshm_gst_monotonic_from_running_time(GstElement *element, GstClockTime running_time);

/*
 * The inverse: the running time of element at which CLOCK_MONOTONIC read monotonic_ns,
 * or GST_CLOCK_TIME_NONE without a clock. Times before the element's base time give 0.
 */
GstClockTime vshm_gst_running_time_from_monotonic(GstElement *element, uint64_t monotonic_ns);

#endif
