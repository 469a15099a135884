/*
 * A frame as a program sees it: its metadata, and pointers to its planes where they
 * lie in the ring's shared memory. Nothing here owns memory; the pointers are valid
 * between vshm_writer_begin() and publish/cancel, or between vshm_reader_acquire()
 * and vshm_reader_release().
 */
#ifndef VSHM_FRAME_H
#define VSHM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <vshm/format.h>

/* Frame flags, carried per frame. */
#define VSHM_FRAME_END_OF_STREAM (1u << 0) /* the source has no more frames after this one */
#define VSHM_FRAME_DISCONTINUITY (1u << 1) /* frames before this one were lost or skipped */
/*
 * The picture was decoded with errors (a damaged file or stream): the decoder filled in
 * what it lost, as FFmpeg's decoders do, and the frame is published as decoded so that
 * every reader sees the same frames as FFmpeg would. Readers that prefer to show only
 * whole pictures skip frames with this flag.
 */
#define VSHM_FRAME_DAMAGED (1u << 2)

enum vshm_color_matrix {
	VSHM_COLOR_MATRIX_UNSPECIFIED = 0, /* readers assume BT.601 below 720 lines, BT.709 above */
	VSHM_COLOR_MATRIX_BT601 = 1,
	VSHM_COLOR_MATRIX_BT709 = 2,
	VSHM_COLOR_MATRIX_BT2020 = 3,
};

enum vshm_color_range {
	VSHM_COLOR_RANGE_UNSPECIFIED = 0, /* readers assume limited for YUV, full for RGB */
	VSHM_COLOR_RANGE_LIMITED = 1,
	VSHM_COLOR_RANGE_FULL = 2,
};

struct vshm_frame {
	uint32_t format; /* enum vshm_format */
	uint32_t width;
	uint32_t height;
	uint32_t plane_count;
	uint32_t stride[VSHM_FORMAT_PLANES_MAX];
	uint64_t plane_size[VSHM_FORMAT_PLANES_MAX];
	/*
	 * Plane pointers into the slot. A reader's are read-only (the payload is mapped
	 * PROT_READ); a writer's are for filling the frame in place.
	 */
	uint8_t *plane[VSHM_FORMAT_PLANES_MAX];

	uint64_t frame_number; /* the source's count; filters pass their input's on */
	uint64_t capture_ns;   /* CLOCK_MONOTONIC, when the pixels were captured */
	uint64_t publish_ns;   /* CLOCK_MONOTONIC, set by vshm_writer_publish() */
	uint32_t flags;        /* VSHM_FRAME_* */
	uint8_t color_matrix;  /* enum vshm_color_matrix */
	uint8_t color_range;   /* enum vshm_color_range */

	/* Set by the ring: the publish number (1, 2, ...) and the slot it lies in. */
	uint64_t sequence;
	uint32_t slot;
};

#endif
