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

#include <vshm/export.h>
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

/*
 * Colour primaries and transfer function: which colours the RGB values mean and how
 * they encode light, so that an HDR frame (BT.2020 with PQ or HLG) is never taken for an
 * SDR one. Unspecified means what it meant before these fields existed: readers assume
 * SDR, BT.709 primaries (BT.601's for SD sizes) and the BT.709 curve.
 */
enum vshm_color_primaries {
	VSHM_COLOR_PRIMARIES_UNSPECIFIED = 0,
	VSHM_COLOR_PRIMARIES_BT709 = 1,      /* also sRGB's */
	VSHM_COLOR_PRIMARIES_BT601_625 = 2,  /* BT.470 B/G, PAL and SECAM */
	VSHM_COLOR_PRIMARIES_BT601_525 = 3,  /* SMPTE 170M, NTSC */
	VSHM_COLOR_PRIMARIES_BT2020 = 4,     /* wide gamut: UHD and HDR */
	VSHM_COLOR_PRIMARIES_DISPLAY_P3 = 5, /* SMPTE EG 432-1, P3 with a D65 white point */
};

enum vshm_color_transfer {
	VSHM_COLOR_TRANSFER_UNSPECIFIED = 0,
	VSHM_COLOR_TRANSFER_BT709 = 1, /* SDR video: BT.709, BT.601 and BT.2020 share it */
	VSHM_COLOR_TRANSFER_SRGB = 2,  /* IEC 61966-2-1 */
	VSHM_COLOR_TRANSFER_PQ = 3,    /* HDR: SMPTE ST 2084, perceptual quantizer */
	VSHM_COLOR_TRANSFER_HLG = 4,   /* HDR: ARIB STD-B67, hybrid log-gamma */
	VSHM_COLOR_TRANSFER_LINEAR = 5,
};

/* A ratio of two whole numbers; 0/0 means unknown. */
struct vshm_ratio {
	uint32_t numerator;
	uint32_t denominator;
};

/*
 * The name of a colour field's value, as programs print it ("bt709", "limited", "pq",
 * "display-p3"; "unspecified" for 0), or NULL for a value this library does not know
 * (a newer writer's, or damage: the fields are metadata and are not checked).
 */
VSHM_EXPORT const char *vshm_color_matrix_name(uint8_t matrix);
VSHM_EXPORT const char *vshm_color_range_name(uint8_t range);
VSHM_EXPORT const char *vshm_color_primaries_name(uint8_t primaries);
VSHM_EXPORT const char *vshm_color_transfer_name(uint8_t transfer);

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

	uint64_t frame_number;   /* the source's count; filters pass their input's on */
	uint64_t capture_ns;     /* CLOCK_MONOTONIC, when the pixels were captured */
	uint64_t publish_ns;     /* CLOCK_MONOTONIC, set by vshm_writer_publish() */
	uint32_t flags;          /* VSHM_FRAME_* */
	uint8_t color_matrix;    /* enum vshm_color_matrix */
	uint8_t color_range;     /* enum vshm_color_range */
	uint8_t color_primaries; /* enum vshm_color_primaries */
	uint8_t color_transfer;  /* enum vshm_color_transfer */
	/*
	 * The shape of a pixel, width / height: 16/9 for anamorphic widescreen in a 4:3
	 * frame, 1/1 for square pixels. 0/0 (or a zero in either) if unknown, which readers
	 * take as square. The picture is meant to be shown width * numerator / denominator
	 * pixels wide and height pixels high.
	 */
	struct vshm_ratio sample_aspect;

	/* Set by the ring: the publish number (1, 2, ...) and the slot it lies in. */
	uint64_t sequence;
	uint32_t slot;
};

#endif
