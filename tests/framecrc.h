/*
 * FFmpeg's own decode of a sample, as the reference the capture tests compare published
 * frames with: `ffmpeg -f framecrc` gives one Adler-32 per frame over its packed planes,
 * and framecrc_hash_frame() computes the same over a frame in a slot.
 */
#ifndef VSHM_TEST_FRAMECRC_H
#define VSHM_TEST_FRAMECRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vshm/vshm.h>

#define FRAMECRC_FRAMES_MAX 1024

struct framecrc {
	uint32_t count;
	uint32_t size[FRAMECRC_FRAMES_MAX];
	uint32_t adler[FRAMECRC_FRAMES_MAX];
};

/* The path of file in the samples directory (VSHM_SAMPLES). */
void framecrc_sample_path(const char *file, char *out, size_t size);

/*
 * Runs `ffmpeg INPUT_OPTIONS -i SAMPLE -autoscale 0 -fps_mode passthrough OUTPUT_OPTIONS
 * -f framecrc` on a sample (each option list NULL-terminated, or NULL for none) and
 * reads its checksums into *reference. The test fails if ffmpeg does.
 */
void framecrc_of(const char *file, const char *const input_options[],
                 const char *const output_options[], struct framecrc *reference);

/*
 * Adler-32 of the frame as FFmpeg lays its planes out (rows without padding, planes
 * one after another), and its byte count. planar_422: the frame is YUYV made from a
 * planar 4:2:2 picture, hashed as those Y, U and V planes.
 */
uint32_t framecrc_hash_frame(const struct vshm_frame *frame, bool planar_422, uint32_t *size);

#endif
