/*
 * A decoded FFmpeg picture into a ring slot, for every source that decodes (the file
 * source, and the camera source's MJPEG): which ring format a picture goes into when
 * none is asked, how its colour range and matrix are kept or converted, the one pass
 * that puts its pixels into the slot (a plane copy, or libswscale straight into the
 * slot), and what the slot's colour fields then say. One place, so that a file and a
 * camera tag and convert the same picture the same way.
 *
 * The rules:
 *  - YUV into YUV keeps the picture's range and matrix, and the slot says them (a range
 *    FFmpeg does not know stays unspecified: readers take it as limited).
 *  - Anything into RGB or GRAY8 is full range (GRAY8 is full range by definition, as in
 *    FFmpeg, whose gray formats are always full range): limited YUV is expanded.
 *  - RGB into YUV is BT.601, limited range.
 *  - Coefficients for a conversion between YUV and RGB come from the picture's own
 *    colour space, or the caller's fallback when the picture has none (a JPEG is BT.601
 *    by definition, a file's unknown matrix is the readers' to guess).
 *
 * Not thread-safe: a struct capture_picture belongs to one source.
 */
#ifndef VSHM_CAPTURE_PICTURE_H
#define VSHM_CAPTURE_PICTURE_H

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include <vshm/vshm.h>

/* What is kept from one picture to the next: libswscale's context, rebuilt on change. */
struct capture_picture {
	struct SwsContext *scaler;
};

/*
 * The ring format a picture of this FFmpeg format goes into when none is asked: its own
 * when the ring carries the same bytes (the full-range YUVJ formats are the same bytes
 * as their YUV twins), else the nearest family: RGB and palettes as XRGB8888, gray as
 * GRAY8, 4:2:2 as YUYV (keeping its chroma), the rest as I420.
 */
uint32_t capture_picture_ring_format(enum AVPixelFormat format);

/* FFmpeg's pixel format with the same bytes as a ring format, or AV_PIX_FMT_NONE. */
enum AVPixelFormat capture_picture_av_format(uint32_t format);

/*
 * Puts picture into frame, a frame begun on the writer (its format, size, planes and
 * strides set by vshm_writer_begin(); the size may differ from the picture's, which is
 * then scaled), and sets frame->color_matrix and frame->color_range. fallback_matrix
 * (enum vshm_color_matrix) is the matrix of a picture whose colour space FFmpeg does not
 * know. Returns 0, or a negative AVERROR when libswscale cannot convert between the two
 * (nothing is then said; the frame holds garbage and is the caller's to cancel).
 */
int capture_picture_write(struct capture_picture *converter, const AVFrame *picture,
                          uint8_t fallback_matrix, struct vshm_frame *frame);

/* Frees what the converter holds; it may be used again after. */
void capture_picture_finish(struct capture_picture *converter);

#endif
