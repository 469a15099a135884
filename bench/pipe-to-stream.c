/*
 * vshm-pipe-to-stream NAME WIDTHxHEIGHT: reads packed I420 frames from standard input
 * (what `ffmpeg -f rawvideo -pix_fmt yuv420p pipe:1` writes) and publishes each one into
 * the stream NAME the moment it has arrived whole, stamped with that moment as its
 * capture time. The benchmark puts FFmpeg's own receiving side, set for low latency, in
 * front of the same glass-to-glass probe as vshm-capture's: what the link can do.
 * Stopped by SIGINT, SIGTERM or SIGHUP (the benchmark ends it so), it removes its stream
 * first, as vshm's programs do.
 */
#include <stdio.h>
#include <stdlib.h>

#include <vshm/vshm.h>

#include "shutdown.h"

int main(int argc, char **argv)
{
	unsigned width = 0, height = 0;
	if (argc != 3 || sscanf(argv[2], "%ux%u", &width, &height) != 2 || !width || !height ||
	    width % 2 || height % 2) {
		fprintf(stderr, "usage: vshm-pipe-to-stream NAME WIDTHxHEIGHT (even sizes)\n");
		return 2;
	}
	struct vshm_writer_options options = { .max_format = VSHM_FORMAT_I420,
		                               .max_width = width,
		                               .max_height = height };
	/* Without SA_RESTART: a signal ends a blocked read, short, and the loop stops. */
	program_shutdown_install();
	struct vshm_writer *writer = vshm_writer_create(argv[1], &options);
	if (!writer) {
		fprintf(stderr, "vshm-pipe-to-stream: %s\n", vshm_error());
		return 1;
	}
	for (uint64_t number = 0; !program_shutdown_requested(); number++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_I420, width, height, &frame) < 0)
			break;
		/* Straight from the pipe into the slot, row by row. */
		int complete = 1;
		for (uint32_t plane = 0; plane < 3 && complete; plane++) {
			uint32_t row_bytes = plane ? width / 2 : width,
			         rows = plane ? height / 2 : height;
			for (uint32_t y = 0; y < rows && complete; y++)
				complete =
				    fread(frame.plane[plane] + (uint64_t)y * frame.stride[plane], 1,
				          row_bytes, stdin) == row_bytes;
		}
		if (!complete) {
			vshm_writer_cancel(writer);
			break;
		}
		frame.frame_number = number;
		frame.capture_ns = vshm_now_ns();
		vshm_writer_publish(writer, &frame);
	}
	vshm_writer_destroy(writer);
	program_shutdown_finish();
	return 0;
}
