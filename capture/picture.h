/*
 * A decoded FFmpeg picture into a ring slot, for every source that decodes (the file
 * source, and the camera source's MJPEG): which ring format a picture goes into when
 * none is asked, how its colour range and matrix are kept or converted, the one pass
 * that puts its pixels into the slot (a plane copy, a rotation, or libswscale straight
 * into the slot), and what the slot's colour and aspect fields then say. One place, so
 * that a file and a camera tag and convert the same picture the same way.
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

#include <stdbool.h>
#include <stddef.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>

#include <vshm/vshm.h>

#include "rotate.h"

/*
 * How pictures are put into slots, and what is kept from one to the next. The source
 * sets the first three before its first picture; zero means as stored, no aspect from
 * the container, pixels kept as they are.
 */
struct capture_picture {
	struct capture_rotation rotation; /* turns pictures upright (rotate.h) */
	AVRational stream_aspect;         /* the container's sample aspect, over the codec's */
	bool square_pixels;               /* scale to square pixels (--square-pixels) */
	/* libswscale's contexts, rebuilt on change: into the slot, and into a temporary. */
	struct SwsContext *scaler;
	struct SwsContext *first_scaler;
	/* Temporaries, for what cannot be done in one pass (see picture.c). */
	AVFrame *converted;
	AVFrame *turned;
};

/*
 * The ring format a picture of this FFmpeg format goes into when none is asked: its own
 * when the ring carries the same bytes (the full-range YUVJ formats are the same bytes
 * as their YUV twins), else the nearest that keeps its depth first and then its chroma:
 * RGB and palettes as XRGB8888, gray as GRAY8, YUV deeper than 8 bits as P010, 4:4:4 as
 * I444, 4:2:2 as YUYV, the rest as I420.
 */
uint32_t capture_picture_ring_format(enum AVPixelFormat format);

/*
 * What goes missing when pictures of format become ring_format: depth, chroma
 * resolution, colour, alpha. Writes "" when nothing does, else text for the line that
 * announces the stream: "lost in i420: depth 10 -> 8 bits, chroma 4:4:4 -> 4:2:0".
 */
void capture_picture_describe_losses(enum AVPixelFormat format, uint32_t ring_format, char *text,
                                     size_t size);

/*
 * The size a picture goes into the ring at: width x height when both are given (the
 * user's --size), else the picture's own size turned upright, and widened or narrowed to
 * square pixels when converter->square_pixels says so.
 */
void capture_picture_output_size(const struct capture_picture *converter, const AVFrame *picture,
                                 uint32_t width, uint32_t height, uint32_t *output_width,
                                 uint32_t *output_height);

/* FFmpeg's pixel format with the same bytes as a ring format, or AV_PIX_FMT_NONE. */
enum AVPixelFormat capture_picture_av_format(uint32_t format);

/*
 * Puts picture into frame, a frame begun on the writer (its format, size, planes and
 * strides set by vshm_writer_begin(); the size may differ from the picture's turned
 * upright, which is then scaled), turned as converter->rotation says, and sets the
 * frame's colour fields and sample aspect. fallback_matrix (enum vshm_color_matrix) is
 * the matrix of a picture whose colour space FFmpeg does not know. Returns 0, or a
 * negative AVERROR when libswscale cannot convert between the two or memory runs out
 * (nothing is then said; the frame holds garbage and is the caller's to cancel).
 */
int capture_picture_write(struct capture_picture *converter, const AVFrame *picture,
                          uint8_t fallback_matrix, struct vshm_frame *frame);

/*
 * The ring format and size a picture goes in at: format, width and height as asked (0
 * when not asked; a size only when both are given), else the picture's own
 * (capture_picture_ring_format(), capture_picture_output_size()).
 */
void capture_picture_output(const struct capture_picture *converter, const AVFrame *picture,
                            uint32_t format, uint32_t width, uint32_t height,
                            uint32_t *output_format, uint32_t *output_width,
                            uint32_t *output_height);

/*
 * Begins a frame of that format and size on writer and writes picture into it with
 * capture_picture_write() (the one copy of its pixels into shared memory). On failure it
 * says why on stderr, naming location, cancels what it began, and returns a negative
 * errno; the caller then fills in the frame's number, times and flags and publishes.
 */
int capture_picture_begin(struct capture_picture *converter, const AVFrame *picture,
                          const char *location, uint32_t format, uint32_t width, uint32_t height,
                          struct vshm_writer *writer, struct vshm_frame *frame);

/* Frees what the converter holds; it may be used again after (its settings stay). */
void capture_picture_finish(struct capture_picture *converter);

#endif
