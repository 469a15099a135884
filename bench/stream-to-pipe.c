/*
 * vshm-stream-to-pipe NAME FRAMES: writes FRAMES frames of stream NAME, taken as a
 * lossless reader, to standard output as packed raw pixels (each plane's rows without
 * padding), for `ffmpeg -f rawvideo -i pipe:`: the benchmark's way of giving FFmpeg the
 * very frames vshm-record reads from the slots. Each frame crosses the pipe, which is
 * the cost being compared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <vshm/vshm.h>

static int write_all(const uint8_t *data, size_t size)
{
	while (size > 0) {
		ssize_t written = write(STDOUT_FILENO, data, size);
		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return -1;
		data += written;
		size -= (size_t)written;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long count = argc == 3 ? strtoul(argv[2], &end, 10) : 0;
	if (argc != 3 || *end || count == 0) {
		fprintf(stderr, "usage: vshm-stream-to-pipe NAME FRAMES\n");
		return 2;
	}
	static const struct vshm_reader_options every_frame = { .lossless = true };
	struct vshm_reader *reader =
	    vshm_reader_attach_wait(argv[1], &every_frame, 10000, NULL, NULL);
	if (!reader) {
		fprintf(stderr, "vshm-stream-to-pipe: cannot attach to '%s': %s\n", argv[1],
		        vshm_error());
		return 1;
	}
	unsigned long written = 0;
	while (written < count) {
		int result = vshm_reader_wait(reader, 5000);
		if (result != 0) {
			fprintf(stderr, "vshm-stream-to-pipe: no frame from '%s' (%d)\n", argv[1],
			        result);
			break;
		}
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0)
			continue;
		int failed = 0;
		for (uint32_t plane = 0; plane < frame.plane_count && !failed; plane++) {
			uint64_t row_bytes;
			uint32_t rows;
			vshm_format_plane_extent(frame.format, plane, frame.width, frame.height,
			                         &row_bytes, &rows);
			for (uint32_t y = 0; y < rows && !failed; y++)
				failed = write_all(frame.plane[plane] +
				                       (uint64_t)y * frame.stride[plane],
				                   row_bytes);
		}
		vshm_reader_release(reader);
		if (failed)
			break;
		written++;
	}
	vshm_reader_detach(reader);
	return written == count ? 0 : 1;
}
