/*
 * vshm-python-test-helper: what the Python tests compare the module against, from C.
 *
 *   helper pattern FORMAT WIDTH HEIGHT N
 *       Writes frame N of vshm-capture's colour-bar test pattern, drawn by the same
 *       code (capture/pattern.c), to standard output: each plane's rows one after
 *       another, without padding.
 *   helper read NAME COUNT TIMEOUT_SECONDS
 *       Attaches to stream NAME as a C reader and prints, for each of COUNT new frames,
 *       one line of its metadata as libvshm hands it out, and the Adler-32 of its pixels
 *       ("torn" instead when its release said the writer overwrote it meanwhile).
 *
 * Exit status 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vshm/vshm.h>

#include "pattern.h"

static int fail(const char *message)
{
	fprintf(stderr, "vshm-python-test-helper: %s\n", message);
	return 1;
}

static uint32_t plane_rows(uint32_t format, uint32_t plane, uint32_t height)
{
	struct vshm_format_plane description;
	vshm_format_plane(format, plane, &description);
	return (height + description.vertical_subsampling - 1) / description.vertical_subsampling;
}

static uint64_t plane_row_bytes(uint32_t format, uint32_t plane, uint32_t width)
{
	struct vshm_format_plane description;
	vshm_format_plane(format, plane, &description);
	return (uint64_t)(width + description.horizontal_subsampling - 1) /
	       description.horizontal_subsampling * description.bytes_per_sample;
}

static int pattern(char **argv)
{
	uint32_t format = vshm_format_from_name(argv[0]);
	uint32_t width = (uint32_t)strtoul(argv[1], NULL, 10);
	uint32_t height = (uint32_t)strtoul(argv[2], NULL, 10);
	uint64_t n = strtoull(argv[3], NULL, 10);
	struct vshm_format_layout layout;
	if (vshm_format_layout(format, width, height, &layout) < 0)
		return fail("pattern: bad format or size");
	uint8_t *memory = calloc(1, layout.total_size);
	if (!memory)
		return fail("pattern: out of memory");
	struct vshm_frame frame = {
		.format = format,
		.width = width,
		.height = height,
		.plane_count = layout.plane_count,
	};
	for (uint32_t i = 0; i < layout.plane_count; i++) {
		frame.stride[i] = layout.stride[i];
		frame.plane_size[i] = layout.size[i];
		frame.plane[i] = memory + layout.offset[i];
	}
	pattern_draw_kind(&frame, n, PATTERN_BARS);
	for (uint32_t i = 0; i < layout.plane_count; i++) {
		for (uint32_t row = 0; row < plane_rows(format, i, height); row++)
			fwrite(frame.plane[i] + (uint64_t)row * frame.stride[i], 1,
			       plane_row_bytes(format, i, width), stdout);
	}
	free(memory);
	return fflush(stdout) == 0 ? 0 : fail("pattern: cannot write");
}

static uint32_t adler32(uint32_t adler, const uint8_t *data, uint64_t size)
{
	uint32_t a = adler & 0xffff, b = adler >> 16;
	for (uint64_t i = 0; i < size; i++) {
		a = (a + data[i]) % 65521;
		b = (b + a) % 65521;
	}
	return (b << 16) | a;
}

static int read_frames(char **argv)
{
	const char *name = argv[0];
	unsigned count = (unsigned)strtoul(argv[1], NULL, 10);
	int timeout_ms = (int)(strtod(argv[2], NULL) * 1000);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, timeout_ms, NULL, NULL);
	if (!reader)
		return fail(vshm_error());
	uint64_t deadline = vshm_now_ns() + (uint64_t)timeout_ms * 1000000u;
	unsigned printed = 0;
	while (printed < count && vshm_now_ns() < deadline) {
		int waited = vshm_reader_wait(reader, 100);
		if (waited == -ETIMEDOUT)
			continue;
		if (waited < 0)
			break;
		struct vshm_frame f;
		if (vshm_reader_acquire(reader, &f) < 0)
			continue;
		uint32_t sum = 1;
		for (uint32_t i = 0; i < f.plane_count; i++) {
			for (uint32_t row = 0; row < plane_rows(f.format, i, f.height); row++)
				sum = adler32(sum, f.plane[i] + (uint64_t)row * f.stride[i],
				              plane_row_bytes(f.format, i, f.width));
		}
		int intact = vshm_reader_release(reader);
		printf("frame_number=%" PRIu64 " capture_ns=%" PRIu64 " publish_ns=%" PRIu64
		       " format=%s width=%u height=%u flags=%u color_matrix=%u color_range=%u"
		       " sequence=%" PRIu64 " slot=%u planes=%u strides=%u,%u,%u pixels=%s%08x\n",
		       f.frame_number, f.capture_ns, f.publish_ns, vshm_format_name(f.format),
		       f.width, f.height, f.flags, f.color_matrix, f.color_range, f.sequence,
		       f.slot, f.plane_count, f.stride[0], f.plane_count > 1 ? f.stride[1] : 0,
		       f.plane_count > 2 ? f.stride[2] : 0, intact == 1 ? "" : "torn", sum);
		fflush(stdout);
		printed++;
	}
	vshm_reader_detach(reader);
	return printed == count ? 0 : fail("read: fewer frames than asked for came in time");
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "pattern") == 0)
		return pattern(argv + 2);
	if (argc == 5 && strcmp(argv[1], "read") == 0)
		return read_frames(argv + 2);
	fprintf(stderr, "usage: %s pattern FORMAT WIDTH HEIGHT N | read NAME COUNT SECONDS\n",
	        argv[0]);
	return 2;
}
