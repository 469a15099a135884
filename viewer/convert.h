/*
 * The conversions vshm-view does itself, for frames the renderer cannot take as they
 * are: each reads the slot once and writes straight into a locked texture (no
 * intermediate buffer). Formats the renderer takes natively never come here.
 */
#ifndef VSHM_VIEWER_CONVERT_H
#define VSHM_VIEWER_CONVERT_H

#include <stdint.h>

#include <vshm/frame.h>

/* Fixed-point (16.16) YUV to RGB coefficients for one matrix and range. */
struct yuv_coefficients {
	int32_t luma_offset; /* 16 for limited range, 0 for full */
	int32_t luma_gain;
	int32_t v_to_r, u_to_g, v_to_g, u_to_b;
};

/* The coefficients for a frame's matrix and range (unspecified ones resolved as
 * frame.h says: BT.601 below 720 lines, BT.709 from 720; limited range). */
struct yuv_coefficients convert_coefficients(const struct vshm_frame *frame);

/*
 * Each conversion reads the components where the frame's format description says they
 * lie (vshm_format_describe()), so a format added to the table needs no change here.
 */

/* Any YUV frame to XRGB8888 words (B, G, R, X bytes); deeper samples (P010) keep their
 * 8 most significant bits. */
void convert_yuv_to_xrgb(const struct vshm_frame *frame, const struct yuv_coefficients *c,
                         uint8_t *destination, int pitch);

/* Any RGB frame to XRGB8888 words (alpha dropped). */
void convert_rgb_to_xrgb(const struct vshm_frame *frame, uint8_t *destination, int pitch);

/* A gray frame to XRGB8888 words. */
void convert_gray_to_xrgb(const struct vshm_frame *frame, uint8_t *destination, int pitch);

/*
 * Packed 4:2:2 YUV (YUYV, UYVY) to a locked planar 4:2:0 texture laid out as SDL locks IYUV:
 * the Y plane at pitch, then U and V planes at (pitch + 1) / 2. Chroma of odd rows is
 * dropped: the renderer's own YUV path then does the colour matrix.
 */
void convert_packed_422_to_iyuv(const struct vshm_frame *frame, uint8_t *destination, int pitch);

#endif
