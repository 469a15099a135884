/* FFmpeg's framecrc of a sample, and the same checksum over a frame in a slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "framecrc.h"
#include "program-util.h"

void framecrc_sample_path(const char *file, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", program_path("VSHM_SAMPLES"), file);
}

void framecrc_of(const char *file, const char *const input_options[],
                 const char *const output_options[], struct framecrc *reference)
{
	char path[512], output[512];
	framecrc_sample_path(file, path, sizeof(path));
	snprintf(output, sizeof(output), "%s/%s.framecrc", program_temporary_directory(), file);
	const char *argv[48];
	int count = 0;
	argv[count++] = program_path("VSHM_FFMPEG");
	argv[count++] = "-nostdin";
	argv[count++] = "-loglevel";
	argv[count++] = "error";
	for (int i = 0; input_options && input_options[i] && count < 20; i++)
		argv[count++] = input_options[i];
	argv[count++] = "-i";
	argv[count++] = path;
	argv[count++] = "-autoscale";
	argv[count++] = "0";
	argv[count++] = "-fps_mode";
	argv[count++] = "passthrough";
	for (int i = 0; output_options && output_options[i] && count < 40; i++)
		argv[count++] = output_options[i];
	argv[count++] = "-f";
	argv[count++] = "framecrc";
	argv[count++] = "-y";
	argv[count++] = output;
	argv[count] = NULL;
	char errors[1024];
	int status = program_run((char *const *)argv, 60000, errors, sizeof(errors));
	if (status != 0)
		fail_msg("ffmpeg failed on %s (%d): %s", file, status, errors);
	reference->count =
	    program_read_framecrc(output, reference->size, reference->adler, FRAMECRC_FRAMES_MAX);
}

static uint32_t plane_rows(const struct vshm_frame *frame, uint32_t plane)
{
	struct vshm_format_plane description;
	vshm_format_plane(frame->format, plane, &description);
	return (frame->height + description.vertical_subsampling - 1) /
	       description.vertical_subsampling;
}

uint32_t framecrc_hash_frame(const struct vshm_frame *frame, bool planar_422, uint32_t *size)
{
	uint32_t adler = 0;
	*size = 0;
	if (planar_422) {
		/* YUYV back to Y, U, V planes: Y0 U Y1 V per pair of pixels. */
		uint32_t chroma_width = (frame->width + 1) / 2;
		uint8_t row[2 * 16384];
		for (int component = 0; component < 3; component++) {
			for (uint32_t y = 0; y < frame->height; y++) {
				const uint8_t *line =
				    frame->plane[0] + (uint64_t)y * frame->stride[0];
				uint32_t count = component == 0 ? frame->width : chroma_width;
				for (uint32_t i = 0; i < count; i++)
					row[i] = component == 0
					             ? line[(i / 2) * 4 + (i % 2) * 2]
					             : line[i * 4 + (component == 1 ? 1 : 3)];
				adler = program_adler32(adler, row, count);
				*size += count;
			}
		}
		return adler;
	}
	for (uint32_t plane = 0; plane < frame->plane_count; plane++) {
		uint64_t bytes;
		uint32_t rows;
		vshm_format_plane_extent(frame->format, plane, frame->width, frame->height, &bytes,
		                         &rows);
		for (uint32_t y = 0; y < plane_rows(frame, plane); y++) {
			adler = program_adler32(
			    adler, frame->plane[plane] + (uint64_t)y * frame->stride[plane], bytes);
			*size += (uint32_t)bytes;
		}
	}
	return adler;
}
